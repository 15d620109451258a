-- workflow_signals: every signal a workflow sent to a user (the inbox).
-- Idempotent: safe to apply twice (psql -f, then `signalhub migrate`).

-- Supabase has these roles and auth.uid(); plain PostgreSQL gets compatible ones.
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

CREATE SCHEMA IF NOT EXISTS auth;

DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'auth' AND p.proname = 'uid'
    ) THEN
        -- Same contract as Supabase's auth.uid(): the `sub` claim of the request's JWT.
        CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $fn$
            SELECT coalesce(
                nullif(current_setting('request.jwt.claim.sub', true), ''),
                nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'
            )::uuid
        $fn$;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA auth TO authenticated, service_role;

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

DROP POLICY IF EXISTS "Users can view own signals" ON workflow_signals;
CREATE POLICY "Users can view own signals" ON workflow_signals
    FOR SELECT TO authenticated USING (user_id = auth.uid());

DROP POLICY IF EXISTS "Users can update own signals" ON workflow_signals;
CREATE POLICY "Users can update own signals" ON workflow_signals
    FOR UPDATE TO authenticated USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());

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
