-- fk_guard demo: the seed incident, on a throwaway cluster (run by demo/run.sh).
\set ON_ERROR_STOP 1
\pset footer off
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS fk_guard;
RESET client_min_messages;

\echo '== A small shop: customers, products, orders and their lines'
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE products (sku text PRIMARY KEY, title text NOT NULL);
CREATE TABLE orders (
  id int PRIMARY KEY,
  customer_id int NOT NULL CONSTRAINT orders_customer_id_fkey REFERENCES customers,
  placed_at date NOT NULL DEFAULT current_date
);
CREATE TABLE order_lines (
  order_id int NOT NULL,
  sku text NOT NULL REFERENCES products,
  quantity int NOT NULL
);
INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, 10000) g WHERE g <> 9842;
INSERT INTO products VALUES ('BOOK-1', 'A book'), ('MUG-2', 'A mug');
INSERT INTO orders SELECT g, 1 + (g * 7) % 9000, date '2026-01-01' + g % 300 FROM generate_series(1, 5000) g;
INSERT INTO order_lines SELECT g, CASE WHEN g % 2 = 0 THEN 'BOOK-1' ELSE 'MUG-2' END, 1 FROM generate_series(1, 5000) g;

\echo
\echo '== The incident: an order for customer 9842, who does not exist'
\set ON_ERROR_STOP 0
INSERT INTO orders (id, customer_id) VALUES (5001, 9842);
\set ON_ERROR_STOP 1

\echo '-- fk_guard (preloaded) recorded it, with what a DBA needs, and left the error unchanged:'
SELECT constraint_name, child_table, parent_table, side, operation, key, handled FROM fk_violations;

\echo
\echo '== Violations that server code swallows are recorded too (handled = true)'
DO $$
BEGIN
  INSERT INTO orders (id, customer_id) VALUES (5003, 123456);
EXCEPTION WHEN foreign_key_violation THEN
  NULL;  -- an ORM or a retry loop hiding the failure
END
$$;
SELECT constraint_name, key, handled FROM fk_violations WHERE handled;
SELECT constraint_name, violations, handled FROM fk_violation_stats;

\echo
\echo '== How orphans get in without any error'
\echo '-- 1. a bulk load with session_replication_role = replica (RI triggers do not fire)'
SET session_replication_role = replica;
INSERT INTO orders (id, customer_id) VALUES (5001, 9842), (5002, 9842);
RESET session_replication_role;

\echo '-- 2. ALTER TABLE ... DISABLE TRIGGER ALL around an import'
ALTER TABLE order_lines DISABLE TRIGGER ALL;
INSERT INTO order_lines VALUES (5001, 'BOOK-1', 2), (5002, 'LAMP-9', 1);
ALTER TABLE order_lines ENABLE TRIGGER ALL;

\echo '-- 3. a NOT VALID constraint added over old data'
ALTER TABLE order_lines ADD CONSTRAINT order_lines_order_id_fkey
  FOREIGN KEY (order_id) REFERENCES orders NOT VALID;
SET session_replication_role = replica;
INSERT INTO order_lines VALUES (7777, 'MUG-2', 1);
RESET session_replication_role;

\echo '-- 4. a hard delete with RI bypassed'
SET session_replication_role = replica;
DELETE FROM customers WHERE id = 42;
RESET session_replication_role;

\echo
\echo '== Every orphaned row, judged exactly as PostgreSQL would:'
\echo 'SELECT * FROM fk_orphans();'
SELECT * FROM fk_orphans();

\echo '== One row per foreign key:'
\echo 'SELECT * FROM fk_orphan_summary();'
SELECT * FROM fk_orphan_summary();

\echo '== The first two orphans of one table:'
\echo 'SELECT constraint_name, key, child_ctid FROM fk_orphans(''orders'', max_per_constraint => 2);'
SELECT constraint_name, key, child_ctid FROM fk_orphans('orders', max_per_constraint => 2);

\echo '== (child_table, child_ctid) locates each row, so a repair is one statement:'
\echo 'SELECT o.* FROM orders o JOIN fk_orphans(''orders'') f ON o.ctid = f.child_ctid;'
SELECT o.* FROM orders o JOIN fk_orphans('orders') f ON o.ctid = f.child_ctid;

\echo
\echo '== Foreign-key health, after a nightly audit (pg_cron: SELECT cron.schedule(''fk-audit'', ''0 3 * * *'', ''CALL fk_audit_run()'');)'
INSERT INTO fk_guard_bulk_loaded (table_name, note) VALUES ('order_lines', 'nightly import');
CALL fk_audit_run();
SELECT run_id, status, foreign_keys, foreign_keys_with_orphans, orphan_rows FROM fk_audit_runs;
SELECT constraint_name, fk_indexed, validated, enforced, violations, orphans_at_last_audit FROM fk_audit;
\echo '== Each finding comes with the SQL that fixes it:'
SELECT constraint_name, f->>'code' AS code, f->>'severity' AS severity, f->>'fix' AS fix
  FROM fk_audit, jsonb_array_elements(findings) f ORDER BY 1, 2;

\echo
\echo '== A load that bypasses RI (pg_restore --disable-triggers, replication tools): fk_guard notices'
SET session_replication_role = replica;
INSERT INTO order_lines VALUES (5001, 'HAT-3', 2), (5002, 'HAT-3', 1);
RESET session_replication_role;
SELECT constraint_name, child_table, unchecked_rows, reasons, roles FROM fk_bypass_stats
 WHERE 'replica_role' = ANY (reasons);
SELECT constraint_name, unchecked_rows_since_audit, f->>'fix' AS fix
  FROM fk_audit, jsonb_array_elements(findings) f WHERE f->>'code' = 'ri_bypassed';
\echo '== An incremental audit checks only the bypassed table (and those with orphans), and finds the new orphans:'
\echo 'CALL fk_audit_run(incremental => true);'
CALL fk_audit_run(incremental => true);
SELECT run_id, incremental, foreign_keys, foreign_keys_with_orphans, orphan_rows FROM fk_audit_runs ORDER BY run_id;
SELECT constraint_name, child_table, orphan_rows, carried_from FROM fk_audit_results
 WHERE run_id = (SELECT max(run_id) FROM fk_audit_runs) ORDER BY carried_from NULLS FIRST, 1;

\echo
\echo '== Fixing them: a dry run, then batches that re-check each row, commit, and are recorded'
\echo '-- Customers 42 and 9842 placed real orders: insert the parents first (placeholder rows).'
ALTER TABLE customers ALTER COLUMN name SET DEFAULT '(placeholder: inserted by fk_repair)';
SELECT key, rows FROM fk_repair_plan('orders_customer_id_fkey', 'orders', 'insert_parents');
CALL fk_repair('orders_customer_id_fkey', 'orders', 'insert_parents', execute => true);
\echo '-- The order lines of an order and a product that never existed: quarantined, then the NOT VALID constraint validated.'
CALL fk_repair('order_lines_order_id_fkey', 'order_lines', 'quarantine', execute => true, validate => true);
CALL fk_repair('order_lines_sku_fkey', 'order_lines', 'quarantine', execute => true, batch_size => 1000);
SELECT repair_id, constraint_name, key, row_data FROM fk_guard_quarantine ORDER BY quarantine_id;
SELECT repair_id, action, constraint_name, status, batches, rows, validated FROM fk_guard_repair_history ORDER BY repair_id;
\echo '-- Nothing is left; fk_restore(repair_id) would put the quarantined rows back once their parents exist.'
SELECT constraint_name, validated, orphan_rows FROM fk_orphan_summary();
