-- violation_paths.sql: one foreign-key violation on every path PostgreSQL 15
-- can raise one from, for test/t/010_violation_paths.pl.
--
-- Run with psql -X -f, ON_ERROR_STOP off, in an empty database of a server with
-- max_prepared_transactions >= 1. The output (stdout and stderr together) must
-- be byte-for-byte the same with and without fk_guard preloaded.
--
-- Each path has its own tables and constraint, named after the path, so the
-- test can match fk_violations rows to paths by constraint_name. Every path
-- raises exactly one violation (a statement stops at its first one), and each
-- is followed by a marker line showing the SQLSTATE the client received
-- (empty when no error reached the client). Nothing here prints timestamps,
-- pids or OIDs.
\set ON_ERROR_STOP off
\set VERBOSITY default
\set SHOW_CONTEXT errors
\set ECHO all
SET client_min_messages = notice;

-- Shared parents.
CREATE TABLE p (id int PRIMARY KEY);
INSERT INTO p SELECT generate_series(1, 10);
CREATE TABLE p2 (a int, b int, PRIMARY KEY (a, b));
INSERT INTO p2 VALUES (1, 1);

-- Children of p, one per child-side path.
CREATE TABLE c_ins          (id int PRIMARY KEY, parent_id int CONSTRAINT c_ins_fk REFERENCES p);
CREATE TABLE c_values       (id int PRIMARY KEY, parent_id int CONSTRAINT c_values_fk REFERENCES p);
CREATE TABLE c_select       (id int PRIMARY KEY, parent_id int CONSTRAINT c_select_fk REFERENCES p);
CREATE TABLE c_upd          (id int PRIMARY KEY, parent_id int CONSTRAINT c_upd_fk REFERENCES p);
CREATE TABLE c_copy         (id int PRIMARY KEY, parent_id int CONSTRAINT c_copy_fk REFERENCES p);
CREATE TABLE c_upsert       (id int PRIMARY KEY, parent_id int CONSTRAINT c_upsert_fk REFERENCES p);
CREATE TABLE c_merge        (id int PRIMARY KEY, parent_id int CONSTRAINT c_merge_fk REFERENCES p);
CREATE TABLE c_defer_commit (id int PRIMARY KEY,
                             parent_id int CONSTRAINT c_defer_commit_fk REFERENCES p DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE c_defer_auto   (id int PRIMARY KEY,
                             parent_id int CONSTRAINT c_defer_auto_fk REFERENCES p DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE c_defer_prep   (id int PRIMARY KEY,
                             parent_id int CONSTRAINT c_defer_prep_fk REFERENCES p DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE c_setc         (id int PRIMARY KEY,
                             parent_id int CONSTRAINT c_setc_fk REFERENCES p DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE c_addfk        (id int PRIMARY KEY, parent_id int);
CREATE TABLE c_validate     (id int PRIMARY KEY, parent_id int);
CREATE TABLE c_sqlfn        (id int PRIMARY KEY, parent_id int CONSTRAINT c_sqlfn_fk REFERENCES p);
CREATE TABLE c_plfn         (id int PRIMARY KEY, parent_id int CONSTRAINT c_plfn_fk REFERENCES p);
CREATE TABLE c_proc         (id int PRIMARY KEY, parent_id int CONSTRAINT c_proc_fk REFERENCES p);
CREATE TABLE c_swallow      (id int PRIMARY KEY, parent_id int CONSTRAINT c_swallow_fk REFERENCES p);
CREATE TABLE c_full         (id int PRIMARY KEY, a int, b int,
                             CONSTRAINT c_full_fk FOREIGN KEY (a, b) REFERENCES p2 MATCH FULL);

-- Parent-side paths: a parent each, with one referenced row.
CREATE TABLE p_del (id int PRIMARY KEY);
CREATE TABLE c_del (id int PRIMARY KEY, parent_id int CONSTRAINT c_del_fk REFERENCES p_del ON DELETE NO ACTION);
CREATE TABLE p_restrict (id int PRIMARY KEY);
CREATE TABLE c_restrict (id int PRIMARY KEY,
                         parent_id int CONSTRAINT c_restrict_fk REFERENCES p_restrict ON DELETE RESTRICT);
CREATE TABLE p_updkey (id int PRIMARY KEY);
CREATE TABLE c_updkey (id int PRIMARY KEY, parent_id int CONSTRAINT c_updkey_fk REFERENCES p_updkey);
INSERT INTO p_del VALUES (1);
INSERT INTO c_del VALUES (1, 1);
INSERT INTO p_restrict VALUES (1);
INSERT INTO c_restrict VALUES (1, 1);
INSERT INTO p_updkey VALUES (1);
INSERT INTO c_updkey VALUES (1, 1);

-- Partitioned child: the violation is raised on the leaf partition.
CREATE TABLE pc (id int, parent_id int, CONSTRAINT pc_fk FOREIGN KEY (parent_id) REFERENCES p)
  PARTITION BY RANGE (id);
CREATE TABLE pc_1 PARTITION OF pc FOR VALUES FROM (0) TO (100);
CREATE TABLE pc_2 PARTITION OF pc FOR VALUES FROM (100) TO (200);

-- Partitioned parent: a delete fires the constraint PostgreSQL cloned onto the
-- referenced partition.
CREATE TABLE pp (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE pp_1 PARTITION OF pp FOR VALUES FROM (0) TO (100);
CREATE TABLE pp_2 PARTITION OF pp FOR VALUES FROM (100) TO (200);
CREATE TABLE c_pp (id int PRIMARY KEY, parent_id int CONSTRAINT c_pp_fk REFERENCES pp);
INSERT INTO pp VALUES (1), (101);
INSERT INTO c_pp VALUES (1, 101);

-- Detaching a referenced partition.
CREATE TABLE pd (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE pd_1 PARTITION OF pd FOR VALUES FROM (0) TO (100);
CREATE TABLE pd_2 PARTITION OF pd FOR VALUES FROM (100) TO (200);
CREATE TABLE c_pd (id int PRIMARY KEY, parent_id int CONSTRAINT c_pd_fk REFERENCES pd);
INSERT INTO pd VALUES (1), (101);
INSERT INTO c_pd VALUES (1, 101);

-- Routines.
CREATE FUNCTION f_sql_insert() RETURNS void LANGUAGE sql
  AS $$ INSERT INTO c_sqlfn VALUES (1, 996) $$;
CREATE FUNCTION f_pl_insert() RETURNS void LANGUAGE plpgsql
  AS $$ BEGIN INSERT INTO c_plfn VALUES (1, 995); END $$;
CREATE PROCEDURE p_insert() LANGUAGE plpgsql
  AS $$ BEGIN INSERT INTO c_proc VALUES (1, 994); END $$;
CREATE FUNCTION f_swallow() RETURNS text LANGUAGE plpgsql
  AS $$
BEGIN
  INSERT INTO c_swallow VALUES (1, 993);
  RETURN 'not raised';
EXCEPTION WHEN foreign_key_violation THEN
  RETURN 'caught ' || SQLSTATE;
END
$$;

-- Orphans for the ALTER TABLE paths, written before the constraints exist.
INSERT INTO c_addfk VALUES (1, 992);
INSERT INTO c_validate VALUES (1, 991);
ALTER TABLE c_validate ADD CONSTRAINT c_validate_fk FOREIGN KEY (parent_id) REFERENCES p NOT VALID;

SELECT 'setup done' AS marker;

-- 1. INSERT, single row.
\set LAST_ERROR_SQLSTATE ''
INSERT INTO c_ins VALUES (1, 999);
SELECT 'insert_single' AS path, :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- 2. INSERT, multi-row VALUES: one orphan among good rows.
\set LAST_ERROR_SQLSTATE ''
INSERT INTO c_values VALUES (1, 1), (2, 998), (3, 3);
SELECT 'insert_values' AS path, :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- 3. INSERT ... SELECT.
\set LAST_ERROR_SQLSTATE ''
INSERT INTO c_select SELECT g, CASE WHEN g = 5 THEN 997 ELSE g END FROM generate_series(1, 8) g;
SELECT 'insert_select' AS path, :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- 4. UPDATE of the child.
INSERT INTO c_upd VALUES (1, 1);
\set LAST_ERROR_SQLSTATE ''
UPDATE c_upd SET parent_id = 990 WHERE id = 1;
SELECT 'update_child' AS path, :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- 5. COPY FROM STDIN.
\set LAST_ERROR_SQLSTATE ''
COPY c_copy FROM STDIN;
1	1
2	989
3	2
\.
SELECT 'copy' AS path, :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- 6. INSERT ... ON CONFLICT DO UPDATE moving the row to a missing parent.
INSERT INTO c_upsert VALUES (1, 1);
\set LAST_ERROR_SQLSTATE ''
INSERT INTO c_upsert VALUES (1, 988) ON CONFLICT (id) DO UPDATE SET parent_id = excluded.parent_id;
SELECT 'on_conflict' AS path, :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- 7. MERGE.
\set LAST_ERROR_SQLSTATE ''
MERGE INTO c_merge t USING (VALUES (1, 987)) s(id, parent_id) ON t.id = s.id
  WHEN MATCHED THEN UPDATE SET parent_id = s.parent_id
  WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.parent_id);
SELECT 'merge' AS path, :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- 8. DELETE of a referenced parent, ON DELETE NO ACTION.
\set LAST_ERROR_SQLSTATE ''
DELETE FROM p_del WHERE id = 1;
SELECT 'delete_no_action' AS path, :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- 9. DELETE of a referenced parent, ON DELETE RESTRICT.
\set LAST_ERROR_SQLSTATE ''
DELETE FROM p_restrict WHERE id = 1;
SELECT 'delete_restrict' AS path, :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- 10. UPDATE of a referenced parent key.
\set LAST_ERROR_SQLSTATE ''
UPDATE p_updkey SET id = 2 WHERE id = 1;
SELECT 'update_parent_key' AS path, :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- 11. Deferred, failing at COMMIT.
\set LAST_ERROR_SQLSTATE ''
BEGIN;
INSERT INTO c_defer_commit VALUES (1, 986);
SELECT 'deferred check still pending' AS marker;
COMMIT;
SELECT 'deferred_commit' AS path, :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- 12. Deferred, failing at the end of an autocommit statement.
\set LAST_ERROR_SQLSTATE ''
INSERT INTO c_defer_auto VALUES (1, 985);
SELECT 'deferred_autocommit' AS path, :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- 13. Deferred, failing at PREPARE TRANSACTION (nothing stays prepared).
\set LAST_ERROR_SQLSTATE ''
BEGIN;
INSERT INTO c_defer_prep VALUES (1, 984);
PREPARE TRANSACTION 'fkg_violation_paths';
SELECT 'deferred_prepare' AS path, :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT count(*) AS prepared_left FROM pg_prepared_xacts;

-- 14. SET CONSTRAINTS ... IMMEDIATE.
\set LAST_ERROR_SQLSTATE ''
BEGIN;
INSERT INTO c_setc VALUES (1, 983);
SET CONSTRAINTS c_setc_fk IMMEDIATE;
ROLLBACK;
SELECT 'set_constraints' AS path, :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- 15. ALTER TABLE ... ADD FOREIGN KEY over an orphan.
\set LAST_ERROR_SQLSTATE ''
ALTER TABLE c_addfk ADD CONSTRAINT c_addfk_fk FOREIGN KEY (parent_id) REFERENCES p;
SELECT 'alter_add_fk' AS path, :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- 16. ALTER TABLE ... VALIDATE CONSTRAINT.
\set LAST_ERROR_SQLSTATE ''
ALTER TABLE c_validate VALIDATE CONSTRAINT c_validate_fk;
SELECT 'alter_validate' AS path, :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- 17. Inside an SQL function.
\set LAST_ERROR_SQLSTATE ''
SELECT f_sql_insert();
SELECT 'sql_function' AS path, :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- 18. Inside a PL/pgSQL function.
\set LAST_ERROR_SQLSTATE ''
SELECT f_pl_insert();
SELECT 'plpgsql_function' AS path, :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- 19. Inside a procedure.
\set LAST_ERROR_SQLSTATE ''
CALL p_insert();
SELECT 'procedure' AS path, :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- 20. Partitioned child (row routed to leaf pc_2).
\set LAST_ERROR_SQLSTATE ''
INSERT INTO pc VALUES (150, 982);
SELECT 'partitioned_child' AS path, :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- 21. Partitioned parent: deleting a referenced row of partition pp_2.
\set LAST_ERROR_SQLSTATE ''
DELETE FROM pp WHERE id = 101;
SELECT 'partitioned_parent' AS path, :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- 22. MATCH FULL with mixed NULLs (PostgreSQL shows no key).
\set LAST_ERROR_SQLSTATE ''
INSERT INTO c_full VALUES (1, 1, NULL);
SELECT 'match_full' AS path, :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- 23. DETACH PARTITION of a referenced partition.
\set LAST_ERROR_SQLSTATE ''
ALTER TABLE pd DETACH PARTITION pd_2;
SELECT 'detach_partition' AS path, :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- 24. A PL/pgSQL EXCEPTION block swallows the violation: no client error.
\set LAST_ERROR_SQLSTATE ''
SELECT f_swallow();
SELECT 'swallowed' AS path, :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- Nothing that failed left rows behind.
SELECT (SELECT count(*) FROM c_ins) + (SELECT count(*) FROM c_values) + (SELECT count(*) FROM c_select)
     + (SELECT count(*) FROM c_copy) + (SELECT count(*) FROM c_merge) + (SELECT count(*) FROM c_defer_commit)
     + (SELECT count(*) FROM c_defer_auto) + (SELECT count(*) FROM c_defer_prep) + (SELECT count(*) FROM c_setc)
     + (SELECT count(*) FROM c_sqlfn) + (SELECT count(*) FROM c_plfn) + (SELECT count(*) FROM c_proc)
     + (SELECT count(*) FROM c_swallow) + (SELECT count(*) FROM c_full) + (SELECT count(*) FROM pc) AS rows_left;
SELECT 'done' AS marker;
