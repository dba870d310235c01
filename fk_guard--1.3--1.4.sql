/* fk_guard--1.3--1.4.sql: one naming rule for captured violations (capture fidelity) */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION fk_guard UPDATE TO '1.4'" to load this file. \quit

-- Every name below resolves in pg_catalog only (see fk_guard--1.4.sql).
SET LOCAL search_path = pg_catalog, pg_temp;

-- fk_violations names the declared foreign key and its tables; the partitions
-- PostgreSQL's error was about get columns of their own.  A view cannot gain
-- columns of a function's new result type in place: both are made again.
DROP VIEW @extschema@.fk_violations;
DROP FUNCTION @extschema@.fk_violations_internal();

CREATE FUNCTION @extschema@.fk_violations_internal(
    OUT ts timestamptz, OUT database name, OUT username name, OUT application_name text,
    OUT constraint_name name, OUT child_table text, OUT parent_table text, OUT side text,
    OUT operation text, OUT key text, OUT query text, OUT deferred boolean, OUT handled boolean,
    OUT pid int, OUT child_partition text, OUT parent_partition text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'fk_violations_internal'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp;

CREATE VIEW @extschema@.fk_violations AS
  SELECT * FROM @extschema@.fk_violations_internal();

GRANT SELECT ON @extschema@.fk_violations TO PUBLIC;
