-- Cases where a query over the tables can judge differently from PostgreSQL's
-- per-row RI check (RI_FKey_check), each compared with PostgreSQL's verdict
-- (fkg_test.disagreements(), orphans_basic.sql) under every join plan.

-- The number of parent rows that would have to be inserted for the child's
-- orphans of constraint con to pass: inserted one by one, each for a row
-- PostgreSQL still rejects, then rolled back.  What missing_keys must say.
CREATE FUNCTION fkg_test.parents_needed(con oid) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  c pg_constraint;
  r record;
  needed bigint := 0;
  fk_cols text;
  pk_cols text;
BEGIN
  SELECT * INTO c FROM pg_constraint WHERE oid = con;
  SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.n) INTO fk_cols
    FROM unnest(c.conkey) WITH ORDINALITY k(attnum, n)
    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum;
  SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.n) INTO pk_cols
    FROM unnest(c.confkey) WITH ORDINALITY k(attnum, n)
    JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum;
  BEGIN
    FOR r IN SELECT * FROM fkg_test.rejected_rows(con) LOOP
      -- Still rejected after the parents inserted so far?
      IF EXISTS (SELECT FROM fkg_test.rejected_rows(con) x WHERE x.child_table = r.child_table AND x.child_ctid = r.child_ctid)
      THEN
        BEGIN
          EXECUTE format('INSERT INTO %s (%s) SELECT %s FROM %s WHERE ctid = $1', c.confrelid::regclass, pk_cols,
                         fk_cols, r.child_table) USING r.child_ctid;
          needed := needed + 1;
        EXCEPTION WHEN not_null_violation THEN
          NULL; -- a MATCH FULL key with NULLs: no parent row can fix it
        END;
      END IF;
    END LOOP;
    RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'roll back';
  EXCEPTION WHEN raise_exception THEN
    RETURN needed;
  END;
END
$$;

-- Rows of the declared foreign keys on the given tables where fk_orphans()
-- and PostgreSQL disagree, and fk_orphan_summary() against the oracle, with
-- hash joins on and off.
CREATE FUNCTION fkg_test.judge(tables regclass[]) RETURNS TABLE (plan text, constraint_name name, what text)
LANGUAGE plpgsql AS $$
DECLARE
  hashing text;
BEGIN
  FOREACH hashing IN ARRAY ARRAY['on', 'off'] LOOP
    PERFORM set_config('enable_hashjoin', hashing, true);
    PERFORM set_config('enable_hashagg', hashing, true);
    RETURN QUERY
      SELECT 'hashing ' || hashing, d.constraint_name, format('row %s only in %s', d.child_ctid, d.only_in)
        FROM fkg_test.disagreements() d WHERE d.child_table = ANY (tables);
    RETURN QUERY
      SELECT 'hashing ' || hashing, s.constraint_name,
             format('missing_keys %s, PostgreSQL needs %s parent rows', s.missing_keys, fkg_test.parents_needed(k.oid))
        FROM unnest(tables) t, fk_orphan_summary(t) s
        JOIN pg_constraint k ON k.conname = s.constraint_name AND k.conrelid = s.child_table
       WHERE s.missing_keys IS DISTINCT FROM fkg_test.parents_needed(k.oid);
  END LOOP;
END
$$;

-- A composite-typed key: the column's own NULL, not its fields, decides
-- whether the row is checked (ri_NullCheck); ROW(2, NULL) is checked and
-- missing, ROW(NULL, NULL) matches the same value in the parent.
CREATE TYPE pair AS (a int, b int);
CREATE TABLE pair_parent (k pair PRIMARY KEY);
INSERT INTO pair_parent VALUES (ROW(1, 1)), (ROW(NULL, NULL));
CREATE TABLE pair_child (id int, k pair);
INSERT INTO pair_child VALUES (1, ROW(1, 1)), (2, ROW(2, NULL)), (3, ROW(3, 4)), (4, ROW(NULL, NULL)), (5, NULL);
ALTER TABLE pair_child ADD CONSTRAINT pair_child_fk FOREIGN KEY (k) REFERENCES pair_parent NOT VALID;
CREATE TABLE pair_parent2 (k pair, x int, PRIMARY KEY (k, x));
INSERT INTO pair_parent2 VALUES (ROW(NULL, NULL), 1);
CREATE TABLE pair_child2 (id int, k pair, x int);
INSERT INTO pair_child2 VALUES (1, ROW(NULL, NULL), 1), (2, ROW(NULL, NULL), NULL), (3, NULL, NULL), (4, ROW(5, 5), 1);
ALTER TABLE pair_child2 ADD CONSTRAINT pair_child2_fk FOREIGN KEY (k, x) REFERENCES pair_parent2 MATCH FULL NOT VALID;
SELECT constraint_name, key FROM fk_orphans('pair_child') ORDER BY key::text;
SELECT constraint_name, key FROM fk_orphans('pair_child2') ORDER BY key::text;
SELECT * FROM fkg_test.judge(ARRAY['pair_child', 'pair_child2']::regclass[]);

