-- Inbox state per signal: seen, archived, deleted; per-user counts kept by triggers.
-- Idempotent: safe to apply twice (psql -f, then `signalhub migrate`).
--
-- seen_at      the user saw it in a list (the bell's badge counts unseen); reading implies seen
-- archived_at  hidden from the default lists and from the counts, still listed with archived=true
-- deleted_at   gone for the user: no list, count or resume shows it again. The row stays as a
--              tombstone (its data is cleared) so that its idempotency key still stops a retried
--              emit from bringing it back and its seq is never handed out again; retention purges
--              tombstones by age like every other row.

ALTER TABLE workflow_signals ADD COLUMN IF NOT EXISTS seen_at TIMESTAMPTZ;
ALTER TABLE workflow_signals ADD COLUMN IF NOT EXISTS archived_at TIMESTAMPTZ;
ALTER TABLE workflow_signals ADD COLUMN IF NOT EXISTS deleted_at TIMESTAMPTZ;

-- The inbox tabs, newest first: live (default list), unread and archived.
CREATE INDEX IF NOT EXISTS idx_workflow_signals_user_live_seq ON workflow_signals (user_id, seq DESC)
    WHERE archived_at IS NULL AND deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS idx_workflow_signals_user_unread_seq ON workflow_signals (user_id, seq DESC)
    WHERE NOT read AND archived_at IS NULL AND deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS idx_workflow_signals_user_archived_seq ON workflow_signals (user_id, seq DESC)
    WHERE archived_at IS NOT NULL AND deleted_at IS NULL;

-- Counts over a user's live (not archived, not deleted) signals. A user with 100,000 signals
-- cannot be counted in 2 ms by any index, so the counts are kept up to date by the triggers
-- below, in the same transaction as every change (insert, update, delete, retention, psql).
CREATE TABLE IF NOT EXISTS workflow_signal_counts (
    user_id UUID PRIMARY KEY,
    total BIGINT NOT NULL DEFAULT 0,
    unread BIGINT NOT NULL DEFAULT 0,
    unseen BIGINT NOT NULL DEFAULT 0
);

-- One statement-level trigger per event (a trigger's transition tables exist only for its own
-- event, hence one branch per event). Deltas are summed per user and applied in user_id order,
-- so concurrent statements cannot deadlock on the count rows. SECURITY INVOKER (the default):
-- nothing runs with raised privileges; a user who updates own rows under RLS may write own
-- count row (policy below), the owner and service role bypass RLS. (Measured: the insert
-- trigger adds no visible cost to a single-row insert; a SET search_path clause or a nested
-- function call here would add 0.1-0.3 ms to every emit.)
CREATE OR REPLACE FUNCTION workflow_signal_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO workflow_signal_counts AS c (user_id, total, unread, unseen)
        SELECT user_id, count(*), count(*) FILTER (WHERE NOT read), count(*) FILTER (WHERE seen_at IS NULL)
        FROM new_rows WHERE archived_at IS NULL AND deleted_at IS NULL
        GROUP BY user_id ORDER BY user_id
        ON CONFLICT (user_id) DO UPDATE SET total = c.total + EXCLUDED.total,
            unread = c.unread + EXCLUDED.unread, unseen = c.unseen + EXCLUDED.unseen;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO workflow_signal_counts AS c (user_id, total, unread, unseen)
        SELECT user_id, -count(*), -count(*) FILTER (WHERE NOT read), -count(*) FILTER (WHERE seen_at IS NULL)
        FROM old_rows WHERE archived_at IS NULL AND deleted_at IS NULL
        GROUP BY user_id ORDER BY user_id
        ON CONFLICT (user_id) DO UPDATE SET total = c.total + EXCLUDED.total,
            unread = c.unread + EXCLUDED.unread, unseen = c.unseen + EXCLUDED.unseen;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO workflow_signal_counts AS c (user_id, total, unread, unseen)
        SELECT user_id, sum(total), sum(unread), sum(unseen) FROM (
            SELECT user_id, 1 AS total, (NOT read)::int AS unread, (seen_at IS NULL)::int AS unseen
            FROM new_rows WHERE archived_at IS NULL AND deleted_at IS NULL
            UNION ALL
            SELECT user_id, -1, -(NOT read)::int, -(seen_at IS NULL)::int
            FROM old_rows WHERE archived_at IS NULL AND deleted_at IS NULL
        ) changes
        GROUP BY user_id HAVING sum(total) <> 0 OR sum(unread) <> 0 OR sum(unseen) <> 0
        ORDER BY user_id
        ON CONFLICT (user_id) DO UPDATE SET total = c.total + EXCLUDED.total,
            unread = c.unread + EXCLUDED.unread, unseen = c.unseen + EXCLUDED.unseen;
    ELSE  -- TRUNCATE
        DELETE FROM workflow_signal_counts;
    END IF;
    RETURN NULL;
END
$fn$;

DROP TRIGGER IF EXISTS workflow_signal_counts_insert ON workflow_signals;
CREATE TRIGGER workflow_signal_counts_insert AFTER INSERT ON workflow_signals
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION workflow_signal_counts_apply();
DROP TRIGGER IF EXISTS workflow_signal_counts_update ON workflow_signals;
CREATE TRIGGER workflow_signal_counts_update AFTER UPDATE ON workflow_signals
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION workflow_signal_counts_apply();
DROP TRIGGER IF EXISTS workflow_signal_counts_delete ON workflow_signals;
CREATE TRIGGER workflow_signal_counts_delete AFTER DELETE ON workflow_signals
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION workflow_signal_counts_apply();
DROP TRIGGER IF EXISTS workflow_signal_counts_truncate ON workflow_signals;
CREATE TRIGGER workflow_signal_counts_truncate AFTER TRUNCATE ON workflow_signals
    FOR EACH STATEMENT EXECUTE FUNCTION workflow_signal_counts_apply();

-- (Re)compute every count from the rows, with writers held off so none is counted twice or missed.
-- Run on every apply: it also repairs counts after, say, a restore that bypassed the triggers.
DO $$
BEGIN
    LOCK TABLE workflow_signals IN SHARE ROW EXCLUSIVE MODE;
    DELETE FROM workflow_signal_counts;
    INSERT INTO workflow_signal_counts (user_id, total, unread, unseen)
    SELECT user_id, count(*), count(*) FILTER (WHERE NOT read), count(*) FILTER (WHERE seen_at IS NULL)
    FROM workflow_signals WHERE archived_at IS NULL AND deleted_at IS NULL
    GROUP BY user_id;
END
$$;

ALTER TABLE workflow_signal_counts ENABLE ROW LEVEL SECURITY;
-- The request's user, in the same form as 0001 (auth.uid() on Supabase, the JWT claims elsewhere).
-- The triggers run as the user who changes own signals: they keep that user's own row only.
DO $$
DECLARE
    uid text := CASE WHEN to_regprocedure('auth.uid()') IS NOT NULL THEN '(SELECT auth.uid())'
        ELSE $e$(SELECT coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''), nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')::uuid)$e$ END;
BEGIN
    DROP POLICY IF EXISTS "Users can view own counts" ON workflow_signal_counts;
    EXECUTE format('CREATE POLICY "Users can view own counts" ON workflow_signal_counts
        FOR SELECT TO authenticated USING (user_id = %s)', uid);
    DROP POLICY IF EXISTS "Users keep own counts" ON workflow_signal_counts;
    EXECUTE format('CREATE POLICY "Users keep own counts" ON workflow_signal_counts
        FOR ALL TO authenticated USING (user_id = %1$s) WITH CHECK (user_id = %1$s)', uid);
END
$$;
DROP POLICY IF EXISTS "Service role manages counts" ON workflow_signal_counts;
CREATE POLICY "Service role manages counts" ON workflow_signal_counts
    FOR ALL TO service_role USING (true) WITH CHECK (true);

-- Users may mark their own signals seen, archived or deleted (as they may mark them read).
GRANT UPDATE (seen_at, archived_at, deleted_at) ON workflow_signals TO authenticated;
GRANT SELECT, INSERT, UPDATE ON workflow_signal_counts TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON workflow_signal_counts TO service_role;
