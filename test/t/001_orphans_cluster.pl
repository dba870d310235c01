# Cluster tests for fk_orphans: cancel, statement_timeout and lock_timeout leave
# nothing behind; no preloading needed.  A real streaming replica (pg_basebackup)
# answers fk_orphans, fk_orphan_summary and fk_audit like its primary, and
# refuses fk_audit_run with a clear error.
use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use lib dirname(abs_path(__FILE__));
use FkgNode;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->start;

$primary->safe_psql('postgres', q{
	CREATE EXTENSION fk_guard;
	CREATE TABLE customers (id int PRIMARY KEY);
	CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers);
	INSERT INTO customers SELECT generate_series(1, 100);
	INSERT INTO orders SELECT g, 1 + g % 100 FROM generate_series(1, 1000) g;
	SET session_replication_role = replica;
	INSERT INTO orders VALUES (1001, 9842), (1002, 9842), (1003, 5000);
	-- A standby cannot read unlogged tables: this one's foreign key is skipped there.
	CREATE UNLOGGED TABLE scratch (customer_id int REFERENCES customers);
	INSERT INTO scratch VALUES (7777);
});

is( $primary->safe_psql('postgres', q{SHOW shared_preload_libraries}),
	'', 'no preloading is needed');
is( $primary->safe_psql('postgres', q{SELECT string_agg(key->>'customer_id', ',') FROM fk_orphans('orders')}),
	'9842,9842,5000', 'orphans found');
$primary->safe_psql('postgres', 'DELETE FROM scratch');

# A session that holds an ACCESS EXCLUSIVE lock makes fk_orphans wait, so the
# interruptions below arrive while it runs, whatever the machine's speed.
my $locker = $primary->background_psql('postgres');
$locker->query_safe('BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE;');

my $checker = $primary->background_psql('postgres', on_error_stop => 0);
my $checker_pid = chomped($checker->query_safe('SELECT pg_backend_pid()'));

sub wait_until_blocked
{
	ok( $primary->poll_query_until('postgres',
			"SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $checker_pid"),
		'fk_orphans is waiting for the lock');
}

sub leftover_locks
{
	return chomped($checker->query_safe(q{
		SELECT count(*) FROM pg_locks
		 WHERE pid = pg_backend_pid() AND locktype = 'relation'
		   AND relation IN ('orders'::regclass, 'customers'::regclass)}));
}

# Cancel.
$checker->{stdin} .= "SELECT count(*) FROM fk_orphans('orders');\n";
$checker->{run}->pump_nb();
wait_until_blocked();
$primary->safe_psql('postgres', "SELECT pg_cancel_backend($checker_pid)");
$checker->query('SELECT 1');
like($checker->{stderr}, qr/canceling statement due to user request/, 'cancel interrupts fk_orphans');
$checker->{stderr} = '';
is(leftover_locks(), '0', 'no lock left after cancel');

# statement_timeout and lock_timeout.
my ($out, $failed) = $checker->query(q{SET statement_timeout = '50ms'; SELECT * FROM fk_orphan_summary('orders')});
like($checker->{stderr}, qr/canceling statement due to statement timeout/, 'statement_timeout is honoured');
$checker->{stderr} = '';
($out, $failed) = $checker->query(q{SET statement_timeout = 0; SET lock_timeout = '50ms'; SELECT * FROM fk_orphans()});
like($checker->{stderr}, qr/canceling statement due to lock timeout/, 'lock_timeout is honoured');
$checker->{stderr} = '';
is(leftover_locks(), '0', 'no lock left after timeouts');

# Once the lock is gone the same session works normally: no SPI connection or
# memory context was leaked by the interrupted calls.
$locker->query_safe('COMMIT');
$checker->query_safe('RESET lock_timeout');
is(chomped($checker->query_safe(q{SELECT count(*) FROM fk_orphans('orders')})), '3', 'session works after interruptions');

# The same on the one-pass path over a partitioned table: a leaf locked by
# another session makes the pass wait while it gathers the leaves; cancel and
# statement_timeout end the call and leave no lock behind.
$primary->safe_psql('postgres', q{
	CREATE TABLE lines (order_id int REFERENCES orders, n int) PARTITION BY RANGE (n);
	CREATE TABLE lines_1 PARTITION OF lines FOR VALUES FROM (0) TO (10);
	CREATE TABLE lines_2 PARTITION OF lines FOR VALUES FROM (10) TO (20);
	SET session_replication_role = replica;
	INSERT INTO lines VALUES (1, 1), (99999, 5), (2, 15), (99998, 15);
});
is( chomped($checker->query_safe(q{SELECT engine FROM fk_orphan_plan('lines')})),
	'one_pass', 'the partitioned table takes the one pass');
