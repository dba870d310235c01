-- Bypass tracking, preloaded (make installcheck-preloaded): every way a write
-- escapes its foreign key's RI triggers is counted per declared foreign key,
-- exactly; a checked write, or a bypassed one rolled back, counts nothing.
-- One foreign key per path, so that each count stands alone, in a database of
-- its own (audits check every table).
SELECT current_database() AS regress_db \gset
CREATE DATABASE fkg_bypass;
\c fkg_bypass
CREATE EXTENSION fk_guard;
SELECT fk_guard_preloaded();
SET client_min_messages = warning;

CREATE TABLE bp_p (id int PRIMARY KEY);
INSERT INTO bp_p SELECT generate_series(1, 10);
CREATE TABLE bp_ins (id int, pid int CONSTRAINT bp_ins_fk REFERENCES bp_p);
CREATE TABLE bp_copy (id int, pid int CONSTRAINT bp_copy_fk REFERENCES bp_p);
CREATE TABLE bp_upd (id int, pid int CONSTRAINT bp_upd_fk REFERENCES bp_p);
INSERT INTO bp_upd VALUES (1, 1), (2, 2);
CREATE TABLE bp_merge (id int PRIMARY KEY, pid int CONSTRAINT bp_merge_fk REFERENCES bp_p);
INSERT INTO bp_merge VALUES (1, 1);
CREATE TABLE bp_all (id int, pid int CONSTRAINT bp_all_fk REFERENCES bp_p);
CREATE TABLE bp_one (id int, pid int CONSTRAINT bp_one_fk REFERENCES bp_p);
CREATE TABLE bp_normal (id int, pid int CONSTRAINT bp_normal_fk REFERENCES bp_p);
CREATE TABLE bp_rep (id int, pid int CONSTRAINT bp_rep_fk REFERENCES bp_p);
CREATE TABLE bp_rollback (id int, pid int CONSTRAINT bp_rollback_fk REFERENCES bp_p);
CREATE TABLE bp_flip (id int, pid int CONSTRAINT bp_flip_fk REFERENCES bp_p);
CREATE SCHEMA bp_elsewhere;
CREATE TABLE bp_copy_path (id int, pid int CONSTRAINT bp_copy_path_fk REFERENCES bp_p,
                           moved text DEFAULT set_config('search_path', 'bp_elsewhere', false));
