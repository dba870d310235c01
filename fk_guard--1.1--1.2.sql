/* fk_guard--1.1--1.2.sql: fk_audit, audits that pg_cron can schedule, and their history */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION fk_guard UPDATE TO '1.2'" to load this file. \quit

-- Tables the user bulk-loads: their foreign keys should be DEFERRABLE so that
-- parents and children can be loaded in one transaction, in any order.
CREATE TABLE fk_guard_bulk_loaded (
    table_name regclass PRIMARY KEY,
    marked_at timestamptz NOT NULL DEFAULT now(),
    note text
);
COMMENT ON TABLE fk_guard_bulk_loaded IS
'tables marked as bulk-loaded: fk_audit flags their NOT DEFERRABLE foreign keys';

-- One row per audit run.
CREATE TABLE fk_audit_runs (
    run_id bigserial PRIMARY KEY,
    target text,
    started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at timestamptz,
    status text NOT NULL DEFAULT 'running'
        CHECK (status IN ('running', 'completed', 'interrupted')),
    foreign_keys integer NOT NULL DEFAULT 0,
    foreign_keys_with_orphans integer NOT NULL DEFAULT 0,
    orphan_rows bigint NOT NULL DEFAULT 0
);
COMMENT ON TABLE fk_audit_runs IS
'history of fk_audit_run(): one row per run ("interrupted" when cancelled or failed)';

