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

SET fk_guard.orphan_engine = auto;
RESET search_path;
DROP SCHEMA eng CASCADE;
DROP ROLE eng_reader;
