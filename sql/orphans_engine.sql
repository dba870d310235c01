-- orphans_engine.sql: the one-pass engine (issue 12) and its fallback to the
-- planner's path, chosen per foreign key (fk_guard.orphan_engine, fk_orphan_plan()).
CREATE SCHEMA eng;
SET search_path = eng, public;
-- (explicit settings throughout: make installcheck-engines forces one by PGOPTIONS)
SET fk_guard.orphan_engine = auto;
CREATE COLLATION eng_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE TABLE p_int (id int PRIMARY KEY);
CREATE TABLE p_big (id bigint PRIMARY KEY);
CREATE TABLE p_txt (code text PRIMARY KEY);
CREATE TABLE p_ci (code text COLLATE eng_ci PRIMARY KEY);
CREATE TABLE p_pair (region text, n int, PRIMARY KEY (region, n));
CREATE TABLE p_num (v numeric PRIMARY KEY);
CREATE TABLE p_part (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE p_part_1 PARTITION OF p_part FOR VALUES FROM (0) TO (1000);
CREATE TABLE c (
  id int,
  a int REFERENCES p_int,
  b int REFERENCES p_big,           -- int4 referencing int8: a cross-type equality
  t varchar REFERENCES p_txt,       -- varchar compared as text
  ci text COLLATE eng_ci REFERENCES p_ci,
  region text, n int,
  v numeric REFERENCES p_num,
  pp int REFERENCES p_part,
  FOREIGN KEY (region, n) REFERENCES p_pair MATCH FULL);
INSERT INTO p_int SELECT g FROM generate_series(1, 50) g;
INSERT INTO p_big SELECT g FROM generate_series(1, 50) g;
INSERT INTO p_txt SELECT 't' || g FROM generate_series(1, 50) g;
INSERT INTO p_ci VALUES ('abc');
INSERT INTO p_pair SELECT 'r' || g, g FROM generate_series(1, 50) g;
INSERT INTO p_num SELECT g FROM generate_series(1, 50) g;
INSERT INTO p_part SELECT g FROM generate_series(1, 50) g;
SET session_replication_role = replica;
INSERT INTO c SELECT g, g, g, 't' || g, CASE WHEN g % 2 = 0 THEN 'ABC' ELSE 'abd' END,
                     'r' || g, CASE WHEN g % 7 = 0 THEN NULL ELSE g END, g + 0.0, g
  FROM generate_series(45, 56) g;
INSERT INTO c VALUES (100, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
RESET session_replication_role;

-- Which path each key takes, and why.
SELECT constraint_name, engine, reason FROM fk_orphan_plan('c') ORDER BY 1;
SET fk_guard.orphan_engine = planner;
SELECT DISTINCT engine, reason FROM fk_orphan_plan('c');
SET fk_guard.orphan_engine = auto;

-- Both engines give the same rows, in the same order, and the same summaries.
CREATE TEMP TABLE by_planner AS SELECT row_number() OVER () AS n, * FROM fk_orphans('c');
CREATE TEMP TABLE by_summary AS SELECT * FROM fk_orphan_summary('c');
SET fk_guard.orphan_engine = one_pass;
SELECT count(*) AS rows, count(*) FILTER (WHERE (o.*)::text IS DISTINCT FROM (p.*)::text) AS differing
  FROM (SELECT row_number() OVER () AS n, * FROM fk_orphans('c')) o FULL JOIN by_planner p USING (n);
SELECT constraint_name, orphan_rows, missing_keys FROM fk_orphan_summary('c')
EXCEPT SELECT constraint_name, orphan_rows, missing_keys FROM by_summary;
SELECT constraint_name, orphan_rows, missing_keys FROM fk_orphan_summary('c') ORDER BY 1;
SELECT constraint_name, key, child_ctid FROM fk_orphans('c', 2);
SELECT count(*) FROM fk_orphans('c', 0);

-- A referenced key set larger than work_mem * hash_mem_multiplier: auto
-- leaves it to the planner from the estimate; one_pass tries, runs out of its
-- budget and falls back, with the same result.
CREATE TABLE p_wide (id bigint PRIMARY KEY);
INSERT INTO p_wide SELECT g::bigint * 1000003 FROM generate_series(1, 20000) g;
ANALYZE p_wide;
CREATE TABLE c_wide (id int, w bigint REFERENCES p_wide);
INSERT INTO c_wide SELECT g, g::bigint * 1000003 FROM generate_series(1, 100) g;
SET session_replication_role = replica;
INSERT INTO c_wide VALUES (0, 7);
RESET session_replication_role;
SET work_mem = '64kB';
SET hash_mem_multiplier = 1;
SET fk_guard.orphan_engine = auto;
SELECT engine, reason FROM fk_orphan_plan('c_wide');
SET fk_guard.orphan_engine = one_pass;
SELECT engine, reason FROM fk_orphan_plan('c_wide');
SELECT key, child_ctid FROM fk_orphans('c_wide');
SELECT orphan_rows, missing_keys FROM fk_orphan_summary('c_wide');
RESET work_mem;
RESET hash_mem_multiplier;
SELECT key, child_ctid FROM fk_orphans('c_wide');

-- Row-level security enabled on a table: the planner's path, as before.
ALTER TABLE p_int ENABLE ROW LEVEL SECURITY;
SELECT constraint_name, engine, reason FROM fk_orphan_plan('c') WHERE constraint_name = 'c_a_fkey';
ALTER TABLE p_int DISABLE ROW LEVEL SECURITY;

-- An ordinary role learns no more from fk_orphan_plan() than from fk_orphans():
-- the same refusal on a table it may not read, and nothing on one whose
-- referenced key it may not read.
CREATE ROLE eng_reader;
GRANT USAGE ON SCHEMA eng TO eng_reader;
SET ROLE eng_reader;
SELECT * FROM fk_orphan_plan('eng.c');
SELECT * FROM fk_orphans('eng.c');
RESET ROLE;
GRANT SELECT ON c TO eng_reader;
SET ROLE eng_reader;
SELECT * FROM fk_orphan_plan('eng.c');
SELECT * FROM fk_orphans('eng.c');
RESET ROLE;
-- and it is no way to call what it may not: the target must be a table
SELECT * FROM fk_orphan_plan('pg_class_oid_index');
SELECT * FROM fk_orphan_plan(NULL);

-- The keys of one table share one budget, work_mem * hash_mem_multiplier:
-- four keys that each fit alone, but not all together.  auto's estimate adds
-- up the keys; one_pass admits keys while they fit and leaves the others to
-- the planner (DEBUG1 says which); the results are those of the planner.
CREATE TABLE p_b1 (id bigint PRIMARY KEY);
CREATE TABLE p_b2 (id bigint PRIMARY KEY);
CREATE TABLE p_b3 (id bigint PRIMARY KEY);
CREATE TABLE p_b4 (id bigint PRIMARY KEY);
INSERT INTO p_b1 SELECT g::bigint * 1000003 FROM generate_series(1, 4000) g;
INSERT INTO p_b2 SELECT g::bigint * 1000033 FROM generate_series(1, 4000) g;
INSERT INTO p_b3 SELECT g::bigint * 1000037 FROM generate_series(1, 4000) g;
INSERT INTO p_b4 SELECT g::bigint * 1000039 FROM generate_series(1, 4000) g;
ANALYZE p_b1, p_b2, p_b3, p_b4;
CREATE TABLE c_b (id int, b1 bigint REFERENCES p_b1, b2 bigint REFERENCES p_b2,
                  b3 bigint REFERENCES p_b3, b4 bigint REFERENCES p_b4);
INSERT INTO c_b SELECT g, g::bigint * 1000003, g::bigint * 1000033, g::bigint * 1000037, g::bigint * 1000039
  FROM generate_series(1, 200) g;
SET session_replication_role = replica;
INSERT INTO c_b VALUES (1000, 1, 2, 3, 4), (1001, NULL, 5, NULL, 6);
RESET session_replication_role;
SET fk_guard.orphan_engine = planner;
CREATE TEMP TABLE b_planner AS SELECT row_number() OVER () AS n, * FROM fk_orphans('c_b');
CREATE TEMP TABLE b_summary AS SELECT * FROM fk_orphan_summary('c_b');
SET work_mem = '160kB';
SET hash_mem_multiplier = 1;
SET fk_guard.orphan_engine = auto;
SELECT constraint_name, engine, reason FROM fk_orphan_plan('c_b') ORDER BY 1;
SET fk_guard.orphan_engine = one_pass;
SET client_min_messages = debug1;
SELECT count(*) AS rows, count(*) FILTER (WHERE (o.*)::text IS DISTINCT FROM (p.*)::text) AS differing
  FROM (SELECT row_number() OVER () AS n, * FROM fk_orphans('c_b')) o FULL JOIN b_planner p USING (n);
RESET client_min_messages;
SELECT constraint_name, orphan_rows, missing_keys FROM fk_orphan_summary('c_b')
EXCEPT SELECT constraint_name, orphan_rows, missing_keys FROM b_summary;
RESET work_mem;
RESET hash_mem_multiplier;
SET client_min_messages = debug1;
SELECT count(*) FROM fk_orphans('c_b');
RESET client_min_messages;

-- The one pass calls the key's equality function itself, as the referencing
-- table's owner: only where the planner's query could (EXECUTE on the
-- function, USAGE on the schemas of the operator and of a COLLATE clause's
-- collation).  Elsewhere the planner's path runs and fails as it does.
CREATE ROLE eng_alice;
CREATE SCHEMA eng_a AUTHORIZATION eng_alice;
CREATE SCHEMA eng_adm;
GRANT USAGE ON SCHEMA eng_adm TO PUBLIC;
CREATE FUNCTION eng_adm.secret_eq(int, int) RETURNS bool LANGUAGE plpgsql VOLATILE STRICT AS
  $$BEGIN RAISE NOTICE 'secret_eq ran as %', current_user; RETURN $1 = $2; END$$;
CREATE FUNCTION eng_adm.secret_hash(int) RETURNS int LANGUAGE plpgsql VOLATILE STRICT AS
  $$BEGIN RETURN hashint4($1); END$$;
CREATE FUNCTION eng_adm.lt(int, int) RETURNS bool LANGUAGE sql IMMUTABLE STRICT AS 'SELECT $1 < $2';
REVOKE ALL ON FUNCTION eng_adm.secret_eq(int, int), eng_adm.secret_hash(int) FROM PUBLIC;
CREATE OPERATOR eng_adm.=== (LEFTARG = int, RIGHTARG = int, FUNCTION = eng_adm.secret_eq, HASHES, MERGES);
CREATE OPERATOR eng_adm.<<< (LEFTARG = int, RIGHTARG = int, FUNCTION = eng_adm.lt);
CREATE OPERATOR CLASS eng_adm.bt FOR TYPE int USING btree AS
  OPERATOR 1 eng_adm.<<<, OPERATOR 3 eng_adm.===, FUNCTION 1 btint4cmp(int, int);
CREATE OPERATOR CLASS eng_adm.hs FOR TYPE int USING hash AS
  OPERATOR 1 eng_adm.===, FUNCTION 1 eng_adm.secret_hash(int);
CREATE COLLATION eng_adm.c_too FROM "C";
SET ROLE eng_alice;
CREATE TABLE eng_a.p2 (k int);
CREATE UNIQUE INDEX ON eng_a.p2 (k eng_adm.bt);
INSERT INTO eng_a.p2 VALUES (1), (2);
CREATE TABLE eng_a.c2 (k int);
INSERT INTO eng_a.c2 VALUES (1), (1), (5);
ALTER TABLE eng_a.c2 ADD FOREIGN KEY (k) REFERENCES eng_a.p2 (k) NOT VALID;
-- text keys compared under a collation of eng_adm (the columns' collations differ)
CREATE TABLE eng_a.p3 (code text COLLATE eng_adm.c_too PRIMARY KEY);
INSERT INTO eng_a.p3 VALUES ('x');
CREATE TABLE eng_a.c3 (code text COLLATE "C");
INSERT INTO eng_a.c3 VALUES ('x'), ('y');
ALTER TABLE eng_a.c3 ADD FOREIGN KEY (code) REFERENCES eng_a.p3 NOT VALID;
RESET ROLE;
-- (the error, without the position in the query, which holds OIDs)
CREATE FUNCTION eng.error_of(query text) RETURNS text LANGUAGE plpgsql AS
  $$BEGIN EXECUTE query; RETURN 'no error'; EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END$$;
-- no EXECUTE on the equality function
SET fk_guard.orphan_engine = one_pass;
SELECT constraint_name, engine, reason FROM fk_orphan_plan('eng_a.c2');
SELECT error_of($$SELECT * FROM fk_orphans('eng_a.c2')$$);
SELECT error_of($$SELECT * FROM fk_orphan_summary('eng_a.c2')$$);
SET fk_guard.orphan_engine = planner;
SELECT error_of($$SELECT * FROM fk_orphans('eng_a.c2')$$);
SET fk_guard.orphan_engine = auto;
SELECT error_of($$SELECT * FROM fk_orphans('eng_a.c2')$$);
-- EXECUTE, but no USAGE on the operator's schema
GRANT EXECUTE ON FUNCTION eng_adm.secret_eq(int, int) TO eng_alice;
REVOKE USAGE ON SCHEMA eng_adm FROM PUBLIC;
SET fk_guard.orphan_engine = one_pass;
SELECT constraint_name, engine, reason FROM fk_orphan_plan('eng_a.c2');
SELECT error_of($$SELECT * FROM fk_orphans('eng_a.c2')$$);
SET fk_guard.orphan_engine = planner;
SELECT error_of($$SELECT * FROM fk_orphans('eng_a.c2')$$);
-- no USAGE on the schema of the collation the planner's query names
SET fk_guard.orphan_engine = one_pass;
SELECT constraint_name, engine, reason FROM fk_orphan_plan('eng_a.c3');
SELECT error_of($$SELECT * FROM fk_orphans('eng_a.c3')$$);
SET fk_guard.orphan_engine = planner;
SELECT error_of($$SELECT * FROM fk_orphans('eng_a.c3')$$);
-- with both, the one pass runs (and calls the function as the owner)
GRANT USAGE ON SCHEMA eng_adm TO eng_alice;
SET fk_guard.orphan_engine = one_pass;
SELECT constraint_name, engine FROM fk_orphan_plan('eng_a.c2');
SELECT key, child_ctid FROM fk_orphans('eng_a.c2');
SELECT constraint_name, engine FROM fk_orphan_plan('eng_a.c3');
SELECT key, child_ctid FROM fk_orphans('eng_a.c3');
DROP SCHEMA eng_a CASCADE;
DROP SCHEMA eng_adm CASCADE;
DROP ROLE eng_alice;

-- Partitioned referenced tables: the key set is read leaf by leaf (the rows
-- a query on the partitioned table reads), each leaf's key columns found by
-- name: two levels, a leaf with its columns in another order after a dropped
-- one, a default partition; a leaf owned by another role, with row-level
-- security forced on it and no policy (a query on the partitioned table
-- applies neither, and neither does the pass).  c_ppc, a partitioned
-- referencing table, is judged in one pass too (see below for more).
CREATE TABLE pp (region text, id int, PRIMARY KEY (region, id)) PARTITION BY LIST (region);
CREATE TABLE pp_a PARTITION OF pp FOR VALUES IN ('a');
CREATE TABLE pp_bc PARTITION OF pp FOR VALUES IN ('b', 'c') PARTITION BY RANGE (id);
CREATE TABLE pp_bc_low PARTITION OF pp_bc FOR VALUES FROM (MINVALUE) TO (100);
CREATE TABLE pp_bc_high (junk int, id int NOT NULL, region text NOT NULL);
ALTER TABLE pp_bc_high DROP COLUMN junk;
ALTER TABLE pp_bc ATTACH PARTITION pp_bc_high FOR VALUES FROM (100) TO (MAXVALUE);
CREATE TABLE pp_rest PARTITION OF pp DEFAULT;
INSERT INTO pp SELECT r, g FROM unnest(ARRAY['a', 'b', 'c', 'd']) r, generate_series(1, 200, 3) g;
CREATE TABLE pq (id bigint PRIMARY KEY) PARTITION BY HASH (id);
CREATE TABLE pq_0 PARTITION OF pq FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE pq_1 PARTITION OF pq FOR VALUES WITH (MODULUS 2, REMAINDER 1);
INSERT INTO pq SELECT g FROM generate_series(1, 300, 2) g;
ALTER TABLE pq_1 OWNER TO eng_reader;
ALTER TABLE pq_1 ENABLE ROW LEVEL SECURITY;
ALTER TABLE pq_1 FORCE ROW LEVEL SECURITY;
CREATE TABLE pn (v numeric PRIMARY KEY) PARTITION BY RANGE (v);
CREATE TABLE pn_low PARTITION OF pn FOR VALUES FROM (MINVALUE) TO (50);
CREATE TABLE pn_rest PARTITION OF pn DEFAULT;
INSERT INTO pn SELECT g FROM generate_series(1, 100, 2) g;
CREATE TABLE c_pp (id int, region text, rid int, q int, v numeric,
  FOREIGN KEY (region, rid) REFERENCES pp, FOREIGN KEY (q) REFERENCES pq, FOREIGN KEY (v) REFERENCES pn);
SET session_replication_role = replica;
INSERT INTO c_pp SELECT g, (ARRAY['a', 'b', 'c', 'd', 'e'])[g % 5 + 1], g, g, g
  FROM generate_series(1, 220) g;
INSERT INTO c_pp VALUES (1000, NULL, 2, NULL, NULL), (1001, 'e', NULL, 7, 7.0);
RESET session_replication_role;
-- a partitioned referencing table, with a leaf in another column order
CREATE TABLE c_ppc (id int, region text, rid int, q int) PARTITION BY RANGE (id);
CREATE TABLE c_ppc_1 PARTITION OF c_ppc FOR VALUES FROM (MINVALUE) TO (100);
CREATE TABLE c_ppc_2 (q int, rid int, junk int, region text, id int);
ALTER TABLE c_ppc_2 DROP COLUMN junk;
ALTER TABLE c_ppc ATTACH PARTITION c_ppc_2 DEFAULT;
ALTER TABLE c_ppc ADD FOREIGN KEY (region, rid) REFERENCES pp, ADD FOREIGN KEY (q) REFERENCES pq;
SET session_replication_role = replica;
INSERT INTO c_ppc SELECT id, region, rid, q FROM c_pp;
RESET session_replication_role;
SET fk_guard.orphan_engine = auto;
SELECT constraint_name, child_table, engine, reason FROM fk_orphan_plan('c_pp') ORDER BY 1;
SELECT constraint_name, child_table, engine, reason FROM fk_orphan_plan('c_ppc') ORDER BY 1;
SET fk_guard.orphan_engine = planner;
CREATE TEMP TABLE pp_planner AS
  SELECT row_number() OVER () AS n, * FROM (SELECT * FROM fk_orphans('c_pp') UNION ALL SELECT * FROM fk_orphans('c_ppc')) o;
CREATE TEMP TABLE pp_summary AS
  SELECT * FROM fk_orphan_summary('c_pp') UNION ALL SELECT * FROM fk_orphan_summary('c_ppc');
SET fk_guard.orphan_engine = one_pass;
SET client_min_messages = debug1;
SELECT count(*) AS rows, count(*) FILTER (WHERE (o.*)::text IS DISTINCT FROM (p.*)::text) AS differing
  FROM (SELECT row_number() OVER () AS n, *
          FROM (SELECT * FROM fk_orphans('c_pp') UNION ALL SELECT * FROM fk_orphans('c_ppc')) o) o
  FULL JOIN pp_planner p USING (n);
RESET client_min_messages;
SELECT constraint_name, child_table, orphan_rows, missing_keys FROM fk_orphan_summary('c_pp')
UNION ALL SELECT constraint_name, child_table, orphan_rows, missing_keys FROM fk_orphan_summary('c_ppc')
EXCEPT SELECT constraint_name, child_table, orphan_rows, missing_keys FROM pp_summary;
SELECT constraint_name, child_table, orphan_rows, missing_keys FROM pp_summary ORDER BY 1, 2;
SELECT constraint_name, key, child_ctid FROM fk_orphans('c_pp', 2);
-- (with row-level security forced on pq_1, a query on it alone sees nothing)
SET ROLE eng_reader;
SELECT count(*) FROM pq_1;
RESET ROLE;

-- Partitioned referencing tables: each leaf is scanned once for all the keys
-- it inherits, its key columns found by name, leaves in OID order (the planner's
-- path orders rows by tableoid, then ctid).  Three levels (list, then range),
-- leaves built apart with their columns in another order after dropped ones
-- and attached (c_pc_z is created first, so its OID is the lowest though its
-- name sorts last), default partitions, composite keys, MATCH FULL, cross-type
-- keys (int4 referencing int8, varchar referencing text), a key compared
-- through fmgr (numeric).
CREATE TABLE c_pc_z (junk int, pn int, pr text, v numeric, t varchar, b int, q int, rid int, region text, id int);
ALTER TABLE c_pc_z DROP COLUMN junk;
CREATE TABLE c_pc (id int, region text, rid int, q int, b int, t varchar, v numeric, pr text, pn int)
  PARTITION BY LIST (region);
CREATE TABLE c_pc_a PARTITION OF c_pc FOR VALUES IN ('a');
CREATE TABLE c_pc_bc PARTITION OF c_pc FOR VALUES IN ('b', 'c') PARTITION BY RANGE (id);
CREATE TABLE c_pc_bc_low PARTITION OF c_pc_bc FOR VALUES FROM (MINVALUE) TO (100) PARTITION BY LIST (q);
CREATE TABLE c_pc_bc_low_odd PARTITION OF c_pc_bc_low FOR VALUES IN (1, 3, 5, 7, 9, 11);
CREATE TABLE c_pc_bc_low_rest PARTITION OF c_pc_bc_low DEFAULT;
CREATE TABLE c_pc_bc_high (x1 int, q int, x2 text, pn int, id int, region text, pr text, v numeric, t varchar,
                           b int, rid int);
ALTER TABLE c_pc_bc_high DROP COLUMN x1, DROP COLUMN x2;
ALTER TABLE c_pc_bc ATTACH PARTITION c_pc_bc_high FOR VALUES FROM (100) TO (MAXVALUE);
CREATE TABLE c_pc_empty PARTITION OF c_pc FOR VALUES IN ('nothing here');
ALTER TABLE c_pc ATTACH PARTITION c_pc_z DEFAULT;
ALTER TABLE c_pc ADD FOREIGN KEY (region, rid) REFERENCES pp, ADD FOREIGN KEY (q) REFERENCES pq,
  ADD FOREIGN KEY (b) REFERENCES p_big, ADD FOREIGN KEY (t) REFERENCES p_txt, ADD FOREIGN KEY (v) REFERENCES p_num,
  ADD FOREIGN KEY (pr, pn) REFERENCES p_pair MATCH FULL;
SET session_replication_role = replica;
INSERT INTO c_pc
SELECT g, (ARRAY['a', 'b', 'c', 'd', 'e'])[g % 5 + 1], g % 230, g % 13, g % 60, 't' || (g % 55), g % 57 + 0.0,
       CASE WHEN g % 11 = 0 THEN NULL ELSE 'r' || (g % 53) END, CASE WHEN g % 17 = 0 THEN NULL ELSE g % 53 END
  FROM generate_series(1, 400) g;
INSERT INTO c_pc VALUES (1000, 'a', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
                        (1001, 'c', 7, 7, 7, 't7', 7, 'r7', 7);
-- a hole in a leaf: later rows keep their ctids
DELETE FROM c_pc WHERE id BETWEEN 20 AND 30;
RESET session_replication_role;
SELECT relname FROM pg_class WHERE relname LIKE 'c\_pc\_%' AND relkind = 'r' ORDER BY oid;
SET fk_guard.orphan_engine = auto;
SELECT constraint_name, engine, reason FROM fk_orphan_plan('c_pc') ORDER BY 1;
-- the planner's rows and summaries: of the table, of a partition (the keys it
-- inherits, over its own leaves), with limits, and the audit's
SET fk_guard.orphan_engine = planner;
CREATE TEMP TABLE pc_planner AS
  SELECT row_number() OVER () AS n, *
    FROM (SELECT 'all' AS call, * FROM fk_orphans('c_pc')
          UNION ALL SELECT 'part', * FROM fk_orphans('c_pc_bc')
          UNION ALL SELECT 'limit 3', * FROM fk_orphans('c_pc', 3)
          UNION ALL SELECT 'limit 40', * FROM fk_orphans('c_pc', 40)
          UNION ALL SELECT 'part limit 1', * FROM fk_orphans('c_pc_bc_low', 1)
          UNION ALL SELECT 'limit 0', * FROM fk_orphans('c_pc', 0)) o;
CREATE TEMP TABLE pc_summary AS
  SELECT * FROM fk_orphan_summary('c_pc') UNION ALL SELECT * FROM fk_orphan_summary('c_pc_bc');
CALL fk_audit_run('c_pc');
CREATE TEMP TABLE pc_audit AS
  SELECT constraint_name, child_table, orphan_rows, missing_keys FROM fk_audit_results
   WHERE run_id = (SELECT max(run_id) FROM fk_audit_runs);
SELECT call, count(*) FROM pc_planner GROUP BY call ORDER BY call;
SELECT constraint_name, child_table, orphan_rows, missing_keys FROM pc_summary ORDER BY 1, 2;
-- the one pass gives the same rows in the same order, the same summaries and audit
SET fk_guard.orphan_engine = one_pass;
SET client_min_messages = debug1;
SELECT count(*) FROM fk_orphans('c_pc');
RESET client_min_messages;
SELECT count(*) AS rows, count(*) FILTER (WHERE (o.*)::text IS DISTINCT FROM (p.*)::text) AS differing
  FROM (SELECT row_number() OVER () AS n, *
          FROM (SELECT 'all' AS call, * FROM fk_orphans('c_pc')
                UNION ALL SELECT 'part', * FROM fk_orphans('c_pc_bc')
                UNION ALL SELECT 'limit 3', * FROM fk_orphans('c_pc', 3)
                UNION ALL SELECT 'limit 40', * FROM fk_orphans('c_pc', 40)
                UNION ALL SELECT 'part limit 1', * FROM fk_orphans('c_pc_bc_low', 1)
                UNION ALL SELECT 'limit 0', * FROM fk_orphans('c_pc', 0)) o) o
  FULL JOIN pc_planner p USING (n);
(SELECT * FROM fk_orphan_summary('c_pc') UNION ALL SELECT * FROM fk_orphan_summary('c_pc_bc'))
EXCEPT ALL SELECT * FROM pc_summary;
CALL fk_audit_run('c_pc');
SELECT constraint_name, child_table, orphan_rows, missing_keys FROM fk_audit_results
 WHERE run_id = (SELECT max(run_id) FROM fk_audit_runs)
EXCEPT ALL SELECT * FROM pc_audit;
-- max_per_constraint counts across leaves, in tableoid order
SELECT constraint_name, child_table, key, child_ctid FROM fk_orphans('c_pc', 3)
 WHERE constraint_name IN ('c_pc_region_rid_fkey', 'c_pc_pr_pn_fkey');

-- A partitioned table without leaves: the pass has nothing to scan.
CREATE TABLE c_none (q int REFERENCES pq) PARTITION BY LIST (q);
SELECT engine, reason FROM fk_orphan_plan('c_none');
SELECT count(*) AS orphans, (SELECT orphan_rows FROM fk_orphan_summary('c_none')) FROM fk_orphans('c_none');
CREATE TABLE c_none_sub PARTITION OF c_none FOR VALUES IN (1, 2) PARTITION BY LIST (q);
SELECT count(*) AS orphans, (SELECT orphan_rows FROM fk_orphan_summary('c_none')) FROM fk_orphans('c_none');

-- Row-level security enabled on the partitioned table: the planner's path,
-- as for any table.
ALTER TABLE c_pc ENABLE ROW LEVEL SECURITY;
SELECT DISTINCT engine, reason FROM fk_orphan_plan('c_pc');
ALTER TABLE c_pc DISABLE ROW LEVEL SECURITY;

-- A leaf owned by another role, with forced row security, a policy hiding
-- every row (an immutable function, which the planner would even call while
-- planning a query on the leaf), a trigger and a column default calling its
-- owner's functions: nothing of theirs runs while the table is checked, as the
-- caller or as anyone (no NOTICE); the policy is not applied (a query on the
-- partitioned table applies the partitioned table's own), and both paths give
-- the same rows, the leaf's orphans included.
-- (c_pc and two of its leaves now belong to an ordinary role, which runs the
-- checks: the other leaves it may read only through c_pc, and its own two not
-- by name either: row security forced on one, with a policy hiding every row,
-- and its own SELECT revoked on the other)
CREATE ROLE eng_owner;
GRANT USAGE ON SCHEMA eng TO eng_owner;
GRANT SELECT ON pp, pq, p_big, p_txt, p_num, p_pair TO eng_owner;
ALTER TABLE c_pc OWNER TO eng_owner;
ALTER TABLE c_pc_z OWNER TO eng_owner;
ALTER TABLE c_pc_bc_high OWNER TO eng_owner;
SET ROLE eng_owner;
ALTER TABLE c_pc_z ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY hide_all ON c_pc_z USING (false);
REVOKE SELECT ON c_pc_bc_high FROM eng_owner;
RESET ROLE;
-- c_own's orphans are read by name where that gives the same rows (c_own_3,
-- its owner's), through the partitioned table where it does not (c_own_1,
-- another role's, which the owner may read, but under row security with a
-- policy hiding every row; c_own_2, the owner's, with its own SELECT revoked).  Key a has orphans in c_own_1 and c_own_3, key
-- b in c_own_2 and c_own_3.  The callers are the owner and a superuser (the
-- checks run as the owner either way).
GRANT CREATE ON SCHEMA eng TO eng_owner;
GRANT SELECT, REFERENCES ON p_int, p_big TO eng_owner;
SET ROLE eng_owner;
CREATE TABLE c_own (id int, a int REFERENCES p_int, b int REFERENCES p_big) PARTITION BY RANGE (id);
CREATE TABLE c_own_1 PARTITION OF c_own FOR VALUES FROM (0) TO (10);
CREATE TABLE c_own_2 PARTITION OF c_own FOR VALUES FROM (10) TO (20);
CREATE TABLE c_own_3 PARTITION OF c_own FOR VALUES FROM (20) TO (30);
RESET ROLE;
SET session_replication_role = replica;
INSERT INTO c_own SELECT g, CASE WHEN g % 3 = 0 AND g NOT BETWEEN 10 AND 19 THEN 100 + g ELSE g + 1 END,
                            CASE WHEN g % 3 = 0 AND g NOT BETWEEN 0 AND 9 THEN 100 + g ELSE g + 1 END
  FROM generate_series(0, 29) g;
RESET session_replication_role;
ALTER TABLE c_own_1 OWNER TO CURRENT_USER;
GRANT SELECT ON c_own_1 TO eng_owner;
ALTER TABLE c_own_1 ENABLE ROW LEVEL SECURITY;
CREATE POLICY hide_all ON c_own_1 USING (false);
SET ROLE eng_owner;
REVOKE SELECT ON c_own_2 FROM eng_owner;
SET fk_guard.orphan_engine = planner;
CREATE TEMP TABLE own_planner AS SELECT row_number() OVER () AS n, * FROM fk_orphans('c_own');
SELECT constraint_name, child_table, key, child_ctid FROM own_planner ORDER BY n;
SET fk_guard.orphan_engine = one_pass;
SELECT count(*) AS rows, count(*) FILTER (WHERE (o.*)::text IS DISTINCT FROM (p.*)::text) AS differing
  FROM (SELECT row_number() OVER () AS n, * FROM fk_orphans('c_own')) o FULL JOIN own_planner p USING (n);
RESET ROLE;
SELECT count(*) AS rows, count(*) FILTER (WHERE (o.*)::text IS DISTINCT FROM (p.*)::text) AS differing
  FROM (SELECT row_number() OVER () AS n, * FROM fk_orphans('c_own')) o FULL JOIN own_planner p USING (n);
SELECT constraint_name, child_table, key FROM fk_orphans('c_own', 2);
DROP TABLE own_planner;
CREATE ROLE eng_mallory;
GRANT USAGE ON SCHEMA eng TO eng_mallory;
CREATE SCHEMA eng_m AUTHORIZATION eng_mallory;
ALTER TABLE c_pc_a OWNER TO eng_mallory;
SET ROLE eng_mallory;
CREATE FUNCTION eng_m.spy() RETURNS bool LANGUAGE plpgsql IMMUTABLE AS
  $$BEGIN RAISE NOTICE 'eng_m.spy ran as %', current_user; RETURN false; END$$;
CREATE FUNCTION eng_m.spy_int(int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS
  $$BEGIN RAISE NOTICE 'eng_m.spy_int ran as %', current_user; RETURN $1; END$$;
CREATE FUNCTION eng_m.spy_trigger() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN RAISE NOTICE 'eng_m.spy_trigger ran as %', current_user; RETURN NEW; END$$;
ALTER TABLE eng.c_pc_a ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY hide ON eng.c_pc_a USING (eng_m.spy());
CREATE TRIGGER spy BEFORE INSERT OR UPDATE OR DELETE ON eng.c_pc_a FOR EACH ROW EXECUTE FUNCTION eng_m.spy_trigger();
CREATE TRIGGER spy_truncate BEFORE TRUNCATE ON eng.c_pc_a EXECUTE FUNCTION eng_m.spy_trigger();
ALTER TABLE eng.c_pc_a ALTER COLUMN b SET DEFAULT eng_m.spy_int(1);
-- and it may not check the table whose leaf it owns
SELECT * FROM fk_orphans('eng.c_pc');
RESET ROLE;
SET fk_guard.orphan_engine = one_pass;
SELECT count(*) AS rows, count(*) FILTER (WHERE (o.*)::text IS DISTINCT FROM (p.*)::text) AS differing
  FROM (SELECT row_number() OVER () AS n, 'all' AS call, * FROM fk_orphans('c_pc')) o
  FULL JOIN (SELECT * FROM pc_planner WHERE call = 'all') p USING (n);
SET fk_guard.orphan_engine = planner;
SELECT count(*) AS rows, count(*) FILTER (WHERE (o.*)::text IS DISTINCT FROM (p.*)::text) AS differing
  FROM (SELECT row_number() OVER () AS n, 'all' AS call, * FROM fk_orphans('c_pc')) o
  FULL JOIN (SELECT * FROM pc_planner WHERE call = 'all') p USING (n);
SELECT count(*) AS orphans_in_c_pc_a FROM fk_orphans('c_pc') WHERE child_table = 'c_pc_a'::regclass;

-- A role allowed to read the partitioned table (and the referenced keys), but
-- not the leaf another role owns, checks it with either engine, as a query
-- on the partitioned table lets it read every leaf.
GRANT SELECT ON c_pc, pp, pq, p_big, p_txt, p_num, p_pair, pc_planner TO eng_reader;
SET ROLE eng_reader;
SELECT has_table_privilege('eng.c_pc_a', 'SELECT') AS reads_c_pc_a;
SET fk_guard.orphan_engine = one_pass;
SELECT count(*) AS rows, count(*) FILTER (WHERE (o.*)::text IS DISTINCT FROM (p.*)::text) AS differing
  FROM (SELECT row_number() OVER () AS n, 'all' AS call, * FROM fk_orphans('eng.c_pc')) o
  FULL JOIN (SELECT * FROM pc_planner WHERE call = 'all') p USING (n);
SELECT count(*) AS rows, count(*) FILTER (WHERE (o.*)::text IS DISTINCT FROM (p.*)::text) AS differing
  FROM (SELECT row_number() OVER () AS n, 'limit 40' AS call, * FROM fk_orphans('eng.c_pc', 40)) o
  FULL JOIN (SELECT row_number() OVER (ORDER BY n) AS n, call, constraint_name, child_table, parent_table,
                    fk_columns, parent_columns, key, child_ctid
               FROM pc_planner WHERE call = 'limit 40') p USING (n);
SET fk_guard.orphan_engine = planner;
SELECT count(*) FROM fk_orphans('eng.c_pc');
RESET ROLE;
DROP TABLE pc_planner, pc_summary, pc_audit;
DROP SCHEMA eng_m CASCADE;

SET fk_guard.orphan_engine = auto;
RESET search_path;
DROP SCHEMA eng CASCADE;
DROP ROLE eng_reader;
DROP ROLE eng_mallory;
DROP ROLE eng_owner;
