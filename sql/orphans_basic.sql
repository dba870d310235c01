-- fk_orphans() and fk_orphan_summary() on the seed incident: orders whose
-- customer is missing, planted the ways orphans get in without an error.
-- (Helpers, such as fkg_test.disagreements(), are in test_setup.sql.)

-- The seed schema.
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE orders (
  id int PRIMARY KEY,
  customer_id int REFERENCES customers,
  total numeric(10,2) NOT NULL
);
INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, 20) g;
INSERT INTO orders SELECT g, 1 + g % 20, g * 10 FROM generate_series(1, 40) g;

-- A clean database has no orphans, and the summary still lists the key.
SELECT * FROM fk_orphans();
SELECT * FROM fk_orphan_summary();

-- The seed incident's key, loaded with RI triggers bypassed.
SET session_replication_role = replica;
INSERT INTO orders VALUES (41, 9842, 99.50);
RESET session_replication_role;

-- A bulk load with the triggers disabled.
ALTER TABLE orders DISABLE TRIGGER ALL;
INSERT INTO orders VALUES (42, 9842, 12.00), (43, 777, 1.00), (44, NULL, 5.00);
ALTER TABLE orders ENABLE TRIGGER ALL;

-- A hard delete of a parent with RI bypassed.
SET session_replication_role = replica;
DELETE FROM customers WHERE id = 7;
RESET session_replication_role;

-- A NOT VALID constraint added over old data.
CREATE TABLE invoices (id int PRIMARY KEY, order_id int);
INSERT INTO invoices VALUES (1, 1), (2, 2), (3, 404);
ALTER TABLE invoices ADD CONSTRAINT invoices_order_id_fkey
  FOREIGN KEY (order_id) REFERENCES orders NOT VALID;

-- The write that started it all still fails, as PostgreSQL decides.
INSERT INTO orders VALUES (45, 9842, 10.00);

SELECT * FROM fk_orphans();
SELECT * FROM fk_orphan_summary();

-- Every orphan is where fk_orphans says it is, with the key it reports.
SELECT o.child_ctid, o.key, to_jsonb(x.customer_id) = o.key -> 'customer_id' AS key_matches
  FROM fk_orphans('orders') o JOIN orders x ON x.ctid = o.child_ctid;

-- PostgreSQL agrees row by row.
SELECT * FROM fkg_test.disagreements();

-- One table, and a limit per constraint.
SELECT constraint_name, key FROM fk_orphans('invoices');
SELECT constraint_name, key FROM fk_orphans('orders', max_per_constraint => 2);
SELECT constraint_name, key FROM fk_orphans(max_per_constraint => 1);
SELECT count(*) FROM fk_orphans('orders', 0);
SELECT * FROM fk_orphan_summary('invoices');

-- A table that references nothing has no orphans, even when others reference it.
SELECT * FROM fk_orphans('customers');

-- Repairing the data empties the report, and VALIDATE CONSTRAINT then succeeds.
DELETE FROM orders o USING fk_orphans('orders') f WHERE o.ctid = f.child_ctid;
DELETE FROM invoices i USING fk_orphans('invoices') f WHERE i.ctid = f.child_ctid;
SELECT count(*) FROM fk_orphans();
ALTER TABLE invoices VALIDATE CONSTRAINT invoices_order_id_fkey;
SELECT constraint_name, validated, orphan_rows FROM fk_orphan_summary();

DROP TABLE invoices, orders, customers;
