-- Open signal types: besides the seed's four, any name matching
-- ^[a-z][a-z0-9_.-]{0,63}$ (signals.SIGNAL_TYPE_PATTERN, the same expression).
-- The column list is the seed's; only the CHECK on signal_type changes.
-- Idempotent: the constraint is replaced only while it still holds the old list.
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_constraint
        WHERE conrelid = 'workflow_signals'::regclass
          AND conname = 'workflow_signals_signal_type_check'
          AND strpos(pg_get_constraintdef(oid), '[a-z0-9_.-]{0,63}') > 0
    ) THEN
        ALTER TABLE workflow_signals DROP CONSTRAINT IF EXISTS workflow_signals_signal_type_check;
        -- NOT VALID, then VALIDATE: existing rows are checked without blocking writers.
        ALTER TABLE workflow_signals ADD CONSTRAINT workflow_signals_signal_type_check
            CHECK (signal_type ~ '^[a-z][a-z0-9_.-]{0,63}$') NOT VALID;
        ALTER TABLE workflow_signals VALIDATE CONSTRAINT workflow_signals_signal_type_check;
    END IF;
END
$$;
