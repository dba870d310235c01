# fk_guard loaded other than through shared_preload_libraries says that
# violation capture is off: LOAD and session_preload_libraries raise a
# WARNING; the normal use without preloading (fk_orphans() autoloading the
# library, CREATE EXTENSION) raises none.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('capture_off');
$node->init;
$node->start;

my $warning = qr/WARNING:  fk_guard: violation capture is off\n.*DETAIL:  .*must be loaded through shared_preload_libraries\.\n.*HINT:  Add fk_guard to shared_preload_libraries and restart the server\./s;

# Waits until new sessions see session_preload_libraries = value (not with
# poll_query_until: the sessions may print the warning this test is about).
sub wait_for_setting
{
	my ($value) = @_;
	for (1 .. 300)
	{
		my ($ret, $stdout) = $node->psql('postgres',
			"SELECT setting = '$value' FROM pg_settings WHERE name = 'session_preload_libraries'");
		return if $stdout eq 't';
		sleep 1;
	}
	die "session_preload_libraries did not become '$value'";
}

# Each psql call below is a fresh session, so the library is loaded anew.
my ($ret, $stdout, $stderr) = $node->psql('postgres', 'CREATE EXTENSION fk_guard');
is($ret, 0, 'CREATE EXTENSION works without preloading');
unlike($stderr, qr/WARNING/, 'CREATE EXTENSION: no warning');

($ret, $stdout, $stderr) = $node->psql('postgres', q{
	CREATE TABLE p (id int PRIMARY KEY);
	CREATE TABLE c (p_id int REFERENCES p);
	SELECT count(*) FROM fk_orphans()});
is($stdout, '0', 'fk_orphans() works without preloading');
unlike($stderr, qr/WARNING/, 'fk_orphans() autoloads the library without a warning');

($ret, $stdout, $stderr) = $node->psql('postgres', q{SELECT 1; LOAD 'fk_guard'});
like($stderr, $warning, 'LOAD warns that capture is off, with detail and hint');
is(() = $stderr =~ /WARNING/g, 1, 'LOAD: one warning');

($ret, $stdout, $stderr) = $node->psql('postgres', q{SELECT count(*) FROM fk_orphans(); LOAD 'fk_guard'});
unlike($stderr, qr/WARNING/, 'LOAD after the library was autoloaded: no second _PG_init, no warning');

# session_preload_libraries, for one session and for every new one.
{
	local $ENV{PGOPTIONS} = '-c session_preload_libraries=fk_guard';
	($ret, $stdout, $stderr) = $node->psql('postgres', 'SELECT 1');
}
is($stdout, '1', 'session_preload_libraries: the session works');
like($stderr, $warning, 'session_preload_libraries warns that capture is off');

my $offset = -s $node->logfile;
$node->safe_psql('postgres', q{ALTER SYSTEM SET session_preload_libraries = 'fk_guard'; SELECT pg_reload_conf()});
wait_for_setting('fk_guard');
($ret, $stdout, $stderr) = $node->psql('postgres', 'SELECT count(*) FROM fk_orphans()');
like($stderr, $warning, 'session_preload_libraries from the server configuration warns too');
like(slurp_file($node->logfile, $offset), qr/WARNING:  fk_guard: violation capture is off/,
	'and the warning is in the server log');
$node->safe_psql('postgres', q{ALTER SYSTEM RESET session_preload_libraries; SELECT pg_reload_conf()});
wait_for_setting('');

# A parallel worker loading the library the leader autoloaded says nothing.
# (PostgreSQL 16 renamed force_parallel_mode to debug_parallel_query.)
my $force_parallel = $node->safe_psql('postgres',
	q{SELECT name FROM pg_settings WHERE name IN ('debug_parallel_query', 'force_parallel_mode')});
$offset = -s $node->logfile;
($ret, $stdout, $stderr) = $node->psql('postgres', qq{
	SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
	SET max_parallel_workers_per_gather = 2; SET $force_parallel = on;
	SELECT count(*) FROM fk_orphans();
	SELECT count(*) FROM c});
is($stderr, '', 'parallel query after autoloading: no warning');
unlike(slurp_file($node->logfile, $offset), qr/violation capture is off/, 'nor in the server log');

$node->stop;
done_testing();