-- One row per foreign key checked by a run, written as each table finishes.
-- (run_id has no foreign key to fk_audit_runs on purpose: it would show up in
-- every user's fk_orphans() and fk_audit reports.)
CREATE TABLE fk_audit_results (
    run_id bigint NOT NULL,
    constraint_oid oid NOT NULL,
    constraint_name name NOT NULL,
    child_table text NOT NULL,
    parent_table text NOT NULL,
    checked_at timestamptz NOT NULL,
    validated boolean NOT NULL,
    orphan_rows bigint NOT NULL,
    missing_keys bigint NOT NULL,
    PRIMARY KEY (run_id, constraint_oid)
);
CREATE INDEX fk_audit_results_constraint_idx ON fk_audit_results (constraint_oid, checked_at);
COMMENT ON TABLE fk_audit_results IS
'history of fk_audit_run(): orphans per foreign key and run';

-- pg_dump keeps the history and the marked tables.
SELECT pg_catalog.pg_extension_config_dump('fk_guard_bulk_loaded', '');
SELECT pg_catalog.pg_extension_config_dump('fk_audit_runs', '');
SELECT pg_catalog.pg_extension_config_dump('fk_audit_runs_run_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('fk_audit_results', '');

-- True inside BEGIN ... COMMIT (fk_audit_run commits, so it cannot run there).
CREATE FUNCTION fk_guard_in_transaction_block()
RETURNS boolean
AS 'MODULE_PATHNAME', 'fk_guard_in_transaction_block'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

/*
 * Audits the foreign keys of target (of every table when NULL): runs
 * fk_orphan_summary() table by table, committing after each so that a long
 * audit holds no snapshot for long and a cancelled one keeps what it
 * finished.  A second concurrent audit skips with a NOTICE.  Deletes runs
 * older than fk_guard.audit_retention (default 90 days).  No SET clause:
 * PostgreSQL forbids COMMIT in procedures that have one, so every name is
 * qualified instead.
 */
CREATE PROCEDURE fk_audit_run(target regclass DEFAULT NULL)
LANGUAGE plpgsql
AS $$
DECLARE
    -- pg_advisory_lock key: 'fk_audit' in ASCII
    audit_lock CONSTANT bigint := 7380097286562670964;
    retention interval;
    run bigint;
    tables regclass[];
    child regclass;
    checked integer := 0;
    with_orphans integer := 0;
    orphans bigint := 0;
    holder integer;
BEGIN
    IF pg_catalog.pg_is_in_recovery() THEN
        RAISE EXCEPTION 'fk_audit_run cannot run on a hot standby'
            USING ERRCODE = 'read_only_sql_transaction',
                  HINT = 'Run it on the primary. fk_audit, fk_orphans() and fk_orphan_summary() work on a standby.';
    END IF;
    IF @extschema@.fk_guard_in_transaction_block() THEN
        RAISE EXCEPTION 'fk_audit_run cannot run inside a transaction block'
            USING ERRCODE = 'active_sql_transaction',
                  HINT = 'It commits after each table. CALL it on its own, outside BEGIN ... COMMIT.';
    END IF;
    retention := COALESCE(
        NULLIF(pg_catalog.current_setting('fk_guard.audit_retention', true), ''), '90 days')::interval;

    -- A lock left by a cancelled audit in this same session is ours to drop.
    IF EXISTS (SELECT FROM pg_catalog.pg_locks
                WHERE locktype = 'advisory' AND pid = pg_catalog.pg_backend_pid() AND granted
                  AND classid = (audit_lock >> 32)::oid AND objid = (audit_lock & 4294967295)::oid
                  AND objsubid = 1) THEN
        PERFORM pg_catalog.pg_advisory_unlock(audit_lock);
    END IF;
    IF NOT pg_catalog.pg_try_advisory_lock(audit_lock) THEN
        SELECT l.pid INTO holder FROM pg_catalog.pg_locks l
         WHERE l.locktype = 'advisory' AND l.granted
           AND l.classid = (audit_lock >> 32)::oid AND l.objid = (audit_lock & 4294967295)::oid AND l.objsubid = 1;
        RAISE NOTICE 'fk_guard: another fk_audit_run is already running (pid %), skipping', holder;
        RETURN;
    END IF;

    -- Runs left "running" were cancelled or failed: we hold the lock now.
    UPDATE @extschema@.fk_audit_runs SET status = 'interrupted' WHERE status = 'running';
    DELETE FROM @extschema@.fk_audit_results
     WHERE run_id IN (SELECT run_id FROM @extschema@.fk_audit_runs WHERE started_at < pg_catalog.now() - retention);
    DELETE FROM @extschema@.fk_audit_runs WHERE started_at < pg_catalog.now() - retention;
    INSERT INTO @extschema@.fk_audit_runs (target) VALUES (target::text) RETURNING run_id INTO run;

    SELECT pg_catalog.array_agg(DISTINCT c.conrelid::regclass ORDER BY c.conrelid::regclass)
      INTO tables
      FROM pg_catalog.pg_constraint c
     WHERE c.contype = 'f' AND c.conparentid = 0 AND (target IS NULL OR c.conrelid = target);
    IF target IS NOT NULL AND tables IS NULL THEN
        -- Bad targets (views, missing tables) get fk_orphan_summary's error.
        PERFORM pg_catalog.count(*) FROM @extschema@.fk_orphan_summary(target);
    END IF;
    COMMIT;

    FOREACH child IN ARRAY COALESCE(tables, '{}') LOOP
        BEGIN
            INSERT INTO @extschema@.fk_audit_results
                   (run_id, constraint_oid, constraint_name, child_table, parent_table, checked_at,
                    validated, orphan_rows, missing_keys)
            SELECT run, c.oid, s.constraint_name,
                   pg_catalog.format('%I.%I', cn.nspname, cr.relname),
                   pg_catalog.format('%I.%I', pn.nspname, pr.relname),
                   pg_catalog.clock_timestamp(), s.validated, s.orphan_rows, s.missing_keys
              FROM @extschema@.fk_orphan_summary(child) s
              JOIN pg_catalog.pg_constraint c
                ON c.conrelid = s.child_table AND c.conname = s.constraint_name AND c.contype = 'f'
              JOIN pg_catalog.pg_class cr ON cr.oid = c.conrelid
              JOIN pg_catalog.pg_namespace cn ON cn.oid = cr.relnamespace
              JOIN pg_catalog.pg_class pr ON pr.oid = c.confrelid
              JOIN pg_catalog.pg_namespace pn ON pn.oid = pr.relnamespace;
        EXCEPTION
            WHEN insufficient_privilege OR undefined_table THEN
                -- Dropped meanwhile, or not readable by the role running the audit.
                RAISE NOTICE 'fk_guard: audit skipped table %: %', child, SQLERRM;
        END;
        SELECT pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE r.orphan_rows > 0),
               COALESCE(pg_catalog.sum(r.orphan_rows), 0)
          INTO checked, with_orphans, orphans
          FROM @extschema@.fk_audit_results r WHERE r.run_id = run;
        UPDATE @extschema@.fk_audit_runs
           SET foreign_keys = checked, foreign_keys_with_orphans = with_orphans, orphan_rows = orphans
         WHERE run_id = run;
        COMMIT;
    END LOOP;

    UPDATE @extschema@.fk_audit_runs SET status = 'completed', finished_at = pg_catalog.clock_timestamp()
     WHERE run_id = run;
    COMMIT;
    PERFORM pg_catalog.pg_advisory_unlock(audit_lock);
    IF orphans > 0 THEN
        -- For log-based alerting.
        RAISE WARNING 'fk_guard: % orphaned rows in % foreign keys', orphans, with_orphans
            USING HINT = pg_catalog.format('SELECT * FROM %s.fk_audit_results WHERE run_id = %s AND orphan_rows > 0',
                                           pg_catalog.quote_ident('@extschema@'), run);
    END IF;
END
$$;

-- It writes the history tables: for their owner, or whoever they grant it to.
REVOKE ALL ON PROCEDURE fk_audit_run(regclass) FROM PUBLIC;

COMMENT ON PROCEDURE fk_audit_run(regclass) IS
'checks every foreign key (or those of target) for orphans and records the results in fk_audit_runs and fk_audit_results';

-- The findings of one foreign key, as a jsonb array of
-- {code, severity, message, fix}; the fix is SQL, quoted for any identifier.
CREATE FUNCTION fk_audit_findings(
    con oid, indexed boolean, mismatched boolean, enforced boolean,
    orphans_at_last_audit bigint, violations_24h bigint)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
WITH c AS (
    SELECT c.*, format('%I.%I', cn.nspname, cr.relname) AS child, cr.relkind AS child_kind,
           format('%I.%I', pn.nspname, pr.relname) AS parent,
           (SELECT string_agg(format('%I', a.attname), ', ' ORDER BY k.n)
              FROM unnest(c.conkey) WITH ORDINALITY k(attnum, n)
              JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum) AS columns
      FROM pg_constraint c
      JOIN pg_class cr ON cr.oid = c.conrelid JOIN pg_namespace cn ON cn.oid = cr.relnamespace
      JOIN pg_class pr ON pr.oid = c.confrelid JOIN pg_namespace pn ON pn.oid = pr.relnamespace
     WHERE c.oid = con
)
SELECT coalesce(jsonb_agg(f.finding ORDER BY f.n), '[]'::jsonb)
  FROM c, LATERAL (
    SELECT 1, jsonb_build_object('code', 'unindexed_fk', 'severity', 'warning',
               'message', format('No index on %s (%s): each DELETE or key UPDATE on %s scans %s.',
                                 c.child, c.columns, c.parent, c.child),
               'fix', format('CREATE INDEX %sON %s (%s);',
                             CASE WHEN c.child_kind = 'p' THEN '' ELSE 'CONCURRENTLY ' END, c.child, c.columns))
     WHERE NOT indexed
    UNION ALL
    SELECT 2, jsonb_build_object('code', 'not_valid', 'severity', 'warning',
               'message', 'The constraint is NOT VALID: rows that existed when it was added were never checked.',
               'fix', format('ALTER TABLE %s VALIDATE CONSTRAINT %I;', c.child, c.conname))
     WHERE NOT c.convalidated
    UNION ALL
    SELECT 3, jsonb_build_object('code', 'disabled_triggers', 'severity', 'error',
               'message', 'Its RI triggers are disabled: new rows are not checked at all.',
               'fix', (SELECT string_agg(DISTINCT format('ALTER TABLE %I.%I ENABLE TRIGGER ALL;', n.nspname, r.relname), ' ')
                         FROM pg_trigger t JOIN pg_class r ON r.oid = t.tgrelid
                         JOIN pg_namespace n ON n.oid = r.relnamespace
                        WHERE t.tgenabled = 'D' AND t.tgconstraint IN (
                              WITH RECURSIVE family(oid) AS (
                                  SELECT c.oid UNION ALL
                                  SELECT k.oid FROM pg_constraint k JOIN family f ON k.conparentid = f.oid)
                              SELECT oid FROM family)))
     WHERE NOT enforced
    UNION ALL
    SELECT 4, jsonb_build_object('code', 'type_mismatch', 'severity', 'warning',
               'message', 'A foreign-key column''s type differs from the referenced column''s: every check needs a cast.',
               'fix', (SELECT string_agg(format('ALTER TABLE %s ALTER COLUMN %I TYPE %s;', c.child, fa.attname,
                                                format_type(pa.atttypid, pa.atttypmod)), ' ' ORDER BY k.n)
                         FROM unnest(c.conkey, c.confkey) WITH ORDINALITY k(fk, pk, n)
                         JOIN pg_attribute fa ON fa.attrelid = c.conrelid AND fa.attnum = k.fk
                         JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = k.pk
                        WHERE fa.atttypid <> pa.atttypid))
     WHERE mismatched
    UNION ALL
    SELECT 5, jsonb_build_object('code', 'partial_null_key', 'severity', 'warning',
               'message', 'A multi-column MATCH SIMPLE key with nullable columns: a row with some key columns NULL is never checked.',
               'fix', (SELECT string_agg(format('ALTER TABLE %s ALTER COLUMN %I SET NOT NULL;', c.child, a.attname), ' '
                                         ORDER BY k.n)
                         FROM unnest(c.conkey) WITH ORDINALITY k(attnum, n)
                         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
                        WHERE NOT a.attnotnull))
     WHERE c.confmatchtype = 's' AND cardinality(c.conkey) > 1
       AND EXISTS (SELECT FROM pg_attribute a
                    WHERE a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) AND NOT a.attnotnull)
    UNION ALL
    SELECT 6, jsonb_build_object('code', 'not_deferrable_bulk_load', 'severity', 'info',
               'message', format('%s is marked as bulk-loaded, but the constraint is NOT DEFERRABLE: parents must be loaded before children.',
                                 (SELECT string_agg(b.table_name::text, ' and ') FROM @extschema@.fk_guard_bulk_loaded b
                                   WHERE b.table_name IN (c.conrelid, c.confrelid))),
               'fix', format('ALTER TABLE %s ALTER CONSTRAINT %I DEFERRABLE INITIALLY DEFERRED;', c.child, c.conname))
     WHERE NOT c.condeferrable
       AND EXISTS (SELECT FROM @extschema@.fk_guard_bulk_loaded b WHERE b.table_name IN (c.conrelid, c.confrelid))
    UNION ALL
    SELECT 7, jsonb_build_object('code', 'orphans_found', 'severity', 'error',
               'message', format('The last audit found %s orphaned rows.', orphans_at_last_audit),
               'fix', format('SELECT * FROM %s.fk_orphans(%L::regclass);', quote_ident('@extschema@'), c.child))
     WHERE orphans_at_last_audit > 0
    UNION ALL
    SELECT 8, jsonb_build_object('code', 'recent_violations', 'severity', 'warning',
               'message', format('%s violations in the last 24 hours.', violations_24h),
               'fix', format('SELECT * FROM %s.fk_violations WHERE constraint_name = %L ORDER BY ts DESC;',
                             quote_ident('@extschema@'), c.conname))
     WHERE violations_24h > 0
  ) AS f(n, finding)