-- A nondeterministic collation on a name key referenced from text: the
-- constraint's equality is name = text under "ci", and a hash join would hash
-- the two sides with functions that do not agree under it.  (The referencing
-- column has the same collation: PostgreSQL 18 refuses a foreign key whose
-- collations differ when either is nondeterministic.)
CREATE COLLATION fkg_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE TABLE ci_parent (k name COLLATE fkg_ci PRIMARY KEY);
INSERT INTO ci_parent VALUES ('abc');
CREATE TABLE ci_child (k text COLLATE fkg_ci);
INSERT INTO ci_child VALUES ('abc'), ('ABC'), ('abd');
ALTER TABLE ci_child ADD CONSTRAINT ci_child_fk FOREIGN KEY (k) REFERENCES ci_parent NOT VALID;
SET enable_hashjoin = on;
SELECT key FROM fk_orphans('ci_child');
SET enable_hashjoin = off;
SELECT key FROM fk_orphans('ci_child');
RESET enable_hashjoin;
SELECT * FROM fkg_test.judge(ARRAY['ci_child']::regclass[]);

-- missing_keys counts keys distinct under the constraint's equality: a child
-- of a parent under a case-insensitive collation needs one row for 'abc',
-- 'ABC', 'Abc' (a citext child of a text parent: orphans_citext).
CREATE TABLE ci_text_parent (k text COLLATE fkg_ci PRIMARY KEY);
CREATE TABLE c_child (k text COLLATE fkg_ci);
INSERT INTO c_child VALUES ('abc'), ('ABC'), ('Abc'), ('x');
ALTER TABLE c_child ADD CONSTRAINT c_child_fk FOREIGN KEY (k) REFERENCES ci_text_parent NOT VALID;
SELECT constraint_name, orphan_rows, missing_keys FROM fk_orphan_summary('c_child');
SELECT * FROM fkg_test.judge(ARRAY['c_child']::regclass[]);

-- A name column referencing text under an ICU collation: PostgreSQL's own
-- check compares under two implicit collations and raises 42P22 for every
-- row it checks, so the foreign key has no verdict.  A table-targeted call
-- raises it; a database-wide one warns and leaves the counts NULL; a table
-- without a row to check is clean.
CREATE TABLE icu_parent (k text COLLATE "und-x-icu" PRIMARY KEY);
INSERT INTO icu_parent VALUES ('abc');
CREATE TABLE name_child (id int, k name REFERENCES icu_parent);
CREATE TABLE empty_name_child (id int, k name REFERENCES icu_parent);
SELECT fkg_test.error_of($$INSERT INTO name_child VALUES (0, 'abc')$$) AS postgres_says;
SET session_replication_role = replica;
INSERT INTO name_child VALUES (1, 'abc'), (2, 'x'), (3, NULL);
INSERT INTO empty_name_child VALUES (1, NULL);
RESET session_replication_role;
SELECT fkg_test.error_of($$SELECT * FROM fk_orphans('name_child')$$) AS targeted;
SELECT constraint_name, orphan_rows, missing_keys FROM fk_orphan_summary()
 WHERE child_table IN ('name_child'::regclass, 'empty_name_child'::regclass) ORDER BY 1;
DROP TABLE name_child, empty_name_child, icu_parent;

-- A row PostgreSQL itself cannot judge: a numeric child of a real parent
-- holding 1e39, which the cast to real overflows (22003).  That foreign key
-- gets no verdict; the others' reports are complete.
CREATE TABLE real_parent (k real PRIMARY KEY);
CREATE TABLE numeric_child (id int, k numeric REFERENCES real_parent);
CREATE TABLE judged_child (id int, k real REFERENCES real_parent);
SET session_replication_role = replica;
INSERT INTO numeric_child VALUES (1, 1e39), (2, 5);
INSERT INTO judged_child VALUES (1, 7);
RESET session_replication_role;
SELECT fkg_test.error_of($$INSERT INTO numeric_child SELECT * FROM numeric_child WHERE id = 1$$) AS postgres_says;
SELECT fkg_test.error_of($$SELECT * FROM fk_orphans('numeric_child')$$) AS targeted;
SELECT constraint_name, orphan_rows, missing_keys FROM fk_orphan_summary()
 WHERE child_table IN ('numeric_child'::regclass, 'judged_child'::regclass) ORDER BY 1;
SELECT constraint_name, key FROM fk_orphans() WHERE child_table = 'judged_child'::regclass;
DROP TABLE numeric_child, judged_child, real_parent;

-- The files after this one see the database as it was.
DROP TABLE pair_child, pair_parent, pair_child2, pair_parent2, ci_child, ci_parent,
  c_child, ci_text_parent;
DROP TYPE pair;
DROP COLLATION fkg_ci;
DROP FUNCTION fkg_test.judge(regclass[]), fkg_test.parents_needed(oid);
