-- Violation capture, preloaded (make installcheck-preloaded: a temporary
-- server with test/preloaded.conf): one violation on every path PostgreSQL
-- raises one from, and what fk_violations and fk_violation_stats then hold.
-- test/t/010_violation_paths.pl runs the same paths on a plain server too and
-- checks that the client output is byte for byte the same.
-- expected/violations_preloaded_1.out is PostgreSQL 18's output: its RESTRICT
-- error (SQLSTATE 23001), partition clone names and psql's COPY SQLSTATE differ.
SELECT fk_guard_preloaded();
SELECT fk_guard_reset();

\i test/t/violation_paths.sql
\set ECHO all
\set VERBOSITY default

-- One row per path: the declared foreign key, the tables PostgreSQL's error
-- named (partitions apart), side and operation, deferred, handled (only the
-- swallowed one), PostgreSQL's key (none for MATCH FULL) and the statement the
-- client sent.  (The DETACH path names the referenced partition, pd_2.)
SELECT constraint_name, child_table, parent_table, side, operation, deferred, handled,
       key, child_partition, parent_partition
  FROM fk_violations ORDER BY constraint_name, ts;
SELECT constraint_name, left(regexp_replace(query, '\s+', ' ', 'g'), 60) AS query
  FROM fk_violations ORDER BY constraint_name, ts;
SELECT count(*) AS violations, count(DISTINCT pid) AS sessions,
       bool_and(username = current_user) AS by_me,
       bool_and(application_name LIKE 'pg_regress%') AS from_pg_regress,
       bool_and(database = current_database()) AS here,
       bool_and(ts <= now()) AS timed
  FROM fk_violations;

-- Counters: one violation per declared foreign key, the swallowed one handled.
SELECT constraint_name, child_table, parent_table, violations, handled, first_at <= last_at AS ordered
  FROM fk_violation_stats ORDER BY constraint_name;

-- Key values are row data: key and query are shown to the role that raised
-- the violation, superusers and pg_read_all_data; pg_read_all_stats sees the
-- other columns only.
CREATE ROLE fkg_alice;
CREATE ROLE fkg_bob;
CREATE ROLE fkg_carol IN ROLE pg_read_all_stats;
CREATE ROLE fkg_dave IN ROLE pg_read_all_data;
CREATE TABLE priv_p (id int PRIMARY KEY);
CREATE TABLE priv_c (id int, parent_id int CONSTRAINT priv_c_fk REFERENCES priv_p);
GRANT SELECT, INSERT ON priv_p, priv_c TO fkg_alice, fkg_bob;
SET ROLE fkg_alice;
INSERT INTO priv_c VALUES (1, 111);
SET ROLE fkg_bob;
INSERT INTO priv_c VALUES (1, 222);
RESET ROLE;
SET ROLE fkg_alice;
SELECT username, child_table, side, key, query FROM fk_violations WHERE constraint_name = 'priv_c_fk' ORDER BY username;
SET ROLE fkg_carol;
SELECT username, key, query FROM fk_violations WHERE constraint_name = 'priv_c_fk' ORDER BY username;
SET ROLE fkg_dave;
SELECT username, key, query FROM fk_violations WHERE constraint_name = 'priv_c_fk' ORDER BY username;
-- Without Citus, fk_cluster_violations() and fk_cluster_violation_stats() read
-- this node alone (NULL node), as the calling role: the same rows.
SELECT (SELECT array_agg(v::text ORDER BY v.ts) FROM fk_violations v WHERE constraint_name = 'priv_c_fk')
     = (SELECT array_agg((c.ts, c.database, c.username, c.application_name, c.constraint_name, c.child_table,
                          c.parent_table, c.side, c.operation, c.key, c.query, c.deferred, c.handled, c.pid,
                          c.child_partition, c.parent_partition)::text ORDER BY c.ts)
          FROM fk_cluster_violations() c WHERE constraint_name = 'priv_c_fk' AND nodename IS NULL AND shard_id IS NULL)
       AS cluster_view_same_for_dave;
SELECT nodename, constraint_name, violations FROM fk_cluster_violation_stats() WHERE constraint_name = 'priv_c_fk';
SET ROLE fkg_alice;
SELECT violations FROM fk_violation_stats WHERE constraint_name = 'priv_c_fk';
SELECT fk_guard_reset();
RESET ROLE;

-- fk_guard_reset() empties both views.
SELECT fk_guard_reset();
SELECT (SELECT count(*) FROM fk_violations) + (SELECT count(*) FROM fk_violation_stats) AS left_after_reset;

DROP TABLE priv_c, priv_p;
DROP ROLE fkg_alice, fkg_bob, fkg_carol, fkg_dave;
