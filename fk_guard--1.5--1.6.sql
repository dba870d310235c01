/* fk_guard--1.5--1.6.sql: fk_orphan_plan() shows the one-pass engine's choices (issue 12) */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION fk_guard UPDATE TO '1.6'" to load this file. \quit

-- Every name below resolves in pg_catalog only (see fk_guard--1.6.sql).
SET LOCAL search_path = pg_catalog, pg_temp;

CREATE FUNCTION @extschema@.fk_orphan_plan(target regclass)
RETURNS TABLE (
    constraint_name name,
    child_table regclass,
    engine text,
    reason text)
AS 'MODULE_PATHNAME', 'fk_orphan_plan'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION @extschema@.fk_orphan_plan(regclass) IS
'per declared foreign key of target: whether fk_orphans() checks it in one pass or with the planner, and why';
