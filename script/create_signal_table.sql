-- Creates the workflow_signals table, its indexes and row-level security.
--   psql -h your-db-host -U your-user -d your-database -f script/create_signal_table.sql
-- The same SQL files are what `signalhub migrate` applies (idempotent either way).
\set ON_ERROR_STOP on
\ir ../src/signalhub/migrations/sql/0001_workflow_signals.sql
\ir ../src/signalhub/migrations/sql/0002_document_chunks.sql
\ir ../src/signalhub/migrations/sql/0003_open_signal_types.sql
