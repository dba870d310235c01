-- fk_orphans runs with the caller's privileges and never shows more than
-- PostgreSQL would: checking a foreign key needs SELECT on the referencing table
-- and on the referenced key columns, and no row-level security on either side.

CREATE ROLE fkg_auditor;
CREATE TABLE priv_parent (id int PRIMARY KEY, secret text);
CREATE TABLE priv_child (id int, parent_id int REFERENCES priv_parent);
CREATE TABLE hidden_child (id int, parent_id int REFERENCES priv_parent);
CREATE TABLE hidden_parent (id int PRIMARY KEY);
CREATE TABLE child_of_hidden (id int, parent_id int REFERENCES hidden_parent);
CREATE TABLE rls_parent (id int PRIMARY KEY, owner_name text);
CREATE TABLE child_of_rls (id int, parent_id int REFERENCES rls_parent);
CREATE TABLE rls_child (id int, parent_id int REFERENCES priv_parent, owner_name text);
INSERT INTO priv_parent VALUES (1, 'top secret');
INSERT INTO rls_parent VALUES (1, 'someone else');
SET session_replication_role = replica;
INSERT INTO priv_child VALUES (1, 1), (2, 2);
INSERT INTO hidden_child VALUES (1, 3);
INSERT INTO child_of_hidden VALUES (1, 4);
INSERT INTO child_of_rls VALUES (1, 1), (2, 5);
INSERT INTO rls_child VALUES (1, 6, 'fkg_auditor');
RESET session_replication_role;

-- Column privileges on the referenced key are enough on the parent side.
GRANT SELECT ON priv_child, child_of_hidden, child_of_rls, rls_child, rls_parent TO fkg_auditor;
GRANT SELECT (id) ON priv_parent TO fkg_auditor;
ALTER TABLE rls_parent ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON rls_parent USING (owner_name = current_user);
ALTER TABLE rls_child ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON rls_child USING (owner_name = current_user);

SET ROLE fkg_auditor;

-- The all-tables scan skips what the role cannot check, named in one NOTICE.
SELECT constraint_name, child_table, key FROM fk_orphans();
SELECT constraint_name, orphan_rows FROM fk_orphan_summary();

-- A readable target works.
SELECT constraint_name, key FROM fk_orphans('priv_child');

-- An unreadable target gets PostgreSQL's permission error, on either side.
SELECT * FROM fk_orphans('hidden_child');
SELECT * FROM fk_orphans('child_of_hidden');
SELECT * FROM fk_orphan_summary('hidden_child');

-- Row-level security would hide parents (or children): refused, not misjudged.
SELECT * FROM fk_orphans('child_of_rls');
SELECT * FROM fk_orphans('rls_child');

RESET ROLE;

-- The table owner sees everything, including what the policy hid.
SELECT constraint_name, child_table, key FROM fk_orphans();

DROP TABLE priv_child, hidden_child, child_of_hidden, hidden_parent, child_of_rls, rls_parent,
  rls_child, priv_parent;
DROP ROLE fkg_auditor;
