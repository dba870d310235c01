-- What fk_guard adds for Citus, on a server without Citus: nothing loads or
-- changes.  fk_orphans_located(): fk_orphans()' rows and the Citus shard each is in.
-- Without Citus (this suite's servers) every shard_id is NULL and the rows are
-- fk_orphans()' own, whichever engine fk_orphans() uses; test/t/070_citus.pl
-- covers distributed tables.
SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus') AS citus_installed;
CREATE TABLE loc_parent (id int PRIMARY KEY);
INSERT INTO loc_parent VALUES (1);
CREATE TABLE loc_child (id int, parent_id int, b text);
INSERT INTO loc_child VALUES (1, 1, 'x'), (2, 2, 'y'), (3, NULL, 'z'), (4, 4, 'w');
ALTER TABLE loc_child ADD CONSTRAINT loc_child_parent_fkey FOREIGN KEY (parent_id) REFERENCES loc_parent NOT VALID;
SELECT constraint_name, child_table, key, child_ctid, shard_id FROM fk_orphans_located('loc_child');
-- The same rows as fk_orphans(), column for column.
SELECT (SELECT array_agg(o ORDER BY o.child_ctid) FROM fk_orphans('loc_child') o)
     = (SELECT array_agg((l.constraint_name, l.child_table, l.parent_table, l.fk_columns, l.parent_columns,
                          l.key, l.child_ctid)::record ORDER BY l.child_ctid)
          FROM fk_orphans_located('loc_child') l) AS same_rows;
SELECT count(*) FROM fk_orphans_located('loc_child', 1);
SELECT count(*) FROM fk_orphans_located(NULL, 0);
SELECT * FROM fk_orphans_located('loc_child', -1);
-- The caller's rights, as fk_orphans()'.
CREATE ROLE fkg_loc_reader;
SET ROLE fkg_loc_reader;
SELECT * FROM fk_orphans_located('loc_child');
SET client_min_messages = warning; -- its NOTICE lists the other files' tables too
SELECT count(*) FROM fk_orphans_located() WHERE constraint_name = 'loc_child_parent_fkey';
RESET client_min_messages;
RESET ROLE;
DROP ROLE fkg_loc_reader;

-- fk_audit's Citus facts are NULL, and its findings unchanged.
SELECT fk_guard_citus_table('loc_child'::regclass), fk_guard_citus_distribution_column('loc_child'::regclass);
SELECT fk_guard_citus_finding('{"code": "not_deferrable_bulk_load", "fix": "ALTER ..."}',
                              (SELECT oid FROM pg_constraint WHERE conname = 'loc_child_parent_fkey'));

-- The cluster views, without Citus, read this node alone; this server does not
-- preload fk_guard, so they say what fk_violation_stats says.
SELECT * FROM fk_cluster_violation_stats();
SELECT * FROM fk_cluster_violations();
-- fk_cluster_collect() reads the two views only.
SELECT * FROM fk_cluster_collect('pg_authid');
SELECT * FROM fk_cluster_collect(NULL);

DROP TABLE loc_child, loc_parent;
