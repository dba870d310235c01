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

is($node->safe_psql('postgres', q{SELECT engine FROM fk_orphan_plan('entries')}),
	'one_pass', 'a partitioned referencing table takes the one pass');

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

# fk_orphans(arguments) as one line, under fk_guard.orphan_engine = engine (default auto).
sub orphans
{
	my ($arguments, $engine) = @_;
	$engine //= 'auto';
	return $node->safe_psql('postgres', qq{SET fk_guard.orphan_engine = $engine;} . q{
		SELECT string_agg(format('%s %s %s', constraint_name, child_table, key->>'account_id'), ', '
		                  ORDER BY child_table::text, key->>'account_id')
		  FROM fk_orphans(} . $arguments . ')');
}
my $expected = 'entries_account_id_fkey entries_1 701, entries_account_id_fkey entries_2 702, '
  . 'entries_account_id_fkey entries_2 703';
for my $target ('', q{'entries'}, q{NULL, 100})
{
	for my $engine ('auto', 'one_pass', 'planner')
	{
		is(orphans($target, $engine), $expected,
			"fk_orphans($target) reports the detach-pending partition's orphans ($engine)");
	}
}
# Whether a query on entries reads entries_2 depends on the snapshot: the one
# pass leaves entries to the planner's path, and checks entries_2 on its own.
is( $node->safe_psql('postgres', q{
		SELECT string_agg(format('%s %s %s', child_table, engine, reason), ', ' ORDER BY child_table::text)
		  FROM fk_orphan_plan('entries')}),
	'entries planner a partition of the referencing table is detach-pending, '
	  . 'entries_2 one_pass int, text or uuid keys, compared as bytes',
	'a detach-pending partition of the referencing table: the planner\'s path for the rest');
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

# A referenced partitioned table with a detach-pending partition: whether a
# query on it reads that partition depends on the snapshot, so the one pass,
# which otherwise reads a partitioned referenced table leaf by leaf, leaves
# the key to the planner's path, under either engine setting.
$node->safe_psql('postgres', q{
	CREATE TABLE regions (id int PRIMARY KEY) PARTITION BY RANGE (id);
	CREATE TABLE regions_1 PARTITION OF regions FOR VALUES FROM (0) TO (10);
	CREATE TABLE regions_2 PARTITION OF regions FOR VALUES FROM (10) TO (20);
	INSERT INTO regions VALUES (1), (11);
	CREATE TABLE shops (region_id int REFERENCES regions);
	SET session_replication_role = replica;
	-- (nothing references regions_2's rows, or the DETACH would be refused)
	INSERT INTO shops VALUES (1), (5), (15);
});
is($node->safe_psql('postgres', q{SELECT engine FROM fk_orphan_plan('shops')}),
	'one_pass', 'a partitioned referenced table takes the one pass');
$holder = $node->background_psql('postgres');
$holder->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM regions;');
($ret, $out, $err) = $node->psql('postgres',
	q{SET statement_timeout = '500ms'; ALTER TABLE regions DETACH PARTITION regions_2 CONCURRENTLY});
like($err, qr/canceling statement due to statement timeout/, 'the DETACH of regions_2 is interrupted');
$holder->query_safe('COMMIT');
$holder->quit;
is($node->safe_psql('postgres', q{SELECT format('%s %s', engine, reason) FROM fk_orphan_plan('shops')}),
	'planner a partition of the referenced table is detach-pending',
	'a detach-pending partition of the referenced table: the planner\'s path');
my %by_engine;
for my $engine ('planner', 'one_pass', 'auto')
{
	$by_engine{$engine} = $node->safe_psql('postgres', qq{
		SET fk_guard.orphan_engine = $engine;
		SELECT string_agg(format('%s %s', child_ctid, key->>'region_id'), ', ') FROM fk_orphans('shops')});
}
is($by_engine{one_pass}, $by_engine{planner}, 'one_pass forced: the same orphans as the planner\'s path');
is($by_engine{auto}, $by_engine{planner}, 'auto: the same orphans as the planner\'s path');

$node->stop;
done_testing();
