/* fk_guard--1.0--1.1.sql: violation capture (needs shared_preload_libraries = 'fk_guard') */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION fk_guard UPDATE TO '1.1'" to load this file. \quit

-- True when fk_guard was loaded through shared_preload_libraries.
CREATE FUNCTION fk_guard_preloaded()
RETURNS boolean
AS 'MODULE_PATHNAME', 'fk_guard_preloaded'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

-- The ring of recent violations; key and query are hidden for other users'
-- violations unless the caller is a member of pg_read_all_stats.
CREATE FUNCTION fk_violations_internal(
    OUT ts timestamptz, OUT database name, OUT username name, OUT application_name text,
    OUT constraint_name name, OUT child_table text, OUT parent_table text, OUT side text,
    OUT operation text, OUT key text, OUT query text, OUT deferred boolean, OUT handled boolean,
    OUT pid int)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'fk_violations_internal'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE VIEW fk_violations AS
  SELECT * FROM fk_violations_internal();

-- Counters per constraint, kept while the ring wraps.
CREATE FUNCTION fk_violation_stats_internal(
    OUT constraint_name name, OUT child_table text, OUT parent_table text,
    OUT violations bigint, OUT handled bigint, OUT first_at timestamptz, OUT last_at timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'fk_violation_stats_internal'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE VIEW fk_violation_stats AS
  SELECT * FROM fk_violation_stats_internal();

-- Per declared foreign key of the current database (partition clones folded
-- in): what fk_audit shows.  No rows when fk_guard is not preloaded.
CREATE FUNCTION fk_guard_constraint_violations(
    OUT constraint_oid oid, OUT violations bigint, OUT handled bigint,
    OUT last_violation_at timestamptz, OUT violations_24h bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'fk_guard_constraint_violations'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

-- Forgets every recorded violation and counter.
CREATE FUNCTION fk_guard_reset()
RETURNS void
AS 'MODULE_PATHNAME', 'fk_guard_reset'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

REVOKE ALL ON FUNCTION fk_guard_reset() FROM PUBLIC;
GRANT SELECT ON fk_violations, fk_violation_stats TO PUBLIC;
