/* fk_guard--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION fk_guard" to load this file. \quit

CREATE FUNCTION fk_orphans(
    target regclass DEFAULT NULL,
    max_per_constraint bigint DEFAULT NULL)
RETURNS TABLE (
    constraint_name name,
    child_table regclass,
    parent_table regclass,
    fk_columns name[],
    parent_columns name[],
    key jsonb,
    child_ctid tid)
AS 'MODULE_PATHNAME', 'fk_orphans'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION fk_orphans(regclass, bigint) IS
'rows whose foreign key has no referenced row, judged as PostgreSQL''s RI check would';

CREATE FUNCTION fk_orphan_summary(target regclass DEFAULT NULL)
RETURNS TABLE (
    constraint_name name,
    child_table regclass,
    parent_table regclass,
    validated boolean,
    orphan_rows bigint,
    missing_keys bigint)
AS 'MODULE_PATHNAME', 'fk_orphan_summary'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION fk_orphan_summary(regclass) IS
'per declared foreign key: orphaned rows and distinct missing keys';
