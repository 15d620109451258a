"""Schema migrations (Alembic). Each version applies one idempotent SQL file
from `sql/`, the same files `script/create_signal_table.sql` includes."""

from __future__ import annotations

from pathlib import Path

SQL_DIR = Path(__file__).parent / "sql"


def read_sql(name: str) -> str:
    return (SQL_DIR / name).read_text()


def upgrade_to_head(database_url: str) -> None:
    """Apply every migration; concurrent callers wait on an advisory lock."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent))
    config.attributes["database_url"] = database_url
    command.upgrade(config, "head")
