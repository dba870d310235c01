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
    backend_pid integer,
    incremental boolean NOT NULL DEFAULT false
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
    -- When the check started (a bypassed write committed after it may be unseen),
    -- the run whose result an incremental run carried forward (NULL: checked by
    -- this run), and the foreign key's unchecked rows when it was checked.
    scan_started_at timestamptz,
    carried_from bigint,
    unchecked_rows_at_scan bigint,
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
CREATE FUNCTION @extschema@.fk_audit_start(target regclass, incremental boolean DEFAULT false)
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
CREATE PROCEDURE @extschema@.fk_audit_run(target regclass DEFAULT NULL, incremental boolean DEFAULT false)
LANGUAGE plpgsql
AS $$
DECLARE
    run bigint;
    child regclass;
BEGIN
    run := @extschema@.fk_audit_start(target, incremental);
    IF run IS NULL THEN
        RETURN; -- another audit is running: recorded as skipped, with a WARNING
    END IF;
    COMMIT;
    FOREACH child IN ARRAY @extschema@.fk_audit_run_tables(run) LOOP
        PERFORM @extschema@.fk_audit_check_table(run, child);
        COMMIT;
    END LOOP;
    PERFORM @extschema@.fk_audit_finish(run);
END
$$;

-- Delegate audits with GRANT EXECUTE ON PROCEDURE fk_audit_run(regclass, boolean) TO role.
REVOKE ALL ON PROCEDURE @extschema@.fk_audit_run(regclass, boolean) FROM PUBLIC;

COMMENT ON PROCEDURE @extschema@.fk_audit_run(regclass, boolean) IS
'checks every foreign key (or those of target; with incremental, those that may have new orphans) for orphans and records the results in fk_audit_runs and fk_audit_results';

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

-- Whether PostgreSQL enforces the foreign key at all (false for a PostgreSQL 18
-- NOT ENFORCED key, which has no RI triggers); NULL for a dropped constraint.
CREATE FUNCTION @extschema@.fk_guard_constraint_enforced(constraint_oid oid)
RETURNS boolean
AS 'MODULE_PATHNAME', 'fk_guard_constraint_enforced'
LANGUAGE C STRICT STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION @extschema@.fk_guard_constraint_enforced(oid) IS
'whether PostgreSQL enforces the foreign key (PostgreSQL 18 keys may be NOT ENFORCED)';

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
           finding || jsonb_build_object(
             'fix', format('SELECT * FROM %s.fk_orphans_located(%L::regclass);',
                           quote_ident('@extschema@'), c.conrelid::regclass::text),
             'execute', NULL, 'citus',
             'fk_repair does not repair Citus tables (its batches locate rows by ctid, which Citus does not route): fix the rows fk_orphans_located() lists by their key.')
         ELSE finding
       END
  FROM pg_constraint c
 CROSS JOIN LATERAL (SELECT @extschema@.fk_guard_citus_table(c.conrelid), @extschema@.fk_guard_citus_table(c.confrelid),
                            @extschema@.fk_guard_citus_distribution_column(c.conrelid))
       AS k(child_kind, parent_kind, distribution_column)
 WHERE c.oid = con
$$;

-- Bypass tracking (issue 13; fk_audit reads these, so they come before it).
-- Rows written while a foreign key's RI triggers did not fire, per declared
-- foreign key of the current database, under the names recorded with them.
-- No rows when fk_guard is not preloaded.
CREATE FUNCTION @extschema@.fk_guard_bypass_counters(
    OUT constraint_oid oid, OUT constraint_name name, OUT child_table text, OUT parent_table text,
    OUT unchecked_rows bigint, OUT first_at timestamptz, OUT last_at timestamptz,
    OUT reasons text[], OUT roles name[])
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'fk_guard_bypass_counters'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp;

-- The counter of one declared foreign key (no row: none).
CREATE FUNCTION @extschema@.fk_guard_bypass_counter(constraint_oid oid,
    OUT unchecked_rows bigint, OUT first_at timestamptz, OUT last_at timestamptz, OUT reasons text[])
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'fk_guard_bypass_counter'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp;

-- Whether bypass tracking runs (fk_guard preloaded, fk_guard.track_bypass on), since when and why it was
-- lost (NULL: never), and the writes that found no free counter.
CREATE FUNCTION @extschema@.fk_guard_bypass_tracking(
    OUT tracking boolean, OUT lost_at timestamptz, OUT lost_reason text,
    OUT overflow_rows bigint, OUT overflow_first_at timestamptz, OUT overflow_last_at timestamptz,
    OUT overflow_reasons text[])
RETURNS record
AS 'MODULE_PATHNAME', 'fk_guard_bypass_tracking'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp;

/*
 * Why the declared foreign key $1 may hold orphans that a check started at
 * $2 did not see (every reason ever recorded when $2 is NULL); NULL when
 * there is none.  fk_audit, fk_bypass_stats and incremental audits all decide
 * by it (README, "Incremental audits").
 */
