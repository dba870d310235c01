# Attacks that need several sessions or pg_cron: an ordinary role's open
# temporary table with a foreign key, a role holding the advisory lock keys an
# audit might use, and operators planted in public under a pg_cron audit.
# Each must leave the superuser's calls working and the attacker powerless.
use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use lib dirname(abs_path(__FILE__));
use FkgNode;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# Without pg_cron (see FkgNode::have_pg_cron) the planted operators face an
# audit the superuser runs directly, with the same default search_path a
# pg_cron job has.
my $cron = have_pg_cron();
note "pg_cron is not installed for this server: the audit runs without it" unless $cron;

my $node = start_node('security', preload_conf($cron));
$node->safe_psql('postgres', 'CREATE EXTENSION pg_cron') if $cron;
$node->safe_psql('postgres', q{
	CREATE EXTENSION fk_guard;
	CREATE ROLE mallory LOGIN;
	GRANT CREATE ON SCHEMA public TO mallory;
	CREATE TABLE customers (id int PRIMARY KEY);
	CREATE TABLE orders (customer_id int REFERENCES customers);
	GRANT SELECT, REFERENCES ON customers TO mallory;
	INSERT INTO customers VALUES (1);
	SET session_replication_role = replica;
	INSERT INTO orders VALUES (1), (2);
});

# mallory keeps temporary tables with a foreign key (and an orphan) open.
my $mallory = $node->background_psql('postgres', extra_params => [ '-U', 'mallory' ]);
$mallory->query_safe(q{
	CREATE TEMP TABLE my_customers (id int PRIMARY KEY);
	CREATE TEMP TABLE my_orders (customer_id int);
	INSERT INTO my_orders VALUES (99);
	ALTER TABLE my_orders ADD CONSTRAINT my_orders_customer_id_fkey
	  FOREIGN KEY (customer_id) REFERENCES my_customers NOT VALID;
});
# ... and holds the advisory lock keys an audit lock could be confused with.
$mallory->query_safe(q{
	SELECT pg_advisory_lock(7380097286562670964);
	SELECT pg_advisory_lock(1718312801, 1969515636);
	SELECT pg_advisory_lock(1718312801::bigint << 32 | 1969515636);
});

my ($ret, $stdout, $stderr) = $node->psql('postgres',
	q{SELECT string_agg(constraint_name || ':' || key, ',') FROM fk_orphans()});
is($ret, 0, "another session's temp table does not make fk_orphans() fail");
is($stdout, 'orders_customer_id_fkey:{"customer_id": 2}', 'the other tables are still checked');
like($stderr, qr/NOTICE:  fk_guard skipped 1 foreign key.*\n.*my_orders_customer_id_fkey.*temporary table of another session/,
	'the temp table is named in the NOTICE');
($ret, $stdout, $stderr) = $node->psql('postgres',
	q{SELECT string_agg(constraint_name || '=' || orphan_rows, ',') FROM fk_orphan_summary()});
is($stdout, 'orders_customer_id_fkey=1', 'fk_orphan_summary too');
($ret, $stdout, $stderr) = $node->psql('postgres', q{
	SELECT count(*) FROM fk_orphans((SELECT conrelid FROM pg_constraint WHERE conname = 'my_orders_customer_id_fkey')::regclass)});
like($stderr, qr/ERROR:  cannot access temporary tables of other sessions/, 'an explicit target gets a clear error');

# The session's own temporary table is checked.
is( chomped($mallory->query_safe(q{SELECT string_agg(constraint_name || ':' || key, ',') FROM fk_orphans('my_orders')})),
	'my_orders_customer_id_fkey:{"customer_id": 99}', "a session's own temp table is checked");

# The audit is neither blocked by the advisory locks nor broken by the temp table.
($ret, $stdout, $stderr) = $node->psql('postgres', 'CALL fk_audit_run()');
is($ret, 0, 'fk_audit_run completes');
like($stderr, qr/WARNING:  fk_guard: 1 orphaned rows in 1 foreign keys/, 'and warns about the real orphan');
is($node->safe_psql('postgres', q{SELECT status, foreign_keys FROM fk_audit_runs ORDER BY run_id DESC LIMIT 1}),
	'completed|1', 'the run completed, the temp table skipped');

# mallory cannot take the audit lock: the SQL advisory functions make other lock tags.
is( $node->safe_psql('postgres', q{
		SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 3}),
	'0', 'no audit lock is held now');
($ret, $stdout, $stderr) = $node->psql('postgres', 'SELECT fk_audit_start(NULL)', extra_params => [ '-U', 'mallory' ]);
like($stderr, qr/permission denied for procedure fk_audit_run/, 'mallory may not start an audit');
$mallory->quit;

