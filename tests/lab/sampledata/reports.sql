-- The second, small database of the lab: invoicetron_reports (created by load.sh).
-- A migration must carry every database of the instance, not only POSTGRES_DB.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET TimeZone = 'UTC';

CREATE TABLE monthly_revenue (
    month       date          NOT NULL,
    currency    char(3)       NOT NULL,
    invoices    integer       NOT NULL,
    revenue     numeric(16,2) NOT NULL,
    computed_at timestamptz   NOT NULL,
    PRIMARY KEY (month, currency)
);

CREATE TABLE report_runs (
    id          serial PRIMARY KEY,
    name        text  NOT NULL,
    parameters  jsonb NOT NULL,
    output      bytea
);

INSERT INTO monthly_revenue
SELECT date '2022-01-01' + make_interval(months => m), c,
       10 + ('x' || substr(md5('inv' || c || m), 1, 4))::bit(16)::int % 500,
       ('x' || substr(md5('rev' || c || m), 1, 8))::bit(32)::int::numeric / 100,
       timestamptz '2024-07-01 03:00:00+00'
FROM generate_series(0, 29) AS m, unnest('{EUR,USD,GBP,CHF}'::text[]) AS c
ORDER BY 1, 2;

INSERT INTO report_runs (name, parameters, output)
SELECT 'monthly-' || g, jsonb_build_object('month', g, 'format', 'csv'),
       convert_to('month;currency;revenue' || chr(10) || g || ';EUR;' || g * 1000, 'UTF8') || '\x00ff00'::bytea
FROM generate_series(1, 12) AS g
ORDER BY g;