CREATE TABLE bp_nv (id int, pid int);
INSERT INTO bp_nv VALUES (1, 99);
ALTER TABLE bp_nv ADD CONSTRAINT bp_nv_fk FOREIGN KEY (pid) REFERENCES bp_p NOT VALID;
-- The referenced side: deleting and updating parents.
CREATE TABLE bp_del_p (id int PRIMARY KEY);
INSERT INTO bp_del_p SELECT generate_series(1, 10);
CREATE TABLE bp_del_c (pid int CONSTRAINT bp_del_fk REFERENCES bp_del_p ON DELETE CASCADE);
INSERT INTO bp_del_c SELECT generate_series(1, 10);
-- Partitioned child and parent.
CREATE TABLE bp_part_c (id int, pid int CONSTRAINT bp_part_c_fk REFERENCES bp_p) PARTITION BY RANGE (id);
CREATE TABLE bp_part_c1 PARTITION OF bp_part_c FOR VALUES FROM (0) TO (100);
CREATE TABLE bp_part_c2 PARTITION OF bp_part_c FOR VALUES FROM (100) TO (200);
CREATE TABLE bp_part_p (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE bp_part_p1 PARTITION OF bp_part_p FOR VALUES FROM (0) TO (100);
CREATE TABLE bp_part_p2 PARTITION OF bp_part_p FOR VALUES FROM (100) TO (200);
INSERT INTO bp_part_p SELECT generate_series(1, 150);
CREATE TABLE bp_part_pc (pid int CONSTRAINT bp_part_p_fk REFERENCES bp_part_p);

-- A full audit: every foreign key was checked after tracking began, so only
-- NOT VALID stands out before anything is bypassed.
CALL fk_audit_run();
SELECT constraint_name, unchecked_rows, reasons FROM fk_bypass_stats ORDER BY 1;

-- session_replication_role = replica: origin-enabled RI triggers do not fire.
SET session_replication_role = replica;
INSERT INTO bp_ins SELECT g, 100 + g FROM generate_series(1, 3) g;
COPY bp_copy FROM stdin;
1	50
2	51
\.
UPDATE bp_upd SET pid = 77 WHERE id = 1;
MERGE INTO bp_merge m USING (VALUES (1, 60), (2, 61)) v(id, pid) ON m.id = v.id
  WHEN MATCHED THEN UPDATE SET pid = v.pid
  WHEN NOT MATCHED THEN INSERT VALUES (v.id, v.pid);
DELETE FROM bp_del_p WHERE id <= 4;
-- Inserting parents cannot orphan a row: it counts nothing.
INSERT INTO bp_p VALUES (11);
UPDATE bp_del_p SET id = id + 100 WHERE id = 5;
INSERT INTO bp_part_c VALUES (150, 1000), (160, 1001);
DELETE FROM bp_part_p WHERE id > 140;
BEGIN;
INSERT INTO bp_rollback VALUES (1, 1000);
ROLLBACK;
RESET session_replication_role;

-- RI triggers disabled: all of them, or the child's INSERT check trigger only.
ALTER TABLE bp_all DISABLE TRIGGER ALL;
INSERT INTO bp_all SELECT g, 200 FROM generate_series(1, 4) g;
ALTER TABLE bp_all ENABLE TRIGGER ALL;
DO $$
BEGIN
  EXECUTE format('ALTER TABLE bp_one DISABLE TRIGGER %I',
                 (SELECT tgname FROM pg_trigger t JOIN pg_constraint c ON c.oid = t.tgconstraint
                   WHERE c.conname = 'bp_one_fk' AND t.tgrelid = 'bp_one'::regclass AND t.tgtype & 4 <> 0));
END $$;
INSERT INTO bp_one VALUES (1, 300), (2, 301);
UPDATE bp_one SET pid = 1;  -- the UPDATE check trigger still fires: checked
ALTER TABLE bp_one ENABLE TRIGGER ALL;
-- One partition's triggers disabled: rows routed to it count, rows routed elsewhere do not.
ALTER TABLE bp_part_c1 DISABLE TRIGGER ALL;
INSERT INTO bp_part_c VALUES (10, 2000), (11, 2001), (12, 2002);
INSERT INTO bp_part_c VALUES (120, 1);
COPY bp_part_c FROM stdin;
13	2003
14	2004
\.
COPY bp_part_c FROM stdin;
130	1
\.
ALTER TABLE bp_part_c1 ENABLE TRIGGER ALL;
-- DISABLE TRIGGER USER leaves RI triggers alone.
ALTER TABLE bp_normal DISABLE TRIGGER USER;
INSERT INTO bp_normal VALUES (1, 1), (2, 2);
ALTER TABLE bp_normal ENABLE TRIGGER USER;
-- ENABLE REPLICA TRIGGER: an RI trigger that fires only in replica sessions
-- leaves origin sessions' writes unchecked, and checks replica ones.
DO $$
BEGIN
  EXECUTE format('ALTER TABLE bp_rep ENABLE REPLICA TRIGGER %I',
                 (SELECT tgname FROM pg_trigger t JOIN pg_constraint c ON c.oid = t.tgconstraint
                   WHERE c.conname = 'bp_rep_fk' AND t.tgrelid = 'bp_rep'::regclass AND t.tgtype & 4 <> 0));
END $$;
INSERT INTO bp_rep VALUES (1, 400);
SET session_replication_role = replica;
INSERT INTO bp_rep VALUES (2, 401);
RESET session_replication_role;
ALTER TABLE bp_rep ENABLE TRIGGER ALL;

-- The role changed while a statement runs: set_config() in RETURNING puts
-- origin back after the rows were written under replica, or a select list
-- switches to replica before they are written.  Every role in effect during
-- the transaction counts, not only the one at the statement's end.
SET session_replication_role = replica;
INSERT INTO bp_flip VALUES (1, 701)
  RETURNING set_config('session_replication_role', 'origin', false) IS NOT NULL AS reset;
SHOW session_replication_role;
INSERT INTO bp_flip SELECT 2, 702 FROM (SELECT set_config('session_replication_role', 'replica', false)) s
  RETURNING set_config('session_replication_role', 'origin', false) IS NOT NULL AS reset;
-- COPY FROM counts for the table it named, though a column default moved the
-- search_path away from it while it ran.
SET session_replication_role = replica;
COPY bp_copy_path (id, pid) FROM stdin;
1	703
\.
RESET search_path;
RESET session_replication_role;
-- A transaction after one with SET LOCAL replica writes checked: nothing counts.
BEGIN;
SET LOCAL session_replication_role = replica;
COMMIT;
INSERT INTO bp_normal VALUES (3, 3);

-- What was written unchecked, per declared foreign key, and why; checked
-- writes (bp_normal, the routed row in bp_part_c2, bp_one's UPDATE) and the
-- rolled-back one count nothing.
SELECT constraint_name, child_table, parent_table, unchecked_rows, reasons, roles,
       first_at <= last_at AS ordered
  FROM fk_bypass_stats ORDER BY 1;

-- fk_audit: rows since the last audit, and the finding with its fix.
SELECT constraint_name, unchecked_rows_since_audit,
       (SELECT f->>'message' FROM jsonb_array_elements(findings) f WHERE f->>'code' = 'ri_bypassed') AS message,
       (SELECT f->>'fix' FROM jsonb_array_elements(findings) f WHERE f->>'code' = 'ri_bypassed') AS fix
  FROM fk_audit WHERE constraint_name::text LIKE 'bp%' ORDER BY 1;

-- An incremental audit checks exactly the tables of the bypassed foreign keys,
-- the NOT VALID one, and carries the others' results forward.
CALL fk_audit_run(incremental => true);
SELECT incremental, status, foreign_keys, foreign_keys_with_orphans, orphan_rows
  FROM fk_audit_runs ORDER BY run_id DESC LIMIT 1;
SELECT constraint_name, child_table, carried_from IS NOT NULL AS carried, orphan_rows
  FROM fk_audit_results WHERE run_id = (SELECT max(run_id) FROM fk_audit_runs)
 ORDER BY carried, constraint_name;
-- The same orphans as a full audit finds.
SELECT r.constraint_name, r.orphan_rows, s.orphan_rows AS fk_orphan_summary
  FROM fk_audit_results r
  JOIN LATERAL (SELECT sum(orphan_rows) AS orphan_rows FROM fk_orphan_summary() s
                 WHERE s.constraint_name = r.constraint_name) s ON true
 WHERE r.run_id = (SELECT max(run_id) FROM fk_audit_runs)
   AND r.orphan_rows IS DISTINCT FROM s.orphan_rows;
-- Audited since: no finding left but NOT VALID's (its own finding, not_valid).
SELECT constraint_name, unchecked_rows_since_audit,
       findings @> '[{"code": "ri_bypassed"}]' AS ri_bypassed
  FROM fk_audit WHERE constraint_name::text LIKE 'bp%' ORDER BY 1;
-- A second incremental audit rechecks only what still may hold orphans:
-- the foreign keys whose last check found some, and the NOT VALID one.
CALL fk_audit_run(incremental => true);
SELECT child_table FROM fk_audit_results
 WHERE run_id = (SELECT max(run_id) FROM fk_audit_runs) AND carried_from IS NULL ORDER BY 1;

-- Bad input: a run this session did not start, NULL and unknown arguments.
\set VERBOSITY terse
SELECT fk_audit_run_tables(424242);
CALL fk_audit_run('bp_p', NULL);  -- incremental NULL: a full audit (bp_p has no foreign keys)
SELECT incremental, foreign_keys, status FROM fk_audit_runs ORDER BY run_id DESC LIMIT 1;
CALL fk_audit_run('pg_class', true);
SELECT count(*) FROM fk_guard_bypass_counter(0);
SELECT count(*) FROM fk_guard_bypass_counter(NULL);
SELECT fk_guard_bypass_reasons(0, now()) AS unknown_constraint;
\set VERBOSITY default

-- Who may do what: any role reads fk_bypass_stats (as fk_violation_stats);
-- only superusers reset the counters; only auditors take the audit's steps.
CREATE ROLE bp_mallory LOGIN;
SET ROLE bp_mallory;
SELECT count(*) > 0 AS sees_rows FROM fk_bypass_stats;
SELECT fk_guard_reset();
SELECT fk_audit_start(NULL, true);
SELECT fk_audit_run_tables(1);
CALL fk_audit_run(incremental => true);
RESET ROLE;

-- fk_guard_reset() empties the counters, and tracking counts as lost from then on.
SELECT fk_guard_reset();
SELECT lost_reason, overflow_rows FROM fk_guard_bypass_tracking();
SELECT count(*) AS counters FROM fk_guard_bypass_counters();
SELECT DISTINCT reasons FROM fk_bypass_stats WHERE constraint_name::text LIKE 'bp%';
-- A standing reason names only the keys audits cover: an extension member's
-- key (never audited) is listed only when fk_guard.include_extension_tables
-- would audit it, or once rows were written to it unchecked.
CREATE EXTENSION autoinc;
CREATE TABLE bpx_parent (id int PRIMARY KEY);
CREATE TABLE bpx_child (parent_id int REFERENCES bpx_parent);
ALTER EXTENSION autoinc ADD TABLE bpx_parent;
ALTER EXTENSION autoinc ADD TABLE bpx_child;
SELECT constraint_name, unchecked_rows, reasons FROM fk_bypass_stats WHERE constraint_name::text LIKE 'bpx%';
SET fk_guard.include_extension_tables = on;
SELECT constraint_name, unchecked_rows, reasons FROM fk_bypass_stats WHERE constraint_name::text LIKE 'bpx%';
RESET fk_guard.include_extension_tables;
SET session_replication_role = replica;
INSERT INTO bpx_child VALUES (7);
RESET session_replication_role;
SELECT constraint_name, unchecked_rows, reasons FROM fk_bypass_stats WHERE constraint_name::text LIKE 'bpx%';
DROP EXTENSION autoinc;

-- ALTER EXTENSION UPDATE from 1.6 keeps audits delegated with GRANT EXECUTE.
DROP EXTENSION fk_guard;
CREATE EXTENSION fk_guard VERSION '1.6';
CREATE ROLE bp_auditor;
GRANT EXECUTE ON PROCEDURE fk_audit_run(regclass) TO bp_auditor;
ALTER EXTENSION fk_guard UPDATE;
SELECT has_function_privilege('bp_auditor', 'fk_audit_run(regclass, boolean)', 'EXECUTE') AS may_audit,
       has_function_privilege('bp_mallory', 'fk_audit_run(regclass, boolean)', 'EXECUTE') AS mallory_may_audit;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO bp_auditor;
SET ROLE bp_auditor;
CALL fk_audit_run('bp_ins', incremental => true);
RESET ROLE;
SELECT target, incremental, status, runner, orphan_rows FROM fk_audit_runs;

\c :regress_db
DROP DATABASE fkg_bypass;
DROP ROLE bp_mallory, bp_auditor;
