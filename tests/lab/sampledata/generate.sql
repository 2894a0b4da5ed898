-- Deterministic sample data for invoicing.sql. Every value derives from md5() of a label and a row
-- number: two loads with the same :rows give identical databases (same ids, same bytes).
--
-- psql variables:  rows   number of invoice_lines, the large table (default 20000)
--                  scale  a label stored in sample_meta (default 'custom')
-- Other tables scale with it: invoices = rows/5, customers = rows/200 (>= 50), 500 products,
-- payments for ~70% of invoices, an attachment for every 50th invoice.

\set ON_ERROR_STOP 1
\if :{?rows}
\else
\set rows 20000
\endif
\if :{?scale}
\else
\set scale custom
\endif

SET client_min_messages = warning;
SET TimeZone = 'UTC';
-- the audit trigger stamps rows with this instead of now()
SET lab.now = '2024-06-30 12:00:00+00';

-- h(label, n): a deterministic pseudo-random bigint in [0, 2^60)
CREATE FUNCTION pg_temp.h(label text, n bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT ('x' || substr(md5(label || ':' || n), 1, 15))::bit(60)::bigint $$;
-- pick(arr, label, n): a deterministic element of arr
CREATE FUNCTION pg_temp.pick(arr text[], label text, n bigint) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT arr[1 + pg_temp.h(label, n) % array_length(arr, 1)] $$;

SELECT greatest(50, :rows / 200) AS n_customers,
       500 AS n_products,
       (:rows + 4) / 5 AS n_invoices
\gset

-- customers ---------------------------------------------------------------------------------------
INSERT INTO customers (name, email, country, vat_id, created_at, metadata)
SELECT pg_temp.pick('{Acme,Globex,Initech,Umbrella,Hooli,Vandelay,Stark,Wayne,Tyrell,Soylent,Zoë,Müller,Åsa,Łódź,東京}', 'cn1', g)
       || ' ' || pg_temp.pick('{Industries,Corp,"& Sons",GmbH,SARL,Ltd,AB,"S.p.A.",Kft,"O''Brien & Co"}', 'cn2', g)
       || ' #' || g,
       'billing+' || g || '@customer' || (g % 97) || '.example',
       pg_temp.pick('{DE,FR,NL,BE,AT,CH,IT,ES,SE,PL,GB,US,JP}', 'cc', g),
       CASE WHEN pg_temp.h('vat', g) % 4 = 0 THEN NULL ELSE 'VAT' || lpad((pg_temp.h('vatn', g) % 1000000000)::text, 9, '0') END,
       timestamptz '2020-01-01 00:00:00+00' + make_interval(secs => pg_temp.h('cts', g) % (3 * 365 * 86400)),
       jsonb_build_object(
           'segment', pg_temp.pick('{smb,enterprise,public,nonprofit}', 'seg', g),
           'credit_limit', (pg_temp.h('cl', g) % 100) * 500,
           'newsletter', pg_temp.h('nl', g) % 2 = 0,
           'tags', to_jsonb(ARRAY[pg_temp.pick(ARRAY['vip', 'late-payer', 'eu', 'export', E'tab\there', 'quote"d'], 't1', g),
                                  pg_temp.pick(ARRAY['a', 'b', 'c', 'ünïcödé', E'new\nline'], 't2', g)]),
           'contact', jsonb_build_object('phone', '+49 30 ' || (pg_temp.h('ph', g) % 10000000), 'fax', NULL))
FROM generate_series(1, :n_customers) AS g
ORDER BY g;

-- products ----------------------------------------------------------------------------------------
INSERT INTO products (sku, name, unit_price, active, attributes)
SELECT 'SKU-' || lpad(g::text, 5, '0'),
       pg_temp.pick('{Widget,Gadget,Sprocket,Gizmo,Doohickey,Licence,Support hours,Consulting day}', 'pn', g) || ' ' || g,
       1 + (pg_temp.h('price', g) % 50000) / 100.0,
       pg_temp.h('active', g) % 10 <> 0,
       CASE WHEN g % 3 = 0 THEN NULL
            ELSE jsonb_build_object('weight_g', pg_temp.h('w', g) % 5000, 'color', pg_temp.pick('{red,green,blue,black}', 'col', g),
                                    'dims', jsonb_build_array(g % 10, g % 7, g % 3)) END
FROM generate_series(1, :n_products) AS g
ORDER BY g;

-- The foreign keys of invoices, invoice_lines and payments hold by construction: skip their per-row
-- checks (and triggers) while loading, as pg_restore does (superuser only; else the checks just run).
SELECT set_config('session_replication_role', 'replica', true) AS skip_fk_checks
FROM pg_roles WHERE rolname = current_user AND rolsuper
\gset

-- invoices (numbers come from invoice_number_seq, in id order) -------------------------------------
INSERT INTO invoices (customer_id, status, issued_on, due_on, currency, notes)
SELECT 1 + pg_temp.h('ic', g) % :n_customers,
       CASE WHEN pg_temp.h('ist', g) % 20 = 0 THEN 'draft'
            WHEN pg_temp.h('ist', g) % 20 = 1 THEN 'void'
            ELSE 'issued' END::invoice_status,
       d, d + 30,
       pg_temp.pick('{EUR,EUR,EUR,EUR,USD,GBP,CHF}', 'cur', g),
       CASE pg_temp.h('note', g) % 10
            WHEN 0 THEN E'multi-line note\nsecond line\twith a tab, a backslash \\ and ''quotes'''
            WHEN 1 THEN 'Rechnung für Müller – 10 % Rabatt (€)'
            WHEN 2 THEN ''
            ELSE NULL END
FROM generate_series(1, :n_invoices) AS g
CROSS JOIN LATERAL (SELECT date '2022-01-01' + (pg_temp.h('iss', g) % 900)::int AS d) AS x
ORDER BY g;

-- invoice_lines: the large table, 5 lines per invoice ------------------------------------------------
INSERT INTO invoice_lines (invoice_id, line_no, product_id, quantity, unit_price)
SELECT 1 + (g - 1) / 5,
       1 + (g - 1) % 5,
       1 + pg_temp.h('lp', g) % :n_products,
       1 + pg_temp.h('lq', g) % 20,
       1 + (pg_temp.h('lu', g) % 50000) / 100.0
FROM generate_series(1, :rows) AS g
ORDER BY g;

UPDATE invoices i SET total = s.total
FROM (SELECT invoice_id, sum(amount) AS total FROM invoice_lines GROUP BY invoice_id) AS s
WHERE s.invoice_id = i.id;

-- payments: full payment for ~60% of issued invoices, a partial one for ~10% ---------------------------
INSERT INTO payments (invoice_id, paid_at, amount, method, reference)
SELECT i.id,
       (i.issued_on + (pg_temp.h('pd', i.id) % 45)::int)::timestamptz + make_interval(secs => pg_temp.h('pt', i.id) % 86400),
       CASE WHEN pg_temp.h('pay', i.id) % 10 < 6 THEN i.total ELSE round(i.total / 3, 2) END,
       pg_temp.pick('{card,transfer,transfer,cash,direct_debit}', 'pm', i.id),
       md5('payment:' || i.id)::uuid
FROM invoices i
WHERE i.status = 'issued' AND pg_temp.h('pay', i.id) % 10 < 7
ORDER BY i.id;

-- status changes go through the audit trigger (audit_log rows) --------------------------------------
SELECT set_config('session_replication_role', 'origin', true) AS skip_fk_checks
FROM pg_roles WHERE rolname = current_user AND rolsuper
\gset
UPDATE invoices i SET status = 'paid'
FROM payments p
WHERE p.invoice_id = i.id AND i.status = 'issued' AND p.amount = i.total;
UPDATE invoices SET status = 'overdue'
WHERE status = 'issued' AND due_on < date '2024-01-01' AND id NOT IN (SELECT invoice_id FROM payments);

-- attachments: id 1 = every byte value, then binary blobs for every 50th invoice ----------------------
INSERT INTO attachments (invoice_id, filename, mime_type, content, sha256)
SELECT NULL, 'all-bytes.bin', 'application/octet-stream', b, encode(sha256(b), 'hex')
FROM (SELECT decode(string_agg(lpad(to_hex(v), 2, '0'), '' ORDER BY o), 'hex') AS b
      FROM (SELECT v, v AS o FROM generate_series(0, 255) AS v
            UNION ALL SELECT 255 - v, 256 + v FROM generate_series(0, 255) AS v) AS bytes) AS x;

INSERT INTO attachments (invoice_id, filename, mime_type, content, sha256)
SELECT i, 'invoice-' || i || '.pdf', 'application/pdf', b, encode(sha256(b), 'hex')
FROM generate_series(50, :n_invoices, 50) AS i
CROSS JOIN LATERAL (
    SELECT '\x255044462d312e340a00ff'::bytea  -- "%PDF-1.4\n" then 0x00 0xff
           || decode(string_agg(md5('blob:' || i || ':' || k), '' ORDER BY k), 'hex') AS b
    FROM generate_series(1, 8 + (pg_temp.h('blen', i) % 56)::int) AS k) AS x
ORDER BY i;

-- reporting schema -------------------------------------------------------------------------------------
INSERT INTO reporting.currency_rates (currency, day, rate_to_eur)
SELECT c, date '2023-01-01' + d,
       CASE c WHEN 'USD' THEN 0.9 WHEN 'GBP' THEN 1.15 ELSE 1.02 END + (pg_temp.h('rate' || c, d) % 2000 - 1000) / 100000.0
FROM unnest('{USD,GBP,CHF}'::text[]) AS c, generate_series(0, 364) AS d
ORDER BY c, d;

REFRESH MATERIALIZED VIEW reporting.revenue_by_month;

-- what was loaded ('loaded' is written last: load.sh checks it) ---------------------------------------
INSERT INTO sample_meta (key, value)
SELECT 'rows', :'rows' UNION ALL
SELECT 'scale', :'scale' UNION ALL
SELECT 'generator', 'invoicing-v1' UNION ALL
SELECT 'all_bytes_sha256', sha256 FROM attachments WHERE id = 1 UNION ALL
SELECT 'count.' || t, n::text FROM (VALUES
    ('customers', (SELECT count(*) FROM customers)),
    ('products', (SELECT count(*) FROM products)),
    ('invoices', (SELECT count(*) FROM invoices)),
    ('invoice_lines', (SELECT count(*) FROM invoice_lines)),
    ('payments', (SELECT count(*) FROM payments)),
    ('attachments', (SELECT count(*) FROM attachments)),
    ('audit_log', (SELECT count(*) FROM audit_log))) AS c(t, n);
INSERT INTO sample_meta (key, value) VALUES ('loaded', 'true');
