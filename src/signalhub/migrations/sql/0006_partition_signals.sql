-- workflow_signals partitioned by month of created_at (the database's clock), so that
-- retention drops whole months instead of deleting rows one by one (retention.py).
-- Idempotent: safe to apply twice (psql -f, then `signalhub migrate`).
--
-- Layout:
--   workflow_signals                  the partitioned parent: every query and grant goes here
--   workflow_signals_pYYYY_MM         one month [YYYY-MM-01 00:00 UTC, next month), created ahead
--   workflow_signals_default          rows of months without a partition (imports, backfills,
--                                     far future); kept small, moved out when their month is created
--   workflow_signal_idempotency_keys  (user_id, idempotency_key) -> signal id: a unique constraint on
--                                     the parent would have to include created_at, so the "one signal
--                                     per key" rule lives in this small table, written in the same
--                                     statement as the signal
--
-- The primary key is (id, created_at): a partitioned table's unique constraints must include the
-- partition key. Ids are random UUIDs made by signalhub (never by a caller), so id alone stays
-- unique in practice, and a lookup by id probes each partition's primary-key index.
-- (user_id, seq) is no longer a constraint either: seqs come from workflow_signal_seqs under the
-- user's row lock, which is what made them unique; the index stays for replay by seq.

CREATE TABLE IF NOT EXISTS workflow_signal_idempotency_keys (
    user_id UUID NOT NULL,
    idempotency_key TEXT NOT NULL,
    signal_id UUID NOT NULL,
    PRIMARY KEY (user_id, idempotency_key)
);
ALTER TABLE workflow_signal_idempotency_keys ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS "Service role manages idempotency keys" ON workflow_signal_idempotency_keys;
CREATE POLICY "Service role manages idempotency keys" ON workflow_signal_idempotency_keys
    FOR ALL TO service_role USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, DELETE ON workflow_signal_idempotency_keys TO service_role;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
        REVOKE ALL ON workflow_signal_idempotency_keys FROM anon;
    END IF;
END
$$;

-- Creates the monthly partitions covering [since, until] that do not exist yet; returns how many.
-- Rows of such a month already in the default partition are moved into the new one (a new
-- partition cannot be created over rows the default holds). The rows only move between
-- partitions, so the inbox counts stay as they are (the count triggers are on the parent).
CREATE OR REPLACE FUNCTION workflow_signals_add_partitions(since timestamptz, until timestamptz)
RETURNS integer LANGUAGE plpgsql AS $fn$
DECLARE
    month timestamptz := date_trunc('month', since AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    next_month timestamptz;
    name text;
    created integer := 0;
BEGIN
    WHILE month <= until LOOP
        next_month := ((month AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC';
        name := 'workflow_signals_p' || to_char(month AT TIME ZONE 'UTC', 'YYYY_MM');
        IF to_regclass(quote_ident(name)) IS NULL THEN
            IF to_regclass('workflow_signals_default') IS NOT NULL AND EXISTS (
                SELECT 1 FROM workflow_signals_default WHERE created_at >= month AND created_at < next_month
            ) THEN
                EXECUTE format('CREATE TABLE %I (LIKE workflow_signals INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name);
                EXECUTE format('WITH moved AS (DELETE FROM workflow_signals_default WHERE created_at >= $1 '
                               'AND created_at < $2 RETURNING *) INSERT INTO %I SELECT * FROM moved', name)
                    USING month, next_month;
                EXECUTE format('ALTER TABLE workflow_signals ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                               name, month, next_month);
            ELSE
                EXECUTE format('CREATE TABLE %I PARTITION OF workflow_signals FOR VALUES FROM (%L) TO (%L)',
                               name, month, next_month);
            END IF;
            -- Queries go through the parent (its policies and grants); a partition read
            -- directly, by someone a host's default privileges let in, shows nothing.
            EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', name);
            created := created + 1;
        END IF;
        month := next_month;
    END LOOP;
    RETURN created;
END
$fn$;

-- Today's unpartitioned table becomes the partitioned one, rows, ids, seqs and inbox state
-- included. Everything attached to the old table (indexes, triggers, policies, grants; whatever
-- the migrations before this one made) is recreated on the new parent from the catalog.
DO $$
DECLARE
    old regclass;
    month_with_rows timestamptz;
    item record;
    def text;
BEGIN
    IF (SELECT relkind FROM pg_class WHERE oid = 'workflow_signals'::regclass) <> 'r' THEN
        RETURN;  -- partitioned already
    END IF;
    LOCK TABLE workflow_signals IN ACCESS EXCLUSIVE MODE;
    ALTER TABLE workflow_signals RENAME TO workflow_signals_unpartitioned;
    old := 'workflow_signals_unpartitioned'::regclass;

    -- Columns in the same order, with their defaults, NOT NULLs and CHECKs (by name).
    -- (The primary key and indexes come after the rows: built once, and their names are free then.)
    CREATE TABLE workflow_signals (
        LIKE workflow_signals_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING COMMENTS
    ) PARTITION BY RANGE (created_at);
    CREATE TABLE workflow_signals_default PARTITION OF workflow_signals DEFAULT;
    ALTER TABLE workflow_signals_default ENABLE ROW LEVEL SECURITY;

    -- A partition for every month that has rows, and for this month and the next two.
    FOR month_with_rows IN SELECT DISTINCT date_trunc('month', created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
                  FROM workflow_signals_unpartitioned LOOP
        PERFORM workflow_signals_add_partitions(month_with_rows, month_with_rows);
    END LOOP;
    PERFORM workflow_signals_add_partitions(now(), now() + interval '2 months');

    -- The rows, as they are (no trigger is on the new table yet, so the counts stay right).
    INSERT INTO workflow_signals SELECT * FROM workflow_signals_unpartitioned;
    INSERT INTO workflow_signal_idempotency_keys (user_id, idempotency_key, signal_id)
    SELECT user_id, idempotency_key, id FROM workflow_signals_unpartitioned WHERE idempotency_key IS NOT NULL
    ON CONFLICT DO NOTHING;

    -- Indexes (not those behind constraints), triggers, policies, grants: kept as definitions,
    -- the old table dropped (freeing the index names), then recreated on the parent.
    CREATE TEMP TABLE workflow_signals_attached (kind int, def text) ON COMMIT DROP;
    INSERT INTO workflow_signals_attached
    SELECT 1, pg_get_indexdef(i.indexrelid) FROM pg_index i
    WHERE i.indrelid = old AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid);
    INSERT INTO workflow_signals_attached
    SELECT 2, pg_get_triggerdef(t.oid) FROM pg_trigger t WHERE t.tgrelid = old AND NOT t.tgisinternal;
    INSERT INTO workflow_signals_attached
    SELECT 3, format('CREATE POLICY %I ON workflow_signals AS %s FOR %s TO %s%s%s', p.policyname, p.permissive,
                     p.cmd, array_to_string(ARRAY(SELECT quote_ident(r) FROM unnest(p.roles) r), ', '),
                     ' USING (' || p.qual || ')', ' WITH CHECK (' || p.with_check || ')')
    FROM pg_policies p
    WHERE p.schemaname = current_schema() AND p.tablename = 'workflow_signals_unpartitioned';
    INSERT INTO workflow_signals_attached
    SELECT 4, format('GRANT %s ON workflow_signals TO %s', a.privilege_type,
                     CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(a.grantee::regrole::text) END)
    FROM pg_class c, aclexplode(c.relacl) a WHERE c.oid = old AND a.grantee <> c.relowner;
    INSERT INTO workflow_signals_attached
    SELECT 4, format('GRANT %s (%I) ON workflow_signals TO %s', a.privilege_type, att.attname,
                     CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(a.grantee::regrole::text) END)
    FROM pg_attribute att, aclexplode(att.attacl) a
    WHERE att.attrelid = old AND att.attnum > 0 AND NOT att.attisdropped;

    DROP TABLE workflow_signals_unpartitioned;
    ALTER TABLE workflow_signals ADD CONSTRAINT workflow_signals_pkey PRIMARY KEY (id, created_at);

    FOR item IN SELECT kind, w.def FROM workflow_signals_attached w ORDER BY kind LOOP
        -- Definitions name the old table (schema-qualified or not); point them at the parent.
        def := regexp_replace(item.def, ' ON (\S+\.)?workflow_signals_unpartitioned ', ' ON workflow_signals ');
        IF item.kind = 1 THEN
            def := regexp_replace(def, '^CREATE (UNIQUE )?INDEX ', 'CREATE \1INDEX IF NOT EXISTS ');
        END IF;
        EXECUTE def;
    END LOOP;
    DROP TABLE workflow_signals_attached;
    ALTER TABLE workflow_signals ENABLE ROW LEVEL SECURITY;
END
$$;

-- Replay after a seq (was the (user_id, seq) unique constraint's index).
CREATE INDEX IF NOT EXISTS idx_workflow_signals_user_seq ON workflow_signals (user_id, seq);

-- A signal's idempotency key goes with its row: deleted rows (retention's boundary month, psql)
-- free their keys in the same statement; TRUNCATE frees them all. (Dropped partitions free
-- theirs in retention's own transaction: dropping fires no trigger.)
CREATE OR REPLACE FUNCTION workflow_signal_keys_release() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM workflow_signal_idempotency_keys k USING old_rows o
        WHERE o.idempotency_key IS NOT NULL AND k.user_id = o.user_id
          AND k.idempotency_key = o.idempotency_key AND k.signal_id = o.id;
    ELSE  -- TRUNCATE
        DELETE FROM workflow_signal_idempotency_keys;
    END IF;
    RETURN NULL;
END
$fn$;
DROP TRIGGER IF EXISTS workflow_signal_keys_delete ON workflow_signals;
CREATE TRIGGER workflow_signal_keys_delete AFTER DELETE ON workflow_signals
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION workflow_signal_keys_release();
DROP TRIGGER IF EXISTS workflow_signal_keys_truncate ON workflow_signals;
CREATE TRIGGER workflow_signal_keys_truncate AFTER TRUNCATE ON workflow_signals
    FOR EACH STATEMENT EXECUTE FUNCTION workflow_signal_keys_release();

-- Months ahead (also what the worker's retention loop does at start and every round).
SELECT workflow_signals_add_partitions(now(), now() + interval '2 months');
