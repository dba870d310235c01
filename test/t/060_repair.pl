# fk_repair against other sessions: a parent that appears between the dry run
# and the repair, or while a batch waits for the transaction inserting it,
# keeps its children; lock_timeout bounds that wait; a repair cancelled
# halfway keeps the batches it committed, and its history says so.
use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use lib dirname(abs_path(__FILE__));
use FkgNode;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = start_node('repair');
$node->safe_psql('postgres', q{
	CREATE EXTENSION fk_guard;
	CREATE TABLE customers (id int PRIMARY KEY);
	CREATE TABLE orders (id int PRIMARY KEY, customer_id int);
	INSERT INTO customers VALUES (1);
	INSERT INTO orders SELECT g, CASE WHEN g % 2 = 0 THEN 1 ELSE 1000 + g END FROM generate_series(1, 40) g;
	ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers NOT VALID;
});

sub query { my ($sql) = @_; return $node->safe_psql('postgres', $sql) }
sub orphan_keys
{
	return query(q{SELECT string_agg(key->>'customer_id', ',' ORDER BY (key->>'customer_id')::int)
	                 FROM fk_orphans('orders')});
}

# ---- Between the dry run and the repair ------------------------------------
like(query(q{SELECT string_agg(key->>'customer_id', ',') FROM fk_repair_plan('orders_customer_fk', 'orders', 'delete')
              WHERE key->>'customer_id' IN ('1001', '1003')}),
	qr/^(1001,1003|1003,1001)$/, 'the dry run lists 1001 and 1003 among the orphans');
query('INSERT INTO customers VALUES (1001)');
query(q{CALL fk_repair('orders_customer_fk', 'orders', 'delete', execute => true, batch_size => 5)});
is(query('SELECT string_agg(id::text, \',\') FROM orders WHERE customer_id <> 1'), '1',
	'the order whose customer was inserted after the dry run is kept; the other orphans are deleted');
is(orphan_keys(), '', 'no orphans left');

# ---- A parent inserted while a batch runs --------------------------------------
query(q{SET session_replication_role = replica;
        INSERT INTO orders SELECT g, 2000 + g FROM generate_series(101, 110) g});
my $inserter = $node->background_psql('postgres', on_error_stop => 0);
$inserter->query_safe('BEGIN; INSERT INTO customers VALUES (2105);');

my $repairer = $node->background_psql('postgres', on_error_stop => 0);
$repairer->query_until(qr/started/, q{\echo started
CALL fk_repair('orders_customer_fk', 'orders', 'quarantine', execute => true, batch_size => 3);
\echo finished
});
# The batch waits for the transaction inserting the customer ...
ok( $node->poll_query_until('postgres', q{
		SELECT EXISTS (SELECT FROM pg_stat_activity
		                WHERE query LIKE 'CALL fk_repair%' AND wait_event_type = 'Lock')}),
	'the batch waits for the transaction that inserts a customer');
is(query('SELECT count(*) FROM fk_guard_quarantine'), '0', 'and has changed nothing yet');
# ... and sees it once it commits.
$inserter->query_safe('COMMIT');
$repairer->query_until(qr/finished/, '');
is(query('SELECT string_agg(id::text, \',\' ORDER BY id) FROM orders WHERE customer_id <> 1'), '1,105',
	'the order whose customer was committed during the batch is kept');
is(query('SELECT count(*) FROM fk_guard_quarantine'), '9', 'the 9 other orphans are quarantined');
is(query(q{SELECT format('%s %s %s', status, batches, rows) FROM fk_guard_repair_history ORDER BY repair_id DESC LIMIT 1}),
	'completed 3 9', 'the history has the three batches');

# A transaction that inserts the customer and rolls back leaves an orphan.
query(q{SET session_replication_role = replica; INSERT INTO orders VALUES (201, 3201)});
$inserter->query_safe('BEGIN; INSERT INTO customers VALUES (3201);');
$repairer->query_until(qr/started/, q{\echo started
CALL fk_repair('orders_customer_fk', 'orders', 'delete', execute => true);
\echo finished
});
ok( $node->poll_query_until('postgres', q{
		SELECT EXISTS (SELECT FROM pg_stat_activity
		                WHERE query LIKE 'CALL fk_repair%' AND wait_event_type = 'Lock')}),
	'the batch waits again');
