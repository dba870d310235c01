# Violation capture on every path PostgreSQL raises a foreign-key violation from.
#
# Two nodes, the same settings except that one preloads fk_guard (with
# fk_guard.client_hint = off). t/violation_paths.sql, one violation per path, runs
# on both through psql with stdout and stderr merged in order: the client output
# must be byte-for-byte identical, and the preloaded node logs even the
# violation no client saw. What fk_violations and fk_violation_stats hold after
# the same paths, and who may see what, is the pg_regress test
# sql/violations_preloaded.sql (make installcheck-preloaded). Here also: long
# statements are cut, a restart leaves a healthy server that still captures,
# and without preloading the views raise 55000 while fk_orphans works.
use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use lib dirname(abs_path(__FILE__));
use FkgNode;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# scripts/test.sh copies test/t elsewhere: find the script next to this file.
my $paths_sql = dirname(abs_path(__FILE__)) . '/violation_paths.sql';
ok(-r $paths_sql, "found $paths_sql");

# The paths, in order: violation_paths.sql ends each with SELECT 'name' AS path.
my @markers = PostgreSQL::Test::Utils::slurp_file($paths_sql) =~ /^SELECT '(\w+)' AS path,/mg;
is(scalar @markers, 24, 'violation_paths.sql has 24 paths');

# Settings both nodes share. log_statement = none keeps statement texts (which
# name every constraint) out of the server log, so the log shows what fk_guard
# itself writes.
my $common_conf = q{
max_prepared_transactions = 5
log_statement = none
};

my $plain = start_node('plain', $common_conf);

my $node = start_node('preloaded', $common_conf . q{
shared_preload_libraries = 'fk_guard'
fk_guard.client_hint = off
});

for my $n ($plain, $node)
{
	$n->safe_psql('postgres', 'CREATE DATABASE paths');
	$n->safe_psql('paths', 'CREATE EXTENSION fk_guard');
}
is($node->safe_psql('paths', 'SELECT fk_guard_preloaded()'), 't', 'preloaded node: fk_guard_preloaded() is true');
is($plain->safe_psql('paths', 'SELECT fk_guard_preloaded()'), 'f', 'plain node: fk_guard_preloaded() is false');

# Runs violation_paths.sql; returns what the client saw, stdout and stderr in
# the order psql wrote them (psql flushes stdout before writing to stderr).
sub run_paths
{
	my ($n) = @_;
	my $out = '';
	IPC::Run::run(
		[ 'psql', '-X', '-d', $n->connstr('paths') . ' application_name=psql', '-f', $paths_sql ],
		'<', \undef, '>', \$out, '2>&1',
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default))
	  or note('psql exited with ' . ($? >> 8));
	return $out;
}

my $plain_log_offset = -s $plain->logfile;
my $log_offset = -s $node->logfile;
my $without = run_paths($plain);
my $with = run_paths($node);

# The script did what it is meant to do: 23 violations reached the client, one
# was swallowed by PL/pgSQL.
# (PostgreSQL 18 words a RESTRICT key's error "violates RESTRICT setting of
# foreign key constraint".)
my @client_errors = $without =~ /^psql:[^\n]*: ERROR:  [^\n]*violates (?:RESTRICT setting of )?foreign key constraint/mg;
is(scalar @client_errors, 23, 'without fk_guard: 23 violations reach the client');
like($without, qr/^ caught 23503$/m, 'without fk_guard: the EXCEPTION block caught one violation');
unlike($without, qr/^psql:[^\n]*: (?:FATAL|PANIC|WARNING)|server closed the connection/m,
	'without fk_guard: no other failure');

# Each error is printed before the marker of its path (stderr merged in order).
my $marker_re = join('|', @markers);
my @sequence = $without =~ /violates (?:RESTRICT setting of )?foreign key constraint "[^"]+"|^ (?:$marker_re) +\| /mg;
s/^violates.*/error/, s/^ (\w+).*/$1/ for @sequence;
is( join(' ', @sequence),
	join(' ', map { $_ eq 'swallowed' ? $_ : "error $_" } @markers),
	'without fk_guard: one error before each path marker but the last, in order');

