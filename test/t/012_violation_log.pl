# The log lines of violation capture (text and JSON), read from a remembered
# log offset as contrib/auto_explain's tests do; client hints; restart.
use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use lib dirname(abs_path(__FILE__));
use FkgLogLine;
use FkgNode;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = start_node('log', "shared_preload_libraries = 'fk_guard'");
$node->safe_psql('postgres', q{
	CREATE EXTENSION fk_guard;
	CREATE TABLE customers (id int PRIMARY KEY);
	CREATE TABLE orders (id int, customer_id int CONSTRAINT orders_customer_id_fkey REFERENCES customers);
	CREATE ROLE clerk LOGIN;
	GRANT INSERT ON orders TO clerk;
});

# Runs sql (expected to fail with a violation) and returns (stderr, new log text).
sub violate
{
	my ($sql, %opts) = @_;
	my $offset = -s $node->logfile;
	my ($ret, $stdout, $stderr) = $node->psql('postgres', $sql, %opts);
	return ($stderr, slurp_file($node->logfile, $offset));
}

my ($stderr, $log) = violate(q{SET application_name = 'importer'; INSERT INTO orders VALUES (1, 9842)});
like($stderr, qr/violates foreign key constraint "orders_customer_id_fkey"/, 'the client gets the error');
unlike($stderr, qr/HINT/, 'no hint by default');
my @lines = fk_guard_messages($log);
is(scalar @lines, 1, 'one text line per violation');
my $fields = parse_text_line($lines[0], 1);
ok($fields, 'the text line is made of name=value fields') or diag $lines[0];
my %f = map { @$_ } @{ $fields || [] };
is_deeply(
	[ map { $_->[0] } @{ $fields || [] } ],
	[ qw(constraint child_table fk_columns parent_table parent_columns side operation at_commit deferrable
		initially_deferred handled key database user application_name pid violations_last_minute query hint) ],
	'text line: every field, in order');
is_deeply(
	[ @f{qw(constraint child_table fk_columns parent_table parent_columns)} ],
	[ 'orders_customer_id_fkey', 'public.orders', 'customer_id', 'public.customers', 'id' ],
	'text line names the constraint, tables and columns');
is_deeply([ @f{qw(side operation at_commit deferrable initially_deferred handled)} ],
	[ 'child', 'INSERT', 'false', 'false', 'false', 'false' ], 'text line: side, operation, deferrability');
is($f{key}, '(customer_id)=(9842)', 'text line: key');
is_deeply([ @f{qw(database application_name violations_last_minute)} ], [ 'postgres', 'importer', '1' ],
	'text line: session and burst count');
like($f{pid}, qr/^\d+$/, 'text line: pid');
is($f{query}, 'INSERT INTO orders VALUES (1, 9842)', 'text line: statement');
is($f{user}, $node->safe_psql('postgres', 'SELECT session_user'), 'text line: user');
like($f{hint}, qr/^Insert the referenced row in public\.customers first/, 'text line: fix hint');
like($lines[0], qr/ side=child operation=INSERT at_commit=false /, 'fixed-vocabulary values are bare');

# JSON: one object per line, stable keys.
set_server_wide($node, 'fk_guard.log_format', 'json');
($stderr, $log) = violate(q{DELETE FROM customers; INSERT INTO customers VALUES (7); INSERT INTO orders VALUES (2, 7); DELETE FROM customers});
my @json = map { /LOG:\s+(\{.*\})\s*$/ ? decode_json($1) : () } split /\n/, $log;
is(scalar @json, 1, 'one JSON object per violation');
my $v = $json[0];
is_deeply(
	[ @$v{qw(fk_guard constraint child_table parent_table side operation at_commit handled key)} ],
	[ 'violation', 'orders_customer_id_fkey', 'public.orders', 'public.customers', 'parent', 'DELETE',
	  JSON::PP::false, JSON::PP::false, '(id)=(7)' ],
	'JSON fields of a parent-side violation');
