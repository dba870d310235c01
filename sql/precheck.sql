-- fk_precheck(): the staging rows that would violate a foreign key of the
-- target if inserted now.  PostgreSQL is the oracle: each staging row is
-- inserted, in a subtransaction, into a scratch table holding target's key
-- columns (same types, typmods and collations) and the same foreign key
-- (as fkg_test.rejected_rows judges orphans), after the with_parents rows were
-- inserted into the tables they stand in for; the rows it rejects with
-- foreign_key_violation must be exactly fk_precheck's.

CREATE FUNCTION fkg_test.inserted_rejections(source regclass, target regclass, with_parents regclass[],
                                             parent_tables regclass[])
RETURNS TABLE (constraint_name name, staging_ctid tid)
LANGUAGE plpgsql AS $$
DECLARE
  c record;
  r record;
  cols text;
  present text;
BEGIN
  BEGIN
    -- the parents loaded in the same transaction (without their own checks)
    SET LOCAL session_replication_role = replica;
    FOR i IN 1 .. coalesce(array_length(with_parents, 1), 0) LOOP
      SELECT string_agg(quote_ident(a.attname), ', ') INTO cols
        FROM pg_attribute a
       WHERE a.attrelid = with_parents[i] AND a.attnum > 0 AND NOT a.attisdropped
         AND EXISTS (SELECT FROM pg_attribute b WHERE b.attrelid = parent_tables[i] AND b.attname = a.attname
                        AND b.attnum > 0 AND NOT b.attisdropped);
      EXECUTE format('INSERT INTO %s (%s) SELECT %s FROM %s', parent_tables[i], cols, cols, with_parents[i]);
    END LOOP;
    SET LOCAL session_replication_role = origin;
    FOR c IN SELECT k.oid, k.conname, k.conkey, k.conrelid FROM pg_constraint k
              WHERE k.contype = 'f' AND k.conparentid = 0
                AND k.conrelid IN (SELECT target UNION ALL SELECT relid FROM pg_partition_ancestors(target))
              ORDER BY k.conname LOOP
      SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY n),
             string_agg(quote_ident(a.attname), ', ' ORDER BY n)
               FILTER (WHERE EXISTS (SELECT FROM pg_attribute s WHERE s.attrelid = source AND s.attname = a.attname
                                        AND s.attnum > 0 AND NOT s.attisdropped))
        INTO cols, present
        FROM unnest(c.conkey) WITH ORDINALITY k(attnum, n)
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum;
      EXECUTE format('CREATE TABLE fkg_test.pre_scratch AS SELECT %s FROM %s WITH NO DATA', cols, target);
      EXECUTE 'ALTER TABLE fkg_test.pre_scratch ADD CONSTRAINT pre_fk '
              || regexp_replace(pg_get_constraintdef(c.oid),
                                ' (NOT VALID|DEFERRABLE|NOT DEFERRABLE|INITIALLY DEFERRED|INITIALLY IMMEDIATE)', '', 'g');
      FOR r IN EXECUTE format('SELECT ctid AS id FROM ONLY %s', source) LOOP
        BEGIN
          EXECUTE format('INSERT INTO fkg_test.pre_scratch (%s) SELECT %s FROM ONLY %s WHERE ctid = $1',
                         present, present, source) USING r.id;
        EXCEPTION WHEN foreign_key_violation THEN
          constraint_name := c.conname;
          staging_ctid := r.id;
          RETURN NEXT;
        END;
      END LOOP;
      DROP TABLE fkg_test.pre_scratch;
    END LOOP;
    RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'roll back';
  EXCEPTION WHEN raise_exception THEN
    RETURN;
  END;
END
$$;

-- Rows on which fk_precheck and PostgreSQL disagree (none, when all is well).
-- infer: fk_precheck works out parent_tables itself.
CREATE FUNCTION fkg_test.precheck_judge(source regclass, target regclass, with_parents regclass[] DEFAULT '{}',
                                        parent_tables regclass[] DEFAULT '{}', infer boolean DEFAULT false)
