"""`signalhub` command line: run | api | worker | migrate | token | tail | emit | purge | psql | db-url | demo | bench."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path
from typing import Annotated, Optional

import typer

from .settings import ConfigError, Settings

app = typer.Typer(help="Live, persisted signals from Temporal workflows to their users.", no_args_is_help=True)


def _settings() -> Settings:
    return Settings()


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


@app.command()
def api(
    host: Annotated[Optional[str], typer.Option(help="Bind address (HOST)")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port (PORT)")] = None,
    ssl_certfile: Annotated[Optional[Path], typer.Option(envvar="SIGNALHUB_SSL_CERTFILE", help="TLS certificate (serves https/wss)")] = None,
    ssl_keyfile: Annotated[Optional[Path], typer.Option(envvar="SIGNALHUB_SSL_KEYFILE", help="TLS private key")] = None,
    log_level: Annotated[str, typer.Option(envvar="LOG_LEVEL")] = "info",
) -> None:
    """Run one API instance (several may share one database and broker)."""
    from .server import serve

    settings = _settings()
    try:
        settings.jwt_secret()
    except ConfigError as exc:
        _fail(str(exc))
    serve(
        settings,
        host=host or settings.host,
        port=port or settings.port,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        log_level=log_level,
    )


@app.command()
def worker() -> None:
    """Run one Temporal worker on the task queue `signalhub`."""
    from .temporal.worker import main as worker_main

    try:
        asyncio.run(worker_main(_settings()))
    except KeyboardInterrupt:
        pass


@app.command()
def run(
    port: Annotated[int, typer.Option(envvar="PORT")] = 8000,
    temporal: Annotated[bool, typer.Option(help="Start the Temporal dev server and a worker")] = True,
) -> None:
    """Start everything on one machine with embedded defaults and print where to look."""
    from .launcher import run_stack

    sys.exit(run_stack(_settings(), port=port, with_temporal=temporal))


@app.command()
def migrate() -> None:
    """Apply database migrations (also done on start)."""
    from .runtime import resolve_database_url
    from .migrations import upgrade_to_head

    url = resolve_database_url(_settings())
    upgrade_to_head(url)
    typer.echo("migrations applied")


@app.command()
def token(
    user: Annotated[Optional[str], typer.Option(help="User UUID (the token's sub)")] = None,
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
    try:
        uuid.UUID(user)
    except ValueError:
        _fail(f"--user must be a UUID, got {user!r}")
    typer.echo(mint_user_token(secret, user, ttl))


@app.command()
def tail(
    token_: Annotated[str, typer.Option("--token", envvar="TOKEN", help="User token")],
    url: Annotated[str, typer.Option(envvar="SIGNALHUB_WS_URL")] = "ws://127.0.0.1:8000/ws",
    since: Annotated[Optional[int], typer.Option(help="Resume after this seq")] = None,
    workflow: Annotated[Optional[list[str]], typer.Option(help="Follow only this workflow (repeatable)")] = None,
) -> None:
    """Print a user's live signals, one JSON per line (a WebSocket client)."""
    from .tail import tail as run_tail

    try:
        asyncio.run(run_tail(url, token_, since, workflow or ()))
    except KeyboardInterrupt:
        pass


@app.command()
def emit(
    user: Annotated[list[str], typer.Option(help="Recipient UUID (repeat for many recipients)")],
    signal_type: Annotated[str, typer.Option("--type", help="status_update, progress, completion, error, or your own")],
    workflow: Annotated[str, typer.Option(help="Workflow id the signal belongs to")],
    data: Annotated[str, typer.Option(help="The signal's data, a JSON object")] = "{}",
    key: Annotated[Optional[str], typer.Option(help="Idempotency key (default: a random one per call)")] = None,
    url: Annotated[str, typer.Option(envvar="SIGNALHUB_URL", help="The API's base URL")] = "http://127.0.0.1:8000",
    token_: Annotated[Optional[str], typer.Option("--token", envvar="SIGNALHUB_SERVICE_TOKEN", help="Service token (default: minted from SUPABASE_JWT_SECRET)")] = None,
) -> None:
    """Emit a signal over HTTP (to one user, or to each --user given) and print the result as JSON."""
    from .emit_command import run_emit

    try:
        typer.echo(run_emit(_settings(), user, signal_type, workflow, data, key, url, token_))
    except (ValueError, ConfigError) as exc:
        _fail(str(exc))


@app.command()
def purge(
    older_than_days: Annotated[Optional[float], typer.Option(help="Age in days (default SIGNALHUB_RETENTION_DAYS)")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Rows per batch (default SIGNALHUB_RETENTION_BATCH_SIZE)")] = None,
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
        pool = await create_pool(resolve_database_url(settings), max_size=1)
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
    from .embedded import running_embedded_url

    url = running_embedded_url(settings.data_dir)
    if url is None:
        _fail(
            f"the embedded PostgreSQL under {settings.data_dir} is not running; start it with "
            "`make run` (or use `signalhub psql`, which starts it for the session)"
        )
    typer.echo(url)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def psql(ctx: typer.Context) -> None:
    """Open psql on the database in use; extra arguments go to psql (e.g. -c "SELECT 1")."""
    import shutil
    import subprocess

    from .embedded import psql_path
    from .runtime import resolve_database_url

    url = resolve_database_url(_settings())
    binary = shutil.which("psql") or str(psql_path())
    raise typer.Exit(subprocess.call([binary, url, *ctx.args]))


@app.command()
def demo(
    file: Annotated[Optional[Path], typer.Argument(help="Document to process (default: a sample)")] = None,
    user: Annotated[Optional[str], typer.Option(envvar="USER_ID", help="User UUID")] = None,
) -> None:
    """Start a DocumentProcessingWorkflow from the command line and follow it."""
    from .temporal.starter import demo as run_demo

    asyncio.run(run_demo(_settings(), file, user))


if __name__ == "__main__":  # pragma: no cover
    app()
