-- documents and document_chunks: what DocumentProcessingWorkflow extracts, splits and embeds.
-- Idempotent: safe to apply twice (psql -f, then `signalhub migrate`).

CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,                 -- the workflow's document_id
    user_id UUID NOT NULL,
    domain_id TEXT NOT NULL,
    file_name TEXT NOT NULL,
    content_type TEXT,
    workflow_id TEXT,
    status TEXT NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'extracted', 'chunked', 'embedded', 'completed', 'failed')),
    text TEXT,
    text_length INTEGER,
    page_count INTEGER,
    chunk_count INTEGER,
    embedder TEXT,
    error TEXT,
    error_code TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE TABLE IF NOT EXISTS document_chunks (
    document_id TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    chunk_index INTEGER NOT NULL,
    content TEXT NOT NULL,
    start_offset INTEGER NOT NULL,
    end_offset INTEGER NOT NULL,
    -- A plain float array works on every PostgreSQL; with pgvector, cast it (embedding::vector).
    embedding REAL[],
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (document_id, chunk_index)
);

CREATE INDEX IF NOT EXISTS idx_documents_user_created ON documents (user_id, created_at DESC);

-- Row-level security, as for workflow_signals: users read their own documents; the service role writes.
ALTER TABLE documents ENABLE ROW LEVEL SECURITY;
ALTER TABLE document_chunks ENABLE ROW LEVEL SECURITY;

-- The request's user as in 0001: auth.uid() where it exists, else the same claims.
DO $$
DECLARE
    uid text := CASE WHEN to_regprocedure('auth.uid()') IS NOT NULL THEN '(SELECT auth.uid())'
        ELSE $e$(SELECT coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''), nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')::uuid)$e$ END;
BEGIN
    DROP POLICY IF EXISTS "Users can view own documents" ON documents;
    EXECUTE format('CREATE POLICY "Users can view own documents" ON documents
        FOR SELECT TO authenticated USING (user_id = %s)', uid);

    DROP POLICY IF EXISTS "Users can view own document chunks" ON document_chunks;
    EXECUTE format('CREATE POLICY "Users can view own document chunks" ON document_chunks
        FOR SELECT TO authenticated USING (
            EXISTS (SELECT 1 FROM documents d WHERE d.id = document_id AND d.user_id = %s))', uid);
END
$$;

DROP POLICY IF EXISTS "Service role manages documents" ON documents;
CREATE POLICY "Service role manages documents" ON documents
    FOR ALL TO service_role USING (true) WITH CHECK (true);

DROP POLICY IF EXISTS "Service role manages document chunks" ON document_chunks;
CREATE POLICY "Service role manages document chunks" ON document_chunks
    FOR ALL TO service_role USING (true) WITH CHECK (true);

GRANT SELECT ON documents, document_chunks TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON documents, document_chunks TO service_role;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
        REVOKE ALL ON documents, document_chunks FROM anon;
    END IF;
END
$$;
