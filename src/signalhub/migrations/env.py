"""Alembic environment: plain SQL migrations over psycopg 3, no ORM models.

Everything runs inside signalhub's own schema: the connection's search_path is
that schema alone (so the unqualified SQL of `sql/` creates only there), and
the version table is `<schema>.alembic_version`, apart from any host
application's `public.alembic_version`.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool, text

from signalhub.migrations import MIGRATION_LOCK_ID, ensure_schema, sqlalchemy_url


def run_migrations_online() -> None:
    database_url = context.config.attributes["database_url"]
    schema = context.config.attributes["schema"]
    engine = create_engine(sqlalchemy_url(database_url, schema), poolclass=pool.NullPool)
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        connection.commit()
        try:
            ensure_schema(connection, schema)
            connection.commit()
            context.configure(connection=connection, target_metadata=None, version_table_schema=schema)
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
            connection.commit()
    engine.dispose()


run_migrations_online()