CREATE FUNCTION @extschema@.fk_guard_bypass_reasons(constraint_oid oid, audited_from timestamptz)
RETURNS text[]
LANGUAGE sql STABLE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $$
SELECT NULLIF(ARRAY(SELECT DISTINCT y.reason FROM (
    SELECT unnest(b.reasons) FROM @extschema@.fk_guard_bypass_counter($1) b
     WHERE $2 IS NULL OR b.last_at >= $2 OR 'prepared' = ANY (b.reasons)
    UNION ALL
    SELECT 'not_valid' FROM pg_constraint c WHERE c.oid = $1 AND NOT c.convalidated
    UNION ALL
    SELECT 'subscription' FROM pg_constraint c
     WHERE c.oid = $1
       AND EXISTS (SELECT FROM pg_subscription_rel s
                    WHERE s.srrelid IN (c.conrelid, c.confrelid)
                       OR s.srrelid IN (SELECT p.relid FROM pg_partition_tree(c.conrelid) p
                                        UNION ALL SELECT p.relid FROM pg_partition_tree(c.confrelid) p))
    UNION ALL
    SELECT x.reason
      FROM @extschema@.fk_guard_bypass_tracking() t,
           LATERAL (VALUES ('not_tracking', NOT t.tracking),
                           ('tracking_lost', t.lost_at >= $2 OR ($2 IS NULL AND t.lost_at IS NOT NULL)),
                           ('counters_full', t.overflow_last_at >= $2 OR ($2 IS NULL AND t.overflow_last_at IS NOT NULL)
                                             OR 'prepared' = ANY (t.overflow_reasons))
                   ) x(reason, applies)
     WHERE x.applies
  ) AS y(reason) ORDER BY y.reason), '{}')
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
       g.declared_enforced AND g.triggers_enabled AS enforced, f.fk_indexed, g.type_mismatch,
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
             WHERE NOT d.convalidated AND g.declared_enforced
            UNION ALL
            -- PostgreSQL 18: a NOT ENFORCED key has no RI triggers and is never
            -- validated; ENFORCED checks every row, as VALIDATE would.
            SELECT 2, jsonb_build_object('code', 'not_enforced', 'severity', 'warning',
                       'message', 'The constraint is NOT ENFORCED: PostgreSQL checks no row against it.',
                       'fix', format('ALTER TABLE %s ALTER CONSTRAINT %I ENFORCED;', f.child, d.conname),
                       'run_as', f.child_owner)
             WHERE NOT g.declared_enforced
            UNION ALL
            SELECT 3, jsonb_build_object('code', 'disabled_triggers', 'severity', 'error',
                       'message', 'Its RI triggers are disabled: new rows are not checked at all.',
                       'fix', (SELECT string_agg(format('ALTER TABLE %I.%I ENABLE TRIGGER ALL;', n.nspname, r.relname),
                                                 ' ' ORDER BY n.nspname, r.relname)
                                 FROM pg_class r JOIN pg_namespace n ON n.oid = r.relnamespace
                                WHERE r.oid = ANY (f.disabled_tables)))
             WHERE NOT g.triggers_enabled
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
                       'message', format('The last audit found %s orphaned rows. The fix is a dry run of their repair; execute runs it.', a.orphan_rows),
                       'fix', format('SELECT * FROM %s.fk_repair_plan(%L, %L::regclass, ''quarantine'');',
                                     f.extension_schema, d.conname, f.child),
                       'execute', format('CALL %s.fk_repair(%L, %L::regclass, ''quarantine'', execute => true);',
                                         f.extension_schema, d.conname, f.child),
                       'run_as', f.child_owner)
             WHERE a.orphan_rows > 0
            UNION ALL
            SELECT 8, jsonb_build_object('code', 'recent_violations', 'severity', 'warning',
                       'message', format('%s violations in the last 24 hours.', v.violations_24h),
                       'fix', format('SELECT * FROM %s.fk_violations WHERE constraint_name = %L ORDER BY ts DESC;',
                                     f.extension_schema, d.conname))
             WHERE v.violations_24h > 0
            UNION ALL
            SELECT 9, jsonb_build_object('code', 'ri_bypassed', 'severity', 'warning',
                       'message', format('Rows may have been written without RI checks since the last audit (%s): orphans may have entered.',
                                         array_to_string(bp.reasons, ', ')),
                       'fix', format('CALL %s.fk_audit_run(%L);', f.extension_schema, f.child))
             WHERE cardinality(bp.reasons) > 0
        ) AS x(n, finding)) AS findings,
       -- Unknown here for a distributed or reference Citus table: its shards'
       -- bypassed writes are counted on the nodes that hold them.
       CASE WHEN (SELECT t.tracking FROM @extschema@.fk_guard_bypass_tracking() t)
                 AND @extschema@.fk_guard_citus_table(d.conrelid) IS DISTINCT FROM 'distributed'
                 AND @extschema@.fk_guard_citus_table(d.conrelid) IS DISTINCT FROM 'reference'
            THEN COALESCE(bp.unchecked_rows_since_audit, 0) END AS unchecked_rows_since_audit
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
  CROSS JOIN LATERAL (SELECT cardinality(f.disabled_tables) = 0, f.type_fixes IS NOT NULL,
                             COALESCE(@extschema@.fk_guard_constraint_enforced(d.oid), true))
       g(triggers_enabled, type_mismatch, declared_enforced)
  LEFT JOIN @extschema@.fk_guard_constraint_violations() v ON v.constraint_oid = d.oid
  LEFT JOIN LATERAL (
      SELECT r.checked_at, r.orphan_rows FROM @extschema@.fk_audit_results r
       WHERE r.constraint_oid = d.oid AND f.may_see_orphans
       ORDER BY r.checked_at DESC LIMIT 1) a ON true
  -- Bypassed writes since the last check (not a carried result) started.
  LEFT JOIN LATERAL (
      SELECT r.scan_started_at, r.unchecked_rows_at_scan FROM @extschema@.fk_audit_results r
       WHERE r.constraint_oid = d.oid AND r.carried_from IS NULL
       ORDER BY r.checked_at DESC LIMIT 1) ab ON true
  LEFT JOIN LATERAL (
      SELECT array_remove(@extschema@.fk_guard_bypass_reasons(d.oid, ab.scan_started_at), 'not_valid') AS reasons,
             CASE WHEN b.unchecked_rows >= COALESCE(ab.unchecked_rows_at_scan, 0)
                  THEN b.unchecked_rows - COALESCE(ab.unchecked_rows_at_scan, 0)
                  ELSE b.unchecked_rows END AS unchecked_rows_since_audit -- counters reset since
        FROM (SELECT) one LEFT JOIN @extschema@.fk_guard_bypass_counter(d.oid) b ON true
       WHERE (SELECT t.tracking FROM @extschema@.fk_guard_bypass_tracking() t)) bp ON true
 WHERE d.contype = 'f' AND d.conparentid = 0
   -- Like fk_orphans(): extension members' keys only with fk_guard.include_extension_tables.
   AND @extschema@.fk_guard_covers_table(d.conrelid)
   -- Like fk_orphans: a reader sees the foreign keys of the tables they may read.
   AND (has_table_privilege(d.conrelid, 'SELECT') OR pg_has_role('pg_read_all_stats', 'MEMBER'));

