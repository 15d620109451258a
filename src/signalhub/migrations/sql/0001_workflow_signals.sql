-- workflow_signals: every signal a workflow sent to a user (the inbox).
-- Idempotent: safe to apply twice (psql -f, then `signalhub migrate`).

-- Roles: Supabase has `authenticated` and `service_role` (and `anon`, which gets
-- nothing here); plain PostgreSQL gets NOLOGIN roles of the same names, created
-- only when missing (roles are cluster-wide; an existing one is never altered).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
        CREATE ROLE authenticated NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
        CREATE ROLE service_role NOLOGIN BYPASSRLS;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;  -- another session created them concurrently
END
$$;

-- signalhub's own schema (whatever it is named: the one this runs in).
DO $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO authenticated, service_role', current_schema());
END
$$;

CREATE TABLE IF NOT EXISTS workflow_signals (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL,
    workflow_id TEXT NOT NULL,
    signal_type TEXT NOT NULL CHECK (signal_type IN ('status_update', 'completion', 'error', 'progress')),
    data JSONB NOT NULL DEFAULT '{}',
    timestamp TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    read BOOLEAN NOT NULL DEFAULT FALSE,
    read_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    -- Delivery: per-user sequence, assigned under the user's counter row lock,
    -- so it increases in commit order (a reader of "seq > N" never misses a row).
    seq BIGINT NOT NULL,
    -- Retries of the same emit (e.g. a Temporal activity) carry the same key.
    idempotency_key TEXT,
    CONSTRAINT workflow_signals_user_seq_key UNIQUE (user_id, seq),
    CONSTRAINT workflow_signals_user_idempotency_key UNIQUE (user_id, idempotency_key)
);

-- The last seq handed out per user. Its row lock serialises one user's inserts.
CREATE TABLE IF NOT EXISTS workflow_signal_seqs (
    user_id UUID PRIMARY KEY,
    last_seq BIGINT NOT NULL
);

CREATE INDEX IF NOT EXISTS idx_workflow_signals_user_id ON workflow_signals (user_id);
CREATE INDEX IF NOT EXISTS idx_workflow_signals_workflow_id ON workflow_signals (workflow_id);
CREATE INDEX IF NOT EXISTS idx_workflow_signals_read ON workflow_signals (user_id) WHERE NOT read;
CREATE INDEX IF NOT EXISTS idx_workflow_signals_user_created ON workflow_signals (user_id, created_at DESC);

-- Row-level security: a user selects and updates only own rows; only the service role inserts.
ALTER TABLE workflow_signals ENABLE ROW LEVEL SECURITY;
ALTER TABLE workflow_signal_seqs ENABLE ROW LEVEL SECURITY;

-- The request's user: Supabase's auth.uid() where it exists; elsewhere the same
-- claims it reads (PostgREST's `request.jwt.claims`, or the older single claim).
DO $$
DECLARE
    uid text := CASE WHEN to_regprocedure('auth.uid()') IS NOT NULL THEN '(SELECT auth.uid())'
        ELSE $e$(SELECT coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''), nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')::uuid)$e$ END;
BEGIN
    DROP POLICY IF EXISTS "Users can view own signals" ON workflow_signals;
    EXECUTE format('CREATE POLICY "Users can view own signals" ON workflow_signals
        FOR SELECT TO authenticated USING (user_id = %s)', uid);

    DROP POLICY IF EXISTS "Users can update own signals" ON workflow_signals;
    EXECUTE format('CREATE POLICY "Users can update own signals" ON workflow_signals
        FOR UPDATE TO authenticated USING (user_id = %1$s) WITH CHECK (user_id = %1$s)', uid);
END
$$;

DROP POLICY IF EXISTS "Service role can insert signals" ON workflow_signals;
CREATE POLICY "Service role can insert signals" ON workflow_signals
    FOR INSERT TO service_role WITH CHECK (true);

DROP POLICY IF EXISTS "Service role manages signals" ON workflow_signals;
CREATE POLICY "Service role manages signals" ON workflow_signals
    FOR ALL TO service_role USING (true) WITH CHECK (true);

DROP POLICY IF EXISTS "Service role manages seqs" ON workflow_signal_seqs;
CREATE POLICY "Service role manages seqs" ON workflow_signal_seqs
    FOR ALL TO service_role USING (true) WITH CHECK (true);

GRANT SELECT, UPDATE (read, read_at, updated_at) ON workflow_signals TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON workflow_signals TO service_role;
GRANT SELECT, INSERT, UPDATE ON workflow_signal_seqs TO service_role;

-- Supabase's `anon` (requests without a signed-in user) reads nothing of signalhub's.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
        REVOKE ALL ON workflow_signals, workflow_signal_seqs FROM anon;
    END IF;
END
$$;
