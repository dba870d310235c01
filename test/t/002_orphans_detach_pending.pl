# A partition left detach-pending by an interrupted DETACH PARTITION ...
# CONCURRENTLY: queries on the partitioned table skip it, but PostgreSQL still
# checks the rows written into it against the foreign key. fk_orphans,
# fk_orphan_summary and fk_audit_run check it too, under the declared foreign
# key, whichever table the call names.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('detach');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION fk_guard;
	CREATE TABLE accounts (id int PRIMARY KEY);
	INSERT INTO accounts VALUES (1), (2);
	CREATE TABLE entries (account_id int REFERENCES accounts, day int) PARTITION BY LIST (day);
	CREATE TABLE entries_1 PARTITION OF entries FOR VALUES IN (1);
	CREATE TABLE entries_2 PARTITION OF entries FOR VALUES IN (2);
	SET session_replication_role = replica;
	INSERT INTO entries VALUES (1, 1), (701, 1), (2, 2), (702, 2), (703, 2);
});

# A snapshot older than the DETACH makes it wait; its timeout leaves the
# partition detach-pending.
my $holder = $node->background_psql('postgres');
$holder->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM entries;');
my ($ret, $out, $err) = $node->psql('postgres',
	q{SET statement_timeout = '500ms'; ALTER TABLE entries DETACH PARTITION entries_2 CONCURRENTLY});
like($err, qr/canceling statement due to statement timeout/, 'the DETACH is interrupted');
$holder->query_safe('COMMIT');
$holder->quit;
is($node->safe_psql('postgres', q{SELECT inhdetachpending FROM pg_inherits WHERE inhrelid = 'entries_2'::regclass}),
	't', 'entries_2 is detach-pending');
is($node->safe_psql('postgres', 'SELECT count(*) FROM entries'), '2', 'a query on entries skips entries_2');

# PostgreSQL's verdict: a row written into entries_2 is still checked.
($ret, $out, $err) = $node->psql('postgres', 'INSERT INTO entries_2 VALUES (704, 2)');
like($err, qr/violates foreign key constraint "entries_account_id_fkey"/,
	'PostgreSQL still checks entries_2 against the declared foreign key');

# fk_orphans(arguments) as one line.
sub orphans
{
	my ($arguments) = @_;
	return $node->safe_psql('postgres', q{
		SELECT string_agg(format('%s %s %s', constraint_name, child_table, key->>'account_id'), ', '
		                  ORDER BY child_table::text, key->>'account_id')
		  FROM fk_orphans(} . $arguments . ')');
}
my $expected = 'entries_account_id_fkey entries_1 701, entries_account_id_fkey entries_2 702, '
  . 'entries_account_id_fkey entries_2 703';
for my $target ('', q{'entries'}, q{NULL, 100})
{
	is(orphans($target), $expected,
		"fk_orphans($target) reports the detach-pending partition's orphans");
}
is(orphans(q{'entries_2'}),
	'entries_account_id_fkey entries_2 702, entries_account_id_fkey entries_2 703',
	'fk_orphans on the detach-pending partition itself');
is( $node->safe_psql('postgres', q{
		SELECT string_agg(format('%s %s %s %s', constraint_name, child_table, orphan_rows, missing_keys), ', '
		                  ORDER BY child_table::text)
		  FROM fk_orphan_summary('entries')}),
	'entries_account_id_fkey entries 1 1, entries_account_id_fkey entries_2 2 2',
	'fk_orphan_summary: one row per relation scanned');

$node->safe_psql('postgres', 'CALL fk_audit_run()');
is( $node->safe_psql('postgres', q{
		SELECT format('%s %s %s', constraint_name, orphan_rows, missing_keys) FROM fk_audit_results
		 WHERE constraint_name = 'entries_account_id_fkey'}),
	'entries_account_id_fkey 3 3', 'fk_audit_run counts both under the declared foreign key');

# Once the detach is finished, entries_2 is a table of its own, with a copy of
# the foreign key: its orphans are that constraint's.
$node->safe_psql('postgres', 'ALTER TABLE entries DETACH PARTITION entries_2 FINALIZE');
is(orphans(q{'entries'}), 'entries_account_id_fkey entries_1 701',
	'after FINALIZE, entries has its own orphans only');
is( $node->safe_psql('postgres', q{
		SELECT string_agg(format('%s %s', child_table, key->>'account_id'), ', ' ORDER BY key->>'account_id')
		  FROM fk_orphans('entries_2')}),
	'entries_2 702, entries_2 703', 'and entries_2 its own');

$node->stop;
done_testing();
