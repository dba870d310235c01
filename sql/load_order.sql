-- fk_load_order(): parents before children, cycles and self-references
-- reported.  PostgreSQL is the oracle: the tables, emptied, are loaded again
-- from a copy in the order given (a cycle in one transaction with its
-- constraints deferred, after running the SQL that makes them DEFERRABLE),
-- with every foreign key checked by PostgreSQL as the rows go in.

CREATE SCHEMA lo;
CREATE TABLE lo.customers (id int PRIMARY KEY);
CREATE TABLE lo.products (id int PRIMARY KEY);
CREATE TABLE lo.orders (id int PRIMARY KEY, customer_id int REFERENCES lo.customers);
CREATE TABLE lo.order_lines (order_id int REFERENCES lo.orders, product_id int REFERENCES lo.products);
-- a self-reference: ignored for the order, reported
CREATE TABLE lo.employees (id int PRIMARY KEY, manager_id int REFERENCES lo.employees);
-- partitions fold into their partitioned table, with the foreign keys
-- declared on it and on a partition alone
CREATE TABLE lo.events (id int, customer_id int REFERENCES lo.customers, product_id int) PARTITION BY RANGE (id);
CREATE TABLE lo.events_1 PARTITION OF lo.events FOR VALUES FROM (0) TO (10);
CREATE TABLE lo.events_2 PARTITION OF lo.events FOR VALUES FROM (10) TO (20);
ALTER TABLE lo.events_2 ADD CONSTRAINT events_2_product FOREIGN KEY (product_id) REFERENCES lo.products;
-- a partition referencing its own partitioned table: a self-reference once folded
CREATE TABLE lo.tree (id int PRIMARY KEY, up int) PARTITION BY RANGE (id);
CREATE TABLE lo.tree_1 PARTITION OF lo.tree FOR VALUES FROM (0) TO (100);
ALTER TABLE lo.tree_1 ADD CONSTRAINT tree_1_up FOREIGN KEY (up) REFERENCES lo.tree;
-- a DEFERRABLE cycle
CREATE TABLE lo.departments (id int PRIMARY KEY, head_id int);
CREATE TABLE lo.staff (id int PRIMARY KEY, department_id int REFERENCES lo.departments DEFERRABLE);
ALTER TABLE lo.departments ADD CONSTRAINT departments_head FOREIGN KEY (head_id) REFERENCES lo.staff
  DEFERRABLE INITIALLY DEFERRED;
-- a cycle of three, one constraint DEFERRABLE and two not, names needing quotes
CREATE TABLE lo."Ring ""A""" (id int PRIMARY KEY, b int);
CREATE TABLE lo.ring_b (id int PRIMARY KEY, c int);
CREATE TABLE lo.ring_c (id int PRIMARY KEY, a int REFERENCES lo."Ring ""A""");
ALTER TABLE lo."Ring ""A""" ADD CONSTRAINT "a -> b" FOREIGN KEY (b) REFERENCES lo.ring_b;
ALTER TABLE lo.ring_b ADD CONSTRAINT b_c FOREIGN KEY (c) REFERENCES lo.ring_c DEFERRABLE;
-- a child of the cycle
CREATE TABLE lo.ring_child (a int REFERENCES lo."Ring ""A""");

BEGIN;
SET CONSTRAINTS ALL DEFERRED;
INSERT INTO lo.customers VALUES (1), (2);
INSERT INTO lo.products VALUES (1), (2);
INSERT INTO lo.orders VALUES (1, 1), (2, 2);
INSERT INTO lo.order_lines VALUES (1, 1), (2, 2);
INSERT INTO lo.employees VALUES (1, NULL), (2, 1), (3, 2);
INSERT INTO lo.events VALUES (1, 1, 99), (11, 2, 2);
INSERT INTO lo.tree VALUES (1, NULL), (2, 1);
INSERT INTO lo.departments VALUES (1, 1);
INSERT INTO lo.staff VALUES (1, 1);
COMMIT;
SET session_replication_role = replica; -- the ring's NOT DEFERRABLE cycle, loaded around the checks
INSERT INTO lo."Ring ""A""" VALUES (1, 1);
INSERT INTO lo.ring_b VALUES (1, 1);
INSERT INTO lo.ring_c VALUES (1, 1);
INSERT INTO lo.ring_child VALUES (1);
RESET session_replication_role;

-- The copy the tables are loaded from, loaded in the order below.
CREATE SCHEMA lo_copy;
DO $$
DECLARE
  t record;
BEGIN
  FOR t IN SELECT c.relname FROM pg_class c
            WHERE c.relnamespace = 'lo'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition LOOP
    EXECUTE format('CREATE TABLE lo_copy.%I AS SELECT * FROM lo.%I', t.relname, t.relname);
  END LOOP;
END
$$;

CREATE FUNCTION pg_temp.lo_tables() RETURNS regclass[] LANGUAGE sql AS $$
  SELECT array_agg(c.oid::regclass ORDER BY c.relname)
    FROM pg_class c WHERE c.relnamespace = 'lo'::regnamespace AND c.relkind IN ('r', 'p')
$$;

-- Every table of lo, partitions given too (they fold into their table).
SELECT * FROM fk_load_order(pg_temp.lo_tables());

