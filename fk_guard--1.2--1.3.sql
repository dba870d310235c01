/* fk_guard--1.2--1.3.sql: safe to run over tables other roles own (security) */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION fk_guard UPDATE TO '1.3'" to load this file. \quit

-- Every name below resolves in pg_catalog only (see fk_guard--1.3.sql).
SET LOCAL search_path = pg_catalog, pg_temp;

-- Every function pins its search_path.
ALTER FUNCTION @extschema@.fk_guard_preloaded() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION @extschema@.fk_violations_internal() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION @extschema@.fk_violation_stats_internal() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION @extschema@.fk_guard_constraint_violations() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION @extschema@.fk_guard_reset() SET search_path = pg_catalog, pg_temp;

-- Audits are rebuilt: steps in C that check the caller and write the history
-- as its owner, a lock only auditors can take, and a view that binds its
-- names to pg_catalog and shows orphan counts only to readers allowed them.
DROP VIEW @extschema@.fk_audit;
DROP FUNCTION @extschema@.fk_audit_findings(oid, boolean, boolean, boolean, bigint, bigint);
-- Roles delegated audits keep them: their grants are remembered for the new
-- procedure, until the end of this transaction.
SELECT pg_catalog.set_config('fk_guard_upgrade.audit_run_grants', COALESCE(pg_catalog.string_agg(
           CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END
           || CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END, ';'), ''), true)
  FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
 WHERE p.oid = '@extschema@.fk_audit_run(regclass)'::pg_catalog.regprocedure
   AND a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner;
DROP PROCEDURE @extschema@.fk_audit_run(regclass);
DROP FUNCTION @extschema@.fk_guard_in_transaction_block();

-- Runs left "running" by 1.2 can never be finished.
UPDATE @extschema@.fk_audit_runs SET status = 'interrupted' WHERE status = 'running';
ALTER TABLE @extschema@.fk_audit_runs
    DROP CONSTRAINT fk_audit_runs_status_check,
    ADD CONSTRAINT fk_audit_runs_status_check
        CHECK (status IN ('running', 'completed', 'interrupted', 'skipped')),
    ADD COLUMN runner name,
    ADD COLUMN backend_pid integer;
COMMENT ON TABLE @extschema@.fk_audit_runs IS
'history of fk_audit_run(): one row per run';
ALTER TABLE @extschema@.fk_audit_results
    ALTER COLUMN orphan_rows DROP NOT NULL,
    ALTER COLUMN missing_keys DROP NOT NULL;

/*
 * The steps of fk_audit_run() (src/audit_run.cpp).  Each checks that its
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
DO $do$
DECLARE
    g text;
BEGIN
    FOREACH g IN ARRAY pg_catalog.string_to_array(pg_catalog.current_setting('fk_guard_upgrade.audit_run_grants'), ';') LOOP
        EXECUTE 'GRANT EXECUTE ON PROCEDURE @extschema@.fk_audit_run(regclass) TO ' || g;
    END LOOP;
END
$do$;

COMMENT ON PROCEDURE @extschema@.fk_audit_run(regclass) IS
'checks every foreign key (or those of target) for orphans and records the results in fk_audit_runs and fk_audit_results';

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
        ) AS x(n, finding)) AS findings
  FROM pg_constraint d
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
             -- Tables where an RI trigger of the constraint or of its partition clones is disabled.
             ARRAY(WITH RECURSIVE family(oid) AS (
                       SELECT d.oid UNION ALL
                       SELECT k.oid FROM pg_constraint k JOIN family f ON k.conparentid = f.oid)
                   SELECT DISTINCT t.tgrelid FROM pg_trigger t
                    WHERE t.tgconstraint IN (SELECT oid FROM family) AND t.tgenabled = 'D') AS disabled_tables,
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
   -- Like fk_orphans: a reader sees the foreign keys of the tables they may read.
   AND (has_table_privilege(d.conrelid, 'SELECT') OR pg_has_role('pg_read_all_stats', 'MEMBER'));

COMMENT ON VIEW @extschema@.fk_audit IS
'one row per declared foreign key: its health, and the fix for each finding';

GRANT SELECT ON @extschema@.fk_audit TO PUBLIC;
