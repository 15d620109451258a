-- The trigger functions name their tables with signalhub's schema, so that they work
-- in every session, whatever its search_path: PostgREST (supabase-js) runs with
-- "public, extensions", and a user marking own rows read there fires the count trigger.
-- The bodies are those of 0004 and 0006 with the tables qualified. (A SET search_path
-- clause on the functions would do the same at 0.1-0.3 ms more per emit, measured.)
-- Idempotent: safe to apply twice (psql -f, then `signalhub migrate`).
DO $do$
DECLARE
    s text := quote_ident(current_schema());
BEGIN
    EXECUTE replace($sql$
CREATE OR REPLACE FUNCTION @schema@.workflow_signal_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO @schema@.workflow_signal_counts AS c (user_id, total, unread, unseen)
        SELECT user_id, count(*), count(*) FILTER (WHERE NOT read), count(*) FILTER (WHERE seen_at IS NULL)
        FROM new_rows WHERE archived_at IS NULL AND deleted_at IS NULL
        GROUP BY user_id ORDER BY user_id
        ON CONFLICT (user_id) DO UPDATE SET total = c.total + EXCLUDED.total,
            unread = c.unread + EXCLUDED.unread, unseen = c.unseen + EXCLUDED.unseen;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO @schema@.workflow_signal_counts AS c (user_id, total, unread, unseen)
        SELECT user_id, -count(*), -count(*) FILTER (WHERE NOT read), -count(*) FILTER (WHERE seen_at IS NULL)
        FROM old_rows WHERE archived_at IS NULL AND deleted_at IS NULL
        GROUP BY user_id ORDER BY user_id
        ON CONFLICT (user_id) DO UPDATE SET total = c.total + EXCLUDED.total,
            unread = c.unread + EXCLUDED.unread, unseen = c.unseen + EXCLUDED.unseen;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO @schema@.workflow_signal_counts AS c (user_id, total, unread, unseen)
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
        DELETE FROM @schema@.workflow_signal_counts;
    END IF;
    RETURN NULL;
END
$fn$;
$sql$, '@schema@', s);
    EXECUTE replace($sql$
CREATE OR REPLACE FUNCTION @schema@.workflow_signal_keys_release() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM @schema@.workflow_signal_idempotency_keys k USING old_rows o
        WHERE o.idempotency_key IS NOT NULL AND k.user_id = o.user_id
          AND k.idempotency_key = o.idempotency_key AND k.signal_id = o.id;
    ELSE  -- TRUNCATE
        DELETE FROM @schema@.workflow_signal_idempotency_keys;
    END IF;
    RETURN NULL;
END
$fn$;
$sql$, '@schema@', s);
END
$do$;