# A referenced table renamed and replaced by a view while a check waits for
# its lock: the check reads only the tables it checked privileges on (by OID),
# so it refuses rather than read the view.
$node->safe_psql('postgres', q{
	CREATE SCHEMA m AUTHORIZATION mallory;
	SET ROLE mallory;
	CREATE TABLE m.items (id int PRIMARY KEY);
	CREATE TABLE m.ran (ran_as name);
	GRANT INSERT ON m.ran TO PUBLIC;
	CREATE FUNCTION m.evil() RETURNS boolean LANGUAGE plpgsql AS $$
	BEGIN
		INSERT INTO m.ran VALUES (current_user);
		BEGIN
			ALTER ROLE mallory SUPERUSER;
		EXCEPTION WHEN OTHERS THEN NULL;
		END;
		RETURN true;
	END $$;
	GRANT USAGE ON SCHEMA m TO PUBLIC;
	GRANT SELECT, REFERENCES ON m.items TO PUBLIC;
	RESET ROLE;
	CREATE TABLE public.item_refs (item_id int REFERENCES m.items);
	SET session_replication_role = replica;
	INSERT INTO public.item_refs VALUES (5);
});
my $swapper = $node->background_psql('postgres', extra_params => [ '-U', 'mallory' ]);
$swapper->query_safe('BEGIN; LOCK TABLE m.items IN ACCESS EXCLUSIVE MODE;');
# The planner path names the tables in its SQL: it must notice the swap. (The
# one-pass engine reads the tables by OID; it is checked below.)
my $checker = $node->background_psql('postgres', on_error_stop => 0);
$checker->query_safe('SET fk_guard.orphan_engine = planner');
my $checker_pid = chomped($checker->query_safe('SELECT pg_backend_pid()'));
$checker->{stdin} .= "SELECT 'summary:' || string_agg(constraint_name || '=' || orphan_rows, ',') FROM fk_orphan_summary('public.item_refs');\n";
$checker->{run}->pump_nb();
ok( $node->poll_query_until('postgres',
		"SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $checker_pid"),
	'the check waits for the locked referenced table');
$swapper->query_safe(q{
	ALTER TABLE m.items RENAME TO items_old;
	CREATE VIEW m.items AS SELECT id FROM m.items_old WHERE m.evil();
	COMMIT;
});
$checker->query('SELECT 1');
like($checker->{stderr}, qr/ERROR:  the tables of foreign key "item_refs_item_id_fkey" changed while it was being checked/,
	'the check refuses a plan reading anything but the checked tables');
$checker->quit;
$swapper->quit;
is($node->safe_psql('postgres', q{SELECT count(*) FROM m.ran}), '0', 'the view put in its place was not read');
# The one-pass engine reads the referenced table the foreign key names by OID
# (renamed, it is still m.items_old), never the view that took its name.
is( $node->safe_psql('postgres', q{
		SET fk_guard.orphan_engine = one_pass;
		SELECT parent_table || ':' || orphan_rows FROM fk_orphan_summary('public.item_refs')}),
	'm.items_old:1', 'the one-pass engine checks the renamed table, by OID');
is($node->safe_psql('postgres', q{SELECT count(*) FROM m.ran}), '0', 'the one-pass engine did not read the view either');
is($node->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'}), 'f',
	'mallory is not superuser');

# Operators planted in public for a pg_cron audit (default search_path).
$node->safe_psql('postgres', q{
	SET ROLE mallory;
	CREATE TABLE public.ran (ran_as name);
	GRANT INSERT ON public.ran TO PUBLIC;
	CREATE FUNCTION public.evil(oid, integer) RETURNS boolean LANGUAGE plpgsql AS $$
	BEGIN
		INSERT INTO public.ran VALUES (current_user);
		BEGIN
			ALTER ROLE mallory SUPERUSER;
		EXCEPTION WHEN OTHERS THEN NULL;
		END;
		RETURN $1 OPERATOR(pg_catalog.=) $2::oid;
	END $$;
	CREATE OPERATOR public.= (LEFTARG = oid, RIGHTARG = integer, FUNCTION = public.evil);
	CREATE OPERATOR public.<> (LEFTARG = oid, RIGHTARG = integer, FUNCTION = public.evil);
});
if ($cron)
{
	$node->safe_psql('postgres', q{SELECT cron.schedule('fk-audit', '* * * * *', 'CALL fk_audit_run()')});
	ok( $node->poll_query_until('postgres',
			q{SELECT count(*) > 0 FROM cron.job_run_details WHERE status = 'succeeded'}),
		'pg_cron ran fk_audit_run');
	$node->safe_psql('postgres', q{SELECT cron.unschedule('fk-audit')});
}
else
{
	$node->safe_psql('postgres', 'CALL fk_audit_run()');
}
is($node->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'}), 'f',
	'mallory is not superuser');
is($node->safe_psql('postgres', q{SELECT count(*) FROM public.ran WHERE ran_as <> 'mallory'}), '0',
	'no planted operator ran with the superuser\'s rights');
is($node->safe_psql('postgres', q{SELECT status FROM fk_audit_runs ORDER BY run_id DESC LIMIT 1}), 'completed',
	'the ' . ($cron ? 'scheduled' : 'superuser\'s') . ' audit completed');

$node->stop;
done_testing();