$locker->query_safe('BEGIN; LOCK TABLE lines_2 IN ACCESS EXCLUSIVE MODE;');
$checker->query_safe('SET fk_guard.orphan_engine = one_pass');
sub leftover_leaf_locks
{
	return chomped($checker->query_safe(q{
		SELECT count(*) FROM pg_locks
		 WHERE pid = pg_backend_pid() AND locktype = 'relation'
		   AND relation IN ('lines'::regclass, 'lines_1'::regclass, 'lines_2'::regclass)}));
}
$checker->{stdin} .= "SELECT count(*) FROM fk_orphans('lines');\n";
$checker->{run}->pump_nb();
wait_until_blocked();
$primary->safe_psql('postgres', "SELECT pg_cancel_backend($checker_pid)");
$checker->query('SELECT 1');
like($checker->{stderr}, qr/canceling statement due to user request/, 'cancel interrupts the one pass');
$checker->{stderr} = '';
is(leftover_leaf_locks(), '0', 'no lock left after cancel');
($out, $failed) = $checker->query(q{SET statement_timeout = '50ms'; SELECT * FROM fk_orphan_summary('lines')});
like($checker->{stderr}, qr/canceling statement due to statement timeout/, 'statement_timeout is honoured');
$checker->{stderr} = '';
is(leftover_leaf_locks(), '0', 'no lock left after the timeout');
$locker->query_safe('COMMIT');
$checker->query_safe('RESET statement_timeout');
is( chomped($checker->query_safe(
			q{SELECT string_agg(format('%s %s', child_table, key->>'order_id'), ',') FROM fk_orphans('lines')})),
	'lines_1 99999,lines_2 99998', 'and then the one pass finds the orphans of every leaf');
$checker->quit;
$locker->quit;

# A hot standby answers like its primary.
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);

is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'standby is in recovery');
my $orphans_query = q{SELECT string_agg(format('%s %s %s', constraint_name, key, child_ctid), ';') FROM fk_orphans()
                       WHERE constraint_name <> 'scratch_customer_id_fkey'};
my ($ret, $stdout, $stderr) = $standby->psql('postgres', 'SELECT count(*) FROM fk_orphans()');
is($ret, 0, 'an unlogged table does not make fk_orphans() fail on the standby');
like($stderr, qr/NOTICE:  fk_guard skipped 1 foreign key.*\n.*scratch_customer_id_fkey.*unlogged/,
	'the unlogged table is named in the NOTICE');
($ret, $stdout, $stderr) = $standby->psql('postgres', q{SELECT * FROM fk_orphans('scratch')});
like($stderr, qr/ERROR:  .*unlogged/, 'an explicit target gets a clear error');
is( $standby->safe_psql('postgres', $orphans_query),
	$primary->safe_psql('postgres', $orphans_query),
	'fk_orphans on the standby matches the primary');
my $summary_query = q{SELECT string_agg(format('%s %s %s', constraint_name, orphan_rows, missing_keys), ';') FROM fk_orphan_summary()
                        WHERE constraint_name <> 'scratch_customer_id_fkey'};
is( $standby->safe_psql('postgres', $summary_query),
	$primary->safe_psql('postgres', $summary_query),
	'fk_orphan_summary on the standby matches the primary');

$primary->safe_psql('postgres', 'CALL fk_audit_run()');
$primary->wait_for_catchup($standby);
my $audit_query = q{SELECT string_agg(format('%s %s %s %s', constraint_name, fk_indexed, orphans_at_last_audit, findings), ';') FROM fk_audit};
is( $standby->safe_psql('postgres', $audit_query),
	$primary->safe_psql('postgres', $audit_query),
	'fk_audit on the standby matches the primary');
($ret, $stdout, $stderr) = $standby->psql('postgres', 'CALL fk_audit_run()');
like($stderr, qr/ERROR:  fk_audit_run cannot run on a hot standby/, 'fk_audit_run refuses to run on the standby');

$standby->stop;
$primary->stop;
done_testing();
