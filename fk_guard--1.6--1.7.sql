/* fk_guard--1.6--1.7.sql: bypass tracking and incremental audits (issue 13); repair, pre-load
 * check and load order (issue 14); Citus (issue 15) */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION fk_guard UPDATE TO '1.7'" to load this file. \quit

-- Every name below resolves in pg_catalog only (see fk_guard--1.7.sql).
SET LOCAL search_path = pg_catalog, pg_temp;

-- ---- Bypass tracking and incremental audits (issue 13) ---------------------

-- The history records whether a run was incremental, when each check started,
-- which results were carried forward and the unchecked rows at the check.
ALTER TABLE @extschema@.fk_audit_runs ADD COLUMN incremental boolean NOT NULL DEFAULT false;
ALTER TABLE @extschema@.fk_audit_results
    ADD COLUMN scan_started_at timestamptz,
    ADD COLUMN carried_from bigint,
    ADD COLUMN unchecked_rows_at_scan bigint;

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

-- fk_audit_run() gains incremental: its first step too.
DROP FUNCTION @extschema@.fk_audit_start(regclass);
CREATE FUNCTION @extschema@.fk_audit_start(target regclass, incremental boolean DEFAULT false)
RETURNS bigint
AS 'MODULE_PATHNAME', 'fk_audit_start'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp;

-- The tables this session's audit run must check, in order: all of its
-- target's, or for an incremental run those that may hold new orphans.
CREATE FUNCTION @extschema@.fk_audit_run_tables(run bigint)
RETURNS regclass[]
AS 'MODULE_PATHNAME', 'fk_audit_run_tables'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp;

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

REVOKE ALL ON PROCEDURE @extschema@.fk_audit_run(regclass, boolean) FROM PUBLIC;

-- Roles that were delegated audits (GRANT EXECUTE ON PROCEDURE fk_audit_run(regclass))
-- may execute the new procedure; then the old one goes.
DO $do$
DECLARE
    g record;
BEGIN
    FOR g IN SELECT a.grantee, a.is_grantable
               FROM pg_proc p, aclexplode(p.proacl) a
              WHERE p.oid = '@extschema@.fk_audit_run(regclass)'::regprocedure
                AND a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner LOOP
        EXECUTE format('GRANT EXECUTE ON PROCEDURE @extschema@.fk_audit_run(regclass, boolean) TO %s%s',
                       CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(g.grantee)) END,
                       CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
END
$do$;
DROP PROCEDURE @extschema@.fk_audit_run(regclass);

COMMENT ON PROCEDURE @extschema@.fk_audit_run(regclass, boolean) IS
'checks every foreign key (or those of target; with incremental, those that may have new orphans) for orphans and records the results in fk_audit_runs and fk_audit_results';

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

-- fk_audit gains unchecked_rows_since_audit and the ri_bypassed finding.
CREATE OR REPLACE VIEW @extschema@.fk_audit AS
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

-- (end of bypass tracking)

-- ---- Repair, pre-load check and load order (issue 14) ----------------------

-- (end of repair)

-- ---- Citus (issue 15) -------------------------------------------------------

-- (end of Citus)
