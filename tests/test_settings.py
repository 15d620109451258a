"""Settings: the seed's variables, clear start-up errors, the WebSocket switch."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
import websockets

from signalhub.settings import ConfigError, Settings, setting_sources
from tests.support import ApiProcess, emit_in_subprocess

BIN = Path(sys.executable).parent


def test_missing_secret_is_a_clear_start_up_error(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPABASE_")}
    env["DATABASE_URL"] = "postgresql://nobody@127.0.0.1:1/none"
    result = subprocess.run([str(BIN / "signalhub"), "api"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "SUPABASE_JWT_SECRET is not set" in result.stderr


def test_token_command_refuses_to_mint_without_a_secret(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPABASE_")}
    result = subprocess.run([str(BIN / "signalhub"), "token", "--service"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "SUPABASE_JWT_SECRET is not set" in result.stderr


def test_seed_variable_names_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("SUPABASE_JWT_SECRET", "s3cret")
    monkeypatch.setenv("SUPABASE_URL", "https://abc.supabase.co")
    monkeypatch.setenv("SUPABASE_ANON_KEY", "anon")
    monkeypatch.setenv("WEBSOCKET_ENABLED", "false")
    monkeypatch.setenv("WEBSOCKET_CORS_ORIGINS", "https://app.example.com, https://admin.example.com/")
    monkeypatch.setenv("BROKER_URL", "redis://127.0.0.1:6379/0")
    settings = Settings()
    assert settings.jwt_secret() == "s3cret"
    assert settings.supabase_url == "https://abc.supabase.co"
    assert settings.websocket_enabled is False
    assert settings.cors_origins == ["https://app.example.com", "https://admin.example.com"]
    assert settings.broker_url.startswith("redis://")


def test_unknown_broker_scheme_is_refused(monkeypatch):
    monkeypatch.setenv("BROKER_URL", "kafka://x")
    with pytest.raises(ValueError, match="BROKER_URL must be"):
        Settings()


def test_empty_secret_counts_as_missing(monkeypatch):
    monkeypatch.setenv("SUPABASE_JWT_SECRET", "")
    with pytest.raises(ConfigError):
        Settings().jwt_secret()


async def test_websocket_disabled_means_no_ws_but_signals_are_still_stored(database_url, artifacts, token, service_token):
    api = await asyncio.to_thread(ApiProcess(database_url, artifacts, WEBSOCKET_ENABLED="false").start)
    try:
        user = uuid.uuid4()
        with pytest.raises(websockets.InvalidStatus):
            await websockets.connect(f"{api.ws}?token={token(user)}")
        await asyncio.to_thread(
            emit_in_subprocess, database_url,
            {"user_id": user, "signal_type": "completion", "workflow_id": "w", "data": {"result": 1}},
        )
        async with httpx.AsyncClient(base_url=api.base, headers={"Authorization": f"Bearer {token(user)}"}) as http:
            body = (await http.get("/api/v1/inbox/signals")).json()
        assert [s["signal_type"] for s in body["signals"]] == ["completion"]
    finally:
        await asyncio.to_thread(api.stop)


def test_allowed_signal_types_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("SIGNALHUB_ALLOWED_SIGNAL_TYPES", " approval_needed, billing.paid ,")
    assert Settings().allowed_signal_types == frozenset({"approval_needed", "billing.paid"})
    monkeypatch.setenv("SIGNALHUB_ALLOWED_SIGNAL_TYPES", "")
    assert Settings().allowed_signal_types is None


def test_an_allowed_signal_type_outside_the_pattern_is_a_start_up_error(monkeypatch):
    monkeypatch.setenv("SIGNALHUB_ALLOWED_SIGNAL_TYPES", "ok,Not Valid")
    with pytest.raises(ValueError, match="SIGNALHUB_ALLOWED_SIGNAL_TYPES"):
        Settings()


def test_a_setting_given_by_its_field_name_is_reported_as_coming_from_the_environment(monkeypatch, tmp_path):
    # `make run` writes SERVICE_TOKEN to .data/env; pydantic-settings takes the field's own name too.
    monkeypatch.delenv("SIGNALHUB_SERVICE_TOKEN", raising=False)
    monkeypatch.setenv("SERVICE_TOKEN", "from-the-field-name")
    token = Settings().service_token
    assert token is not None and token.get_secret_value() == "from-the-field-name"
    sources = setting_sources(tmp_path / "no.env")
    assert sources["service_token"] == "env"
    monkeypatch.delenv("SERVICE_TOKEN")
    assert setting_sources(tmp_path / "no.env")["service_token"] == "default"
