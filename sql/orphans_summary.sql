-- fk_orphan_summary(): one row per declared foreign key, clean ones included.

CREATE TABLE sum_parent (a int, b int, PRIMARY KEY (a, b));
INSERT INTO sum_parent VALUES (1, 1);
CREATE TABLE sum_clean (a int, b int, FOREIGN KEY (a, b) REFERENCES sum_parent);
INSERT INTO sum_clean VALUES (1, 1), (NULL, 5);
CREATE TABLE sum_full (a int, b int, FOREIGN KEY (a, b) REFERENCES sum_parent MATCH FULL);
SET session_replication_role = replica;
-- Three rows miss key (2,2), one misses (3,3), two are partly NULL.
INSERT INTO sum_full VALUES (1, 1), (2, 2), (2, 2), (2, 2), (3, 3), (NULL, 1), (1, NULL), (NULL, NULL);
RESET session_replication_role;

SELECT * FROM fk_orphan_summary();
SELECT * FROM fk_orphan_summary('sum_full');

-- The summary counts what fk_orphans lists.
SELECT s.constraint_name, s.orphan_rows = (SELECT count(*) FROM fk_orphans(s.child_table) o
                                             WHERE o.constraint_name = s.constraint_name) AS rows_agree,
       s.missing_keys = (SELECT count(DISTINCT o.key) FROM fk_orphans(s.child_table) o
                          WHERE o.constraint_name = s.constraint_name
                            AND NOT jsonb_path_exists(o.key, '$.* ? (@ == null)')) AS keys_agree
  FROM fk_orphan_summary() s;

DROP TABLE sum_clean, sum_full, sum_parent;
