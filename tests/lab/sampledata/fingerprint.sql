-- Fingerprint of the sample database: one line per table (row count and an order-independent hash of
-- every row's text form) and per sequence (last value). Run it on the source and on the target of a
-- migration and compare the outputs:
--   psql -X -At -d invoicetron -f fingerprint.sql
-- Works on any database (lists every ordinary table outside the system schemas).
\set ON_ERROR_STOP 1
\set QUIET on
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, MDY';
SET IntervalStyle = 'postgres';
SET extra_float_digits = 1;
SET bytea_output = 'hex';
SELECT format('SELECT %L || ''|'' || count(*) || ''|'' || coalesce(sum((''x'' || substr(md5(t::text), 1, 8))::bit(32)::int::bigint), 0) FROM %s AS t',
              'table ' || n.nspname || '.' || c.relname, format('%I.%I', n.nspname, c.relname))
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
  AND (c.relkind <> 'm' OR c.relispopulated)
ORDER BY n.nspname, c.relname
\gexec
SELECT 'sequence ' || schemaname || '.' || sequencename || '|' || coalesce(last_value::text, 'unset')
FROM pg_sequences ORDER BY schemaname, sequencename;