is_deeply($v->{fk_columns}, ['customer_id'], 'JSON fk_columns');
is_deeply($v->{parent_columns}, ['id'], 'JSON parent_columns');
is($v->{violations_last_minute}, 2, 'burst count covers this constraint');
like($v->{hint}, qr/re-point the referencing rows in public\.orders/, 'JSON hint');

# The key only where PostgreSQL showed it: clerk may not read orders.
($stderr, $log) = violate(q{INSERT INTO orders VALUES (3, 5)}, extra_params => [ '-U', 'clerk' ]);
like($stderr, qr/DETAIL:  Key is not present in table "customers"/, 'PostgreSQL hides the key from clerk');
@json = map { /LOG:\s+(\{.*\})\s*$/ ? decode_json($1) : () } split /\n/, $log;
is(scalar @json, 1, 'violation by clerk logged');
ok(!defined $json[0]{key}, 'fk_guard hides it too');
is($node->safe_psql('postgres', q{SELECT count(*) FROM fk_violations WHERE username = 'clerk' AND key IS NULL}),
	'1', 'and so does the view');

# Statement text is truncated; logging can be switched off.
set_server_wide($node, 'fk_guard.max_query_length', '11');
($stderr, $log) = violate(q{INSERT INTO orders VALUES (4, 404)});
@json = map { /LOG:\s+(\{.*\})\s*$/ ? decode_json($1) : () } split /\n/, $log;
is($json[0]{query}, 'INSERT INTO', 'query truncated to fk_guard.max_query_length');
set_server_wide($node, 'fk_guard.log_violations', 'off');
($stderr, $log) = violate(q{INSERT INTO orders VALUES (5, 405)});
unlike($log, qr/fk_guard: foreign key violation|"fk_guard":"violation"/, 'no line with fk_guard.log_violations = off');
is($node->safe_psql('postgres', q{SELECT count(*) FROM fk_violations WHERE key = '(customer_id)=(405)'}),
	'1', 'but the violation is still recorded');

# client_hint adds the fix to the client's error.
($stderr, $log) = violate(q{SET fk_guard.client_hint = on; INSERT INTO orders VALUES (6, 406)});
like($stderr, qr/HINT:  Insert the referenced row in public\.customers first/, 'client_hint adds a HINT');

# A restart leaves a healthy server with empty views.
is($node->safe_psql('postgres', 'SELECT sum(violations) FROM fk_violation_stats'), '6', 'six violations counted');
$node->restart;
is($node->safe_psql('postgres', 'SELECT count(*) FROM fk_violations'), '0', 'ring empty after restart');
($stderr, $log) = violate(q{INSERT INTO orders VALUES (7, 407)});
is($node->safe_psql('postgres', 'SELECT sum(violations) FROM fk_violation_stats'), '1', 'counting resumes after restart');

# A statement that swallows more violations than wait in the backend at once
# still records every one of them, as handled.
$node->safe_psql('postgres', q{
	DO $$
	BEGIN
		FOR i IN 1..100 LOOP
			BEGIN
				INSERT INTO orders VALUES (i, 100000 + i);
			EXCEPTION WHEN foreign_key_violation THEN
				NULL;
			END;
		END LOOP;
	END
	$$});
is($node->safe_psql('postgres', 'SELECT sum(violations), sum(handled) FROM fk_violation_stats'), '101|100',
	'100 swallowed violations in one statement are all recorded');

# fk_audit reads the counters of violation capture.
is( $node->safe_psql('postgres', q{
		SELECT violations, last_violation_at IS NOT NULL,
		       findings @> '[{"code": "recent_violations", "message": "101 violations in the last 24 hours."}]'
		  FROM fk_audit WHERE constraint_name = 'orders_customer_id_fkey'}),
	'101|t|t', 'fk_audit shows the violations and a recent_violations finding');

$node->stop;
done_testing();
