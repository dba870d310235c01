/* fk_guard--1.7.sql: the whole extension at version 1.7 (earlier installations
 * get here through the upgrade scripts; sql/upgrade.sql checks both ways agree). */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION fk_guard" to load this file. \quit

-- Every name below resolves in pg_catalog only, so that nobody who can create
-- objects in the extension's schema or in public captures an operator or a
-- function of a view (views bind names when created).  Objects are created
-- as @extschema@.name; function bodies pin their own search_path.
SET LOCAL search_path = pg_catalog, pg_temp;

-- ---- Orphans ----------------------------------------------------------------

CREATE FUNCTION @extschema@.fk_orphans(
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

COMMENT ON FUNCTION @extschema@.fk_orphans(regclass, bigint) IS
'rows whose foreign key has no referenced row, judged as PostgreSQL''s RI check would';

CREATE FUNCTION @extschema@.fk_orphan_summary(target regclass DEFAULT NULL)
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

COMMENT ON FUNCTION @extschema@.fk_orphan_summary(regclass) IS
'per declared foreign key: orphaned rows and distinct missing keys';

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

-- ---- Violation capture (needs shared_preload_libraries = 'fk_guard') --------

-- True when fk_guard was loaded through shared_preload_libraries.
CREATE FUNCTION @extschema@.fk_guard_preloaded()
RETURNS boolean
AS 'MODULE_PATHNAME', 'fk_guard_preloaded'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp;

-- The ring of recent violations; key and query are shown only to the role
-- that raised the violation and to roles that may read all data.  Names are
-- the declared foreign key's; child_partition and parent_partition name the
-- partitions PostgreSQL's error was about, when they are not those tables.
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

-- Counters per constraint, kept while the ring wraps.
CREATE FUNCTION @extschema@.fk_violation_stats_internal(
    OUT constraint_name name, OUT child_table text, OUT parent_table text,
    OUT violations bigint, OUT handled bigint, OUT first_at timestamptz, OUT last_at timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'fk_violation_stats_internal'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp;

CREATE VIEW @extschema@.fk_violation_stats AS
  SELECT * FROM @extschema@.fk_violation_stats_internal();

-- Per declared foreign key of the current database (partition clones folded
-- in): what fk_audit shows.  No rows when fk_guard is not preloaded.
CREATE FUNCTION @extschema@.fk_guard_constraint_violations(
    OUT constraint_oid oid, OUT violations bigint, OUT handled bigint,
    OUT last_violation_at timestamptz, OUT violations_24h bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'fk_guard_constraint_violations'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp;

-- Forgets every recorded violation and counter.
CREATE FUNCTION @extschema@.fk_guard_reset()
RETURNS void
AS 'MODULE_PATHNAME', 'fk_guard_reset'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp;

REVOKE ALL ON FUNCTION @extschema@.fk_guard_reset() FROM PUBLIC;
GRANT SELECT ON @extschema@.fk_violations, @extschema@.fk_violation_stats TO PUBLIC;

-- ---- fk_audit and audits ----------------------------------------------------

-- Tables the user bulk-loads: their foreign keys should be DEFERRABLE so that
-- parents and children can be loaded in one transaction, in any order.
CREATE TABLE @extschema@.fk_guard_bulk_loaded (
    table_name regclass PRIMARY KEY,
    marked_at timestamptz NOT NULL DEFAULT now(),
    note text
);
COMMENT ON TABLE @extschema@.fk_guard_bulk_loaded IS
'tables marked as bulk-loaded: fk_audit flags their NOT DEFERRABLE foreign keys';

-- One row per audit run.  runner and backend_pid say who ran it (a run's
-- steps are taken by that session only); 'skipped' when another audit was
-- running, 'interrupted' when cancelled or failed.
CREATE TABLE @extschema@.fk_audit_runs (
    run_id bigserial PRIMARY KEY,
    target text,
    started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at timestamptz,
    status text NOT NULL DEFAULT 'running'
        CHECK (status IN ('running', 'completed', 'interrupted', 'skipped')),
    foreign_keys integer NOT NULL DEFAULT 0,
    foreign_keys_with_orphans integer NOT NULL DEFAULT 0,
    orphan_rows bigint NOT NULL DEFAULT 0,
    runner name,
    backend_pid integer
);
COMMENT ON TABLE @extschema@.fk_audit_runs IS
'history of fk_audit_run(): one row per run';

-- One row per foreign key checked by a run, written as each table finishes;
-- orphan_rows and missing_keys are NULL when PostgreSQL could not judge a row.
-- (run_id has no foreign key to fk_audit_runs on purpose: it would show up in
-- every user's fk_orphans() and fk_audit reports.)
CREATE TABLE @extschema@.fk_audit_results (
    run_id bigint NOT NULL,
    constraint_oid oid NOT NULL,
    constraint_name name NOT NULL,
    child_table text NOT NULL,
    parent_table text NOT NULL,
    checked_at timestamptz NOT NULL,
    validated boolean NOT NULL,
    orphan_rows bigint,
    missing_keys bigint,
    PRIMARY KEY (run_id, constraint_oid)
);
CREATE INDEX fk_audit_results_constraint_idx ON @extschema@.fk_audit_results (constraint_oid, checked_at);
COMMENT ON TABLE @extschema@.fk_audit_results IS
'history of fk_audit_run(): orphans per foreign key and run';

-- pg_dump keeps the history and the marked tables.
SELECT pg_extension_config_dump('@extschema@.fk_guard_bulk_loaded', '');
SELECT pg_extension_config_dump('@extschema@.fk_audit_runs', '');
SELECT pg_extension_config_dump('@extschema@.fk_audit_runs_run_id_seq', '');
SELECT pg_extension_config_dump('@extschema@.fk_audit_results', '');

/*
 * The steps of fk_audit_run() (src/audit/audit_run.cpp).  Each checks that its
 * caller may execute fk_audit_run(), so that one GRANT delegates audits; the
 * history is written by these steps only, as its owner.
 */
CREATE FUNCTION @extschema@.fk_audit_start(target regclass)
RETURNS bigint
AS 'MODULE_PATHNAME', 'fk_audit_start'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION @extschema@.fk_audit_check_table(run bigint, child regclass)
RETURNS void
AS 'MODULE_PATHNAME', 'fk_audit_check_table'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION @extschema@.fk_audit_finish(run bigint)
RETURNS void
AS 'MODULE_PATHNAME', 'fk_audit_finish'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp;

-- Whether the checks of every table cover relid's foreign keys: not those of a
-- table that belongs to an extension (pg_depend 'e'), unless
-- fk_guard.include_extension_tables is on (src/common/extension_members.cpp).
CREATE FUNCTION @extschema@.fk_guard_covers_table(relid oid)
RETURNS boolean
AS 'MODULE_PATHNAME', 'fk_guard_covers_table'
LANGUAGE C STRICT STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION @extschema@.fk_guard_covers_table(oid) IS
'whether fk_audit and the all-tables checks cover this table''s foreign keys (extension members only with fk_guard.include_extension_tables)';

-- The tables whose declared foreign keys an audit of target checks.
CREATE FUNCTION @extschema@.fk_audit_tables(target regclass)
RETURNS regclass[]
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT COALESCE(array_agg(DISTINCT c.conrelid::regclass ORDER BY c.conrelid::regclass), '{}')
  FROM pg_constraint c
 WHERE c.contype = 'f' AND c.conparentid = 0
   AND (target IS NULL AND @extschema@.fk_guard_covers_table(c.conrelid) OR c.conrelid = target)
$$;

/*
 * Audits the foreign keys of target (of every table when NULL), committing
 * after each table so that a long audit holds no snapshot for long and a
 * cancelled one keeps what it finished.  A procedure that commits cannot
 * have a SET clause, so it only calls the steps above (which pin their
 * search_path) and resolves no operator or unqualified function itself.
 */
CREATE PROCEDURE @extschema@.fk_audit_run(target regclass DEFAULT NULL)
LANGUAGE plpgsql
AS $$
DECLARE
    run bigint;
    child regclass;
BEGIN
    run := @extschema@.fk_audit_start(target);
    IF run IS NULL THEN
        RETURN; -- another audit is running: recorded as skipped, with a WARNING
    END IF;
    COMMIT;
    FOREACH child IN ARRAY @extschema@.fk_audit_tables(target) LOOP
        PERFORM @extschema@.fk_audit_check_table(run, child);
        COMMIT;
    END LOOP;
    PERFORM @extschema@.fk_audit_finish(run);
END
$$;

-- Delegate audits with GRANT EXECUTE ON PROCEDURE fk_audit_run(regclass) TO role.
REVOKE ALL ON PROCEDURE @extschema@.fk_audit_run(regclass) FROM PUBLIC;

COMMENT ON PROCEDURE @extschema@.fk_audit_run(regclass) IS
'checks every foreign key (or those of target) for orphans and records the results in fk_audit_runs and fk_audit_results';

-- The foreign key the user declared that a partition's clone belongs to (the
-- constraint itself when it is not a clone): how every view, counter and
-- finding folds clones.
CREATE FUNCTION @extschema@.fk_guard_declared_constraint(constraint_oid oid)
RETURNS oid
AS 'MODULE_PATHNAME', 'fk_guard_declared_constraint'
LANGUAGE C STRICT STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION @extschema@.fk_guard_declared_constraint(oid) IS
'the declared foreign key a partition clone of a foreign key belongs to';

-- Citus (issue 15): what Citus makes of a table, for fk_audit's findings.
-- Without Citus both are NULL (src/citus/citus_functions.cpp).
CREATE FUNCTION @extschema@.fk_guard_citus_table(relid oid)
RETURNS text
AS 'MODULE_PATHNAME', 'fk_guard_citus_table'
LANGUAGE C STRICT STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION @extschema@.fk_guard_citus_table(oid) IS
'distributed, reference or local for a Citus table, else NULL';

CREATE FUNCTION @extschema@.fk_guard_citus_distribution_column(relid oid)
RETURNS smallint
AS 'MODULE_PATHNAME', 'fk_guard_citus_distribution_column'
LANGUAGE C STRICT STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION @extschema@.fk_guard_citus_distribution_column(oid) IS
'the attribute number of a Citus table''s distribution column, else NULL';

-- One fk_audit finding of constraint con, as it stands for a Citus table: the
-- fixes Citus does not support (ALTER CONSTRAINT, ENABLE TRIGGER on its tables,
-- a distribution column's type) give way to a "citus" note saying what to do;
-- orphans are listed with their shards.  Other findings are unchanged.
CREATE FUNCTION @extschema@.fk_guard_citus_finding(finding jsonb, con oid)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT CASE
         WHEN k.child_kind IS NULL AND k.parent_kind IS NULL THEN finding
         WHEN finding ->> 'code' = 'not_deferrable_bulk_load' THEN
           finding || jsonb_build_object('fix', NULL, 'citus',
             'Citus does not support ALTER TABLE ... ALTER CONSTRAINT: drop the foreign key and add it again DEFERRABLE INITIALLY DEFERRED.')
         WHEN finding ->> 'code' = 'disabled_triggers' THEN
           finding || jsonb_build_object('fix', NULL, 'citus',
             'Citus does not support ALTER TABLE ... ENABLE TRIGGER on its tables, and its shards'' triggers, on the nodes that hold them, enforce the foreign key: check those with run_command_on_shards().')
         WHEN finding ->> 'code' = 'type_mismatch' AND k.distribution_column = ANY (c.conkey) THEN
           finding || jsonb_build_object('fix', NULL, 'citus',
             'Citus cannot change the type of a distribution column: undistribute the table (undistribute_table()), change the type, and distribute it again.')
         WHEN finding ->> 'code' = 'orphans_found' THEN
           -- (the first call only: the table's name, quoted further on, may hold the same text)
           finding || jsonb_build_object('fix', regexp_replace(finding ->> 'fix', '\.fk_orphans\(', '.fk_orphans_located('))
         ELSE finding
       END
  FROM pg_constraint c
 CROSS JOIN LATERAL (SELECT @extschema@.fk_guard_citus_table(c.conrelid), @extschema@.fk_guard_citus_table(c.confrelid),
                            @extschema@.fk_guard_citus_distribution_column(c.conrelid))
       AS k(child_kind, parent_kind, distribution_column)
 WHERE c.oid = con
$$;

/*
 * One row per declared foreign key.  Each fact is computed once (facts), and
 * the findings read those columns.  The view reads fk_audit_results and
 * fk_guard_bulk_loaded with its owner's rights, so it works for every
 * reader; what a reader sees is decided here: the foreign keys of tables the
 * reader may read (or all, for pg_read_all_stats), and orphan counts only
 * where fk_orphan_summary() would show them to that reader.
 */
CREATE VIEW @extschema@.fk_audit AS
SELECT d.conname AS constraint_name,
       d.conrelid::regclass AS child_table,
       d.confrelid::regclass AS parent_table,
       f.fk_columns, f.parent_columns, f.match_type, f.on_update, f.on_delete,
       d.condeferrable AS "deferrable",
       d.condeferred AS initially_deferred,
       d.convalidated AS validated,
       g.enforced, f.fk_indexed, g.type_mismatch,
       CASE WHEN @extschema@.fk_guard_preloaded() THEN COALESCE(v.violations, 0) END AS violations,
       v.last_violation_at,
       a.checked_at AS last_audit_at,
       a.orphan_rows AS orphans_at_last_audit,
       (SELECT COALESCE(jsonb_agg(@extschema@.fk_guard_citus_finding(x.finding, d.oid) ORDER BY x.n), '[]'::jsonb) FROM (
            SELECT 1, jsonb_build_object('code', 'unindexed_fk', 'severity', 'warning',
                       'message', format('No index on %s (%s): each DELETE or key UPDATE on %s scans %s.',
                                         f.child, f.column_list, f.parent, f.child),
                       'fix', format('CREATE INDEX %sON %s (%s);',
                                     CASE WHEN f.child_kind = 'p' THEN '' ELSE 'CONCURRENTLY ' END, f.child, f.column_list),
                       'run_as', f.child_owner)
             WHERE NOT f.fk_indexed
            UNION ALL
            SELECT 2, jsonb_build_object('code', 'not_valid', 'severity', 'warning',
                       'message', 'The constraint is NOT VALID: rows that existed when it was added were never checked.',
                       'fix', format('ALTER TABLE %s VALIDATE CONSTRAINT %I;', f.child, d.conname),
                       'run_as', f.child_owner)
             WHERE NOT d.convalidated
            UNION ALL
            SELECT 3, jsonb_build_object('code', 'disabled_triggers', 'severity', 'error',
                       'message', 'Its RI triggers are disabled: new rows are not checked at all.',
                       'fix', (SELECT string_agg(format('ALTER TABLE %I.%I ENABLE TRIGGER ALL;', n.nspname, r.relname),
                                                 ' ' ORDER BY n.nspname, r.relname)
                                 FROM pg_class r JOIN pg_namespace n ON n.oid = r.relnamespace
                                WHERE r.oid = ANY (f.disabled_tables)))
             WHERE NOT g.enforced
            UNION ALL
            SELECT 4, jsonb_build_object('code', 'type_mismatch', 'severity', 'warning',
                       'message', 'A foreign-key column''s type differs from the referenced column''s: every check needs a cast.',
                       'fix', f.type_fixes,
                       'run_as', f.child_owner)
             WHERE g.type_mismatch
            UNION ALL
            SELECT 5, jsonb_build_object('code', 'partial_null_key', 'severity', 'warning',
                       'message', 'A multi-column MATCH SIMPLE key with nullable columns: a row with some key columns NULL is never checked.',
                       'fix', f.not_null_fixes,
                       'run_as', f.child_owner)
             WHERE d.confmatchtype = 's' AND cardinality(d.conkey) > 1 AND f.not_null_fixes IS NOT NULL
            UNION ALL
            SELECT 6, jsonb_build_object('code', 'not_deferrable_bulk_load', 'severity', 'info',
                       'message', format('%s is marked as bulk-loaded, but the constraint is NOT DEFERRABLE: parents must be loaded before children.',
                                         f.bulk_loaded),
                       'fix', format('ALTER TABLE %s ALTER CONSTRAINT %I DEFERRABLE INITIALLY DEFERRED;', f.child, d.conname),
                       'run_as', f.child_owner)
             WHERE NOT d.condeferrable AND f.bulk_loaded IS NOT NULL
            UNION ALL
            SELECT 7, jsonb_build_object('code', 'orphans_found', 'severity', 'error',
                       'message', format('The last audit found %s orphaned rows.', a.orphan_rows),
                       'fix', format('SELECT * FROM %s.fk_orphans(%L::regclass);', f.extension_schema, f.child))
             WHERE a.orphan_rows > 0
            UNION ALL
            SELECT 8, jsonb_build_object('code', 'recent_violations', 'severity', 'warning',
                       'message', format('%s violations in the last 24 hours.', v.violations_24h),
                       'fix', format('SELECT * FROM %s.fk_violations WHERE constraint_name = %L ORDER BY ts DESC;',
                                     f.extension_schema, d.conname))
             WHERE v.violations_24h > 0
        ) AS x(n, finding)) AS findings
  FROM pg_constraint d
  -- Tables where an RI trigger of the constraint or of one of its partition
  -- clones is disabled, read once for all constraints.
  LEFT JOIN (
      SELECT @extschema@.fk_guard_declared_constraint(t.tgconstraint), array_agg(DISTINCT t.tgrelid)
        FROM pg_trigger t
       WHERE t.tgenabled = 'D' AND t.tgconstraint <> 0
       GROUP BY 1) dis(declared, tables) ON dis.declared = d.oid
  CROSS JOIN LATERAL (
      SELECT format('%I.%I', cn.nspname, cr.relname) AS child,
             cr.relkind AS child_kind,
             -- Fixes that change the child run its code (defaults, checks, triggers,
             -- the operators VALIDATE uses): run_as names the role to run them as.
             pg_get_userbyid(cr.relowner) AS child_owner,
             format('%I.%I', pn.nspname, pr.relname) AS parent,
             ARRAY(SELECT a.attname FROM unnest(d.conkey) WITH ORDINALITY k(attnum, n)
                     JOIN pg_attribute a ON a.attrelid = d.conrelid AND a.attnum = k.attnum ORDER BY k.n) AS fk_columns,
             ARRAY(SELECT a.attname FROM unnest(d.confkey) WITH ORDINALITY k(attnum, n)
                     JOIN pg_attribute a ON a.attrelid = d.confrelid AND a.attnum = k.attnum ORDER BY k.n) AS parent_columns,
             (SELECT string_agg(format('%I', a.attname), ', ' ORDER BY k.n)
                FROM unnest(d.conkey) WITH ORDINALITY k(attnum, n)
                JOIN pg_attribute a ON a.attrelid = d.conrelid AND a.attnum = k.attnum) AS column_list,
             CASE d.confmatchtype WHEN 'f' THEN 'FULL' WHEN 'p' THEN 'PARTIAL' ELSE 'SIMPLE' END AS match_type,
             CASE d.confupdtype WHEN 'r' THEN 'RESTRICT' WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL'
                                WHEN 'd' THEN 'SET DEFAULT' ELSE 'NO ACTION' END AS on_update,
             CASE d.confdeltype WHEN 'r' THEN 'RESTRICT' WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL'
                                WHEN 'd' THEN 'SET DEFAULT' ELSE 'NO ACTION' END AS on_delete,
             COALESCE(dis.tables, '{}') AS disabled_tables,
             -- A valid, non-partial btree index whose leading columns are the key's, in any order.
             EXISTS (
                 SELECT FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                   JOIN pg_am am ON am.oid = ic.relam
                  WHERE i.indrelid = d.conrelid AND i.indpred IS NULL AND am.amname = 'btree' AND i.indisvalid
                    AND i.indnkeyatts >= cardinality(d.conkey)
                    AND ARRAY(SELECT x FROM unnest((i.indkey::int2[])[0:cardinality(d.conkey) - 1]) x ORDER BY x)
                        = ARRAY(SELECT x FROM unnest(d.conkey) x ORDER BY x)) AS fk_indexed,
             (SELECT string_agg(format('ALTER TABLE %s ALTER COLUMN %I TYPE %s;',
                                       format('%I.%I', cn.nspname, cr.relname), fa.attname,
                                       format_type(pa.atttypid, pa.atttypmod)), ' ' ORDER BY k.n)
                FROM unnest(d.conkey, d.confkey) WITH ORDINALITY k(fk, pk, n)
                JOIN pg_attribute fa ON fa.attrelid = d.conrelid AND fa.attnum = k.fk
                JOIN pg_attribute pa ON pa.attrelid = d.confrelid AND pa.attnum = k.pk
               WHERE fa.atttypid <> pa.atttypid) AS type_fixes,
             (SELECT string_agg(format('ALTER TABLE %s ALTER COLUMN %I SET NOT NULL;',
                                       format('%I.%I', cn.nspname, cr.relname), a.attname), ' ' ORDER BY k.n)
                FROM unnest(d.conkey) WITH ORDINALITY k(attnum, n)
                JOIN pg_attribute a ON a.attrelid = d.conrelid AND a.attnum = k.attnum
               WHERE NOT a.attnotnull) AS not_null_fixes,
             (SELECT string_agg(b.table_name::text, ' and ' ORDER BY b.table_name::text)
                FROM @extschema@.fk_guard_bulk_loaded b WHERE b.table_name IN (d.conrelid, d.confrelid)) AS bulk_loaded,
             -- What fk_orphan_summary() requires of its caller before it shows a count.
             has_table_privilege(d.conrelid, 'SELECT')
               AND has_schema_privilege(cn.oid, 'USAGE') AND has_schema_privilege(pn.oid, 'USAGE')
               AND NOT row_security_active(d.conrelid) AND NOT row_security_active(d.confrelid)
               AND (SELECT bool_and(has_column_privilege(d.confrelid, k.attnum, 'SELECT'))
                      FROM unnest(d.confkey) k(attnum)) AS may_see_orphans,
             (SELECT quote_ident(n.nspname) FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
               WHERE e.extname = 'fk_guard') AS extension_schema
        FROM pg_class cr JOIN pg_namespace cn ON cn.oid = cr.relnamespace,
             pg_class pr JOIN pg_namespace pn ON pn.oid = pr.relnamespace
       WHERE cr.oid = d.conrelid AND pr.oid = d.confrelid
  ) f
  CROSS JOIN LATERAL (SELECT cardinality(f.disabled_tables) = 0, f.type_fixes IS NOT NULL) g(enforced, type_mismatch)
  LEFT JOIN @extschema@.fk_guard_constraint_violations() v ON v.constraint_oid = d.oid
  LEFT JOIN LATERAL (
      SELECT r.checked_at, r.orphan_rows FROM @extschema@.fk_audit_results r
       WHERE r.constraint_oid = d.oid AND f.may_see_orphans
       ORDER BY r.checked_at DESC LIMIT 1) a ON true
 WHERE d.contype = 'f' AND d.conparentid = 0
   -- Like fk_orphans(): extension members' keys only with fk_guard.include_extension_tables.
   AND @extschema@.fk_guard_covers_table(d.conrelid)
   -- Like fk_orphans: a reader sees the foreign keys of the tables they may read.
   AND (has_table_privilege(d.conrelid, 'SELECT') OR pg_has_role('pg_read_all_stats', 'MEMBER'));

COMMENT ON VIEW @extschema@.fk_audit IS
'one row per declared foreign key: its health, and the fix for each finding';

GRANT SELECT ON @extschema@.fk_audit TO PUBLIC;

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

-- fk_orphans() with the Citus shard each row is in (NULL for a table that is
-- not a Citus table): the shard's node is in citus_shards, and the row is
-- SELECT ... FROM <shard> WHERE ctid = child_ctid there.
CREATE FUNCTION @extschema@.fk_orphans_located(
    target regclass DEFAULT NULL,
    max_per_constraint bigint DEFAULT NULL)
RETURNS TABLE (
    constraint_name name,
    child_table regclass,
    parent_table regclass,
    fk_columns name[],
    parent_columns name[],
    key jsonb,
    child_ctid tid,
    shard_id bigint)
AS 'MODULE_PATHNAME', 'fk_orphans_located'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION @extschema@.fk_orphans_located(regclass, bigint) IS
'fk_orphans() with the Citus shard each orphaned row is in';

/*
 * Cluster-wide violations on a Citus coordinator (or any node with Citus's
 * metadata): every node's fk_violation_stats or fk_violations, read through
 * Citus's run_command_on_all_nodes() as the calling role (these functions are
 * SECURITY INVOKER), so that each node shows exactly what its own view shows
 * that role.  Workers record their shards' violations under the declared
 * foreign key and table.  A node that cannot answer raises an error (counts
 * that silently miss a node would be wrong).  Without Citus: the local node's
 * rows, with NULL node names.
 */
CREATE FUNCTION @extschema@.fk_cluster_collect(view_name text)
RETURNS TABLE (nodename text, nodeport int, result json)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    citus boolean := EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname OPERATOR(pg_catalog.=) 'citus');
    command text;
    local_result text;
    r record;
BEGIN
    -- The one query each node runs for view_name (fixed texts: nothing of the caller's goes in).
    command := CASE view_name
        WHEN 'fk_violation_stats' THEN
            'SELECT COALESCE(pg_catalog.json_agg(s), ''[]'') FROM %1$s.fk_violation_stats s'
        WHEN 'fk_violations' THEN
            'SELECT COALESCE(pg_catalog.json_agg(pg_catalog.json_build_object(''v'', v, ''shard_id'', %2$s)), ''[]'')
               FROM %1$s.fk_violations v'
        END;
    IF command IS NULL THEN
        RAISE EXCEPTION 'fk_cluster_collect() reads fk_violation_stats or fk_violations, not %', view_name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    command := pg_catalog.format(command,
        (SELECT pg_catalog.quote_ident(n.nspname)
           FROM pg_catalog.pg_extension e
           JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
          WHERE e.extname OPERATOR(pg_catalog.=) 'fk_guard'),
        -- shard_id: the Citus shard child_partition is, when it is one of child_table's
        -- (or of one of its partitions') shards.  The digits are compared as text: a
        -- partition any role may name p_99999999999999999999 is no bigint.  The nodes
        -- run this under the caller's search_path: every operator is qualified.
        CASE WHEN citus THEN
            '(SELECT s.shardid FROM pg_catalog.pg_dist_shard s
               WHERE s.shardid::pg_catalog.text OPERATOR(pg_catalog.=) pg_catalog.substring(v.child_partition, ''_([0-9]+)"?$'')
                 AND (s.logicalrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass(v.child_table)
                      OR s.logicalrelid OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT t.relid FROM pg_catalog.pg_partition_tree(pg_catalog.to_regclass(v.child_table)) t))))'
        ELSE 'NULL::pg_catalog.int8' END);
    IF NOT citus THEN
        EXECUTE command INTO local_result;
        RETURN QUERY SELECT NULL::text, NULL::int, local_result::json;
        RETURN;
    END IF;
    -- (pg_dist_node and run_command_on_all_nodes are Citus's: named in EXECUTE only)
    FOR r IN EXECUTE 'SELECT n.nodename::text AS nodename, n.nodeport::int AS nodeport, c.success, c.result
                        FROM pg_catalog.run_command_on_all_nodes($1) c
                        JOIN pg_catalog.pg_dist_node n ON n.nodeid OPERATOR(pg_catalog.=) c.nodeid
                       ORDER BY n.nodename, n.nodeport' USING command LOOP
        IF NOT r.success THEN
            RAISE EXCEPTION 'fk_guard could not read % on node %:%', view_name, r.nodename, r.nodeport
                USING DETAIL = r.result, ERRCODE = 'connection_failure';
        END IF;
        RETURN QUERY SELECT r.nodename, r.nodeport, r.result::json;
    END LOOP;
END
$$;

COMMENT ON FUNCTION @extschema@.fk_cluster_collect(text) IS
'every Citus node''s fk_violation_stats or fk_violations as JSON, read as the calling role (behind fk_cluster_violation_stats and fk_cluster_violations)';

CREATE FUNCTION @extschema@.fk_cluster_violation_stats()
RETURNS TABLE (nodename text, nodeport int, constraint_name name, child_table text, parent_table text,
               violations bigint, handled bigint, first_at timestamptz, last_at timestamptz)
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT c.nodename, c.nodeport, s.*
  FROM @extschema@.fk_cluster_collect('fk_violation_stats') c
 CROSS JOIN LATERAL pg_catalog.json_populate_recordset(NULL::@extschema@.fk_violation_stats, c.result) s
 ORDER BY 1, 2, 3, 4
$$;

COMMENT ON FUNCTION @extschema@.fk_cluster_violation_stats() IS
'fk_violation_stats of every Citus node, as each node shows it to the calling role';

CREATE FUNCTION @extschema@.fk_cluster_violations()
RETURNS TABLE (nodename text, nodeport int, ts timestamptz, database name, username name, application_name text,
               constraint_name name, child_table text, parent_table text, side text, operation text, key text,
               query text, deferred boolean, handled boolean, pid int, child_partition text,
               parent_partition text, shard_id bigint)
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT c.nodename, c.nodeport, v.*, (e.value OPERATOR(pg_catalog.->>) 'shard_id')::pg_catalog.int8
  FROM @extschema@.fk_cluster_collect('fk_violations') c
 CROSS JOIN LATERAL pg_catalog.json_array_elements(c.result) e
 CROSS JOIN LATERAL pg_catalog.json_populate_record(NULL::@extschema@.fk_violations, e.value OPERATOR(pg_catalog.->) 'v') v
 ORDER BY v.ts, 1, 2
$$;

COMMENT ON FUNCTION @extschema@.fk_cluster_violations() IS
'fk_violations of every Citus node, as each node shows it to the calling role, with the Citus shard of each';

-- (end of Citus)
