"""Adding signalhub to a database laid out like a Supabase project.

The host database has what every Supabase project has (an `auth` schema with
`auth.uid()`, the roles `anon`, `authenticated`, `service_role`), the table
Supabase's pgvector guide creates (`public.documents`), a table of the host's
own guarded by its own RLS policy, and the host's Alembic history in
`public.alembic_version`. `signalhub migrate` runs twice, an API serves and
delivers signals, and afterwards every host object and row is exactly as before.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from signalhub.migrations import scratch_database
from signalhub.store import connect as connect_db
from tests.support import BIN, ApiProcess, base_env, collect_signals, connect

HOST_SCHEMA = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN CREATE ROLE anon NOLOGIN; END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN CREATE ROLE authenticated NOLOGIN; END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
        CREATE ROLE service_role NOLOGIN BYPASSRLS;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;

CREATE SCHEMA auth;
CREATE TABLE auth.users (id uuid PRIMARY KEY, email text);
-- Supabase's own definition.
CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        nullif(current_setting('request.jwt.claim.sub', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
    )::uuid
$$;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;

-- Supabase's pgvector guide (a float array stands in for vector(1536)).
CREATE TABLE public.documents (id bigserial PRIMARY KEY, content text, metadata jsonb, embedding real[]);
INSERT INTO public.documents (content, metadata) VALUES ('the host''s own document', '{"source": "host"}');

-- A host table with its own RLS policy.
CREATE TABLE public.profiles (id uuid PRIMARY KEY, username text NOT NULL);
ALTER TABLE public.profiles ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Profiles are their owner's" ON public.profiles FOR ALL TO authenticated
    USING ((SELECT auth.uid()) = id) WITH CHECK ((SELECT auth.uid()) = id);
GRANT SELECT, INSERT, UPDATE ON public.profiles TO authenticated;
GRANT ALL ON public.profiles, public.documents TO service_role;
INSERT INTO public.profiles VALUES ('00000000-0000-0000-0000-00000000000a', 'host-user');

-- The host application's Alembic history.
CREATE TABLE public.alembic_version (version_num varchar(32) NOT NULL PRIMARY KEY);
INSERT INTO public.alembic_version VALUES ('9b1f4c2d7a3e');
"""

#: Everything in the database that is not signalhub's, described by the catalog.
CATALOG_SNAPSHOT = """
SELECT 'namespace ' || nspname || ' ' || coalesce(nspacl::text, '') FROM pg_namespace
  WHERE nspname NOT IN ('signalhub', 'pg_toast') AND nspname NOT LIKE 'pg_temp%' AND nspname NOT LIKE 'pg_toast_temp%'
UNION ALL
SELECT 'relation ' || n.nspname || '.' || c.relname || ' ' || c.relkind::text || ' rls=' || c.relrowsecurity
       || ' owner=' || c.relowner::regrole::text || ' acl=' || coalesce(c.relacl::text, '')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname NOT IN ('signalhub', 'pg_catalog', 'information_schema', 'pg_toast')
UNION ALL
SELECT 'column ' || attrelid::regclass::text || '.' || attname || ' ' || format_type(atttypid, atttypmod)
       || ' notnull=' || attnotnull || ' acl=' || coalesce(attacl::text, '')
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname IN ('public', 'auth') AND attnum > 0 AND NOT attisdropped
UNION ALL
SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace IN ('public'::regnamespace, 'auth'::regnamespace)
UNION ALL
SELECT 'policy ' || schemaname || '.' || tablename || ' ' || policyname || ' ' || cmd || ' '
       || array_to_string(roles, ',') || ' ' || coalesce(qual, '') || ' ' || coalesce(with_check, '')
  FROM pg_policies WHERE schemaname <> 'signalhub'
UNION ALL
SELECT 'function ' || p.oid::regprocedure::text || ' ' || md5(p.prosrc) || ' acl=' || coalesce(p.proacl::text, '')
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname IN ('public', 'auth')
UNION ALL
SELECT 'trigger ' || tgrelid::regclass::text || ' ' || tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
  WHERE NOT tgisinternal AND c.relnamespace NOT IN (SELECT oid FROM pg_namespace WHERE nspname = 'signalhub')
UNION ALL
SELECT 'role ' || rolname || ' super=' || rolsuper || ' login=' || rolcanlogin || ' bypassrls=' || rolbypassrls
       || ' config=' || coalesce(rolconfig::text, '')
  FROM pg_roles WHERE rolname IN ('anon', 'authenticated', 'service_role', 'postgres')
UNION ALL
SELECT 'rows public.documents ' || md5(string_agg(d::text, ',' ORDER BY d.id)) FROM public.documents d
UNION ALL
SELECT 'rows public.profiles ' || md5(string_agg(p::text, ',' ORDER BY p.id)) FROM public.profiles p
UNION ALL
SELECT 'rows public.alembic_version ' || string_agg(version_num, ',') FROM public.alembic_version
UNION ALL
SELECT 'database ' || coalesce(datacl::text, '') || ' ' || coalesce(
    (SELECT string_agg(s::text, ',') FROM pg_db_role_setting r, unnest(r.setconfig) s
     WHERE r.setdatabase = d.oid), '')
  FROM pg_database d WHERE datname = current_database()
ORDER BY 1
"""


@pytest.fixture
def supabase_like(server_url) -> Iterator[str]:
    with scratch_database(server_url, "signalhub_supabase", migrate=False) as url:
        yield url


