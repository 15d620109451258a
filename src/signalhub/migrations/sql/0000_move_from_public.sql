-- Installs made before signalhub had its own schema kept its tables in `public`.
-- Move them, rows, indexes, constraints and policies included, into the schema
-- this runs in (`current_schema()`: signalhub's, first in search_path).
-- Only tables that are recognisably signalhub's move; a host's `public.documents`
-- (e.g. Supabase's pgvector guide) has other columns and stays where it is.
-- Idempotent: once moved (or on a fresh database) this does nothing.
DO $$
DECLARE
    target text := current_schema();
    moved boolean := false;
BEGIN
    IF target IS NULL OR target = 'public' THEN
        RETURN;
    END IF;

    IF to_regclass('public.workflow_signals') IS NOT NULL
       AND to_regclass('public.workflow_signal_seqs') IS NOT NULL
       AND to_regclass(format('%I.workflow_signals', target)) IS NULL
       AND (SELECT count(*) FROM information_schema.columns
            WHERE table_schema = 'public' AND table_name = 'workflow_signals'
              AND column_name IN ('seq', 'idempotency_key', 'signal_type', 'workflow_id', 'read_at')) = 5
    THEN
        EXECUTE format('ALTER TABLE public.workflow_signals SET SCHEMA %I', target);
        EXECUTE format('ALTER TABLE public.workflow_signal_seqs SET SCHEMA %I', target);
        moved := true;
    END IF;

    IF to_regclass('public.documents') IS NOT NULL
       AND to_regclass('public.document_chunks') IS NOT NULL
       AND to_regclass(format('%I.documents', target)) IS NULL
       AND (SELECT count(*) FROM information_schema.columns
            WHERE table_schema = 'public' AND table_name = 'documents'
              AND column_name IN ('domain_id', 'file_name', 'embedder', 'error_code', 'chunk_count')) = 5
       AND EXISTS (SELECT 1 FROM pg_constraint
                   WHERE conrelid = to_regclass('public.document_chunks')
                     AND confrelid = to_regclass('public.documents') AND contype = 'f')
    THEN
        EXECUTE format('ALTER TABLE public.documents SET SCHEMA %I', target);
        EXECUTE format('ALTER TABLE public.document_chunks SET SCHEMA %I', target);
        moved := true;
    END IF;

    -- The old shared version table held only signalhub's revisions (a host's own history
    -- made the old `signalhub migrate` fail); signalhub's history now lives in its schema.
    -- (Nested: the inner query is only planned once the table is known to exist.)
    IF moved AND to_regclass('public.alembic_version') IS NOT NULL THEN
        IF NOT EXISTS (SELECT 1 FROM public.alembic_version WHERE version_num NOT IN ('0001', '0002')) THEN
            DROP TABLE public.alembic_version;
        END IF;
    END IF;
END
$$;