RETURNS TABLE (constraint_name name, staging_ctid tid, only_in text)
LANGUAGE sql AS $$
  WITH ours AS (SELECT p.constraint_name, p.staging_ctid
                  FROM fk_precheck(source, target, with_parents, CASE WHEN NOT infer THEN parent_tables END) p),
       theirs AS (SELECT * FROM fkg_test.inserted_rejections(source, target, with_parents, parent_tables))
  (SELECT *, 'fk_precheck' FROM ours EXCEPT SELECT *, 'fk_precheck' FROM theirs)
  UNION ALL
  (SELECT *, 'postgres' FROM theirs EXCEPT SELECT *, 'postgres' FROM ours)
$$;

-- ---- Cross-type keys, MATCH SIMPLE and FULL --------------------------------
CREATE TABLE pc_customers (id int8 PRIMARY KEY, region text NOT NULL, UNIQUE (id, region));
INSERT INTO pc_customers SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END FROM generate_series(1, 20) g;
CREATE TABLE pc_orders (
  id int PRIMARY KEY,
  customer_id int8 REFERENCES pc_customers,
  cust int8, cust_region text,
  full_cust int8, full_region text,
  FOREIGN KEY (cust, cust_region) REFERENCES pc_customers (id, region),
  FOREIGN KEY (full_cust, full_region) REFERENCES pc_customers (id, region) MATCH FULL);
-- int4 staging columns into int8 ones, varchar into text
CREATE TABLE pc_stage (id int, customer_id int4, cust int2, cust_region varchar(10), full_cust numeric,
                       full_region varchar, note text);
INSERT INTO pc_stage VALUES
  (1, 1, 1, 'us', 1, 'us'),       -- all present
  (2, 21, NULL, NULL, NULL, NULL), -- customer 21 missing
  (3, NULL, 2, 'us', NULL, NULL),  -- (2, us) missing
  (4, NULL, 3, NULL, NULL, NULL),  -- MATCH SIMPLE: a NULL column, not checked
  (5, NULL, NULL, NULL, 3, NULL),  -- MATCH FULL: some NULL, some not: a violation
  (6, NULL, NULL, NULL, 23, 'us'), -- (23, us) missing under MATCH FULL
  (7, 2, 2, 'eu', 2, 'eu'),
  (8, NULL, NULL, NULL, 5.4, 'us'); -- numeric 5.4 becomes 5 in the int8 column: present
SELECT * FROM fk_precheck('pc_stage', 'pc_orders') ORDER BY staging_ctid, constraint_name;
SELECT * FROM fkg_test.precheck_judge('pc_stage', 'pc_orders');

-- ---- Text into varchar(n) and char(n): INSERT's length rules ----------------
CREATE TABLE pc_codes (code varchar(5) PRIMARY KEY, fixed char(3) UNIQUE);
INSERT INTO pc_codes VALUES ('abc', 'ab'), ('abcde', 'xyz');
CREATE TABLE pc_coded (code varchar(5) REFERENCES pc_codes, fixed char(3) REFERENCES pc_codes (fixed));
CREATE TABLE pc_code_stage (code text, fixed text);
INSERT INTO pc_code_stage VALUES
  ('abc', 'ab'),        -- char(3) pads 'ab': present
  ('abcde   ', 'xyz'),  -- varchar(5) drops the trailing spaces, as an assignment does
  ('abd', 'ab '),
  ('ABC', 'xy');
SELECT * FROM fk_precheck('pc_code_stage', 'pc_coded') ORDER BY staging_ctid, constraint_name;
SELECT * FROM fkg_test.precheck_judge('pc_code_stage', 'pc_coded');
-- A value INSERT cannot store fails the whole INSERT, and fk_precheck the same
-- way: an explicit cast would have truncated it.
INSERT INTO pc_code_stage VALUES ('abcdef', NULL);
SELECT fkg_test.error_of($$INSERT INTO pc_coded (code, fixed) SELECT code, fixed FROM pc_code_stage$$) AS insert_says;
SELECT fkg_test.error_of($$SELECT * FROM fk_precheck('pc_code_stage', 'pc_coded')$$) AS precheck_says;
SELECT fkg_test.error_of($$SELECT * FROM fkg_test.inserted_rejections('pc_code_stage', 'pc_coded', '{}', '{}')$$)
  AS row_by_row_says;
