-- fk_audit: one row per declared foreign key, every column and finding, with
-- fixes that are executed here to prove they are valid SQL for any identifier.

CREATE SCHEMA "Audit ""Zone""";
CREATE TABLE au_parent (id int PRIMARY KEY);
CREATE TABLE au_clean (
  id int,
  parent_id int NOT NULL REFERENCES au_parent ON DELETE CASCADE ON UPDATE RESTRICT DEFERRABLE
);
CREATE INDEX ON au_clean (parent_id, id);
CREATE TABLE "Audit ""Zone"""."Clients Spéciaux" (
  "ID client" int,
  "Région" text,
  PRIMARY KEY ("Région", "ID client")
);
CREATE TABLE "Audit ""Zone"""."Commandes;--" (
  id int,
  "Client's ID" bigint,
  "Région" text
);
INSERT INTO "Audit ""Zone"""."Clients Spéciaux" VALUES (1, 'Île-de-France');
INSERT INTO "Audit ""Zone"""."Commandes;--" VALUES (1, 1, 'Île-de-France'), (2, 2, 'Bretagne');
ALTER TABLE "Audit ""Zone"""."Commandes;--" ADD CONSTRAINT "FK ""clients"";--"
  FOREIGN KEY ("Région", "Client's ID") REFERENCES "Audit ""Zone"""."Clients Spéciaux" ("Région", "ID client")
  MATCH SIMPLE NOT VALID;
ALTER TABLE "Audit ""Zone"""."Commandes;--" DISABLE TRIGGER ALL;
INSERT INTO fk_guard_bulk_loaded (table_name, note) VALUES ('"Audit ""Zone"""."Commandes;--"', 'nightly import');

-- Every column of both rows (no audit yet; violations are NULL without preloading).
\x on
SELECT constraint_name, child_table, parent_table, fk_columns, parent_columns, match_type, on_update,
       on_delete, "deferrable", initially_deferred, validated, enforced, fk_indexed, type_mismatch,
       violations, last_violation_at, last_audit_at, orphans_at_last_audit
  FROM fk_audit ORDER BY constraint_name;
\x off

-- The clean one has no findings; the other has one of each kind it deserves.
SELECT constraint_name, jsonb_array_length(findings) FROM fk_audit ORDER BY constraint_name;
SELECT f->>'code' AS code, f->>'severity' AS severity, f->>'message' AS message, f->>'fix' AS fix,
       f->>'run_as' AS run_as
  FROM fk_audit, jsonb_array_elements(findings) f
 WHERE constraint_name = 'FK "clients";--';

-- An audit records orphans, warns, and shows up in fk_audit.
\set VERBOSITY terse
CALL fk_audit_run();
\set VERBOSITY default
SELECT target, status, foreign_keys, foreign_keys_with_orphans, orphan_rows, finished_at >= started_at AS finished
  FROM fk_audit_runs;
SELECT constraint_name, child_table, parent_table, validated, orphan_rows, missing_keys FROM fk_audit_results
 ORDER BY constraint_name;
SELECT constraint_name, last_audit_at IS NOT NULL AS audited, orphans_at_last_audit FROM fk_audit
 ORDER BY constraint_name;
SELECT f->>'code' AS code, f->>'fix' AS fix, f->>'execute' AS execute, f->>'run_as' AS run_as
  FROM fk_audit, jsonb_array_elements(findings) f
 WHERE f->>'code' = 'orphans_found';

-- The fixes work: the orphans finding's dry run (its statement not shown), then
-- its repair, then every other suggested statement as it is (one per line).
SELECT format('SELECT key, rows, statement IS NOT NULL AS has_statement FROM (%s) s', rtrim(f->>'fix', ';'))
  FROM fk_audit, jsonb_array_elements(findings) f WHERE f->>'code' = 'orphans_found' \gexec
SELECT f->>'execute' FROM fk_audit, jsonb_array_elements(findings) f WHERE f->>'code' = 'orphans_found' \gexec
SELECT s.statement
  FROM fk_audit, jsonb_array_elements(findings) WITH ORDINALITY f(f, fn),
       regexp_split_to_table(f->>'fix', '(?<=;) (?=[A-Z])') WITH ORDINALITY AS s(statement, n)
 WHERE f->>'code' NOT IN ('orphans_found', 'recent_violations')
 ORDER BY CASE f->>'code' WHEN 'disabled_triggers' THEN 1 WHEN 'type_mismatch' THEN 2 ELSE 3 END, fn, n \gexec
CALL fk_audit_run('"Audit ""Zone"""."Commandes;--"');
SELECT constraint_name, "deferrable", initially_deferred, validated, enforced, fk_indexed, type_mismatch,
       orphans_at_last_audit, findings
  FROM fk_audit ORDER BY constraint_name;

-- A target restricts the audit to that table's foreign keys; a bad one is refused.
SELECT run_id, target, foreign_keys, status FROM fk_audit_runs ORDER BY run_id;
CALL fk_audit_run('au_parent');
SELECT target, foreign_keys, status FROM fk_audit_runs ORDER BY run_id DESC LIMIT 1;
CREATE VIEW au_view AS SELECT 1;
CALL fk_audit_run('au_view');
CALL fk_audit_run(0);