COMMENT ON VIEW @extschema@.fk_audit IS
'one row per declared foreign key: its health, and the fix for each finding';

GRANT SELECT ON @extschema@.fk_audit TO PUBLIC;

-- ---- Bypass tracking and incremental audits (issue 13) ---------------------
-- (fk_guard_bypass_counters, _counter, _tracking and _reasons are defined
-- before fk_audit, which reads them.)

-- The tables this session's audit run must check, in order: all of its
-- target's, or for an incremental run those that may hold new orphans.
CREATE FUNCTION @extschema@.fk_audit_run_tables(run bigint)
RETURNS regclass[]
AS 'MODULE_PATHNAME', 'fk_audit_run_tables'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp;

-- Counters for fk_bypass_stats: fk_guard_bypass_counters(), raising 55000
-- without preloading as fk_violation_stats does.
CREATE FUNCTION @extschema@.fk_bypass_stats_internal(
    OUT constraint_oid oid, OUT constraint_name name, OUT child_table text, OUT parent_table text,
    OUT unchecked_rows bigint, OUT first_at timestamptz, OUT last_at timestamptz,
    OUT reasons text[], OUT roles name[])
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'fk_bypass_stats_internal'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp;

/*
 * One row per declared foreign key of the current database that rows were
 * written to without RI checks, or that may hold unseen orphans for a
 * standing reason (fk_guard_bypass_reasons()); then the counters of foreign
 * keys dropped since, and the overflow row.  Like fk_violation_stats, every
 * row is shown to everyone; whether a foreign key was audited since tracking
 * was lost is taken into account only for the tables the reader may read
 * (as fk_audit shows them).
 */