$$;

COMMENT ON FUNCTION fk_audit_findings(oid, boolean, boolean, boolean, bigint, bigint) IS
'the findings fk_audit shows for one foreign key';

CREATE VIEW fk_audit AS
WITH declared AS (
    SELECT c.* FROM pg_catalog.pg_constraint c WHERE c.contype = 'f' AND c.conparentid = 0
), described AS (
    SELECT d.oid,
           d.conname AS constraint_name,
           d.conrelid::regclass AS child_table,
           d.confrelid::regclass AS parent_table,
           ARRAY(SELECT a.attname FROM unnest(d.conkey) WITH ORDINALITY k(attnum, n)
                   JOIN pg_catalog.pg_attribute a ON a.attrelid = d.conrelid AND a.attnum = k.attnum
                  ORDER BY k.n) AS fk_columns,
           ARRAY(SELECT a.attname FROM unnest(d.confkey) WITH ORDINALITY k(attnum, n)
                   JOIN pg_catalog.pg_attribute a ON a.attrelid = d.confrelid AND a.attnum = k.attnum
                  ORDER BY k.n) AS parent_columns,
           CASE d.confmatchtype WHEN 'f' THEN 'FULL' WHEN 'p' THEN 'PARTIAL' ELSE 'SIMPLE' END AS match_type,
           CASE d.confupdtype WHEN 'r' THEN 'RESTRICT' WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL'
                              WHEN 'd' THEN 'SET DEFAULT' ELSE 'NO ACTION' END AS on_update,
           CASE d.confdeltype WHEN 'r' THEN 'RESTRICT' WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL'
                              WHEN 'd' THEN 'SET DEFAULT' ELSE 'NO ACTION' END AS on_delete,
           d.condeferrable AS deferrable,
           d.condeferred AS initially_deferred,
           d.convalidated AS validated,
           -- Enforced unless an RI trigger of the constraint or of its partition clones is disabled.
           NOT EXISTS (
               WITH RECURSIVE family(oid) AS (
                   SELECT d.oid UNION ALL
                   SELECT k.oid FROM pg_catalog.pg_constraint k JOIN family f ON k.conparentid = f.oid)
               SELECT FROM pg_catalog.pg_trigger t
                WHERE t.tgconstraint IN (SELECT oid FROM family) AND t.tgenabled = 'D') AS enforced,
           -- A valid, non-partial btree index whose leading columns are the key's, in any order.
           EXISTS (
               SELECT FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
                 JOIN pg_catalog.pg_am am ON am.oid = ic.relam
                WHERE i.indrelid = d.conrelid AND i.indpred IS NULL AND am.amname = 'btree'
                  AND i.indisvalid
                  AND i.indnkeyatts >= cardinality(d.conkey)
                  AND ARRAY(SELECT x FROM unnest((i.indkey::int2[])[0:cardinality(d.conkey) - 1]) x ORDER BY x)
                      = ARRAY(SELECT x FROM unnest(d.conkey) x ORDER BY x)) AS fk_indexed,
           EXISTS (
               SELECT FROM unnest(d.conkey, d.confkey) k(fk, pk)
                 JOIN pg_catalog.pg_attribute fa ON fa.attrelid = d.conrelid AND fa.attnum = k.fk
                 JOIN pg_catalog.pg_attribute pa ON pa.attrelid = d.confrelid AND pa.attnum = k.pk
                WHERE fa.atttypid <> pa.atttypid) AS type_mismatch
      FROM declared d
)
SELECT s.constraint_name, s.child_table, s.parent_table, s.fk_columns, s.parent_columns,
       s.match_type, s.on_update, s.on_delete, s.deferrable, s.initially_deferred, s.validated, s.enforced,
       s.fk_indexed, s.type_mismatch,
       CASE WHEN @extschema@.fk_guard_preloaded() THEN COALESCE(v.violations, 0) END AS violations,
       v.last_violation_at,
       a.checked_at AS last_audit_at,
       a.orphan_rows AS orphans_at_last_audit,
       @extschema@.fk_audit_findings(s.oid, s.fk_indexed, s.type_mismatch, s.enforced, a.orphan_rows,
                                     v.violations_24h) AS findings
  FROM described s
  LEFT JOIN @extschema@.fk_guard_constraint_violations() v ON v.constraint_oid = s.oid
  LEFT JOIN LATERAL (
      SELECT r.checked_at, r.orphan_rows FROM @extschema@.fk_audit_results r
       WHERE r.constraint_oid = s.oid ORDER BY r.checked_at DESC LIMIT 1) a ON true
 -- Like fk_orphans: a reader sees the foreign keys of the tables they may read.
 WHERE pg_catalog.has_table_privilege(s.child_table, 'SELECT')
    OR pg_catalog.pg_has_role('pg_read_all_stats', 'MEMBER');

COMMENT ON VIEW fk_audit IS
'one row per declared foreign key: its health, and the fix for each finding';

GRANT SELECT ON fk_audit TO PUBLIC;
