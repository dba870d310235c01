# An ordinary LOGIN role tries to forge fk_guard's log lines and to store
# values that are invalid in the database encoding, through the data it
# controls: key values, statement text, application_name, in a UTF8 and a
# SQL_ASCII database, in the text and JSON formats.  From the server log (read
# from a remembered offset): exactly one fk_guard line per violation, each
# text line parses into the expected fields with the expected values, each JSON
# line decodes; fk_violations keeps the key and query cut on a character
# boundary (PostgreSQL's convert_to verifies them).
use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use lib dirname(abs_path(__FILE__));
use FkgLogLine;
use FkgNode;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = start_node('forgery', qq{
shared_preload_libraries = 'fk_guard'
log_line_prefix = '%m [%p] '
fk_guard.max_query_length = 4096
});
$node->safe_psql('postgres', q{
	CREATE EXTENSION fk_guard;
	CREATE TABLE codes (code text PRIMARY KEY);
	CREATE TABLE items (id int, code text CONSTRAINT items_code_fkey REFERENCES codes);
	CREATE ROLE mallory LOGIN;
	GRANT SELECT, INSERT ON items TO mallory;
	CREATE DATABASE ascii ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
});
$node->safe_psql('ascii', q{
	CREATE EXTENSION fk_guard;
	CREATE TABLE codes (code text PRIMARY KEY);
	CREATE TABLE items (id int, code text CONSTRAINT items_code_fkey REFERENCES codes);
	GRANT SELECT, INSERT ON items TO mallory;
});

# Runs sql as mallory in db (it must fail with a violation); returns the
# fk_guard messages the server logged meanwhile.
sub violate
{
	my ($db, $sql) = @_;
	my $offset = -s $node->logfile;
	my ($ret, $stdout, $stderr) = $node->psql($db, $sql, extra_params => [ '-U', 'mallory' ]);
	like($stderr, qr/violates foreign key constraint "items_code_fkey"/, "violation raised: " . substr($sql, 0, 40));
	return fk_guard_messages(slurp_file($node->logfile, $offset));
}