CREATE VIEW @extschema@.fk_bypass_stats AS
SELECT d.conname AS constraint_name,
       format('%I.%I', cn.nspname, cr.relname) AS child_table,
       format('%I.%I', pn.nspname, pr.relname) AS parent_table,
       COALESCE(b.unchecked_rows, 0) AS unchecked_rows,
       b.first_at, b.last_at,
       ARRAY(SELECT DISTINCT x FROM unnest(COALESCE(b.reasons, '{}') || COALESCE(r.reasons, '{}')) x ORDER BY x) AS reasons,
       COALESCE(b.roles, '{}') AS roles
  FROM pg_constraint d
  JOIN pg_class cr ON cr.oid = d.conrelid JOIN pg_namespace cn ON cn.oid = cr.relnamespace
  JOIN pg_class pr ON pr.oid = d.confrelid JOIN pg_namespace pn ON pn.oid = pr.relnamespace
  LEFT JOIN @extschema@.fk_bypass_stats_internal() b ON b.constraint_oid = d.oid
  LEFT JOIN LATERAL (
      SELECT a.scan_started_at FROM @extschema@.fk_audit_results a
       WHERE a.constraint_oid = d.oid AND a.carried_from IS NULL
         AND (has_table_privilege(d.conrelid, 'SELECT') OR pg_has_role('pg_read_all_stats', 'MEMBER'))
       ORDER BY a.checked_at DESC LIMIT 1) a ON true
  CROSS JOIN LATERAL (SELECT @extschema@.fk_guard_bypass_reasons(d.oid, a.scan_started_at)) r(reasons)
 WHERE d.contype = 'f' AND d.conparentid = 0
   -- A standing reason alone names only the keys audits cover (fk_audit's rows):
   -- never audited, an extension member's or a Citus shard's would carry one forever.
   AND (b.constraint_oid IS NOT NULL OR (r.reasons IS NOT NULL AND @extschema@.fk_guard_covers_table(d.conrelid)))
UNION ALL
SELECT b.constraint_name, b.child_table, b.parent_table, b.unchecked_rows, b.first_at, b.last_at, b.reasons, b.roles
  FROM @extschema@.fk_bypass_stats_internal() b
 WHERE NOT EXISTS (SELECT FROM pg_constraint d WHERE d.oid = b.constraint_oid)
UNION ALL
SELECT NULL, NULL, NULL, t.overflow_rows, t.overflow_first_at, t.overflow_last_at, t.overflow_reasons, NULL
  FROM @extschema@.fk_guard_bypass_tracking() t
 WHERE t.overflow_last_at IS NOT NULL;

COMMENT ON VIEW @extschema@.fk_bypass_stats IS
'rows written without RI checks, per declared foreign key, and why its orphans may be unseen';

GRANT SELECT ON @extschema@.fk_bypass_stats TO PUBLIC;

-- (end of bypass tracking)

-- ---- Repair, pre-load check and load order (issue 14) ----------------------

-- Repairs (fk_repair): one row per executed repair, written by the repairing
-- session as it goes (its own rows only: row-level security), so a repair
-- cancelled halfway keeps the batches it committed; fk_guard_repair_history
-- shows a run whose session stopped running it as 'interrupted'.
CREATE TABLE @extschema@.fk_guard_repairs (
    repair_id bigserial PRIMARY KEY,
    constraint_name name NOT NULL,
    child_table regclass NOT NULL,
    parent_table regclass NOT NULL,
    action text NOT NULL CHECK (action IN ('quarantine', 'delete', 'set_null', 'insert_parents')),
    batch_size integer NOT NULL CHECK (batch_size > 0),
    lock_timeout text,
    validate boolean NOT NULL DEFAULT false,
    started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at timestamptz,
    status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed', 'incomplete', 'interrupted')),
    batches integer NOT NULL DEFAULT 0,
    rows bigint NOT NULL DEFAULT 0,
    -- orphan rows the last pass found and could not fix ('incomplete' when > 0)
    rows_left bigint,
    validated boolean,
    repaired_by name NOT NULL DEFAULT current_user,
    backend_pid integer NOT NULL DEFAULT pg_backend_pid(),
    backend_start timestamptz
);
COMMENT ON TABLE @extschema@.fk_guard_repairs IS
'history of fk_repair(): one row per executed repair';

-- Rows fk_repair(action => 'quarantine') moved out of their table, as jsonb
-- to read and in their text form (what the row type's input reads back exactly,
-- whatever the column types); fk_restore() puts them back from the latter.  A role sees the rows of the tables it may
-- read whole (SELECT, no row-level security hiding rows from it).
CREATE TABLE @extschema@.fk_guard_quarantine (
    quarantine_id bigserial PRIMARY KEY,
    repair_id bigint NOT NULL,
    constraint_name name NOT NULL,
    child_table regclass NOT NULL,
    row_data jsonb NOT NULL,
    row_text text NOT NULL,
    key jsonb NOT NULL,
    reason text NOT NULL,
    quarantined_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    quarantined_by name NOT NULL DEFAULT current_user
);
CREATE INDEX fk_guard_quarantine_repair_idx ON @extschema@.fk_guard_quarantine (repair_id);
COMMENT ON TABLE @extschema@.fk_guard_quarantine IS
'rows moved out of their table by fk_repair(action => ''quarantine''); fk_restore() puts them back';

ALTER TABLE @extschema@.fk_guard_repairs ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.fk_guard_quarantine ENABLE ROW LEVEL SECURITY;
-- Readers: their own repairs, and those of tables they may read.
CREATE POLICY fk_guard_repairs_read ON @extschema@.fk_guard_repairs FOR SELECT
    USING (repaired_by = current_user OR COALESCE(has_table_privilege(child_table, 'SELECT'), false));
-- Writers: the repairing session, on its own running repair.
CREATE POLICY fk_guard_repairs_start ON @extschema@.fk_guard_repairs FOR INSERT
    WITH CHECK (repaired_by = current_user AND backend_pid = pg_backend_pid() AND status = 'running'
                AND batches = 0 AND rows = 0 AND COALESCE(has_table_privilege(child_table, 'SELECT'), false));
CREATE POLICY fk_guard_repairs_progress ON @extschema@.fk_guard_repairs FOR UPDATE
    USING (repaired_by = current_user AND backend_pid = pg_backend_pid() AND status = 'running')
    WITH CHECK (repaired_by = current_user AND backend_pid = pg_backend_pid()
                AND COALESCE(has_table_privilege(child_table, 'SELECT'), false));
CREATE POLICY fk_guard_quarantine_read ON @extschema@.fk_guard_quarantine FOR SELECT
    USING (CASE WHEN has_table_privilege(child_table, 'SELECT') THEN NOT row_security_active(child_table) ELSE false END);
-- Rows come in only through fk_repair_quarantine_batch(), which stores what its
-- DELETE removed (as the table's owner), and leave when a role that may insert
-- them back restores them.
CREATE POLICY fk_guard_quarantine_restore ON @extschema@.fk_guard_quarantine FOR DELETE
    USING (CASE WHEN has_table_privilege(child_table, 'SELECT') AND has_table_privilege(child_table, 'INSERT')
                THEN NOT row_security_active(child_table) ELSE false END);
-- Only the columns the steps below write: ids come from the sequences (an id
-- chosen ahead of them would make other roles' repairs fail on the primary key),
-- and a repair's table, constraint, action, author and session stay as started.
GRANT SELECT ON @extschema@.fk_guard_repairs TO PUBLIC;
GRANT INSERT (constraint_name, child_table, parent_table, action, batch_size, lock_timeout, validate, backend_start),
      UPDATE (status, finished_at, batches, rows, rows_left, validated)
    ON @extschema@.fk_guard_repairs TO PUBLIC;
GRANT SELECT, DELETE ON @extschema@.fk_guard_quarantine TO PUBLIC;
GRANT USAGE ON SEQUENCE @extschema@.fk_guard_repairs_repair_id_seq, @extschema@.fk_guard_quarantine_quarantine_id_seq
    TO PUBLIC;

-- pg_dump keeps the repair history and the quarantined rows.
SELECT pg_extension_config_dump('@extschema@.fk_guard_repairs', '');
SELECT pg_extension_config_dump('@extschema@.fk_guard_repairs_repair_id_seq', '');
SELECT pg_extension_config_dump('@extschema@.fk_guard_quarantine', '');
SELECT pg_extension_config_dump('@extschema@.fk_guard_quarantine_quarantine_id_seq', '');

-- Whether the session that started a repair is still running the statement
-- that started it (pg_stat_activity shows other roles' sessions to its owner
-- only).  It takes the repair, not a session: with any pid and times it would
-- tell anyone the state and query start of any session.
CREATE FUNCTION @extschema@.fk_repair_running(repair bigint)
RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
SELECT EXISTS (SELECT FROM @extschema@.fk_guard_repairs r
                 JOIN pg_stat_activity a ON a.pid = r.backend_pid AND a.backend_start = r.backend_start
                WHERE r.repair_id = $1 AND r.status = 'running' AND a.state <> 'idle'
                  AND a.query_start <= r.started_at)
$$;

CREATE VIEW @extschema@.fk_guard_repair_history WITH (security_invoker = true) AS
SELECT r.repair_id, r.constraint_name, r.child_table, r.parent_table, r.action, r.batch_size,
       r.started_at, r.finished_at,
       CASE WHEN r.status = 'running'
                 AND NOT @extschema@.fk_repair_running(r.repair_id)
            THEN 'interrupted' ELSE r.status END AS status,
       r.batches, r.rows, r.rows_left, r.validated, r.repaired_by
  FROM @extschema@.fk_guard_repairs r;
COMMENT ON VIEW @extschema@.fk_guard_repair_history IS
'fk_guard_repairs, with a repair whose session no longer runs it shown as interrupted';
GRANT SELECT ON @extschema@.fk_guard_repair_history TO PUBLIC;

-- The checked statements of one repair step (src/repair/repair.cpp).
CREATE FUNCTION @extschema@.fk_repair_prepare(
    constraint_name name, child_table regclass, action text, batch_size integer, for_execute boolean,
    lock_referenced boolean,
    OUT constraint_oid oid, OUT parent_table regclass, OUT validated boolean,
    OUT batch_statement text, OUT progress_query text, OUT keys_query text, OUT count_query text)
AS 'MODULE_PATHNAME', 'fk_repair_prepare'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp;

-- One batch of a running quarantine repair of this session (src/repair/repair.cpp):
-- deletes the orphans as the caller and stores the deleted rows as the owner of
-- fk_guard_quarantine, which no other role may insert into (fk_restore() must put
-- back only rows a repair took out, not rows a role with DELETE made up).
CREATE FUNCTION @extschema@.fk_repair_quarantine_batch(repair bigint, resume_table oid, resume tid,
                                                       OUT moved bigint, OUT found bigint, OUT reached_table oid,
                                                       OUT reached tid)
AS 'MODULE_PATHNAME', 'fk_repair_quarantine_batch'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp;

-- Whether the procedure calling it may commit (CALL outside a transaction block and
-- outside any function).
CREATE FUNCTION @extschema@.fk_repair_can_commit()
RETURNS boolean
AS 'MODULE_PATHNAME', 'fk_repair_can_commit'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp;

-- The dry run in detail: one row per missing key (its orphan rows), then a
-- row with key NULL: the rows the action changes and the statement of a batch.
CREATE FUNCTION @extschema@.fk_repair_plan(
    constraint_name name, child_table regclass, action text DEFAULT 'quarantine',
    batch_size integer DEFAULT 10000)
RETURNS TABLE (key jsonb, rows bigint, statement text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p record;
    total bigint;
BEGIN
    p := @extschema@.fk_repair_prepare(constraint_name, child_table, action, batch_size, false, false);
    RETURN QUERY EXECUTE 'SELECT k.key, k.rows, NULL::pg_catalog.text FROM (' || p.keys_query || ') k';
    EXECUTE p.count_query INTO total;
    RETURN QUERY SELECT NULL::jsonb, total, p.batch_statement;
END
$$;

COMMENT ON FUNCTION @extschema@.fk_repair_plan(name, regclass, text, integer) IS
'dry run of fk_repair(): orphan rows per missing key, the rows the action would change, the statement of a batch';

-- The steps of fk_repair(), each pinning search_path (the procedure commits,
-- so it cannot).  They run as the caller.
CREATE FUNCTION @extschema@.fk_repair_start(
    constraint_name name, child_table regclass, action text, execute boolean,
    batch_size integer, lock_timeout text, validate boolean)
RETURNS TABLE (repair_id bigint, rows bigint, status text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p record;
    n bigint;
    id bigint;
BEGIN
    IF lock_timeout IS NOT NULL THEN
        PERFORM set_config('lock_timeout', lock_timeout, true); -- a bad value fails here, before anything
    END IF;
    p := @extschema@.fk_repair_prepare(constraint_name, child_table, action, batch_size, execute IS TRUE, false);
    -- PostgreSQL 18 refuses VALIDATE for a NOT ENFORCED key: refused before any
    -- batch commits, not after the last.
    IF validate IS TRUE AND NOT COALESCE(@extschema@.fk_guard_constraint_enforced(p.constraint_oid), true) THEN
        RAISE EXCEPTION 'fk_repair cannot validate foreign key "%": it is NOT ENFORCED', constraint_name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Repair without validate, then ALTER TABLE ... ALTER CONSTRAINT ... ENFORCED checks every row.';
    END IF;
    IF execute IS NOT TRUE THEN
        EXECUTE p.count_query INTO n;
        RAISE NOTICE 'fk_repair dry run: % would change % row(s) of %', action, n,
            CASE action WHEN 'insert_parents' THEN p.parent_table ELSE child_table END
            USING HINT = 'fk_repair_plan() shows the rows per key and the statement; execute => true runs it.';
        RETURN QUERY SELECT NULL::bigint, n, 'dry run'::text;
        RETURN;
    END IF;
    UPDATE @extschema@.fk_guard_repairs r SET status = 'interrupted'
     WHERE r.status = 'running' AND r.backend_pid = pg_backend_pid();
    INSERT INTO @extschema@.fk_guard_repairs AS r
           (constraint_name, child_table, parent_table, action, batch_size, lock_timeout, validate, backend_start)
    VALUES (constraint_name, child_table, p.parent_table, action, batch_size, lock_timeout, validate IS TRUE,
            (SELECT a.backend_start FROM pg_stat_activity a WHERE a.pid = pg_backend_pid()))
    RETURNING r.repair_id INTO id;
    RETURN QUERY SELECT id, 0::bigint, 'running'::text;
END
$$;

-- One batch of a running repair of this session, its scan resuming after the
-- position (resume_table, resume) the previous batch reached (see
-- src/repair/repair_query.h); returns where the next batch resumes, NULLs when
-- the repair is over.  A pass starts at (0, '(0,0)'); pass_changed says whether
-- the pass has made progress so far (orphans that stopped being orphans), and
-- pass_left how many orphans it found and left.
CREATE FUNCTION @extschema@.fk_repair_batch(repair bigint, INOUT resume_table oid DEFAULT 0,
                                            INOUT resume tid DEFAULT '(0,0)',
                                            INOUT pass_changed boolean DEFAULT false,
                                            INOUT pass_left bigint DEFAULT 0)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
    p record;
    n bigint;          -- what the batch changed (insert_parents: parent rows inserted)
    n_found bigint;    -- the orphans it found
    fixed bigint;      -- those that are no longer orphans
    still bigint;
    reached_table oid;
    reached tid;
    batch_tables oid[];
    batch_ctids tid[];
BEGIN
    SELECT * INTO r FROM @extschema@.fk_guard_repairs h
     WHERE h.repair_id = repair AND h.status = 'running' AND h.backend_pid = pg_backend_pid();
    IF NOT FOUND THEN
        RAISE EXCEPTION 'repair % is not running in this session', repair USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF resume_table IS NULL OR resume IS NULL THEN
        RAISE EXCEPTION 'resume_table and resume must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF r.lock_timeout IS NOT NULL THEN
        PERFORM set_config('lock_timeout', r.lock_timeout, true);
    END IF;
    -- Locks the referenced table: the statement's snapshot, taken next, sees every parent.
    p := @extschema@.fk_repair_prepare(r.constraint_name, r.child_table, r.action, r.batch_size, true, true);
    IF r.action = 'quarantine' THEN
        SELECT q.moved, q.found, q.reached_table, q.reached INTO n, n_found, reached_table, reached
          FROM @extschema@.fk_repair_quarantine_batch(repair, resume_table, resume) q;
        fixed := n;
    ELSIF r.action = 'insert_parents' THEN
        EXECUTE p.batch_statement INTO n, n_found, reached_table, reached, batch_tables, batch_ctids
          USING resume_table, resume;
        -- A BEFORE INSERT trigger on the referenced table may have changed or
        -- dropped the keys: progress is the batch's rows that have parents now.
        fixed := 0;
        IF n_found > 0 THEN
            EXECUTE p.progress_query INTO still USING batch_tables, batch_ctids;
            fixed := n_found - still;
        END IF;
    ELSE
        EXECUTE p.batch_statement INTO n, n_found, reached_table, reached USING resume_table, resume;
        fixed := n;
    END IF;
    IF n > 0 THEN
        UPDATE @extschema@.fk_guard_repairs h SET batches = h.batches + 1, rows = h.rows + n
         WHERE h.repair_id = repair;
    END IF;
    IF resume_table = 0 AND resume = '(0,0)'::tid THEN -- a new pass
        pass_changed := false;
        pass_left := 0;
    END IF;
    pass_changed := pass_changed OR fixed > 0;
    pass_left := pass_left + greatest(n_found - fixed, 0);
    -- A batch that found orphans goes on after the last one it reached; one that
    -- found none ends a pass.  Another pass follows one that made progress (rows
    -- it skipped may be orphans still); a pass that made none ends the repair,
    -- though it found orphans: rows no batch can fix (a trigger or a rule keeps
    -- them, or gives the parents other keys) would otherwise be found forever.
    IF reached IS NOT NULL THEN
        resume_table := reached_table;
        resume := reached;
    ELSIF pass_changed THEN
        resume_table := 0;
        resume := '(0,0)';
    ELSE
        UPDATE @extschema@.fk_guard_repairs h SET rows_left = pass_left WHERE h.repair_id = repair;
        resume_table := NULL;
        resume := NULL;
    END IF;
END
$$;

-- Ends a running repair of this session: VALIDATE CONSTRAINT when asked and
-- needed; 'incomplete', with a WARNING, when it left orphans it could not fix.
CREATE FUNCTION @extschema@.fk_repair_finish(repair bigint)
RETURNS TABLE (rows bigint, batches integer, status text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
    was_valid boolean;
    outcome text;
BEGIN
    SELECT * INTO r FROM @extschema@.fk_guard_repairs h
     WHERE h.repair_id = repair AND h.status = 'running' AND h.backend_pid = pg_backend_pid();
    IF NOT FOUND THEN
        RAISE EXCEPTION 'repair % is not running in this session', repair USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    SELECT c.convalidated INTO was_valid FROM pg_constraint c
     WHERE c.conrelid = r.child_table AND c.conname = r.constraint_name AND c.contype = 'f';
    outcome := CASE WHEN r.rows_left > 0 THEN 'incomplete' ELSE 'completed' END;
    IF outcome = 'incomplete' THEN
        RAISE WARNING 'fk_repair % (%) left % orphan row(s) of % that it could not fix', repair, r.action,
            r.rows_left, r.child_table
            USING DETAIL = format('Its last pass found them and fixed none: a trigger or rule kept them (e.g. a BEFORE %s trigger returning NULL%s).',
                                  CASE r.action WHEN 'set_null' THEN 'UPDATE' WHEN 'insert_parents' THEN 'INSERT'
                                                ELSE 'DELETE' END,
                                  CASE r.action WHEN 'insert_parents' THEN ' or changing the key, on ' || r.parent_table
                                                ELSE ' on the table or its partition' END)
                  || CASE WHEN r.validate AND NOT was_valid THEN ' The constraint was not validated.' ELSE '' END,
                  HINT = 'fk_orphans() lists them; another action may fix them.';
    ELSIF r.validate AND NOT was_valid THEN
        EXECUTE format('ALTER TABLE %s VALIDATE CONSTRAINT %I', r.child_table, r.constraint_name);
    END IF;
    UPDATE @extschema@.fk_guard_repairs h
       SET status = outcome, finished_at = clock_timestamp(),
           validated = was_valid OR (r.validate AND outcome = 'completed')
     WHERE h.repair_id = repair;
    RETURN QUERY SELECT r.rows, r.batches, outcome;
END
$$;

/*
 * Repairs the orphans of one foreign key: a dry run unless execute => true.
 * Called with CALL outside a transaction block it commits after each batch
 * (a cancelled repair keeps the batches it finished); inside one, or from a
 * function, every batch runs in the caller's transaction.  A procedure that
 * commits can have no SET clause, so it only calls the steps above and
 * resolves no operator or unqualified function itself.
 */
CREATE PROCEDURE @extschema@.fk_repair(
    constraint_name name, child_table regclass, action text,
    execute boolean DEFAULT false, batch_size integer DEFAULT 10000,
    lock_timeout text DEFAULT NULL, validate boolean DEFAULT false,
    INOUT repair_id bigint DEFAULT NULL, INOUT rows bigint DEFAULT NULL,
    INOUT batches integer DEFAULT NULL, INOUT status text DEFAULT NULL)
LANGUAGE plpgsql
AS $$
DECLARE
    commits boolean;
    resume_table oid := 0;
    resume tid := '(0,0)';
    pass_changed boolean := false;
    pass_left bigint := 0;
BEGIN
    SELECT s.repair_id, s.rows, s.status INTO repair_id, rows, status
      FROM @extschema@.fk_repair_start(constraint_name, child_table, action, execute, batch_size,
                                       lock_timeout, validate) s;
    IF repair_id IS NULL THEN
        RETURN; -- a dry run
    END IF;
    commits := @extschema@.fk_repair_can_commit(); -- called here, so that it sees this call's context
    IF commits THEN
        COMMIT;
    END IF;
    LOOP
        SELECT b.resume_table, b.resume, b.pass_changed, b.pass_left INTO resume_table, resume, pass_changed, pass_left
          FROM @extschema@.fk_repair_batch(repair_id, resume_table, resume, pass_changed, pass_left) b;
        EXIT WHEN resume IS NULL;
        IF commits THEN
            COMMIT;
        END IF;
    END LOOP;
    SELECT f.rows, f.batches, f.status INTO rows, batches, status FROM @extschema@.fk_repair_finish(repair_id) f;
END
$$;

COMMENT ON PROCEDURE @extschema@.fk_repair(name, regclass, text, boolean, integer, text, boolean, bigint, bigint, integer, text) IS
'repairs the orphans of a foreign key (quarantine, delete, set_null or insert_parents): a dry run unless execute => true';

-- The table a quarantine repair moved rows out of, whoever may see them.
CREATE FUNCTION @extschema@.fk_repair_quarantined_table(repair bigint)
RETURNS regclass
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
SELECT r.child_table FROM @extschema@.fk_guard_repairs r WHERE r.repair_id = $1 AND r.action = 'quarantine'
$$;

-- Puts the rows a quarantine repair moved back into their table, as the
-- caller, through PostgreSQL's RI check; returns how many.
CREATE FUNCTION @extschema@.fk_restore(repair_id bigint)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    child regclass := @extschema@.fk_repair_quarantined_table(repair_id);
    columns text;
    qualified text;
    n bigint;
BEGIN
    IF child IS NULL THEN
        RAISE EXCEPTION 'fk_guard has no quarantine repair %', repair_id USING ERRCODE = 'undefined_object';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = child) THEN
        RAISE EXCEPTION 'the table of quarantine repair % (OID %) no longer exists', repair_id, child::oid
            USING ERRCODE = 'undefined_table',
                  HINT = 'Its rows stay in fk_guard_quarantine (row_data, row_text).';
    END IF;
    IF NOT (has_table_privilege(child, 'SELECT') AND has_table_privilege(child, 'INSERT')) THEN
        RAISE EXCEPTION 'permission denied for table %', child USING ERRCODE = 'insufficient_privilege',
            HINT = 'fk_restore() inserts the rows as the caller: it needs SELECT and INSERT on the table.';
    END IF;
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum),
           string_agg('(back.r).' || quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO columns, qualified
      FROM pg_attribute a
     WHERE a.attrelid = child AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '';
    EXECUTE format('WITH back AS (DELETE FROM @extschema@.fk_guard_quarantine q WHERE q.repair_id = $1 '
                   'AND q.child_table = $2 RETURNING q.row_text::%1$s AS r) '
                   'INSERT INTO %1$s (%2$s) OVERRIDING SYSTEM VALUE SELECT %3$s FROM back',
                   child, columns, qualified)
      USING repair_id, child;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

COMMENT ON FUNCTION @extschema@.fk_restore(bigint) IS
'puts the rows a quarantine repair moved back into their table (checked by PostgreSQL''s RI on the way)';


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
