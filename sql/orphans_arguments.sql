-- Arguments, bad input, and the SQL objects the extension installs.

CREATE TABLE arg_parent (id int PRIMARY KEY);
CREATE TABLE arg_child (parent_id int REFERENCES arg_parent);
SET session_replication_role = replica;
INSERT INTO arg_child VALUES (1), (2), (3);
RESET session_replication_role;

-- NULL means "every table" and "no limit".
SELECT count(*) FROM fk_orphans(NULL, NULL);
SELECT count(*) FROM fk_orphans(target => NULL);
SELECT orphan_rows FROM fk_orphan_summary(NULL);

-- Bad input gets a clear error with an errcode.
CREATE VIEW arg_view AS SELECT * FROM arg_child;
CREATE SEQUENCE arg_seq;
CREATE MATERIALIZED VIEW arg_matview AS SELECT 1 AS x;
SELECT q, fkg_test.error_of(q) FROM (VALUES
  ($$SELECT * FROM fk_orphans('arg_child', -1)$$),
  ($$SELECT * FROM fk_orphans(0)$$),
  ($$SELECT * FROM fk_orphans(4294967295)$$),
  ($$SELECT * FROM fk_orphans('arg_view')$$),
  ($$SELECT * FROM fk_orphan_summary('arg_seq')$$),
  ($$SELECT * FROM fk_orphans('arg_parent_pkey')$$),
  ($$SELECT * FROM fk_orphans('arg_matview')$$),
  ($$SELECT * FROM fk_orphans('no_such_table')$$)) AS t(q);
SELECT * FROM fk_orphans('arg_view');

-- Works in a read-only transaction, and inside a repeatable-read snapshot.
BEGIN TRANSACTION READ ONLY;
SELECT count(*) FROM fk_orphans();
COMMIT;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT orphan_rows FROM fk_orphan_summary('arg_child');
COMMIT;

-- Leaves no lock behind but AccessShareLock, and none after an error.
BEGIN;
SELECT count(*) FROM fk_orphans('arg_child');
SELECT relation::regclass, mode FROM pg_locks
 WHERE pid = pg_backend_pid() AND locktype = 'relation' AND relation IN ('arg_child'::regclass, 'arg_parent'::regclass)
 ORDER BY relation::regclass::text;
COMMIT;
BEGIN;
SELECT * FROM fk_orphans('arg_view');
ROLLBACK;
SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'relation'
   AND relation IN ('arg_child'::regclass, 'arg_parent'::regclass);

-- The functions are usable from other queries and in lateral joins.
SELECT c.relname, (SELECT count(*) FROM fk_orphans(c.oid::regclass)) AS orphans
  FROM pg_class c WHERE c.relname IN ('arg_child', 'arg_parent') ORDER BY 1;

-- What the extension installs, as \dx+ shows it: the objects that depend on it
-- as members.  (PostgreSQL 18 records the row types of its tables and views,
-- and their array types, as members too: left out, as 15 to 17 do.)
SELECT pg_describe_object(d.classid, d.objid, 0) AS "Object description"
  FROM pg_depend d
 WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'fk_guard')
   AND NOT EXISTS (SELECT FROM pg_type t LEFT JOIN pg_type e ON e.oid = t.typelem
                    WHERE d.classid = 'pg_type'::regclass AND t.oid = d.objid
                      AND (t.typrelid <> 0 OR e.typrelid <> 0))
 ORDER BY 1;

DROP MATERIALIZED VIEW arg_matview;
DROP VIEW arg_view;
DROP SEQUENCE arg_seq;
DROP TABLE arg_child, arg_parent;
