-- Orphan semantics: each case is judged exactly as PostgreSQL's RI check would,
-- which fkg_test.disagreements() (orphans_basic.sql) verifies row by row.

-- MATCH SIMPLE: a row with any NULL key column is never checked.
CREATE TABLE regions (country text, code int, PRIMARY KEY (country, code));
INSERT INTO regions VALUES ('fr', 1), ('fr', 2), ('de', 1);
CREATE TABLE shops_simple (id int, country text, code int);
INSERT INTO shops_simple VALUES (1, 'fr', 1), (2, 'fr', 3), (3, NULL, 3), (4, 'xx', NULL), (5, NULL, NULL);
ALTER TABLE shops_simple ADD CONSTRAINT shops_simple_region_fkey
  FOREIGN KEY (country, code) REFERENCES regions NOT VALID;

-- MATCH FULL: all-NULL keys pass, partly NULL keys are rejected.
CREATE TABLE shops_full (id int, country text, code int);
INSERT INTO shops_full VALUES (1, 'fr', 1), (2, 'fr', 3), (3, NULL, 3), (4, 'fr', NULL), (5, NULL, NULL);
ALTER TABLE shops_full ADD CONSTRAINT shops_full_region_fkey
  FOREIGN KEY (country, code) REFERENCES regions MATCH FULL NOT VALID;

SELECT constraint_name, key FROM fk_orphans('shops_simple');
SELECT constraint_name, key FROM fk_orphans('shops_full');

-- FK columns listed in another order than the parent's key.
CREATE TABLE shops_reversed (id int, code int, country text);
INSERT INTO shops_reversed VALUES (1, 1, 'de'), (2, 2, 'de');
ALTER TABLE shops_reversed ADD CONSTRAINT shops_reversed_region_fkey
  FOREIGN KEY (code, country) REFERENCES regions (code, country) NOT VALID;
SELECT fk_columns, parent_columns, key FROM fk_orphans('shops_reversed');

-- citext: in orphans_citext (contrib/citext is not installed everywhere).

-- numeric: scale does not matter to equality.
CREATE TABLE prices (amount numeric PRIMARY KEY);
INSERT INTO prices VALUES (1.5), (2);
CREATE TABLE priced (id int, amount numeric(10,3));
INSERT INTO priced VALUES (1, 1.500), (2, 2.000), (3, 2.001);
ALTER TABLE priced ADD CONSTRAINT priced_amount_fkey FOREIGN KEY (amount) REFERENCES prices NOT VALID;
SELECT key FROM fk_orphans('priced');

-- float8: -0 equals 0, and NaN equals NaN.
CREATE TABLE readings (v float8 PRIMARY KEY);
INSERT INTO readings VALUES (0), ('NaN');
CREATE TABLE measured (id int, v float8);
INSERT INTO measured VALUES (1, '-0'), (2, 'NaN'), (3, 'Infinity');
ALTER TABLE measured ADD CONSTRAINT measured_v_fkey FOREIGN KEY (v) REFERENCES readings NOT VALID;
SELECT key FROM fk_orphans('measured');

-- int4 referencing int8, and a domain over int4.
CREATE DOMAIN account_id AS int CHECK (VALUE > 0);
CREATE TABLE accounts (id bigint PRIMARY KEY);
INSERT INTO accounts VALUES (1), (5000000000);
CREATE TABLE transfers (id int, account int, account_d account_id);
INSERT INTO transfers VALUES (1, 1, 1), (2, 2, 1), (3, 1, 3);
ALTER TABLE transfers ADD CONSTRAINT transfers_account_fkey FOREIGN KEY (account) REFERENCES accounts NOT VALID;
ALTER TABLE transfers ADD CONSTRAINT transfers_account_d_fkey FOREIGN KEY (account_d) REFERENCES accounts NOT VALID;
SELECT constraint_name, key FROM fk_orphans('transfers');

-- Nondeterministic collation on the referenced key: compared under it.  (Both
-- columns have it: PostgreSQL 18 refuses a foreign key whose collations differ
-- when either is nondeterministic; 15 to 17 compare under the referenced one,
-- which 040_orphans_fuzz.pl covers.)
CREATE COLLATION case_insensitive (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE TABLE cities (name text COLLATE case_insensitive PRIMARY KEY);
INSERT INTO cities VALUES ('Paris');
CREATE TABLE visits (id int, city text COLLATE case_insensitive);
INSERT INTO visits VALUES (1, 'PARIS'), (2, 'Lyon');
ALTER TABLE visits ADD CONSTRAINT visits_city_fkey FOREIGN KEY (city) REFERENCES cities NOT VALID;
SELECT key FROM fk_orphans('visits');

-- Self-reference.
CREATE TABLE employees (id int PRIMARY KEY, manager_id int);
INSERT INTO employees VALUES (1, NULL), (2, 1), (3, 99), (4, 3);
ALTER TABLE employees ADD CONSTRAINT employees_manager_id_fkey
  FOREIGN KEY (manager_id) REFERENCES employees NOT VALID;
SELECT child_table, parent_table, key FROM fk_orphans('employees');

-- A parent referenced through a UNIQUE (non-primary) key.
CREATE TABLE products (id int PRIMARY KEY, sku text UNIQUE);
INSERT INTO products VALUES (1, 'A-1'), (2, NULL);
CREATE TABLE order_lines (id int, sku text);
INSERT INTO order_lines VALUES (1, 'A-1'), (2, 'B-2'), (3, NULL);
ALTER TABLE order_lines ADD CONSTRAINT order_lines_sku_fkey FOREIGN KEY (sku) REFERENCES products (sku) NOT VALID;
SELECT parent_columns, key FROM fk_orphans('order_lines');

-- Dropped columns on both sides move the key columns' attribute numbers.
CREATE TABLE warehouses (junk int, id int PRIMARY KEY, more_junk text);
ALTER TABLE warehouses DROP COLUMN junk;
INSERT INTO warehouses VALUES (1, 'x');
CREATE TABLE stock (a int, b int, warehouse_id int);
ALTER TABLE stock DROP COLUMN a;
INSERT INTO stock VALUES (10, 1), (20, 2);
ALTER TABLE stock ADD CONSTRAINT stock_warehouse_id_fkey FOREIGN KEY (warehouse_id) REFERENCES warehouses NOT VALID;
SELECT key FROM fk_orphans('stock');

-- Deferrable constraints are judged like any other.
CREATE TABLE batches (id int PRIMARY KEY);
CREATE TABLE batch_items (batch_id int REFERENCES batches DEFERRABLE INITIALLY DEFERRED);
SET session_replication_role = replica;
INSERT INTO batch_items VALUES (1);
RESET session_replication_role;
SELECT key FROM fk_orphans('batch_items');

-- PostgreSQL agrees on every row of every foreign key above.
SELECT * FROM fkg_test.disagreements();
SELECT count(*) AS orphans_checked FROM fk_orphans();

DROP TABLE shops_simple, shops_full, shops_reversed, regions, priced, prices,
  measured, readings, transfers, accounts, visits, cities, employees, order_lines, products,
  stock, warehouses, batch_items, batches;
DROP DOMAIN account_id;
DROP COLLATION case_insensitive;