async def _snapshot(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        return [row[0] for row in await conn.fetch(CATALOG_SNAPSHOT)]
    finally:
        await conn.close()


def _migrate(url: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "signalhub"), "migrate"], env=base_env(url), capture_output=True, text=True, timeout=120)


async def test_signalhub_installs_into_a_supabase_project_and_changes_nothing_of_the_hosts(
    supabase_like, artifacts, token, service_token
):
    url = supabase_like
    host = await asyncpg.connect(url)
    try:
        await host.execute(HOST_SCHEMA)
    finally:
        await host.close()
    before = await _snapshot(url)
    assert any(line.startswith("policy public.profiles") for line in before)

    first, second = _migrate(url), _migrate(url)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0 and "already current" in second.stdout, second.stderr

    user = uuid.uuid4()
    api = ApiProcess(url, artifacts).start()
    try:
        ws, hello = await connect(api.ws, token(user))
        async with httpx.AsyncClient(base_url=api.base) as http:
            sent = await http.post("/ws/send-test", json={"user_id": str(user), "message": "hello from the host"},
                                   headers={"Authorization": f"Bearer {service_token}"})
            assert sent.status_code == 200, sent.text
            [signal] = await collect_signals(ws, 1)
            assert signal["data"]["message"] == "hello from the host"
            inbox = await http.get("/api/v1/inbox/signals", headers={"Authorization": f"Bearer {token(user)}"})
            assert [s["id"] for s in inbox.json()["signals"]] == [signal["id"]]
        await ws.close()
    finally:
        api.stop()

    assert await _snapshot(url) == before

    conn = await connect_db(url)
    try:
        policies = {r["policyname"]: r["qual"] for r in await conn.fetch(
            "SELECT policyname, qual FROM pg_policies WHERE schemaname = 'signalhub' AND tablename = 'workflow_signals'"
        )}
        assert "auth.uid()" in policies["Users can view own signals"]
        assert await conn.fetchval("SELECT count(*) FROM signalhub.documents") == 0
        await _only_the_user_sees_their_signal_and_anon_sees_nothing(conn, user)
        await _the_user_marks_it_read_through_postgrest_and_the_counts_follow(conn, user)
    finally:
        await conn.close()


async def _only_the_user_sees_their_signal_and_anon_sees_nothing(conn: asyncpg.Connection, user: uuid.UUID) -> None:
    """Row-level security through Supabase's auth.uid(), as PostgREST would run a request."""
    for who, expected in ((user, 1), (uuid.uuid4(), 0)):
        async with conn.transaction():
            await conn.execute("SET LOCAL ROLE authenticated")
            await conn.execute("SELECT set_config('request.jwt.claims', $1, true)", json.dumps({"sub": str(who)}))
            assert await conn.fetchval("SELECT count(*) FROM workflow_signals") == expected
    async with conn.transaction():
        await conn.execute("SET LOCAL ROLE anon")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):  # not even the schema is anon's to use
            await conn.fetchval("SELECT count(*) FROM signalhub.workflow_signals")


async def _the_user_marks_it_read_through_postgrest_and_the_counts_follow(
    conn: asyncpg.Connection, user: uuid.UUID
) -> None:
    """supabase-js updates go through PostgREST, whose sessions have search_path "public,
    extensions": the count trigger fired there must still find signalhub's tables."""
    counts = "SELECT unread FROM signalhub.workflow_signal_counts WHERE user_id = $1"
    assert await conn.fetchval(counts, user) == 1
    async with conn.transaction():
        await conn.execute("SET LOCAL search_path TO public, extensions")
        await conn.execute("SET LOCAL ROLE authenticated")
        await conn.execute("SELECT set_config('request.jwt.claims', $1, true)", json.dumps({"sub": str(user)}))
        updated = await conn.execute("UPDATE signalhub.workflow_signals SET read = true, read_at = now()")
        assert updated == "UPDATE 1"
    assert await conn.fetchval(counts, user) == 0


async def test_an_older_install_in_public_moves_without_disturbing_the_hosts_documents(supabase_like):
    """signalhub's tables from before the own schema move; the host's same-named table stays."""
    url = supabase_like
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(HOST_SCHEMA)
        before = await _snapshot(url)
        # What an older signalhub left in public next to the host's tables.
        await conn.execute("""
            CREATE TABLE public.workflow_signal_seqs (user_id uuid PRIMARY KEY, last_seq bigint NOT NULL);
            CREATE TABLE public.workflow_signals (
                id uuid PRIMARY KEY DEFAULT gen_random_uuid(), user_id uuid NOT NULL, workflow_id text NOT NULL,
                signal_type text NOT NULL, data jsonb NOT NULL DEFAULT '{}', timestamp timestamptz NOT NULL DEFAULT now(),
                read boolean NOT NULL DEFAULT false, read_at timestamptz, created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now(), seq bigint NOT NULL, idempotency_key text,
                UNIQUE (user_id, seq), UNIQUE (user_id, idempotency_key));
            INSERT INTO public.workflow_signals (user_id, workflow_id, signal_type, seq)
                VALUES ('00000000-0000-0000-0000-00000000000b', 'wf-old', 'completion', 1);
        """)
        assert _migrate(url).returncode == 0
        assert await conn.fetchval("SELECT workflow_id FROM signalhub.workflow_signals") == "wf-old"
        assert await conn.fetchval("SELECT to_regclass('public.workflow_signals')") is None
        # The host's Alembic history is not signalhub's (its revision is not 0001/0002): it stays.
        assert await _snapshot(url) == before
    finally:
        await conn.close()
