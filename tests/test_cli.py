"""The `signalhub` command: one source of configuration (environment and `.env`),
one-line errors, `config`, `--version`, and migrate-on-start turned off."""

from __future__ import annotations

import re
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from signalhub import __version__
from signalhub.migrations import scratch_database
from signalhub.settings import ConfigError, Settings, load_settings, variable_name
from tests.support import BIN, ApiProcess, base_env

SRC = Path(__file__).resolve().parent.parent / "src" / "signalhub"


def signalhub(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "signalhub"), *args], cwd=cwd, env=base_env("postgresql://nobody@127.0.0.1:1/none", **env),
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("command", [["api"], ["worker"], ["config"], ["migrate"]])
@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SIGNALHUB_MAX_CONNECTIONS", "abc"),
        ("SIGNALHUB_MAX_CONNECTIONS", "١٢"),  # Arabic-Indic digits are not a number here
        ("SIGNALHUB_RETENTION_DAYS", "-1"),
        ("SIGNALHUB_WS_DEFLATE", "maybe"),
        ("SIGNALHUB_DB_SCHEMA", 'x"; DROP TABLE y; --'),
        ("PORT", "99999999999999999999"),
        ("LOG_LEVEL", "loud"),
    ],
)
def test_a_bad_value_is_one_error_line_naming_the_variable_and_exit_2(tmp_path, command, variable, value):
    result = signalhub(*command, cwd=tmp_path, **{variable: value})
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"error: {variable}: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr + result.stdout


def test_a_bad_value_in_dot_env_is_reported_the_same_way(tmp_path):
    (tmp_path / ".env").write_text("SIGNALHUB_SEND_QUEUE_LIMIT=0\n")
    result = signalhub("config", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: SIGNALHUB_SEND_QUEUE_LIMIT: ")


def _non_default(field: str) -> str:
    """A valid value for `field` that differs from its default."""
    special = {
        "db_schema": "host_app_signals", "log_level": "debug", "ws_impl": "wsproto", "broker_url": "memory",
        "port": "8123", "dev_token_ttl": "60", "max_inbound_message_bytes": "8192", "max_body_bytes": "4096",
        "retention_batch_size": "17",
    }
    if field in special:
        return special[field]
    annotation = str(Settings.model_fields[field].annotation)
    default = Settings.model_fields[field].get_default(call_default_factory=True)
    if "bool" in annotation:
        return "false" if default else "true"
    if "int" in annotation or "float" in annotation:
        return str(int(default or 0) + 3)
    return f"from-dot-env-{field}"


def test_every_setting_can_come_from_dot_env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for field in Settings.model_fields:
        monkeypatch.delenv(variable_name(field), raising=False)
    values = {field: _non_default(field) for field in Settings.model_fields}
    (tmp_path / ".env").write_text("".join(f"{variable_name(f)}={v}\n" for f, v in values.items()))
    settings = Settings()
    defaults = Settings(_env_file=None)
    for field, raw in values.items():
        got = getattr(settings, field)
        got = got.get_secret_value() if isinstance(got, SecretStr) else got
        assert got != getattr(defaults, field), field
        expected = float(raw) if isinstance(got, float) else raw == "true" if isinstance(got, bool) else raw
        assert (got if isinstance(got, (bool, float)) else str(got)) == expected, field


def test_no_module_but_settings_reads_the_environment():
    readers = [
        (str(path.relative_to(SRC)), line.strip())
        for path in SRC.rglob("*.py") if path.name != "settings.py"
        for line in path.read_text().splitlines()
        if re.search(r"os\.environ|os\.getenv|envvar=", line)
    ]
    # Handing the whole environment on to a child process (psql, the launcher's and the cluster's servers, HAProxy) is no setting.
    assert sorted(readers) == [
        ("cli.py", 'env = {**os.environ, "PGOPTIONS": libpq_options(settings.db_schema)}'),
        ("dev/balancer.py", 'self.env = {**os.environ, "SIGNALHUB_LB_BIND": f"127.0.0.1:{port}",'),
        ("dev/cluster.py", "env = dict(os.environ)"),
        ("dev/launcher.py", "env = dict(os.environ)"),
    ]


def test_config_shows_each_value_and_where_it_came_from_with_secrets_masked(tmp_path):
    (tmp_path / ".env").write_text("SIGNALHUB_WS_IMPL=wsproto\nSUPABASE_JWT_SECRET=dot-env-secret\n")
    result = signalhub(
        "config", cwd=tmp_path, DATABASE_URL="postgresql://app:pa55word@db.example.com:5432/app",
        SUPABASE_JWT_SECRET="", LOG_LEVEL="debug",
    )
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()}
    assert rows["SIGNALHUB_WS_IMPL"] == [".env", "wsproto"]
    assert rows["LOG_LEVEL"] == ["env", "debug"]
    assert rows["SIGNALHUB_DB_SCHEMA"] == ["default", "signalhub"]
    assert rows["DATABASE_URL"] == ["env", "postgresql://app:****@db.example.com:5432/app"]
    assert "pa55word" not in result.stdout and "dot-env-secret" not in result.stdout


