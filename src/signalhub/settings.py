"""One Settings object, read from the environment and `.env` (the environment wins).

Every value signalhub reads from its environment is a field here, with one
default each; nothing else in the package reads `os.environ`. Variable names
are the seed's (`SUPABASE_*`, `WEBSOCKET_*`) plus `DATABASE_URL`, `BROKER_URL`,
the Temporal connection and `SIGNALHUB_*`. `signalhub config` prints the
effective values and where each came from.
"""

from __future__ import annotations

import os
import re
from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_ORIGINS = (
    "http://127.0.0.1:8000,http://localhost:8000,"
    "http://127.0.0.1:5173,http://localhost:5173"
)
#: The one default Temporal address (the dev server `signalhub run` starts).
DEFAULT_TEMPORAL_ADDRESS = "127.0.0.1:7233"
DEFAULT_DB_SCHEMA = "signalhub"
# A plain lower-case identifier: safe unquoted in SQL, in PGOPTIONS and in search_path.
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
_WS_IMPLS = ("signalhub", "auto", "websockets-sansio", "websockets", "wsproto")


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message says which and how to fix it."""


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "signalhub"


class Settings(BaseSettings):
    """signalhub's whole configuration. Field names are stable (code reads them);
    each field's alias, or its upper-cased name, is the variable that sets it."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # Database: unset means an embedded PostgreSQL under data_dir (the `dev` extra).
    database_url: str | None = None
    data_dir: Path = Field(default_factory=default_data_dir, alias="SIGNALHUB_DATA_DIR")
    # Everything signalhub creates lives in this schema (and its Alembic version table).
    db_schema: str = Field(default=DEFAULT_DB_SCHEMA, alias="SIGNALHUB_DB_SCHEMA")
    # false: the API and worker only check that the schema is current (run `signalhub migrate` yourself).
    migrate_on_start: bool = Field(default=True, alias="SIGNALHUB_MIGRATE_ON_START")
    # LISTEN needs a session: behind a transaction pooler, point this at a direct/session connection.
    database_listen_url: str | None = Field(default=None, alias="DATABASE_LISTEN_URL")
    # false for transaction poolers (Supavisor :6543, PgBouncer transaction mode): no prepared statements.
    db_prepared_statements: bool = Field(default=True, alias="SIGNALHUB_DB_PREPARED_STATEMENTS")

    # Auth (Supabase-style).
    supabase_jwt_secret: SecretStr | None = None
    supabase_url: str | None = None
    supabase_anon_key: SecretStr | None = None
    jwt_leeway_seconds: int = Field(default=30, alias="SIGNALHUB_JWT_LEEWAY", ge=0)

    # WebSocket.
    websocket_enabled: bool = True
    websocket_cors_origins: str = DEFAULT_ORIGINS
    send_queue_limit: int = Field(default=1000, alias="SIGNALHUB_SEND_QUEUE_LIMIT", ge=1)
    resume_limit: int = Field(default=1000, alias="SIGNALHUB_RESUME_LIMIT", ge=1)
    max_connections_per_user: int = Field(default=20, alias="SIGNALHUB_MAX_CONNECTIONS_PER_USER", ge=1)
    max_connections: int = Field(default=20000, alias="SIGNALHUB_MAX_CONNECTIONS", ge=1)
    max_inbound_message_bytes: int = Field(default=4096, alias="SIGNALHUB_MAX_MESSAGE_BYTES", ge=64)
    inbound_messages_per_second: float = Field(default=20.0, alias="SIGNALHUB_MESSAGES_PER_SECOND", gt=0)
    # Which uvicorn WebSocket protocol serves /ws (docs/performance.md), and per-message deflate.
    ws_impl: str = Field(default="signalhub", alias="SIGNALHUB_WS_IMPL")
    ws_deflate: bool = Field(default=False, alias="SIGNALHUB_WS_DEFLATE")
    # Workflows one socket may subscribe to (`subscribe` / `?workflow_id=`); more is refused.
    max_subscriptions_per_socket: int = Field(default=100, alias="SIGNALHUB_MAX_SUBSCRIPTIONS", ge=1, le=10_000)
    # Custom signal types accepted besides the seed's four (comma-separated); empty: any
    # name matching the signal-type pattern.
    allowed_signal_types_csv: str = Field(default="", alias="SIGNALHUB_ALLOWED_SIGNAL_TYPES")

    # REST request bodies (413 above it; the document upload route has its own limit).
    max_body_bytes: int = Field(default=1024 * 1024, alias="SIGNALHUB_MAX_BODY_BYTES", ge=1024)

    # Retention: signals older than this many days are deleted in batches (0 = keep forever).
    retention_days: float = Field(default=90, alias="SIGNALHUB_RETENTION_DAYS", ge=0)
    retention_batch_size: int = Field(default=1000, alias="SIGNALHUB_RETENTION_BATCH_SIZE", ge=1, le=100_000)
    retention_interval_seconds: float = Field(default=3600, alias="SIGNALHUB_RETENTION_INTERVAL", gt=0)

    # Broker: postgres (LISTEN/NOTIFY), memory (single process), redis://…, nats://…
    broker_url: str = "postgres"

    # Temporal.
    temporal_address: str = DEFAULT_TEMPORAL_ADDRESS
    temporal_namespace: str = "default"
    temporal_task_queue: str = "signalhub"
    # The worker: LifecycleSignalsInterceptor on every workflow; extra modules to register.
    lifecycle_signals: bool = Field(default=False, alias="SIGNALHUB_LIFECYCLE_SIGNALS")
    worker_imports: str | None = Field(default=None, alias="SIGNALHUB_WORKER_IMPORTS")
    # The document pipeline's embedder (`module:attribute`; see signalhub.documents.embedding).
    embedder: str | None = Field(default=None, alias="SIGNALHUB_EMBEDDER")
    # Fault injection for tests and drills (activity names or `*`): the first attempt fails after storing.
    test_fail_after_store: str = Field(default="", alias="SIGNALHUB_TEST_FAIL_AFTER_STORE")

    # HTTP server.
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # Proxies whose X-Forwarded-* headers are trusted (comma-separated IPs or "*").
    forwarded_allow_ips: str = Field(default="127.0.0.1", alias="FORWARDED_ALLOW_IPS")
    ssl_certfile: Path | None = Field(default=None, alias="SIGNALHUB_SSL_CERTFILE")
    ssl_keyfile: Path | None = Field(default=None, alias="SIGNALHUB_SSL_KEYFILE")
    log_level: str = "info"

    # Development only: the demo page's one-click sign-in (set by `signalhub run`) and its token lifetime.
    dev_login: bool = Field(default=False, alias="SIGNALHUB_DEV_LOGIN")
    dev_token_ttl: int = Field(default=3600, alias="SIGNALHUB_DEV_TOKEN_TTL", ge=5, le=7 * 24 * 3600)
    # What `signalhub run` writes to .data/env, read back by `demo` and `tail`.
    signalhub_url: str | None = Field(default=None, alias="SIGNALHUB_URL")
    signalhub_ws_url: str | None = Field(default=None, alias="SIGNALHUB_WS_URL")
    user_id: str | None = Field(default=None, alias="USER_ID")
    token: SecretStr | None = Field(default=None, alias="TOKEN")
    # `signalhub emit`'s service token (unset: one is minted from SUPABASE_JWT_SECRET).
    service_token: SecretStr | None = Field(default=None, alias="SIGNALHUB_SERVICE_TOKEN")

    # Hostile-input limits and probes (docs/security.md, "Limits and timeouts").
    # Seconds a connection gets to complete each HTTP request head (408 and closed after).
    request_head_timeout: float = Field(default=10.0, alias="SIGNALHUB_REQUEST_HEAD_TIMEOUT", gt=0, le=3600)
    # When set, `GET /metrics` needs `Authorization: Bearer <this>` (401 without it).
    metrics_token: SecretStr | None = Field(default=None, alias="SIGNALHUB_METRICS_TOKEN")
    # Seconds the readiness probe waits for the database before answering 503.
    readiness_timeout: float = Field(default=2.0, alias="SIGNALHUB_READINESS_TIMEOUT", gt=0, le=60)
    # Seconds between SIGTERM and closing the listener, serving as usual but answering
    # `/readyz` 503, so load balancers stop sending new clients first (0 = close at once).
    shutdown_drain_seconds: float = Field(default=0.0, alias="SIGNALHUB_SHUTDOWN_DRAIN_SECONDS", ge=0, le=300)

    @field_validator("broker_url")
    @classmethod
    def _known_broker(cls, value: str) -> str:
        scheme = value.split("://", 1)[0].lower()
        if scheme not in {"postgres", "postgresql", "memory", "redis", "rediss", "valkey", "nats"}:
            raise ValueError(
                "BROKER_URL must be 'postgres', 'memory', 'redis://…' or 'nats://…'"
            )
        return value

    @field_validator("db_schema")
    @classmethod
    def _plain_schema_name(cls, value: str) -> str:
        if not _SCHEMA_NAME.fullmatch(value) or value.startswith("pg_"):
            raise ValueError("must be a lower-case identifier (a-z, 0-9, _; not pg_…), e.g. signalhub")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        if value.strip().lower() not in _LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(_LOG_LEVELS)}")
        return value.strip().lower()

    @field_validator("ws_impl")
    @classmethod
    def _known_ws_impl(cls, value: str) -> str:
        if value.strip().lower() not in _WS_IMPLS:
            raise ValueError(f"must be one of {', '.join(_WS_IMPLS)}")
        return value.strip().lower()

    @field_validator("allowed_signal_types_csv")
    @classmethod
    def _valid_signal_types(cls, value: str) -> str:
        from .signals import SignalError, check_signal_type

        for name in (n.strip() for n in value.split(",")):
            if name:
                try:
                    check_signal_type(name)
                except SignalError as exc:
                    raise ValueError(f"SIGNALHUB_ALLOWED_SIGNAL_TYPES: {exc}") from None
        return value

    @cached_property
    def allowed_signal_types(self) -> frozenset[str] | None:
        """The custom types allowed (None: every valid name). The seed's four are always allowed."""
        names = frozenset(n.strip() for n in self.allowed_signal_types_csv.split(",") if n.strip())
        return names or None

    @cached_property
    def cors_origins(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.websocket_cors_origins.split(",") if o.strip()]

    @property
    def listen_url(self) -> str | None:
        """Where the PostgreSQL broker LISTENs: `DATABASE_LISTEN_URL`, else `DATABASE_URL`."""
        return self.database_listen_url or self.database_url

    def jwt_secret(self) -> str:
        """The HS256 secret, or a clear start-up error when it is missing."""
        if self.supabase_jwt_secret is None or not self.supabase_jwt_secret.get_secret_value():
            raise ConfigError(
                "SUPABASE_JWT_SECRET is not set. Set it to your project's JWT secret "
                "(Supabase: Settings → API → JWT Secret), or use `make run`, which "
                "generates a development secret in the data directory."
            )
        return self.supabase_jwt_secret.get_secret_value()


