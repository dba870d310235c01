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

-- The tables whose declared foreign keys an audit of target checks.
CREATE FUNCTION @extschema@.fk_audit_tables(target regclass)
RETURNS regclass[]
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT COALESCE(array_agg(DISTINCT c.conrelid::regclass ORDER BY c.conrelid::regclass), '{}')
  FROM pg_constraint c
 WHERE c.contype = 'f' AND c.conparentid = 0 AND (target IS NULL OR c.conrelid = target)
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
       g.enforced, f.fk_indexed, g.type_mismatch,
       CASE WHEN @extschema@.fk_guard_preloaded() THEN COALESCE(v.violations, 0) END AS violations,
       v.last_violation_at,
       a.checked_at AS last_audit_at,
       a.orphan_rows AS orphans_at_last_audit,
       (SELECT COALESCE(jsonb_agg(x.finding ORDER BY x.n), '[]'::jsonb) FROM (
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
            UNION ALL
            SELECT 9, jsonb_build_object('code', 'ri_bypassed', 'severity', 'warning',
                       'message', format('Rows may have been written without RI checks since the last audit (%s): orphans may have entered.',
                                         array_to_string(bp.reasons, ', ')),
                       'fix', format('CALL %s.fk_audit_run(%L);', f.extension_schema, f.child))
             WHERE cardinality(bp.reasons) > 0
        ) AS x(n, finding)) AS findings,
       CASE WHEN (SELECT t.tracking FROM @extschema@.fk_guard_bypass_tracking() t)
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
  CROSS JOIN LATERAL (SELECT cardinality(f.disabled_tables) = 0, f.type_fixes IS NOT NULL) g(enforced, type_mismatch)
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
 WHERE d.contype = 'f' AND d.conparentid = 0 AND (b.constraint_oid IS NOT NULL OR r.reasons IS NOT NULL)
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

-- (end of repair)

-- ---- Citus (issue 15) -------------------------------------------------------

-- (end of Citus)
