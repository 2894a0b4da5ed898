-- best_tools' comparison: every table's row count and the sum of a 64-bit hash of each row's text, one line per table
-- (what pgcopydb compare data computes; run on the source and on the target at once, then the outputs are compared).
SELECT format('SELECT %L, count(*), sum((''x'' || substr(md5(r::text), 1, 16))::bit(64)::bigint) FROM ONLY %s r',
              c.oid::regclass, c.oid::regclass)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
ORDER BY c.oid::regclass::text
\gexec