def variable_name(field: str) -> str:
    """The environment variable that sets `field` (its alias, else its upper-cased name)."""
    info = Settings.model_fields[field]
    return info.alias or field.upper()


def setting_sources(env_file: Path = Path(".env")) -> dict[str, str]:
    """Where each field's value comes from: "env", ".env" or "default" (the order
    pydantic-settings applies them in; names compared case-insensitively, as it does).
    A field is set by its variable or, with `populate_by_name`, by its own name
    (`SERVICE_TOKEN` as well as `SIGNALHUB_SERVICE_TOKEN`, as `.data/env` writes it)."""
    environ = {k.lower() for k in os.environ}
    dotenv: set[str] = set()
    if env_file.is_file():
        from dotenv import dotenv_values  # what pydantic-settings reads .env with

        dotenv = {k.lower() for k, v in dotenv_values(env_file).items() if v is not None}
    sources = {}
    for field in Settings.model_fields:
        names = {variable_name(field).lower(), field.lower()}
        sources[field] = "env" if names & environ else ".env" if names & dotenv else "default"
    return sources


def explain(error: ValidationError) -> str:
    """One line naming each bad variable, its value and what it should be."""
    by_variable = {variable_name(f).lower(): variable_name(f) for f in Settings.model_fields}
    parts = []
    for item in error.errors():
        where = str((item.get("loc") or ("?",))[0])  # the variable (alias) or, for keyword overrides, the field
        name = by_variable.get(where.lower()) or (
            variable_name(where) if where in Settings.model_fields else where.upper()
        )
        message = item.get("msg", "invalid").removeprefix("Value error, ")
        value = item.get("input")
        shown = f" (got {value!r})" if isinstance(value, (str, int, float)) and len(str(value)) <= 80 else ""
        parts.append(f"{name}: {message}{shown}")
    return "; ".join(parts)


def load_settings(**overrides) -> Settings:
    """`Settings()`, with a bad value turned into a one-line ConfigError naming the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(explain(exc)) from None


def get_settings() -> Settings:
    return load_settings()
