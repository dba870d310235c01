-- The kinds of foreign key PostgreSQL 18 added (pg_constraint.conenforced and
-- conperiod): fk_orphans() judges a NOT ENFORCED key as PostgreSQL would judge
-- the rows on ALTER CONSTRAINT ... ENFORCED, and refuses a temporal (PERIOD)
-- one. Before 18 neither exists: the test only says so (expected/foreign_keys_pg18_1.out).
SELECT current_setting('server_version_num')::int >= 180000 AS pg18 \gset
\if :pg18
\getenv abs_srcdir PG_ABS_SRCDIR
\set body :abs_srcdir '/sql/include/foreign_keys_pg18.sql'
\i :body
\else
\echo 'skipped: NOT ENFORCED and PERIOD foreign keys need PostgreSQL 18 or later'
\endif
