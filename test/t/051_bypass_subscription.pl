# Logical replication: a subscriber's apply worker writes with
# session_replication_role = replica and through no executor hook, so
# fk_guard counts no rows for it; instead every foreign key whose child or
# parent is a subscription table is flagged as a whole, for good ('subscription'
# in fk_bypass_stats, ri_bypassed in fk_audit), and incremental audits always
# check it; leaving the subscription (DROP SUBSCRIPTION) flags them once more,
# for what was applied before. A publisher/subscriber pair on two local clusters.
use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use lib dirname(abs_path(__FILE__));
use FkgNode;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $publisher = start_node("publisher", "wal_level = logical\nmax_wal_senders = 4\nmax_replication_slots = 4\n");
my $subscriber = start_node('subscriber', preload_conf());

my $schema = q{
	CREATE TABLE customers (id int PRIMARY KEY);
	CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers);
	CREATE TABLE regions (id int PRIMARY KEY);
};
$publisher->safe_psql('postgres', $schema . q{
	INSERT INTO customers SELECT generate_series(1, 5);
	INSERT INTO regions SELECT generate_series(1, 3);
	INSERT INTO orders SELECT g, g FROM generate_series(1, 5) g;
	CREATE PUBLICATION pub_orders FOR TABLE orders;
	CREATE PUBLICATION pub_regions FOR TABLE regions;
});
# On the subscriber: customers are local (only 1 and 2); offices reference the
# subscribed regions; a local pair that replication does not touch.
$subscriber->safe_psql('postgres', $schema . q{
	CREATE EXTENSION fk_guard;
	INSERT INTO customers VALUES (1), (2);
	CREATE TABLE offices (id int PRIMARY KEY, region_id int REFERENCES regions);
	CREATE TABLE local_p (id int PRIMARY KEY);
	CREATE TABLE local_c (pid int REFERENCES local_p);
});
my $connstr = $publisher->connstr . ' dbname=postgres';
$subscriber->safe_psql('postgres', "CREATE SUBSCRIPTION sub CONNECTION '$connstr' PUBLICATION pub_orders, pub_regions");
$subscriber->wait_for_subscription_sync($publisher, 'sub');
$subscriber->safe_psql('postgres', 'INSERT INTO offices SELECT g, g FROM generate_series(1, 3) g');

# Changes applied after the initial copy: new orders of customers the
# subscriber does not have, and a region deleted under its offices.
$publisher->safe_psql('postgres', q{
	INSERT INTO customers VALUES (6);
	INSERT INTO orders VALUES (6, 6);
	DELETE FROM regions WHERE id = 3;
});
$publisher->wait_for_catchup('sub');

is($subscriber->safe_psql('postgres', 'SELECT count(*) FROM orders'), '6', 'the orders were applied');
is($subscriber->safe_psql('postgres', 'SELECT count(*) FROM regions'), '2', 'the region delete was applied');
is($subscriber->safe_psql('postgres', q{SELECT string_agg(constraint_name || ' ' || array_to_string(reasons, ','), '; ' ORDER BY constraint_name)
                                         FROM fk_bypass_stats WHERE 'subscription' = ANY (reasons)}),
	'offices_region_id_fkey subscription,tracking_lost; orders_customer_id_fkey subscription,tracking_lost',
	'both foreign keys of a subscription table are flagged, on either side');

# A full audit finds the orphans the apply worker let in.
$subscriber->safe_psql('postgres', 'CALL fk_audit_run()');
is($subscriber->safe_psql('postgres', q{SELECT string_agg(constraint_name || '=' || orphan_rows, ' ' ORDER BY constraint_name)
                                         FROM fk_audit_results WHERE run_id = 1}),
	'local_c_pid_fkey=0 offices_region_id_fkey=1 orders_customer_id_fkey=4', 'the full audit finds the orphans');
# Audited, and still flagged: replication goes on.
is($subscriber->safe_psql('postgres', q{SELECT string_agg(constraint_name || ' ' || array_to_string(reasons, ','), '; ' ORDER BY constraint_name)
                                         FROM fk_bypass_stats}),
	'offices_region_id_fkey subscription; orders_customer_id_fkey subscription', 'still flagged after the audit');
is($subscriber->safe_psql('postgres', q{SELECT string_agg(constraint_name::text, ' ' ORDER BY constraint_name) FROM fk_audit
                                         WHERE findings @> '[{"code": "ri_bypassed"}]'}),
	'offices_region_id_fkey orders_customer_id_fkey', 'fk_audit: ri_bypassed');

$publisher->safe_psql('postgres', 'INSERT INTO customers VALUES (7); INSERT INTO orders VALUES (7, 7);');
$publisher->wait_for_catchup('sub');
$subscriber->safe_psql('postgres', 'CALL fk_audit_run(incremental => true)');
is($subscriber->safe_psql('postgres', q{SELECT string_agg(child_table || ':' || (carried_from IS NOT NULL) || ':' || orphan_rows, ' ' ORDER BY child_table)
                                         FROM fk_audit_results WHERE run_id = 2}),
	'public.local_c:true:0 public.offices:false:1 public.orders:false:5',
	'an incremental audit checks the subscription tables and carries the local pair forward');

# Leaving the subscription does not forget what the apply worker wrote while
# the table was subscribed: the orphans removed and audited clean, an orphan
# applied, then DROP SUBSCRIPTION; the next incremental audit checks orders.
$subscriber->safe_psql('postgres', q{
	DELETE FROM orders WHERE customer_id NOT IN (SELECT id FROM customers);
	DELETE FROM offices WHERE region_id NOT IN (SELECT id FROM regions);
});
$subscriber->safe_psql('postgres', 'CALL fk_audit_run(incremental => true)');
is($subscriber->safe_psql('postgres', q{SELECT string_agg(child_table || ':' || orphan_rows, ' ' ORDER BY child_table)
                                         FROM fk_audit_results WHERE run_id = 3 AND carried_from IS NULL}),
	'public.offices:0 public.orders:0', 'subscribed tables audited clean');
$publisher->safe_psql('postgres', 'INSERT INTO customers VALUES (9); INSERT INTO orders VALUES (9, 9);');
$publisher->wait_for_catchup('sub');
$subscriber->safe_psql('postgres', 'DROP SUBSCRIPTION sub');
is($subscriber->safe_psql('postgres', q{SELECT string_agg(constraint_name || ' ' || array_to_string(reasons, ','), '; ' ORDER BY constraint_name)
                                         FROM fk_bypass_stats}),
	'offices_region_id_fkey subscription; orders_customer_id_fkey subscription',
	'after DROP SUBSCRIPTION: both foreign keys still flagged, by the drop');
$subscriber->safe_psql('postgres', 'CALL fk_audit_run(incremental => true)');
is($subscriber->safe_psql('postgres', q{SELECT string_agg(child_table || ':' || (carried_from IS NOT NULL) || ':' || orphan_rows, ' ' ORDER BY child_table)
                                         FROM fk_audit_results WHERE run_id = 4}),
	'public.local_c:true:0 public.offices:false:0 public.orders:false:1',
	'the next incremental audit checks them and finds the orphan applied before the drop');
$subscriber->safe_psql('postgres', 'CALL fk_audit_run(incremental => true)');
is($subscriber->safe_psql('postgres', q{SELECT string_agg(child_table || ':' || (carried_from IS NOT NULL), ' ' ORDER BY child_table)
                                         FROM fk_audit_results WHERE run_id = 5}),
	'public.local_c:true public.offices:true public.orders:false',
	'then only the table with orphans is checked again');
$subscriber->stop;
$publisher->stop;
done_testing();