# The one text line of a violation, parsed; checks the field names and the
# values every line of this test shares.
sub one_text_line
{
	my ($name, $utf8, @messages) = @_;
	is(scalar @messages, 1, "$name: exactly one fk_guard line") or diag explain \@messages;
	my $fields = parse_text_line($messages[0] // '', $utf8);
	ok($fields, "$name: the line is made of name=value fields") or diag $messages[0];
	$fields ||= [];
	is_deeply(
		[ map { $_->[0] } @$fields ],
		[ qw(constraint child_table fk_columns parent_table parent_columns side operation at_commit deferrable
			initially_deferred handled key database user application_name pid violations_last_minute query hint) ],
		"$name: every field once, in order");
	my %f = map { @$_ } @$fields;
	is_deeply([ @f{qw(constraint child_table side user)} ], [ 'items_code_fkey', 'public.items', 'child', 'mallory' ],
		"$name: constraint, table, side, user");
	return \%f;
}

# The key as fk_violations stored it, verified by PostgreSQL in the database
# encoding (convert_to raises on an invalid byte sequence).
sub stored
{
	my ($db, $column, $like) = @_;
	return $node->safe_psql($db, qq{
		SELECT octet_length($column) || ' ' || (convert_to($column, 'UTF8') IS NOT NULL)
		  FROM fk_violations WHERE database = current_database() AND query LIKE '$like' ORDER BY ts DESC LIMIT 1});
}

# 1. A key value that writes fake fields and a fake line.
my $forged = qq{x") database=evil user=postgres pid=1\nLOG:  fk_guard: foreign key violation: constraint="fake" side=parent};
(my $forged_sql = $forged) =~ s/'/''/g;
$forged_sql =~ s/\n/\\n/g;
my %f = %{ one_text_line('forged key', 1, violate('postgres', "INSERT INTO items VALUES (1, E'$forged_sql')")) };
is($f{key}, "(code)=($forged)", 'forged key: the fake field text lands inside the key value');
is_deeply([ @f{qw(database pid)} ], [ 'postgres', $f{pid} =~ /^\d+$/ && $f{pid} != 1 ? $f{pid} : 'a real pid' ],
	'forged key: the real database and pid');
is($node->safe_psql('postgres', q{SELECT key FROM fk_violations WHERE query LIKE 'INSERT INTO items VALUES (1,%'}),
	"(code)=($forged)", 'forged key: stored as it was');

# 2. application_name with quotes, backslashes and control characters
# (PostgreSQL itself turns the control characters into '?').
my $app_sql = q{SET application_name = E'imp"ort\\\\er\\x01\\t" user="root'};
%f = %{ one_text_line('application_name', 1,
	violate('postgres', "$app_sql; INSERT INTO items VALUES (2, 'app')")) };
my $app = $node->safe_psql('postgres', "$app_sql; SHOW application_name");
is($f{application_name}, $app, 'application_name: as PostgreSQL kept it');
like($f{application_name}, qr/^imp"ort\\er/, 'application_name: quotes and backslash kept inside the value');

# 3. A 10 KB key and a 10 KB statement: both cut, on character boundaries,
# the JSON line whole.
set_server_wide($node, 'fk_guard.log_format', 'json');
my $long = 'k' x 10240;
my @messages = violate('postgres', "INSERT INTO items VALUES (3, '$long')");
is(scalar @messages, 1, 'long key: exactly one fk_guard line');
my $v = eval { decode_json_line($messages[0] // '', 1) };
ok($v, 'long key: the JSON line decodes') or diag $@;
is($v->{key}, substr("(code)=($long)", 0, 511), 'long key: cut at 511 bytes');
is($v->{query}, substr("INSERT INTO items VALUES (3, '$long')", 0, 4096), 'long query: cut at 4096 bytes');
is(stored('postgres', 'key', 'INSERT INTO items VALUES (3,%'), '511 true', 'long key: stored as 511 valid bytes');

# 4. Multibyte characters straddling the key and query cuts.
my $wide = "\x{65e5}" x 2000;    # 3 bytes each in UTF-8
my $wide_sql = "INSERT INTO items VALUES (4, '$wide')";
utf8::encode($wide_sql);
my $wide_key = "(code)=($wide)";
utf8::encode($wide_key);
@messages = violate('postgres', $wide_sql);
$v = eval { decode_json_line($messages[0] // '', 1) };
ok($v, 'multibyte key: the JSON line decodes') or diag $@;
is($v->{key}, substr($wide_key, 0, 8 + 3 * 167), 'multibyte key: cut before the character that would not fit');
is($v->{query}, substr($wide_sql, 0, 30 + 3 * 1355), 'multibyte query: cut on a character boundary');
is(stored('postgres', 'key', 'INSERT INTO items VALUES (4,%'), (8 + 3 * 167) . ' true', 'multibyte key: stored valid');
is(stored('postgres', 'query', 'INSERT INTO items VALUES (4,%'), (30 + 3 * 1355) . ' true',
	'multibyte query: stored valid');
is( $node->safe_psql('postgres', q{
		SELECT count(*) FROM fk_violations
		 WHERE query LIKE 'INSERT INTO items VALUES (4,%' AND position(key in '(code)=(' || repeat(U&'\65E5', 2000)) = 1}),
	'1', 'multibyte key: a prefix of the original key');
set_server_wide($node, 'fk_guard.log_format', 'text');

# 5. A SQL_ASCII database, raw high bytes and a newline in the key.
my $raw = "caf\xe9 \xff\xfe\nLOG:  fk_guard: foreign key violation: x=\"1\"";
(my $raw_sql = "INSERT INTO items VALUES (5, E'$raw')") =~ s/\n/\\n/g;
%f = %{ one_text_line('SQL_ASCII text', 0, violate('ascii', $raw_sql)) };
is($f{key}, "(code)=($raw)", 'SQL_ASCII text: the raw bytes come back from \\u00XX escapes');
is($f{database}, 'ascii', 'SQL_ASCII text: database');
set_server_wide($node, 'fk_guard.log_format', 'json');
@messages = violate('ascii', $raw_sql);
is(scalar @messages, 1, 'SQL_ASCII JSON: exactly one fk_guard line');
unlike($messages[0] // '', qr/[^\x20-\x7e]/, 'SQL_ASCII JSON: pure printable ASCII');
$v = eval { decode_json_line($messages[0] // '', 0) };
ok($v, 'SQL_ASCII JSON: the line decodes') or diag $@;
is($v->{key}, "(code)=($raw)", 'SQL_ASCII JSON: key round-trips');
is( $node->safe_psql('ascii', q{SELECT count(*) FROM fk_violations WHERE database = current_database()}),
	'2', 'SQL_ASCII: both violations recorded');

# With fk_guard preloaded, LOAD is a no-op and says nothing.
my ($ret, $stdout, $stderr) = $node->psql('postgres', q{LOAD 'fk_guard'});
is($stderr, '', 'LOAD of a preloaded fk_guard: no warning');

$node->stop;
done_testing();