-- Runs left "running" (cancelled) become "interrupted"; old runs expire
-- after fk_guard.audit_retention (90 days by default).
INSERT INTO fk_audit_runs (started_at, status) VALUES (now() - interval '1 hour', 'running');
INSERT INTO fk_audit_runs (started_at, status) VALUES (now() - interval '100 days', 'completed');
INSERT INTO fk_audit_results VALUES (currval('fk_audit_runs_run_id_seq'), 1, 'old', 'x', 'y', now() - interval '100 days', true, 0, 0);
CALL fk_audit_run();
SELECT status, count(*) FROM fk_audit_runs GROUP BY status ORDER BY status;
SELECT count(*) AS old_results FROM fk_audit_results WHERE constraint_name = 'old';
SET fk_guard.audit_retention = '1 minute';
UPDATE fk_audit_runs SET started_at = started_at - interval '2 minutes';
CALL fk_audit_run();
SELECT count(*) AS runs_kept FROM fk_audit_runs;
RESET fk_guard.audit_retention;
-- The retention is checked when set: an audit deletes what is older, so a
-- typo or a non-positive interval must not empty the history.
SET fk_guard.audit_retention = 'ninety days';
SET fk_guard.audit_retention = '0';
SET fk_guard.audit_retention = '-1 day';
SHOW fk_guard.audit_retention;

-- Inside a transaction block the audit cannot commit per table.
BEGIN;
CALL fk_audit_run();
ROLLBACK;

-- A reader sees the foreign keys of the tables they may read, and may not
-- run audits unless granted.
CREATE ROLE au_reader;
GRANT SELECT ON au_clean TO au_reader;
SET ROLE au_reader;
SELECT constraint_name FROM fk_audit;
CALL fk_audit_run();
SET fk_guard.audit_retention = '1 second';
RESET ROLE;
REVOKE ALL ON au_clean FROM au_reader;
DROP ROLE au_reader;

-- Two declared foreign keys of one partition tree may share a name: each
-- audit result is the one of the foreign key that was checked.
CREATE TABLE au_p1 (id int PRIMARY KEY);
CREATE TABLE au_p2 (id int PRIMARY KEY);
CREATE TABLE au_r (a int, b int) PARTITION BY LIST (a);
CREATE TABLE au_m PARTITION OF au_r FOR VALUES IN (1) PARTITION BY LIST (b);
CREATE TABLE au_l PARTITION OF au_m FOR VALUES IN (1, 2, 3);
ALTER TABLE au_m ADD CONSTRAINT fk FOREIGN KEY (b) REFERENCES au_p2 (id);
ALTER TABLE au_r ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES au_p1 (id);
INSERT INTO au_p1 VALUES (1);
SET session_replication_role = replica;
INSERT INTO au_r VALUES (1, 1), (1, 2), (1, 3);
RESET session_replication_role;
CALL fk_audit_run();
SELECT s.child_table, s.orphan_rows AS summary_orphans, r.orphan_rows AS audit_orphans
  FROM fk_orphan_summary() s
  JOIN pg_constraint c ON c.conname = s.constraint_name AND c.conrelid = s.child_table
  JOIN fk_audit_results r ON r.constraint_oid = c.oid
 WHERE r.run_id = (SELECT max(run_id) FROM fk_audit_runs) AND s.constraint_name = 'fk'
 ORDER BY s.child_table::text;
-- A disabled RI trigger on a leaf partition is a finding of each declared
-- foreign key whose clone it belongs to, named by the declared constraint.
ALTER TABLE au_l DISABLE TRIGGER ALL;
SELECT child_table, enforced,
       jsonb_path_query_first(findings, '$[*] ? (@.code == "disabled_triggers")') ->> 'fix' AS fix
  FROM fk_audit WHERE constraint_name = 'fk' ORDER BY child_table::text;
SELECT k.conrelid::regclass AS clone_on,
       (SELECT conrelid::regclass FROM pg_constraint WHERE oid = fk_guard_declared_constraint(k.oid)) AS declared_on
  FROM pg_constraint k WHERE k.contype = 'f' AND k.conrelid = 'au_l'::regclass ORDER BY 2;
ALTER TABLE au_l ENABLE TRIGGER ALL;
SELECT count(*) AS still_flagged FROM fk_audit WHERE constraint_name = 'fk' AND NOT enforced;
DROP TABLE au_r, au_p1, au_p2;

-- pg_dump keeps the history and the marked tables.
SELECT unnest(extconfig)::regclass AS dumped FROM pg_extension WHERE extname = 'fk_guard' ORDER BY dumped::text;

DROP VIEW au_view;
DROP TABLE au_clean, au_parent;
DROP SCHEMA "Audit ""Zone""" CASCADE;
DELETE FROM fk_guard_bulk_loaded;
