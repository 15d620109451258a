-- Creates signalhub's schema: the workflow_signals table, its indexes and row-level
-- security (and the document pipeline's tables), all inside its own schema.
--   psql -h your-db-host -U your-user -d your-database -f script/create_signal_table.sql
--   psql … -v schema=my_schema -f script/create_signal_table.sql     (default: signalhub)
-- The same SQL files are what `signalhub migrate` applies (idempotent either way).
\set ON_ERROR_STOP on
\if :{?schema}
\else
\set schema signalhub
\endif
CREATE SCHEMA IF NOT EXISTS :"schema";
SET search_path TO :"schema";
\ir ../src/signalhub/migrations/sql/0000_move_from_public.sql
\ir ../src/signalhub/migrations/sql/0001_workflow_signals.sql
\ir ../src/signalhub/migrations/sql/0002_document_chunks.sql
\ir ../src/signalhub/migrations/sql/0004_inbox_state.sql
\ir ../src/signalhub/migrations/sql/0005_open_signal_types.sql
\ir ../src/signalhub/migrations/sql/0006_partition_signals.sql
\ir ../src/signalhub/migrations/sql/0007_qualified_trigger_functions.sql