is($with, $without, 'client output is identical with and without fk_guard (client_hint = off)');
if ($with ne $without)
{
	my $dir = $PostgreSQL::Test::Utils::tmp_check;
	PostgreSQL::Test::Utils::append_to_file("$dir/paths_without.out", $without);
	PostgreSQL::Test::Utils::append_to_file("$dir/paths_with.out", $with);
	diag(scalar `diff -u '$dir/paths_without.out' '$dir/paths_with.out'`);
}

# Runs a query that needs violation capture. A failure is one failed test named
# after what was being checked; returns undef then.
sub views_query
{
	my ($n, $db, $sql, $what, @extra) = @_;
	my ($ret, $out, $err) = $n->psql($db, $sql, extra_params => [@extra]);
	if ($ret != 0 || $err ne '')
	{
		fail("$what (query failed: $err)");
		return undef;
	}
	return $out;
}

# fk_guard.log_violations is on by default: even the violation no client saw is
# logged (statement logging is off, so only fk_guard names c_swallow_fk).
ok($node->log_contains(qr/c_swallow_fk/, $log_offset), 'preloaded node: the swallowed violation is logged');
ok(!$plain->log_contains(qr/c_swallow_fk/, $plain_log_offset), 'plain node: the swallowed violation is not logged');

$node->safe_psql('paths', q{
	CREATE TABLE priv_p (id int PRIMARY KEY);
	CREATE TABLE priv_c (id int, parent_id int CONSTRAINT priv_c_fk REFERENCES priv_p);
});

# query is cut at fk_guard.max_query_length (default 1024; whether a terminating
# byte is counted is left to the implementation, hence 1000 .. 1024).
my $long_comment = '/* ' . ('x' x 3000) . ' */';
$node->psql('paths', "INSERT INTO priv_c VALUES (1, 444) $long_comment");
my $long = views_query($node, 'paths', q{
	SELECT octet_length(query) BETWEEN 1000 AND 1024, query LIKE 'INSERT INTO priv_c VALUES (1, 444) /* xxx%'
	  FROM fk_violations WHERE key = '(parent_id)=(444)'},
	'long query text');
is($long, 't|t', 'query is truncated to fk_guard.max_query_length (1024)') if defined $long;

# A restart leaves a healthy server whose views answer (whether they kept
# anything is up to the implementation).
$node->restart;
is($node->safe_psql('paths', 'SELECT 1'), '1', 'preloaded node answers after restart');
my $after_restart = views_query($node, 'paths', q{
	SELECT (SELECT count(*) FROM fk_violations) >= 0 AND (SELECT count(*) FROM fk_violation_stats) >= 0},
	'views after restart');
is($after_restart, 't', 'fk_violations and fk_violation_stats answer after restart') if defined $after_restart;
my $v = views_query($node, 'paths', q{
	DO $$ BEGIN INSERT INTO priv_c VALUES (1, 333); EXCEPTION WHEN foreign_key_violation THEN NULL; END $$;
	SELECT count(*) FROM fk_violations WHERE constraint_name = 'priv_c_fk' AND key = '(parent_id)=(333)' AND handled},
	'capture after restart');
is($v, '1', 'violations are captured after restart') if defined $v;
ok(!$node->log_contains(qr/terminated by signal|PANIC:|was terminated/, 0), 'no backend crashed');

# Without preloading: the views say what is missing (55000), fk_orphans works.
my ($ret, $out, $err) = $plain->psql('paths', "\\set VERBOSITY verbose\nSELECT * FROM fk_violations");
like($err, qr/ERROR:  55000: fk_guard must be loaded via shared_preload_libraries/,
	'plain node: fk_violations raises 55000');
($ret, $out, $err) = $plain->psql('paths', "\\set VERBOSITY verbose\nSELECT * FROM fk_violation_stats");
like($err, qr/ERROR:  55000: /, 'plain node: fk_violation_stats raises 55000');
is( $plain->safe_psql('paths', q{SELECT constraint_name, key FROM fk_orphans()}),
	'c_validate_fk|{"parent_id": 991}',
	'plain node: fk_orphans works (the NOT VALID constraint\'s orphan)');

$node->stop;
$plain->stop;
done_testing();
