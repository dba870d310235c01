# Incremental audits find every orphan a full audit finds, checking only the
# dirty tables. A database with clean tables and one table seeded with orphans
# through each bypass path (replica role with INSERT, COPY, UPDATE, MERGE,
# DELETE and UPDATE of parents, a data-modifying WITH, a function's INSERT;
# DISABLE TRIGGER ALL and of one RI trigger; a partitioned child's leaf and a
# partitioned parent; NOT VALID); an incremental audit, then a full one:
# the same orphans per foreign key, and the incremental one scanned exactly
# the dirty tables. A bypass committed by another session after a check
# started makes its table dirty for the next incremental audit, and so does
# one prepared before a check and committed (COMMIT PREPARED) after it, and
# one committed after the snapshot a REPEATABLE READ check reads was taken.
use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use lib dirname(abs_path(__FILE__));
use FkgNode;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = start_node('incremental', q{
shared_preload_libraries = 'fk_guard'
fk_guard.log_bypass = off
max_prepared_transactions = 2
});
my $clean_tables = 8;
my $setup = q{
	CREATE EXTENSION fk_guard;
	CREATE TABLE p (id int PRIMARY KEY);
	INSERT INTO p SELECT generate_series(1, 100);
	CREATE TABLE ins_c (pid int REFERENCES p);
	CREATE TABLE copy_c (pid int REFERENCES p);
	CREATE TABLE upd_c (id int, pid int REFERENCES p);
	INSERT INTO upd_c VALUES (1, 1), (2, 2);
	CREATE TABLE merge_c (id int PRIMARY KEY, pid int REFERENCES p);
	CREATE TABLE cte_c (pid int REFERENCES p);
	CREATE TABLE func_c (pid int REFERENCES p);
	CREATE TABLE all_c (pid int REFERENCES p);
	CREATE TABLE one_c (pid int REFERENCES p);
	CREATE TABLE del_p (id int PRIMARY KEY);
	INSERT INTO del_p SELECT generate_series(1, 10);
	CREATE TABLE del_c (pid int REFERENCES del_p ON UPDATE CASCADE);
	INSERT INTO del_c SELECT generate_series(1, 10);
	CREATE TABLE part_c (id int, pid int REFERENCES p) PARTITION BY RANGE (id);
	CREATE TABLE part_c1 PARTITION OF part_c FOR VALUES FROM (0) TO (100);
	CREATE TABLE part_c2 PARTITION OF part_c FOR VALUES FROM (100) TO (200);
	CREATE TABLE part_p (id int PRIMARY KEY) PARTITION BY RANGE (id);
	CREATE TABLE part_p1 PARTITION OF part_p FOR VALUES FROM (0) TO (100);
	CREATE TABLE part_p2 PARTITION OF part_p FOR VALUES FROM (100) TO (200);
	INSERT INTO part_p SELECT generate_series(1, 150);
	CREATE TABLE part_pc (pid int REFERENCES part_p);
	INSERT INTO part_pc SELECT generate_series(1, 150);
	CREATE TABLE nv_c (pid int);
	CREATE FUNCTION add_func_c(v int) RETURNS void LANGUAGE sql AS 'INSERT INTO func_c VALUES (v)';
};
$setup .= "CREATE TABLE clean_c$_ (pid int REFERENCES p); INSERT INTO clean_c$_ SELECT generate_series(1, 50);\n"
  for 1 .. $clean_tables;
$node->safe_psql('postgres', $setup);
$node->safe_psql('postgres', 'CALL fk_audit_run()');
is($node->safe_psql('postgres', 'SELECT orphan_rows FROM fk_audit_runs WHERE run_id = 1'), '0', 'a clean start');

