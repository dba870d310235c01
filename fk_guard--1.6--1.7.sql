/* fk_guard--1.6--1.7.sql: bypass tracking and incremental audits (issue 13); repair, pre-load
 * check and load order (issue 14); Citus (issue 15) */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION fk_guard UPDATE TO '1.7'" to load this file. \quit

-- Every name below resolves in pg_catalog only (see fk_guard--1.7.sql).
SET LOCAL search_path = pg_catalog, pg_temp;

-- ---- Bypass tracking and incremental audits (issue 13) ---------------------

-- (end of bypass tracking)

-- ---- Repair, pre-load check and load order (issue 14) ----------------------

CREATE FUNCTION @extschema@.fk_load_order(tables regclass[] DEFAULT NULL)
RETURNS TABLE (
    level integer,
    table_name regclass,
    cycle integer,
    cycle_deferrable boolean,
    self_references name[],
    make_deferrable text)
AS 'MODULE_PATHNAME', 'fk_load_order'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION @extschema@.fk_load_order(regclass[]) IS
'tables in an order that loads parents before children; cycles of foreign keys, and the SQL making them DEFERRABLE';

CREATE FUNCTION @extschema@.fk_precheck(
    source regclass,
    target regclass,
    with_parents regclass[] DEFAULT NULL,
    parent_tables regclass[] DEFAULT NULL)
RETURNS TABLE (
    constraint_name name,
    parent_table regclass,
    staging_ctid tid,
    key text)
AS 'MODULE_PATHNAME', 'fk_precheck'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION @extschema@.fk_precheck(regclass, regclass, regclass[], regclass[]) IS
'rows of a staging table that would violate a foreign key of target if inserted now, judged as PostgreSQL''s RI check would';

-- (end of repair)

-- ---- Citus (issue 15) -------------------------------------------------------

-- (end of Citus)
