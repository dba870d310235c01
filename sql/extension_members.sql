-- Foreign keys of tables that belong to an extension (pg_depend 'e') are left
-- out of the all-tables checks unless fk_guard.include_extension_tables is on.
-- contrib/spi's autoinc (Debian's contrib, and the servers the version matrix
-- builds, which install contrib/spi) owns no table: ALTER EXTENSION ... ADD TABLE
-- makes a scratch table its member, as Citus's pg_dist_* tables are Citus's.
CREATE EXTENSION autoinc;
CREATE TABLE ext_parent (id int PRIMARY KEY);
INSERT INTO ext_parent VALUES (1);
CREATE TABLE ext_child (id int, parent_id int);
INSERT INTO ext_child VALUES (1, 1), (2, 2);
ALTER TABLE ext_child ADD CONSTRAINT ext_child_parent_fkey FOREIGN KEY (parent_id) REFERENCES ext_parent NOT VALID;
-- A user table referencing the member parent stays covered: the rule is the referencing table's.
CREATE TABLE user_child (parent_id int);
INSERT INTO user_child VALUES (3);
ALTER TABLE user_child ADD CONSTRAINT user_child_parent_fkey FOREIGN KEY (parent_id) REFERENCES ext_parent NOT VALID;
ALTER EXTENSION autoinc ADD TABLE ext_child;
ALTER EXTENSION autoinc ADD TABLE ext_parent;

SHOW fk_guard.include_extension_tables;
-- Default: the member's key is left out of every all-tables check.
SELECT constraint_name, child_table, key FROM fk_orphans() WHERE constraint_name LIKE '%_parent_fkey' ORDER BY 1;
SELECT constraint_name, orphan_rows FROM fk_orphan_summary() WHERE constraint_name LIKE '%_parent_fkey' ORDER BY 1;
SELECT constraint_name, child_table FROM fk_audit WHERE constraint_name LIKE '%_parent_fkey' ORDER BY 1;
SELECT fk_audit_tables(NULL) @> ARRAY['ext_child'::regclass] AS audits_member,
       fk_audit_tables(NULL) @> ARRAY['user_child'::regclass] AS audits_user_table;
-- Named as target, the member is checked (as pg_dump -t dumps a member table).
SELECT constraint_name, key FROM fk_orphans('ext_child');
SELECT fk_audit_tables('ext_child');

-- Included on request.
SET fk_guard.include_extension_tables = on;
SELECT constraint_name, child_table, key FROM fk_orphans() WHERE constraint_name LIKE '%_parent_fkey' ORDER BY 1;
SELECT constraint_name, orphan_rows FROM fk_orphan_summary() WHERE constraint_name LIKE '%_parent_fkey' ORDER BY 1;
SELECT constraint_name, child_table FROM fk_audit WHERE constraint_name LIKE '%_parent_fkey' ORDER BY 1;
SELECT fk_audit_tables(NULL) @> ARRAY['ext_child'::regclass] AS audits_member;
RESET fk_guard.include_extension_tables;

-- The setting widens nothing past what a role may read: an ordinary role that
-- turns it on still sees only the keys of tables it may read.
CREATE ROLE fkg_ext_reader;
GRANT SELECT ON user_child, ext_parent TO fkg_ext_reader;
SET ROLE fkg_ext_reader;
SET fk_guard.include_extension_tables = on;
SELECT constraint_name, key FROM fk_orphans() WHERE constraint_name LIKE '%_parent_fkey' ORDER BY 1;
SELECT constraint_name FROM fk_audit WHERE constraint_name LIKE '%_parent_fkey' ORDER BY 1;
SELECT constraint_name, key FROM fk_orphans('ext_child');
RESET fk_guard.include_extension_tables;
RESET ROLE;

-- An audit of every table leaves the member out by default.
SET client_min_messages = error; -- its WARNING names the run, which depends on earlier files
CALL fk_audit_run();
RESET client_min_messages;
SELECT constraint_name, orphan_rows FROM fk_audit_results
 WHERE run_id = (SELECT max(run_id) FROM fk_audit_runs) AND constraint_name LIKE '%_parent_fkey' ORDER BY 1;

-- So does an incremental one: the member's key, never checked, is not taken
-- for one that may hold new orphans, nor carried into the run.
SET client_min_messages = error;
CALL fk_audit_run(incremental => true);
RESET client_min_messages;
SELECT r.incremental, x.constraint_name, x.carried_from IS NOT NULL AS carried
  FROM fk_audit_results x JOIN fk_audit_runs r USING (run_id)
 WHERE run_id = (SELECT max(run_id) FROM fk_audit_runs) AND constraint_name LIKE '%_parent_fkey' ORDER BY 2;
-- Included on request, as in a full run.
SET fk_guard.include_extension_tables = on;
SET client_min_messages = error;
CALL fk_audit_run(incremental => true);
RESET client_min_messages;
RESET fk_guard.include_extension_tables;
SELECT x.constraint_name, x.orphan_rows, x.carried_from IS NOT NULL AS carried FROM fk_audit_results x
 WHERE run_id = (SELECT max(run_id) FROM fk_audit_runs) AND constraint_name LIKE '%_parent_fkey' ORDER BY 1;

DROP TABLE user_child;
DROP EXTENSION autoinc; -- drops its members
SELECT to_regclass('ext_child') IS NULL AS member_dropped;
DROP ROLE fkg_ext_reader;