# Orphans through each path.
$node->safe_psql('postgres', q{
	SET session_replication_role = replica;
	INSERT INTO ins_c VALUES (1001), (1002);
	COPY copy_c FROM PROGRAM 'echo 1003';
	UPDATE upd_c SET pid = 1004 WHERE id = 1;
	MERGE INTO merge_c m USING (VALUES (1, 1005)) v(id, pid) ON m.id = v.id
	  WHEN NOT MATCHED THEN INSERT VALUES (v.id, v.pid);
	WITH w AS (INSERT INTO cte_c VALUES (1006) RETURNING 1) SELECT count(*) FROM w;
	SELECT add_func_c(1007);
	DELETE FROM del_p WHERE id <= 2;
	UPDATE del_p SET id = 103 WHERE id = 3;
	INSERT INTO part_c VALUES (150, 1008);
	DELETE FROM part_p WHERE id > 145;
	RESET session_replication_role;
	ALTER TABLE all_c DISABLE TRIGGER ALL;
	INSERT INTO all_c VALUES (1009);
	ALTER TABLE all_c ENABLE TRIGGER ALL;
	ALTER TABLE part_c1 DISABLE TRIGGER ALL;
	INSERT INTO part_c VALUES (10, 1010);
	ALTER TABLE part_c1 ENABLE TRIGGER ALL;
	INSERT INTO nv_c VALUES (1011);
	ALTER TABLE nv_c ADD FOREIGN KEY (pid) REFERENCES p NOT VALID;
	DO $$
	BEGIN
	  EXECUTE format('ALTER TABLE one_c DISABLE TRIGGER %I',
	                 (SELECT tgname FROM pg_trigger WHERE tgrelid = 'one_c'::regclass AND tgconstraint <> 0 AND tgtype & 4 <> 0));
	END $$;
	INSERT INTO one_c VALUES (1012);
	ALTER TABLE one_c ENABLE TRIGGER ALL;
	-- Checked writes to clean tables.
	INSERT INTO clean_c1 VALUES (1);
	DELETE FROM clean_c2;
});

my @dirty = qw(all_c copy_c cte_c del_c func_c ins_c merge_c nv_c one_c part_c part_pc upd_c);
$node->safe_psql('postgres', 'CALL fk_audit_run(incremental => true)');
is($node->safe_psql('postgres', q{SELECT string_agg(child_table, ' ' ORDER BY child_table) FROM fk_audit_results
                                   WHERE run_id = 2 AND carried_from IS NULL}),
	join(' ', map { "public.$_" } @dirty), 'the incremental audit scanned exactly the dirty tables');
is($node->safe_psql('postgres', q{SELECT count(*) FROM fk_audit_results WHERE run_id = 2 AND carried_from = 1}),
	$clean_tables, 'and carried the clean ones forward from the full audit');

$node->safe_psql('postgres', 'CALL fk_audit_run()');
my $orphans = q{SELECT string_agg(constraint_name || '=' || orphan_rows, ' ' ORDER BY constraint_name)
                  FROM fk_audit_results WHERE run_id = %d};
my $full = $node->safe_psql('postgres', sprintf($orphans, 3));
is($node->safe_psql('postgres', sprintf($orphans, 2)), $full, 'the incremental audit found what the full one finds');
is($node->safe_psql('postgres', q{SELECT orphan_rows || ' in ' || foreign_keys_with_orphans FROM fk_audit_runs WHERE run_id IN (2, 3) ORDER BY run_id}),
	"20 in 12\n20 in 12", 'every seeded orphan in both runs (2 + 1 + 1 + 1 + 1 + 1 + 3 + 2 + 5 + 1 + 1 + 1)');

# A bypass that commits after a check started: dirty for the next incremental audit.
my $session = $node->background_psql('postgres');
$session->query_safe(q{BEGIN; SET LOCAL session_replication_role = replica; INSERT INTO clean_c3 VALUES (2000);});
$node->safe_psql('postgres', 'CALL fk_audit_run(incremental => true)');
is($node->safe_psql('postgres', q{SELECT carried_from IS NOT NULL FROM fk_audit_results WHERE run_id = 4 AND child_table = 'public.clean_c3'}),
	't', 'an uncommitted bypass does not count yet');