SELECT 'abcdef'::varchar(5) AS explicit_cast_truncates;
-- int8 out of int4's range, into an int4 column: 22003 from both.
CREATE TABLE pc_small_parent (id int4 PRIMARY KEY);
CREATE TABLE pc_small (id int4 REFERENCES pc_small_parent);
CREATE TABLE pc_big_stage (id int8);
INSERT INTO pc_big_stage VALUES (1), (5000000000);
SELECT fkg_test.error_of($$INSERT INTO pc_small SELECT id FROM pc_big_stage$$) AS insert_says;
SELECT fkg_test.error_of($$SELECT * FROM fk_precheck('pc_big_stage', 'pc_small')$$) AS precheck_says;
-- Types INSERT refuses outright (no assignment cast): 42804 from both.
CREATE TABLE pc_text_stage (id text);
INSERT INTO pc_text_stage VALUES ('1');
SELECT fkg_test.error_of($$INSERT INTO pc_small SELECT id FROM pc_text_stage$$) AS insert_says;
SELECT fkg_test.error_of($$SELECT * FROM fk_precheck('pc_text_stage', 'pc_small')$$) AS precheck_says;
-- A domain over varchar(3): the length rule, then the domain's check.
CREATE DOMAIN pc_short AS varchar(3) CHECK (VALUE <> 'zzz');
CREATE TABLE pc_dom_parent (k pc_short PRIMARY KEY);
INSERT INTO pc_dom_parent VALUES ('ab');
CREATE TABLE pc_dom (k pc_short REFERENCES pc_dom_parent);
CREATE TABLE pc_dom_stage (k text);
INSERT INTO pc_dom_stage VALUES ('ab'), ('ab  '), ('xy');
SELECT * FROM fk_precheck('pc_dom_stage', 'pc_dom');
SELECT * FROM fkg_test.precheck_judge('pc_dom_stage', 'pc_dom');
INSERT INTO pc_dom_stage VALUES ('zzz');
SELECT fkg_test.error_of($$INSERT INTO pc_dom SELECT k FROM pc_dom_stage$$) AS insert_says;
SELECT fkg_test.error_of($$SELECT * FROM fk_precheck('pc_dom_stage', 'pc_dom')$$) AS precheck_says;

-- ---- Collations ------------------------------------------------------------
-- A case-insensitive parent: 'ABC' finds 'abc', though the staging column
-- has the default collation (the value takes target's column collation).
CREATE COLLATION pc_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE TABLE pc_ci_parent (k text COLLATE pc_ci PRIMARY KEY);
INSERT INTO pc_ci_parent VALUES ('abc');
CREATE TABLE pc_ci_child (k text COLLATE pc_ci REFERENCES pc_ci_parent);
CREATE TABLE pc_ci_stage (k text COLLATE "C");
INSERT INTO pc_ci_stage VALUES ('abc'), ('ABC'), ('abd');
SELECT * FROM fk_precheck('pc_ci_stage', 'pc_ci_child');
SELECT * FROM fkg_test.precheck_judge('pc_ci_stage', 'pc_ci_child');
-- Collations that differ: RI compares under the parent's ("C" here, though
-- the child's and the staging column's are others).
CREATE TABLE pc_c_parent (k text COLLATE "C" PRIMARY KEY);
INSERT INTO pc_c_parent VALUES ('abc');
CREATE TABLE pc_c_child (k text COLLATE "und-x-icu" REFERENCES pc_c_parent);
SELECT * FROM fk_precheck('pc_ci_stage', 'pc_c_child');
SELECT * FROM fkg_test.precheck_judge('pc_ci_stage', 'pc_c_child');