-- All tables the caller can see: the same rows for lo, and no table of an
-- extension (fk_guard's own tables are left out).
SELECT (SELECT array_agg(l ORDER BY l::text) FROM fk_load_order() l WHERE l.table_name::text LIKE 'lo.%')
     = (SELECT array_agg(l ORDER BY l::text) FROM fk_load_order(pg_temp.lo_tables()) l) AS same_for_lo;
SELECT count(*) AS extension_tables FROM fk_load_order() l
  JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = l.table_name AND d.deptype = 'e';
-- ... unless fk_guard.include_extension_tables asks for them, as in fk_orphans().
SET fk_guard.include_extension_tables = on;
SELECT count(*) > 0 AS extension_tables FROM fk_load_order() l
  JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = l.table_name AND d.deptype = 'e';
RESET fk_guard.include_extension_tables;

-- Every foreign key between tables in different cycles goes from a higher
-- level to a lower one (read from pg_constraint, partitions folded).
WITH lo AS (SELECT * FROM fk_load_order(pg_temp.lo_tables())),
     root AS (SELECT c.oid, coalesce((SELECT a.relid FROM pg_partition_ancestors(c.oid) a
                                        JOIN pg_class r ON r.oid = a.relid WHERE NOT r.relispartition), c.oid) AS root
                FROM pg_class c WHERE c.relnamespace = 'lo'::regnamespace)
SELECT k.conname, ch.level AS child_level, pa.level AS parent_level
  FROM pg_constraint k
  JOIN root rc ON rc.oid = k.conrelid JOIN root rp ON rp.oid = k.confrelid
  JOIN lo ch ON ch.table_name = rc.root JOIN lo pa ON pa.table_name = rp.root
 WHERE k.contype = 'f' AND k.conparentid = 0 AND rc.root <> rp.root
   AND NOT (ch.level > pa.level OR (ch.cycle IS NOT NULL AND ch.cycle = pa.cycle AND ch.level = pa.level));

-- PostgreSQL's verdict: empty the tables and load them in the order given,
-- each table in one statement (a self-reference is checked at its end); a
-- cycle's tables in one go, with its constraints made DEFERRABLE first by the
-- SQL given, and deferred.
CREATE FUNCTION pg_temp.load(reverse boolean) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  r record;
  fix text;
  counts text;
BEGIN
  EXECUTE 'TRUNCATE ' || (SELECT string_agg(t::text, ', ') FROM unnest(pg_temp.lo_tables()) t);
  FOR fix IN SELECT l.make_deferrable FROM fk_load_order(pg_temp.lo_tables()) l WHERE l.make_deferrable IS NOT NULL LOOP
    EXECUTE fix;
  END LOOP;
  -- fk_load_order's rows in their order (or reversed): a cycle's tables are together
  FOR r IN SELECT l.*, lead(l.cycle) OVER w IS DISTINCT FROM l.cycle AS last_of_cycle
             FROM fk_load_order(pg_temp.lo_tables()) WITH ORDINALITY l
           WINDOW w AS (ORDER BY CASE WHEN reverse THEN -l.ordinality ELSE l.ordinality END)
           ORDER BY CASE WHEN reverse THEN -l.ordinality ELSE l.ordinality END LOOP
    IF r.cycle IS NOT NULL THEN
      SET CONSTRAINTS ALL DEFERRED;
    END IF;
    EXECUTE format('INSERT INTO %s SELECT * FROM lo_copy.%I', r.table_name, (SELECT relname FROM pg_class WHERE oid = r.table_name));
    IF r.cycle IS NOT NULL AND r.last_of_cycle THEN
      SET CONSTRAINTS ALL IMMEDIATE;
    END IF;
  END LOOP;
  counts := '';
  FOR r IN SELECT c.relname FROM pg_class c
            WHERE c.relnamespace = 'lo'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
            ORDER BY c.relname LOOP
    EXECUTE format('SELECT format(%L, (SELECT count(*) FROM lo.%I), (SELECT count(*) FROM lo_copy.%I))',
                   ' %s/%s', r.relname, r.relname) INTO fix;
    counts := counts || format(' %s', r.relname) || fix;
  END LOOP;
  RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'loaded (rows/rows of the copy):' || counts;
END
$$;
SELECT fkg_test.error_of('SELECT pg_temp.load(false)') AS in_order;
-- the oracle can fail: children first
SELECT fkg_test.error_of('SELECT pg_temp.load(true)') AS reversed;

-- The order of the given tables only: a parent left out does not count.
SELECT level, table_name FROM fk_load_order(ARRAY['lo.order_lines', 'lo.orders']::regclass[]);
SELECT level, table_name FROM fk_load_order(ARRAY['lo.order_lines', 'lo.customers']::regclass[]);
-- A table given twice (or with its partition) appears once.
SELECT level, table_name FROM fk_load_order(ARRAY['lo.events_1', 'lo.events', 'lo.events']::regclass[]);
SELECT count(*) FROM fk_load_order('{}');

-- Bad arguments.
SELECT fkg_test.error_of($$SELECT * FROM fk_load_order(ARRAY['lo.orders', NULL]::regclass[])$$);
CREATE VIEW lo.v AS SELECT 1 AS x;
CREATE SEQUENCE lo.s;
SELECT fkg_test.error_of($$SELECT * FROM fk_load_order(ARRAY['lo.v']::regclass[])$$);
SELECT fkg_test.error_of($$SELECT * FROM fk_load_order(ARRAY['lo.s']::regclass[])$$);
SELECT fkg_test.error_of($$SELECT * FROM fk_load_order(ARRAY[0]::oid[]::regclass[])$$);

-- An ordinary role sees the tables it holds a privilege on, and their order.
CREATE ROLE fkg_loader;
GRANT USAGE ON SCHEMA lo TO fkg_loader;
GRANT INSERT ON lo.orders, lo.customers TO fkg_loader;
SET ROLE fkg_loader;
SELECT level, table_name FROM fk_load_order() WHERE table_name::text LIKE 'lo.%';
RESET ROLE;

SET client_min_messages = warning;
DROP SCHEMA lo, lo_copy CASCADE;
RESET client_min_messages;
DROP ROLE fkg_loader;
