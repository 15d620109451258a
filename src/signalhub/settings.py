"""One Settings object, read from the environment (and `.env`).

Variable names are the seed's (`SUPABASE_*`, `WEBSOCKET_*`) plus
`DATABASE_URL`, `BROKER_URL` and the Temporal connection.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_ORIGINS = (
    "http://127.0.0.1:8000,http://localhost:8000,"
    "http://127.0.0.1:5173,http://localhost:5173"
)


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message says which and how to fix it."""


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "signalhub"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # Database: unset means an embedded PostgreSQL under data_dir.
    database_url: str | None = None
    data_dir: Path = Field(default_factory=default_data_dir, alias="SIGNALHUB_DATA_DIR")

    # Auth (Supabase-style).
    supabase_jwt_secret: SecretStr | None = None
    supabase_url: str | None = None
    supabase_anon_key: SecretStr | None = None
    jwt_leeway_seconds: int = Field(default=30, alias="SIGNALHUB_JWT_LEEWAY")

    # WebSocket.
    websocket_enabled: bool = True
    websocket_cors_origins: str = DEFAULT_ORIGINS
    send_queue_limit: int = Field(default=1000, alias="SIGNALHUB_SEND_QUEUE_LIMIT", ge=1)
    resume_limit: int = Field(default=1000, alias="SIGNALHUB_RESUME_LIMIT", ge=1)
    max_connections_per_user: int = Field(default=20, alias="SIGNALHUB_MAX_CONNECTIONS_PER_USER", ge=1)
    max_connections: int = Field(default=20000, alias="SIGNALHUB_MAX_CONNECTIONS", ge=1)
    max_inbound_message_bytes: int = Field(default=4096, alias="SIGNALHUB_MAX_MESSAGE_BYTES", ge=64)
    inbound_messages_per_second: float = Field(default=20.0, alias="SIGNALHUB_MESSAGES_PER_SECOND", gt=0)
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
    temporal_address: str | None = None
    temporal_namespace: str = "default"
    temporal_task_queue: str = "signalhub"

    # HTTP server.
    host: str = "127.0.0.1"
    port: int = 8000
    # Proxies whose X-Forwarded-* headers are trusted (comma-separated IPs or "*").
    forwarded_allow_ips: str = Field(default="127.0.0.1", alias="FORWARDED_ALLOW_IPS")

    @field_validator("broker_url")
    @classmethod
    def _known_broker(cls, value: str) -> str:
        scheme = value.split("://", 1)[0].lower()
        if scheme not in {"postgres", "postgresql", "memory", "redis", "rediss", "valkey", "nats"}:
            raise ValueError(
                "BROKER_URL must be 'postgres', 'memory', 'redis://…' or 'nats://…'"
            )
        return value

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

    def jwt_secret(self) -> str:
        """The HS256 secret, or a clear start-up error when it is missing."""
        if self.supabase_jwt_secret is None or not self.supabase_jwt_secret.get_secret_value():
            raise ConfigError(
                "SUPABASE_JWT_SECRET is not set. Set it to your project's JWT secret "
                "(Supabase: Settings → API → JWT Secret), or use `make run`, which "
                "generates a development secret in the data directory."
            )
        return self.supabase_jwt_secret.get_secret_value()


def get_settings() -> Settings:
    return Settings()
