-- The kinds of foreign key PostgreSQL 18 added (pg_constraint.conenforced and
-- conperiod): fk_orphans() judges a NOT ENFORCED key as PostgreSQL would judge
-- the rows on ALTER CONSTRAINT ... ENFORCED, and refuses a temporal (PERIOD)
-- one. Before 18 neither exists: the file stops after saying so
-- (expected/foreign_keys_pg18_1.out).
SELECT current_setting('server_version_num')::int >= 180000 AS pg18 \gset
\if :pg18
\else
\echo 'skipped: NOT ENFORCED and PERIOD foreign keys need PostgreSQL 18 or later'
\quit
\endif

-- NOT ENFORCED: PostgreSQL accepts any row, and marks the key NOT VALID.
CREATE TABLE ne_parent (id int PRIMARY KEY);
INSERT INTO ne_parent VALUES (1);
CREATE TABLE ne_child (id int, CONSTRAINT ne_child_id_fkey FOREIGN KEY (id) REFERENCES ne_parent NOT ENFORCED);
INSERT INTO ne_child VALUES (1), (2), (2), (NULL);
SELECT conenforced, convalidated FROM pg_constraint WHERE conname = 'ne_child_id_fkey';
SELECT constraint_name, child_table, parent_table, key FROM fk_orphans('ne_child');
SELECT constraint_name, validated, orphan_rows, missing_keys FROM fk_orphan_summary('ne_child');
-- fk_audit: a NOT ENFORCED key has no RI triggers, yet is not enforced; its
-- fix is ALTER CONSTRAINT ... ENFORCED, since PostgreSQL refuses to VALIDATE it.
SELECT enforced, validated, f->>'code' AS code, f->>'fix' AS fix
  FROM fk_audit, jsonb_array_elements(findings) f
 WHERE constraint_name = 'ne_child_id_fkey' AND f->>'code' IN ('not_valid', 'not_enforced', 'disabled_triggers');
\set VERBOSITY terse
ALTER TABLE ne_child VALIDATE CONSTRAINT ne_child_id_fkey;
\set VERBOSITY default
-- Enforcing it checks the rows: PostgreSQL rejects the same key.
\set VERBOSITY terse
ALTER TABLE ne_child ALTER CONSTRAINT ne_child_id_fkey ENFORCED;
\set VERBOSITY default
DELETE FROM ne_child c USING fk_orphans('ne_child') o WHERE c.ctid = o.child_ctid;
ALTER TABLE ne_child ALTER CONSTRAINT ne_child_id_fkey ENFORCED;
SELECT conenforced, convalidated FROM pg_constraint WHERE conname = 'ne_child_id_fkey';
SELECT count(*) FROM fk_orphans('ne_child');
SELECT enforced, validated, findings FROM fk_audit WHERE constraint_name = 'ne_child_id_fkey';
-- fk_repair with validate => true: PostgreSQL would refuse the VALIDATE after the
-- batches committed, so the repair is refused before any; without validate it
-- repairs, and ALTER CONSTRAINT ... ENFORCED then succeeds.
ALTER TABLE ne_child ALTER CONSTRAINT ne_child_id_fkey NOT ENFORCED;
INSERT INTO ne_child VALUES (3);
\set VERBOSITY terse
CALL fk_repair('ne_child_id_fkey', 'ne_child', 'delete', execute => true, validate => true);
CALL fk_repair('ne_child_id_fkey', 'ne_child', 'delete', validate => true);
\set VERBOSITY default
SELECT count(*) AS orphans_kept FROM fk_orphans('ne_child');
SELECT count(*) AS repairs_recorded FROM fk_guard_repairs WHERE constraint_name = 'ne_child_id_fkey';
\o /dev/null
CALL fk_repair('ne_child_id_fkey', 'ne_child', 'delete', execute => true);
\o
SELECT status, rows, validate FROM fk_guard_repairs WHERE constraint_name = 'ne_child_id_fkey';
ALTER TABLE ne_child ALTER CONSTRAINT ne_child_id_fkey ENFORCED;

-- Temporal (PERIOD): refused by name when asked for, skipped (NOTICE) in the all-tables scan.
CREATE TABLE tp_parent (id int4range, valid_at daterange,
                        CONSTRAINT tp_parent_pk PRIMARY KEY (id, valid_at WITHOUT OVERLAPS));
CREATE TABLE tp_child (id int4range, valid_at daterange, parent_id int4range,
                       CONSTRAINT tp_child_fk FOREIGN KEY (parent_id, PERIOD valid_at)
                         REFERENCES tp_parent (id, PERIOD valid_at));
SELECT * FROM fk_orphans('tp_child');
SELECT constraint_name, child_table FROM fk_orphans();
SELECT constraint_name FROM fk_orphan_summary();

-- fk_precheck: a NOT ENFORCED key rejects no row an INSERT writes, so it is
-- left out (and said so); a temporal key is refused, as by fk_orphans.
CREATE TABLE ne_target (id int, other int REFERENCES ne_parent,
                        CONSTRAINT ne_target_id_fkey FOREIGN KEY (id) REFERENCES ne_parent NOT ENFORCED);
CREATE TABLE ne_stage (id int, other int);
INSERT INTO ne_stage VALUES (5, 1), (1, 6);
SELECT * FROM fk_precheck('ne_stage', 'ne_target');
INSERT INTO ne_target SELECT * FROM ne_stage WHERE id = 5;
CREATE TABLE tp_stage (id int4range, valid_at daterange, parent_id int4range);
SELECT * FROM fk_precheck('tp_stage', 'tp_child');
DROP TABLE tp_child, tp_parent, ne_child, ne_target, ne_stage, tp_stage, ne_parent;