def test_the_environment_wins_over_dot_env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("SIGNALHUB_DB_SCHEMA=from_file\n")
    monkeypatch.setenv("SIGNALHUB_DB_SCHEMA", "from_env")
    assert Settings().db_schema == "from_env"


def test_load_settings_turns_a_validation_error_into_one_line(monkeypatch):
    monkeypatch.setenv("SIGNALHUB_RESUME_LIMIT", "1e400")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith("SIGNALHUB_RESUME_LIMIT: ") and "\n" not in str(caught.value)


def test_version_is_printed_and_matches_the_package(tmp_path):
    result = signalhub("--version", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == f"signalhub {__version__}"


def test_worker_help_lists_the_variables_it_reads(tmp_path):
    result = signalhub("worker", "--help", cwd=tmp_path)
    text = " ".join(result.stdout.split())
    for name in ("DATABASE_URL", "SIGNALHUB_DB_SCHEMA", "TEMPORAL_ADDRESS", "TEMPORAL_TASK_QUEUE",
                 "SIGNALHUB_LIFECYCLE_SIGNALS", "SIGNALHUB_WORKER_IMPORTS", "SIGNALHUB_EMBEDDER", "LOG_LEVEL"):
        assert name in text


def test_without_migrate_on_start_the_api_refuses_a_schema_that_is_behind(server_url, artifacts, tmp_path):
    with scratch_database(server_url, "signalhub_cli", migrate=False) as url:
        refused = signalhub("api", cwd=tmp_path, DATABASE_URL=url, SIGNALHUB_MIGRATE_ON_START="false")
        assert refused.returncode == 2
        assert refused.stderr.startswith("error: the database schema 'signalhub' is behind")
        assert "signalhub migrate" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1

        first = signalhub("migrate", cwd=tmp_path, DATABASE_URL=url)
        again = signalhub("migrate", cwd=tmp_path, DATABASE_URL=url)
        assert first.returncode == 0 and "applied 0000, 0001" in first.stdout
        assert again.returncode == 0 and again.stdout.strip() == "schema 'signalhub': already current"

        api = ApiProcess(url, artifacts, SIGNALHUB_MIGRATE_ON_START="false").start()
        try:
            assert httpx.get(f"{api.base}/healthz").status_code == 200
        finally:
            api.stop()


def test_tail_without_a_token_says_how_to_get_one(tmp_path):
    result = signalhub("tail", cwd=tmp_path, TOKEN="")
    assert result.returncode == 2 and "no token" in result.stderr


def test_a_user_id_that_is_not_a_uuid_is_refused_by_token(tmp_path):
    result = signalhub("token", "--user", str(uuid.uuid4())[:-1] + "\u0661", cwd=tmp_path)
    assert result.returncode == 2 and "--user must be a UUID" in result.stderr