$inserter->query_safe('ROLLBACK');
$repairer->query_until(qr/finished/, '');
is(query('SELECT count(*) FROM orders WHERE id = 201'), '0', 'after the ROLLBACK the orphan is deleted');

# ---- lock_timeout bounds the wait -------------------------------------------------
query(q{SET session_replication_role = replica; INSERT INTO orders VALUES (301, 4301)});
$inserter->query_safe('BEGIN; INSERT INTO customers VALUES (9999);');
my ($ret, $out, $err) = $node->psql('postgres',
	q{CALL fk_repair('orders_customer_fk', 'orders', 'delete', execute => true, lock_timeout => '100ms')});
like($err, qr/canceling statement due to lock timeout/, 'lock_timeout ends a batch that waits too long');
$inserter->query_safe('ROLLBACK');
is(query('SELECT count(*) FROM orders WHERE id = 301'), '1', 'nothing was deleted');
is(query(q{SELECT format('%s %s %s', status, batches, rows) FROM fk_guard_repair_history ORDER BY repair_id DESC LIMIT 1}),
	'interrupted 0 0', 'the history shows the repair interrupted before its first batch');

# ---- Cancelled halfway -------------------------------------------------------------
# Each deleted order takes 20ms (a trigger), so that the repair is still
# running when the test has seen two batches committed, and cancels it.
query(q{
	SET session_replication_role = replica;
	INSERT INTO orders SELECT g, 5000 + g FROM generate_series(1001, 1300) g;
	RESET session_replication_role;
	CREATE FUNCTION slow_delete() RETURNS trigger LANGUAGE plpgsql AS
	  'BEGIN PERFORM pg_sleep(0.02); RETURN OLD; END';
	CREATE TRIGGER slow_delete BEFORE DELETE ON orders FOR EACH ROW EXECUTE FUNCTION slow_delete();
});
my $before = query('SELECT count(*) FROM orders');
$repairer->query_until(qr/started/, q{\echo started
CALL fk_repair('orders_customer_fk', 'orders', 'quarantine', execute => true, batch_size => 10);
\echo finished
});
ok( $node->poll_query_until('postgres', q{
		SELECT batches >= 2 FROM fk_guard_repair_history ORDER BY repair_id DESC LIMIT 1}),
	'the repair commits its batches as it goes');
ok(query(q{SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE 'CALL fk_repair%'}) eq 't',
	'the repair is cancelled');
$repairer->query_until(qr/finished/, '');
like($repairer->{stderr}, qr/canceling statement due to user request/, 'the CALL reports the cancel');

my ($status, $batches, $rows) = split / /, query(q{
	SELECT format('%s %s %s', status, batches, rows) FROM fk_guard_repair_history ORDER BY repair_id DESC LIMIT 1});
is($status, 'interrupted', 'the history says the repair was interrupted');
ok($batches >= 2 && $batches < 30, "it kept the batches it committed ($batches)");
is($rows, $batches * 10, 'and counts their rows');
is(query('SELECT count(*) FROM orders'), $before - $rows, 'exactly those rows left orders');
is(query(q{SELECT count(*) FROM fk_guard_quarantine q JOIN fk_guard_repair_history h USING (repair_id)
            WHERE h.status = 'interrupted'}), $rows, 'and are in the quarantine');
is(query('SELECT count(*) FROM fk_orphans(\'orders\')'), 301 - $rows,
	'the other orphans are still there (and order 301)');

# The repair run again finishes the job; the quarantined rows can come back.
query('DROP TRIGGER slow_delete ON orders');
query(q{CALL fk_repair('orders_customer_fk', 'orders', 'quarantine', execute => true, batch_size => 100,
                       validate => true)});
is(orphan_keys(), '', 'a second repair quarantines the rest');
is(query(q{SELECT convalidated FROM pg_constraint WHERE conname = 'orders_customer_fk'}), 't',
	'and validates the constraint');
is(query(q{SELECT string_agg(status, ',' ORDER BY repair_id) FROM fk_guard_repair_history}),
	'completed,completed,completed,interrupted,interrupted,completed', 'the whole history');

$inserter->quit;
$repairer->quit;
done_testing();
