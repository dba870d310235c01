-- Partitioned tables on either side.  PostgreSQL clones a foreign key onto
-- every partition (pg_constraint.conparentid <> 0); fk_orphans folds the clones
-- into the declared constraint, so each orphan appears exactly once, and names
-- the leaf partition that physically holds it.

CREATE TABLE tenants (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE tenants_low PARTITION OF tenants FOR VALUES FROM (0) TO (100);
CREATE TABLE tenants_high PARTITION OF tenants FOR VALUES FROM (100) TO (1000);
INSERT INTO tenants VALUES (1), (2), (150);

CREATE TABLE events (id int, tenant_id int, at date) PARTITION BY RANGE (at);
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')
  PARTITION BY LIST (tenant_id);
CREATE TABLE events_2026_a PARTITION OF events_2026 FOR VALUES IN (1, 2, 3, 150);
CREATE TABLE events_2026_rest PARTITION OF events_2026 DEFAULT;
ALTER TABLE events ADD CONSTRAINT events_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants;
INSERT INTO events VALUES (1, 1, '2025-03-01'), (3, 150, '2026-02-01'), (6, NULL, '2026-05-01');
-- PostgreSQL 15 has no NOT VALID foreign keys on partitioned tables: orphans
-- get in with RI bypassed.
SET session_replication_role = replica;
INSERT INTO events VALUES (2, 3, '2025-04-01'), (4, 3, '2026-02-01'), (5, 999, '2026-05-01');
RESET session_replication_role;

-- The clones exist, yet each orphan is listed once, under the declared name.
SELECT count(*) > 1 AS has_clones FROM pg_constraint
 WHERE conname LIKE 'events_tenant_id_fkey%' AND conparentid <> 0;
SELECT constraint_name, child_table, parent_table, key FROM fk_orphans();
SELECT constraint_name, child_table, orphan_rows, missing_keys FROM fk_orphan_summary();

-- (child_table, child_ctid) locates the row.
SELECT o.child_table, e.id FROM fk_orphans('events') o
  JOIN events e ON e.tableoid = o.child_table AND e.ctid = o.child_ctid ORDER BY e.id;

-- A partition as target: the inherited foreign key, scanned in that partition only.
SELECT constraint_name, child_table, key FROM fk_orphans('events_2026');
SELECT constraint_name, child_table, key FROM fk_orphans('events_2025');
SELECT constraint_name, child_table, orphan_rows FROM fk_orphan_summary('events_2026_rest');

-- A parent row deleted from one partition with RI bypassed.
SET session_replication_role = replica;
DELETE FROM tenants WHERE id = 150;
RESET session_replication_role;
SELECT child_table, key FROM fk_orphans('events');

-- A plain table referencing a partitioned one, and a partitioned one
-- referencing a plain table.
CREATE TABLE tenant_notes (tenant_id int REFERENCES tenants, note text);
SET session_replication_role = replica;
INSERT INTO tenant_notes VALUES (2, 'fine'), (42, 'orphan');
RESET session_replication_role;
CREATE TABLE plans (id int PRIMARY KEY);
INSERT INTO plans VALUES (1);
CREATE TABLE subscriptions (plan_id int REFERENCES plans, region text) PARTITION BY LIST (region);
CREATE TABLE subscriptions_eu PARTITION OF subscriptions FOR VALUES IN ('eu');
SET session_replication_role = replica;
INSERT INTO subscriptions VALUES (1, 'eu'), (2, 'eu');
RESET session_replication_role;
SELECT constraint_name, child_table, parent_table, key FROM fk_orphans();

-- PostgreSQL agrees row by row.
SELECT * FROM fkg_test.disagreements();

-- A detached partition keeps its own, now declared, copy of the foreign key.
ALTER TABLE events DETACH PARTITION events_2025;
SELECT constraint_name, child_table, key FROM fk_orphans('events_2025');
SELECT * FROM fkg_test.disagreements();

DROP TABLE events, events_2025, tenant_notes, tenants, subscriptions, plans;
