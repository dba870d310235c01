# fk_audit_run() under pg_cron, two sessions at once, and a cancel halfway.
use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use lib dirname(abs_path(__FILE__));
use FkgNode;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

plan skip_all => 'pg_cron is not installed for this server (Debian packages it for PostgreSQL 15 only)'
  unless have_pg_cron();

my $node = start_node('cron', preload_conf(1));
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_cron;
	CREATE EXTENSION fk_guard;
	CREATE TABLE customers (id int PRIMARY KEY);
	CREATE TABLE first_orders (customer_id int REFERENCES customers);
	CREATE TABLE second_orders (customer_id int REFERENCES customers);
	INSERT INTO customers VALUES (1);
	SET session_replication_role = replica;
	INSERT INTO first_orders VALUES (1), (2);
	INSERT INTO second_orders VALUES (3), (4), (5);
});

# pg_cron runs the audit; wait (bounded) for a successful run.
$node->safe_psql('postgres', q{SELECT cron.schedule('fk-audit', '* * * * *', 'CALL fk_audit_run()')});
ok( $node->poll_query_until('postgres',
		q{SELECT count(*) > 0 FROM cron.job_run_details WHERE status = 'succeeded'}),
	'pg_cron ran fk_audit_run');
$node->safe_psql('postgres', q{SELECT cron.unschedule('fk-audit')});
is( $node->safe_psql('postgres', q{SELECT status, foreign_keys, foreign_keys_with_orphans, orphan_rows FROM fk_audit_runs ORDER BY run_id LIMIT 1}),
	'completed|2|2|4', 'the scheduled audit recorded its run');
is( $node->safe_psql('postgres', q{SELECT string_agg(constraint_name || '=' || orphans_at_last_audit, ',' ORDER BY constraint_name) FROM fk_audit}),
	'first_orders_customer_id_fkey=1,second_orders_customer_id_fkey=3', 'fk_audit shows the last audit');
my $log = slurp_file($node->logfile);
like($log, qr/WARNING:  fk_guard: 4 orphaned rows in 2 foreign keys/, 'the audit warned in the server log');

# An audit that waits on a locked table: a second one skips, a cancel keeps
# what was finished.
my $locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN; LOCK TABLE second_orders IN ACCESS EXCLUSIVE MODE;');
my $auditor = $node->background_psql('postgres', on_error_stop => 0);
chomp(my $auditor_pid = $auditor->query_safe('SELECT pg_backend_pid()'));
$auditor->{stdin} .= "CALL fk_audit_run();\n";
$auditor->{run}->pump_nb();
ok( $node->poll_query_until('postgres',
		"SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $auditor_pid"),
	'the audit waits for the locked table');

my ($ret, $stdout, $stderr) = $node->psql('postgres', 'CALL fk_audit_run()');
like($stderr, qr/WARNING:  fk_guard: audit skipped: another fk_audit_run is already running \(pid $auditor_pid\)/,
	'a concurrent audit skips with a WARNING');
is($node->safe_psql('postgres', q{SELECT status FROM fk_audit_runs ORDER BY run_id DESC LIMIT 1}),
	'skipped', 'and is recorded as skipped');

$node->safe_psql('postgres', "SELECT pg_cancel_backend($auditor_pid)");
$auditor->query('SELECT 1');
like($auditor->{stderr}, qr/canceling statement due to user request/, 'the audit was cancelled');
$auditor->{stderr} = '';
is( $node->safe_psql('postgres', q{
		SELECT r.status || ':' || string_agg(x.constraint_name || '=' || x.orphan_rows, ',')
		  FROM fk_audit_runs r JOIN fk_audit_results x USING (run_id)
		 WHERE r.run_id = (SELECT max(run_id) FROM fk_audit_runs WHERE status <> 'skipped') GROUP BY r.status}),
	'running:first_orders_customer_id_fkey=1', 'the table finished before the cancel stays recorded');
$locker->query_safe('COMMIT');

# The cancelled session can audit again; its old run is marked interrupted.
$auditor->query('CALL fk_audit_run()');
is( $node->safe_psql('postgres', q{SELECT string_agg(status, ',' ORDER BY run_id) FROM fk_audit_runs}),
	'completed,interrupted,skipped,completed', 'cancelled run marked interrupted, the new one completed');
$auditor->quit;
$locker->quit;

$node->stop;
done_testing();
