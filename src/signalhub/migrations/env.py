"""Alembic environment: plain SQL migrations over psycopg 3, no ORM models."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool, text
from sqlalchemy.engine import make_url

# Any number identifies our lock; two processes starting at once migrate one after the other.
MIGRATION_LOCK_ID = 0x5167_6E61_6C68_7562 & 0x7FFF_FFFF_FFFF_FFFF


def _sqlalchemy_url(database_url: str) -> str:
    url = make_url(database_url)
    return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def run_migrations_online() -> None:
    database_url = context.config.attributes["database_url"]
    engine = create_engine(_sqlalchemy_url(database_url), poolclass=pool.NullPool)
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        connection.commit()
        try:
            context.configure(connection=connection, target_metadata=None)
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
            connection.commit()
    engine.dispose()


run_migrations_online()