-- A name column referencing text under an ICU collation: PostgreSQL's check
-- compares under two implicit collations and raises 42P22 for a row it
-- checks; so does fk_precheck.
CREATE TABLE pc_icu_parent (k text COLLATE "und-x-icu" PRIMARY KEY);
INSERT INTO pc_icu_parent VALUES ('abc');
CREATE TABLE pc_name_child (k name REFERENCES pc_icu_parent);
CREATE TABLE pc_name_stage (k text);
INSERT INTO pc_name_stage VALUES ('abc');
SELECT fkg_test.error_of($$INSERT INTO pc_name_child SELECT k FROM pc_name_stage$$) AS insert_says;
SELECT fkg_test.error_of($$SELECT * FROM fk_precheck('pc_name_stage', 'pc_name_child')$$) AS precheck_says;
DROP TABLE pc_name_child, pc_name_stage, pc_icu_parent;

-- ---- Partitioned tables ----------------------------------------------------
CREATE TABLE pc_part_parent (id int, region text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE TABLE pc_part_parent_eu PARTITION OF pc_part_parent FOR VALUES IN ('eu');
CREATE TABLE pc_part_parent_us PARTITION OF pc_part_parent FOR VALUES IN ('us');
INSERT INTO pc_part_parent VALUES (1, 'eu'), (2, 'us');
CREATE TABLE pc_part_child (id int, parent_id int, region text,
                            FOREIGN KEY (parent_id, region) REFERENCES pc_part_parent) PARTITION BY RANGE (id);
CREATE TABLE pc_part_child_1 PARTITION OF pc_part_child FOR VALUES FROM (0) TO (100);
-- a foreign key declared on one partition alone: not checked, and said so
CREATE TABLE pc_part_child_2 PARTITION OF pc_part_child FOR VALUES FROM (100) TO (200);
ALTER TABLE pc_part_child_2 ADD CONSTRAINT pc_part_child_2_extra FOREIGN KEY (parent_id) REFERENCES pc_small_parent;
CREATE TABLE pc_part_stage (id int, parent_id int8, region varchar(2));
INSERT INTO pc_part_stage VALUES (1, 1, 'eu'), (2, 1, 'us'), (3, 2, 'us'), (4, NULL, 'eu'), (5, 3, 'eu');
SELECT * FROM fk_precheck('pc_part_stage', 'pc_part_child');
SELECT * FROM fk_precheck('pc_part_stage', 'pc_part_child_1');
SELECT * FROM fkg_test.precheck_judge('pc_part_stage', 'pc_part_child_1');

-- ---- with_parents: the deferred-constraint load ---------------------------
CREATE TABLE pc_stage_customers (id int, region text, extra text);
INSERT INTO pc_stage_customers VALUES (21, 'eu', 'x'), (23, 'us', NULL), (24, 'eu', NULL);
-- pc_stage_customers goes into pc_customers (the only referenced table of
-- pc_orders, so fk_precheck works it out too)
SELECT * FROM fk_precheck('pc_stage', 'pc_orders', ARRAY['pc_stage_customers']::regclass[]);
SELECT * FROM fkg_test.precheck_judge('pc_stage', 'pc_orders', ARRAY['pc_stage_customers']::regclass[],
                                      ARRAY['pc_customers']::regclass[], infer => true);
-- Self-references: a parent in the same batch counts only when the batch
-- itself is among with_parents (it is loaded in one statement, or deferred).
CREATE TABLE pc_employees (id int PRIMARY KEY, manager_id int REFERENCES pc_employees, dept_id int8 REFERENCES pc_customers);
INSERT INTO pc_employees VALUES (1, NULL, 1);
CREATE TABLE pc_employee_stage (id int, manager_id int, dept_id int);
INSERT INTO pc_employee_stage VALUES (10, 1, 1), (11, 10, 1), (12, 13, 2), (13, 99, 21);
SELECT * FROM fk_precheck('pc_employee_stage', 'pc_employees');
SELECT * FROM fkg_test.precheck_judge('pc_employee_stage', 'pc_employees');
-- its id and dept_id both name referenced columns: which table it stands in
-- for must be said
SELECT fkg_test.error_of($$SELECT * FROM fk_precheck('pc_employee_stage', 'pc_employees', ARRAY['pc_employee_stage']::regclass[])$$);
SELECT * FROM fk_precheck('pc_employee_stage', 'pc_employees', ARRAY['pc_employee_stage']::regclass[],
                          ARRAY['pc_employees']::regclass[]);
SELECT * FROM fkg_test.precheck_judge('pc_employee_stage', 'pc_employees', ARRAY['pc_employee_stage']::regclass[],
                                      ARRAY['pc_employees']::regclass[]);
-- both at once
SELECT * FROM fkg_test.precheck_judge('pc_employee_stage', 'pc_employees',
                                      ARRAY['pc_employee_stage', 'pc_stage_customers']::regclass[],
                                      ARRAY['pc_employees', 'pc_customers']::regclass[]);

-- ---- A staging table without some key column -------------------------------
-- INSERT would put NULL there (no default): MATCH SIMPLE passes, MATCH FULL
-- with other columns set does not.
CREATE TABLE pc_partial_stage (customer_id int, cust int, full_cust int);
INSERT INTO pc_partial_stage VALUES (1, 1, NULL), (99, 99, 99);
SELECT * FROM fk_precheck('pc_partial_stage', 'pc_orders');
SELECT * FROM fkg_test.precheck_judge('pc_partial_stage', 'pc_orders');
-- A default would be filled in: fk_precheck does not evaluate it, and says so.
ALTER TABLE pc_orders ALTER COLUMN cust_region SET DEFAULT 'us';
SELECT fkg_test.error_of($$SELECT * FROM fk_precheck('pc_partial_stage', 'pc_orders')$$);
ALTER TABLE pc_orders ALTER COLUMN cust_region DROP DEFAULT;
-- A generated key column: INSERT computes it, fk_precheck does not.
CREATE TABLE pc_generated (id int, customer_id int8 GENERATED ALWAYS AS (id * 2) STORED REFERENCES pc_customers);
SELECT fkg_test.error_of($$SELECT * FROM fk_precheck('pc_partial_stage', 'pc_generated')$$);
DROP TABLE pc_generated;

-- ---- Bad arguments ----------------------------------------------------------
CREATE VIEW pc_view AS SELECT * FROM pc_stage;
CREATE TABLE pc_no_keys (id int);
CREATE TABLE pc_part_stage_p (id int) PARTITION BY RANGE (id);
SELECT fkg_test.error_of($$SELECT * FROM fk_precheck(NULL, 'pc_orders')$$);
SELECT fkg_test.error_of($$SELECT * FROM fk_precheck('pc_stage', NULL)$$);
SELECT fkg_test.error_of($$SELECT * FROM fk_precheck('pc_view', 'pc_orders')$$);
SELECT fkg_test.error_of($$SELECT * FROM fk_precheck('pc_part_stage_p', 'pc_orders')$$);
SELECT fkg_test.error_of($$SELECT * FROM fk_precheck('pc_stage', 'pc_view')$$);
SELECT fkg_test.error_of($$SELECT * FROM fk_precheck(0, 'pc_orders')$$);
SELECT * FROM fk_precheck('pc_stage', 'pc_no_keys');
SELECT fkg_test.error_of($$SELECT * FROM fk_precheck('pc_stage', 'pc_orders', ARRAY[NULL]::regclass[])$$);
SELECT fkg_test.error_of($$SELECT * FROM fk_precheck('pc_stage', 'pc_orders', ARRAY['pc_view']::regclass[])$$);
SELECT fkg_test.error_of($$SELECT * FROM fk_precheck('pc_stage', 'pc_orders', ARRAY['pc_stage_customers']::regclass[], '{}')$$);
SELECT fkg_test.error_of($$SELECT * FROM fk_precheck('pc_stage', 'pc_orders', ARRAY['pc_stage_customers']::regclass[], ARRAY['pc_codes']::regclass[])$$);
CREATE TABLE pc_unrelated (x int);
SELECT fkg_test.error_of($$SELECT * FROM fk_precheck('pc_stage', 'pc_orders', ARRAY['pc_unrelated']::regclass[])$$);

-- ---- Privileges: an ordinary role --------------------------------------------
-- It may learn whether a key exists in a table it cannot read exactly when an
-- INSERT would tell it: when it may insert into the key columns of target.
CREATE ROLE fkg_stager;
CREATE SCHEMA pc_secret;
CREATE TABLE pc_secret.accounts (id int PRIMARY KEY, balance numeric);
INSERT INTO pc_secret.accounts VALUES (1, 1000000);
CREATE TABLE pc_payments (id int, account_id int REFERENCES pc_secret.accounts);
CREATE TABLE pc_others_stage (account_id int);
GRANT CREATE ON SCHEMA public TO fkg_stager;
SET ROLE fkg_stager;
CREATE TABLE pc_my_stage (id int, account_id int);
INSERT INTO pc_my_stage VALUES (1, 1), (2, 2);
-- neither INSERT on pc_payments nor SELECT on the accounts: refused, and
-- INSERT would be refused too
SELECT fkg_test.error_of($$SELECT * FROM fk_precheck('pc_my_stage', 'pc_payments')$$) AS precheck_says;
SELECT fkg_test.error_of($$INSERT INTO pc_payments SELECT * FROM pc_my_stage$$) AS insert_says;
RESET ROLE;
GRANT INSERT (account_id) ON pc_payments TO fkg_stager;
SET ROLE fkg_stager;
-- INSERT on the key column: the INSERT tells whether account 2 exists, and
-- so does fk_precheck (nothing more: the role still cannot read the accounts)
SELECT fkg_test.error_of($$INSERT INTO pc_payments (account_id) SELECT account_id FROM pc_my_stage WHERE id = 2$$)
  AS insert_says;
SELECT * FROM fk_precheck('pc_my_stage', 'pc_payments');
SELECT fkg_test.error_of($$SELECT * FROM pc_secret.accounts$$) AS still_unreadable;
-- a staging table it cannot read: refused
SELECT fkg_test.error_of($$SELECT * FROM fk_precheck('pc_others_stage', 'pc_payments')$$);
-- nor one standing in for a parent
SELECT fkg_test.error_of($$SELECT * FROM fk_precheck('pc_my_stage', 'pc_payments', ARRAY['pc_others_stage']::regclass[])$$);
-- row-level security on its own staging table as seen by it
RESET ROLE;
ALTER TABLE pc_my_stage OWNER TO CURRENT_USER;
GRANT SELECT ON pc_my_stage TO fkg_stager;
ALTER TABLE pc_my_stage ENABLE ROW LEVEL SECURITY;
CREATE POLICY first_only ON pc_my_stage USING (id = 1);
SET ROLE fkg_stager;
SELECT fkg_test.error_of($$SELECT * FROM fk_precheck('pc_my_stage', 'pc_payments')$$);
RESET ROLE;
-- Referenced tables of two owners: each judged as its owner, over the
-- staged rows read once, as the staging table's owner.
SET ROLE fkg_stager;
CREATE TABLE pc_methods (id int PRIMARY KEY);
INSERT INTO pc_methods VALUES (7);
RESET ROLE;
ALTER TABLE pc_payments ADD COLUMN method_id int REFERENCES pc_methods;
CREATE TABLE pc_payment_stage (account_id int8, method_id int2);
INSERT INTO pc_payment_stage VALUES (1, 7), (2, 7), (1, 8), (NULL, NULL);
SELECT * FROM fk_precheck('pc_payment_stage', 'pc_payments') ORDER BY 1, 3;
SELECT * FROM fkg_test.precheck_judge('pc_payment_stage', 'pc_payments');

-- The staging table is read as its owner, the parent as its owner (as
-- PostgreSQL's RI check reads it): a superuser prechecking the role's table
-- runs no code of the role's with superuser rights.  The role's staging
-- column has a type of its own, with an assignment cast to int that records
-- who runs it.
ALTER TABLE pc_my_stage DISABLE ROW LEVEL SECURITY;
CREATE TABLE pc_witness (who name);
GRANT INSERT ON pc_witness TO PUBLIC;
SET ROLE fkg_stager;
CREATE TYPE pc_token AS (v int);
CREATE FUNCTION pc_token_to_int(pc_token) RETURNS int LANGUAGE sql
  AS $$ INSERT INTO public.pc_witness VALUES (current_user) RETURNING ($1).v $$;
CREATE CAST (pc_token AS int) WITH FUNCTION pc_token_to_int(pc_token) AS ASSIGNMENT;
CREATE TABLE pc_spy_stage (id int, account_id pc_token);
INSERT INTO pc_spy_stage VALUES (1, ROW(1)), (2, ROW(2));
RESET ROLE;
SELECT * FROM fk_precheck('pc_spy_stage', 'pc_payments');
SELECT who, count(*) FROM pc_witness GROUP BY who;

-- Cancelled halfway (a statement timeout while a slow cast of the staging
-- rows runs): the error ends the call, and the session is as it was (role,
-- search_path, settings).
CREATE TYPE pc_slow AS (v int);
CREATE FUNCTION pc_slow_to_int(pc_slow) RETURNS int LANGUAGE sql
  AS $$ SELECT ($1).v FROM pg_catalog.pg_sleep(0.3) $$;
CREATE CAST (pc_slow AS int) WITH FUNCTION pc_slow_to_int(pc_slow) AS ASSIGNMENT;
CREATE TABLE pc_slow_stage (account_id pc_slow);
INSERT INTO pc_slow_stage VALUES (ROW(1)), (ROW(2));
SET statement_timeout = '100ms';
DO $$
BEGIN
  PERFORM * FROM fk_precheck('pc_slow_stage', 'pc_payments');
EXCEPTION WHEN query_canceled THEN
  RAISE NOTICE '%: %, caught as %, search_path %', SQLSTATE, SQLERRM, current_user, current_setting('search_path');
END
$$;
RESET statement_timeout;
SELECT current_user, current_setting('search_path') AS search_path,
       current_setting('enable_hashjoin') AS enable_hashjoin;
SELECT constraint_name, key FROM fk_precheck('pc_slow_stage', 'pc_payments');

SET client_min_messages = warning;
DROP TABLE pc_orders, pc_stage, pc_customers, pc_coded, pc_codes, pc_code_stage, pc_small, pc_small_parent,
  pc_big_stage, pc_text_stage, pc_dom, pc_dom_parent, pc_dom_stage, pc_ci_child, pc_c_child, pc_c_parent, pc_ci_parent,
  pc_ci_stage, pc_part_child, pc_part_parent, pc_part_stage, pc_stage_customers, pc_employees, pc_employee_stage,
  pc_partial_stage, pc_no_keys, pc_part_stage_p, pc_unrelated, pc_payments, pc_others_stage, pc_witness, pc_payment_stage, pc_slow_stage CASCADE;
DROP TYPE pc_slow CASCADE;
DROP SCHEMA pc_secret CASCADE;
DROP DOMAIN pc_short;
DROP COLLATION pc_ci;
DROP OWNED BY fkg_stager CASCADE;
RESET client_min_messages;
DROP ROLE fkg_stager;
DROP FUNCTION fkg_test.precheck_judge(regclass, regclass, regclass[], regclass[], boolean),
  fkg_test.inserted_rejections(regclass, regclass, regclass[], regclass[]);