$session->query_safe('COMMIT');
$session->quit;
$node->safe_psql('postgres', 'CALL fk_audit_run(incremental => true)');
is($node->safe_psql('postgres', q{SELECT (carried_from IS NULL) || ' ' || orphan_rows FROM fk_audit_results WHERE run_id = 5 AND child_table = 'public.clean_c3'}),
	'true 1', 'committed after the last check started: checked again, the orphan found');

# PREPARE TRANSACTION before a check, COMMIT PREPARED after it: the check did
# not see the rows, and the next incremental audit must look again.
$node->safe_psql('postgres', q{
	BEGIN; SET LOCAL session_replication_role = replica; INSERT INTO clean_c4 VALUES (3000); PREPARE TRANSACTION 'p1';
});
is($node->safe_psql('postgres', q{SELECT array_to_string(reasons, ',') FROM fk_bypass_stats WHERE child_table = 'public.clean_c4'}),
	'prepared,replica_role', 'a prepared bypass is flagged');
$node->safe_psql('postgres', 'CALL fk_audit_run(incremental => true)');
is($node->safe_psql('postgres', q{SELECT (carried_from IS NULL) || ' ' || orphan_rows FROM fk_audit_results
                                   WHERE run_id = (SELECT max(run_id) FROM fk_audit_runs) AND child_table = 'public.clean_c4'}),
	'true 0', 'checked while prepared: nothing visible yet');
$node->safe_psql('postgres', q{COMMIT PREPARED 'p1'});
$node->safe_psql('postgres', 'CALL fk_audit_run(incremental => true)');
is($node->safe_psql('postgres', q{SELECT (carried_from IS NULL) || ' ' || orphan_rows FROM fk_audit_results
                                   WHERE run_id = (SELECT max(run_id) FROM fk_audit_runs) AND child_table = 'public.clean_c4'}),
	'true 1', 'committed after that check: checked again, the orphan found');
is($node->safe_psql('postgres', q{SELECT array_to_string(reasons, ',') FROM fk_bypass_stats WHERE child_table = 'public.clean_c4'}),
	'replica_role', 'resolved once no prepared transaction is left');

# A check that reads an older snapshot: REPEATABLE READ, its snapshot taken
# before another session commits a bypass, the check's step called after.
# The check sees no orphan; the bypass must still count as unseen by it.
$node->safe_psql('postgres', q{CREATE TABLE rr_c (pid int REFERENCES p)});
$node->safe_psql('postgres', 'CALL fk_audit_run()');
my $bypass_cmd = join(' ', 'psql', '-X', '-h', $node->host, '-p', $node->port, '-d', 'postgres', '-qc',
	q{"SET session_replication_role = replica; INSERT INTO rr_c VALUES (7777)"});
my $rr_out = $node->safe_psql('postgres', qq{
	SELECT fk_audit_start('rr_c', true) AS run \\gset
	BEGIN ISOLATION LEVEL REPEATABLE READ;
	SELECT count(*) FROM rr_c;
	\\! $bypass_cmd
	SELECT fk_audit_check_table(:run, 'rr_c');
	COMMIT;
	SELECT fk_audit_finish(:run);
	SELECT orphan_rows FROM fk_audit_results WHERE run_id = :run;
});
is((split /\n/, $rr_out)[-1], '0', 'the REPEATABLE READ check did not see the bypassed row');
$node->safe_psql('postgres', 'CALL fk_audit_run(incremental => true)');
is($node->safe_psql('postgres', q{SELECT (carried_from IS NULL) || ' ' || orphan_rows FROM fk_audit_results
                                   WHERE run_id = (SELECT max(run_id) FROM fk_audit_runs) AND child_table = 'public.rr_c'}),
	'true 1', 'the next incremental audit checks it again and finds the orphan');

$node->stop;
done_testing();
