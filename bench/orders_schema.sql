-- bench/orders_schema.sql: orders with three foreign keys (one composite) and 0.1% orphans.
-- psql variables: orders, customers (row counts); partitioned (true/false): also orders_part,
-- the same rows and foreign keys in a table hash-partitioned into 8 leaves.
CREATE EXTENSION fk_guard;
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE products (id int PRIMARY KEY, title text NOT NULL);
CREATE TABLE stores (region text, store_no int, PRIMARY KEY (region, store_no));
CREATE TABLE orders (
  id bigint PRIMARY KEY,
  customer_id int NOT NULL,
  product_id int NOT NULL,
  region text NOT NULL,
  store_no int NOT NULL,
  quantity int NOT NULL,
  total numeric(12,2) NOT NULL,
  note text
);
INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, :customers) g;
INSERT INTO products SELECT g, 'product ' || g FROM generate_series(1, 10000) g;
INSERT INTO stores SELECT r, s FROM unnest(ARRAY['north', 'south', 'east', 'west']) r, generate_series(1, 250) s;
-- Every 1000th order is an orphan of one of the three keys, in turn.
INSERT INTO orders
SELECT g,
       CASE WHEN g % 3000 = 0 THEN :customers + g ELSE 1 + (g::bigint * 7919) % :customers END,
       CASE WHEN g % 3000 = 1000 THEN 20000 + g % 97 ELSE 1 + g % 10000 END,
       (ARRAY['north', 'south', 'east', 'west'])[1 + g % 4],
       CASE WHEN g % 3000 = 2000 THEN 900 + g % 50 ELSE 1 + g % 250 END,
       1 + g % 5, (g % 10000) / 100.0, 'order note ' || g
  FROM generate_series(1, :orders) g;
ALTER TABLE orders ADD CONSTRAINT orders_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES customers NOT VALID;
ALTER TABLE orders ADD CONSTRAINT orders_product_id_fkey FOREIGN KEY (product_id) REFERENCES products NOT VALID;
ALTER TABLE orders ADD CONSTRAINT orders_store_fkey FOREIGN KEY (region, store_no) REFERENCES stores NOT VALID;
\if :partitioned
-- (NOT VALID foreign keys cannot be added to a partitioned table on PostgreSQL 15: the keys
-- come first, the rows with their orphans after, as the replication role writes them)
CREATE TABLE orders_part (LIKE orders INCLUDING ALL) PARTITION BY HASH (id);
SELECT format('CREATE TABLE orders_part_%s PARTITION OF orders_part FOR VALUES WITH (MODULUS 8, REMAINDER %s)', r, r)
  FROM generate_series(0, 7) r \gexec
ALTER TABLE orders_part ADD CONSTRAINT orders_part_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES customers,
  ADD CONSTRAINT orders_part_product_id_fkey FOREIGN KEY (product_id) REFERENCES products,
  ADD CONSTRAINT orders_part_store_fkey FOREIGN KEY (region, store_no) REFERENCES stores;
SET session_replication_role = replica;
INSERT INTO orders_part SELECT * FROM orders;
RESET session_replication_role;
\endif
VACUUM ANALYZE;
