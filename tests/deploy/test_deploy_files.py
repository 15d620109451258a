"""deploy/: what can be checked without a container engine or a cluster.

The compose file and the Kubernetes example parse, run real `signalhub`
commands with variables `Settings` knows and accepts, and the image runs as a
non-root user without the `dev` extra. The nginx config is exercised for real:
nginx in front of two API processes, WebSockets through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import subprocess
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from signalhub.cli import app as cli_app
from signalhub.settings import Settings, variable_name
from tests.support import ApiProcess, async_wait_until, collect_signals, connect, free_port

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMMANDS = {command.name or command.callback.__name__ for command in cli_app.registered_commands}
VARIABLES = {variable_name(field).upper() for field in Settings.model_fields}


def _compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def _settings_accept(env: dict[str, str], monkeypatch) -> Settings:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, re.sub(r"\$\{(\w+):\?[^}]*\}", "from-the-environment", str(value)))
    return Settings(_env_file=None)


def test_compose_has_every_part_of_the_production_shape():
    services = _compose()["services"]
    assert {"postgres", "temporal", "redis", "migrate", "api-1", "api-2", "worker", "proxy"} <= set(services)
    assert services["api-1"]["command"] == services["api-2"]["command"] == ["api"]
    assert services["worker"]["command"] == ["worker"]
    assert services["migrate"]["command"] == ["migrate"]
    for api in ("api-1", "api-2"):
        assert services[api]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


@pytest.mark.parametrize("service", ["migrate", "api-1", "api-2", "worker"])
def test_compose_signalhub_services_run_real_commands_with_valid_settings(service, monkeypatch):
    spec = _compose()["services"][service]
    assert spec["build"]["dockerfile"] == "deploy/Dockerfile"
    assert spec["command"][0] in COMMANDS
    env = spec["environment"]
    assert set(env) <= VARIABLES, set(env) - VARIABLES
    settings = _settings_accept(env, monkeypatch)
    assert settings.database_url and settings.broker_url.startswith("redis://")
    assert settings.migrate_on_start is False  # the migrate service runs first


def test_kubernetes_example_runs_real_commands_with_valid_settings(monkeypatch):
    documents = list(yaml.safe_load_all((DEPLOY / "kubernetes" / "signalhub.yaml").read_text()))
    kinds = {(d["kind"], d["metadata"]["name"]) for d in documents}
    assert {("Job", "signalhub-migrate"), ("Deployment", "signalhub-api"), ("Deployment", "signalhub-worker"),
            ("Service", "signalhub-api"), ("ConfigMap", "signalhub")} <= kinds
    config = next(d for d in documents if d["kind"] == "ConfigMap")["data"]
    assert set(config) <= VARIABLES, set(config) - VARIABLES
    _settings_accept({**config, "DATABASE_URL": "postgresql://u:p@db/app"}, monkeypatch)
    for document in documents:
        if document["kind"] in ("Job", "Deployment"):
            pod = document["spec"]["template"]["spec"]
            assert pod["securityContext"]["runAsNonRoot"] is True
            for container in pod["containers"]:
                assert container["args"][0] in COMMANDS


def _final_stage(dockerfile: str) -> list[str]:
    return dockerfile.split("\nFROM ")[-1].splitlines()


def test_the_image_is_slim_non_root_and_has_no_dev_extra():
    text = (DEPLOY / "Dockerfile").read_text()
    final = _final_stage(text)
    assert re.fullmatch(r"python:3\.\d+-slim", final[0].strip())
    user = next(line.split()[1] for line in final if line.startswith("USER "))
    assert user.split(":")[0] not in ("0", "root")
    assert 'ENTRYPOINT ["signalhub"]' in final and 'CMD ["api"]' in final
    extras = set(re.findall(r'"signalhub\[([a-z,]+)\]"', text)[0].split(","))
    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    assert extras <= declared and "dev" not in extras


def test_the_image_entrypoint_commands_are_the_ones_the_tests_run():
    # tests/support.py runs `signalhub api`, tests/temporal `signalhub worker`, the CLI tests `signalhub migrate`.
    assert {"api", "worker", "migrate"} <= COMMANDS


@contextlib.contextmanager
def nginx(conf: str, tmp_path: Path) -> Iterator[None]:
    """nginx (foreground, unprivileged) serving `conf` as its one server block."""
    (tmp_path / "server.conf").write_text(conf)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log; daemon off; events {{}}\n"
        f"http {{ access_log off; client_body_temp_path {tmp_path}; proxy_temp_path {tmp_path};\n"
        f"  fastcgi_temp_path {tmp_path}; uwsgi_temp_path {tmp_path}; scgi_temp_path {tmp_path};\n"
        f"  include {tmp_path}/server.conf; }}\n"
    )
    proc = subprocess.Popen([shutil.which("nginx"), "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        yield
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
async def test_the_proxy_config_spreads_websockets_over_two_instances(database_url, artifacts, tmp_path, token, service_token):
    apis = [await asyncio.to_thread(ApiProcess(database_url, artifacts, FORWARDED_ALLOW_IPS="127.0.0.1").start)
            for _ in range(2)]
    port = free_port()
    conf = (DEPLOY / "nginx.conf").read_text()
    conf = conf.replace("listen 80;", f"listen 127.0.0.1:{port};")
    conf = conf.replace("api-1:8000", f"127.0.0.1:{apis[0].port}").replace("api-2:8000", f"127.0.0.1:{apis[1].port}")
    users = [uuid.uuid4(), uuid.uuid4()]
    try:
        with nginx(conf, tmp_path):
            await async_wait_until(lambda: _answers(f"http://127.0.0.1:{port}/healthz"), what="nginx")
            sockets = [(await connect(f"ws://127.0.0.1:{port}/ws", token(user)))[0] for user in users]
            async with httpx.AsyncClient(headers={"Authorization": f"Bearer {service_token}"}) as http:
                counts = [(await http.get(f"{api.base}/ws/status")).json()["total_connections"] for api in apis]
                assert counts == [1, 1]  # round robin: one socket on each instance
                for user in users:
                    sent = await http.post(f"http://127.0.0.1:{port}/ws/send-test",
                                           json={"user_id": str(user), "message": "via the proxy"})
                    assert sent.status_code == 200
            for ws in sockets:
                [signal] = await collect_signals(ws, 1)
                assert signal["data"]["message"] == "via the proxy"
                await ws.close()
    finally:
        for api in apis:
            await asyncio.to_thread(api.stop)


async def _answers(url: str) -> bool:
    try:
        async with httpx.AsyncClient() as http:
            return (await http.get(url, timeout=1)).status_code == 200
    except httpx.HTTPError:
        return False
