# fk_guard on a Citus cluster: a coordinator and two workers on localhost.
# Orphans of every foreign-key shape Citus supports, planted in the shards past
# Citus and compared with a per-shard oracle; violations through the coordinator
# and on a worker, counted under the declared foreign key cluster-wide; a role
# that may not see another's violations; pg_cron auditing on the coordinator.
use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use lib dirname(abs_path(__FILE__));
use FkgNode;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

chomp(my $sharedir = `pg_config --sharedir`);
plan skip_all => 'Citus is not installed for this server (scripts/test.sh builds it from ../shared/vendor '
  . 'for PostgreSQL 15-17: fkg_install_citus)'
  unless -f "$sharedir/extension/citus.control";

my $cron = have_pg_cron();

# Citus first in shared_preload_libraries; nodes talk over 127.0.0.1, trusted
# by initdb's pg_hba.conf in these test clusters only.
sub citus_node
{
	my ($name, $with_cron) = @_;
	my $libraries = $with_cron ? 'citus, pg_cron, fk_guard' : 'citus, fk_guard';
	return start_node(
		$name, qq{
listen_addresses = '127.0.0.1'
shared_preload_libraries = '$libraries'
citus.node_conninfo = 'sslmode=prefer'
max_worker_processes = 16
cron.database_name = 'postgres'
cron.use_background_workers = on
});
}

my $coordinator = citus_node('coordinator', $cron);
my @workers = (citus_node('worker1'), citus_node('worker2'));
my %node_by_port = map { $_->port => $_ } ($coordinator, @workers);

$_->safe_psql('postgres', 'CREATE EXTENSION citus') for ($coordinator, @workers);
$coordinator->safe_psql('postgres', "SELECT citus_set_coordinator_host('127.0.0.1', " . $coordinator->port . ')');
$coordinator->safe_psql('postgres', "SELECT citus_add_node('127.0.0.1', " . $_->port . ')') for @workers;
# Citus propagates CREATE EXTENSION fk_guard to the workers; pg_cron is the coordinator's only.
$coordinator->safe_psql('postgres', 'CREATE EXTENSION fk_guard');
$coordinator->safe_psql('postgres', 'SET citus.enable_ddl_propagation = off; CREATE EXTENSION pg_cron') if $cron;
is($_->safe_psql('postgres', q{SELECT count(*) FROM pg_extension WHERE extname = 'fk_guard'}),
	'1', 'fk_guard is installed on ' . $_->name)
  for @workers;

# Every shape: distributed -> distributed (co-located, one and two columns),
# distributed -> reference, reference -> reference, local -> reference (Citus
# makes shops a Citus local table, with its one shard on the coordinator), and a
# distributed partitioned table referencing both.
$coordinator->safe_psql('postgres', q{
	SET citus.shard_count = 4;
	CREATE TABLE countries (code text PRIMARY KEY);
	SELECT create_reference_table('countries');
	CREATE TABLE regions (code text PRIMARY KEY, country text REFERENCES countries);
	SELECT create_reference_table('regions');
	CREATE TABLE customers (id bigint PRIMARY KEY, country text);
	SELECT create_distributed_table('customers', 'id');
	CREATE TABLE orders (customer_id bigint, id bigint, country text, PRIMARY KEY (customer_id, id));
	SELECT create_distributed_table('orders', 'customer_id', colocate_with => 'customers');
	CREATE TABLE order_items (customer_id bigint, order_id bigint, n int);
	SELECT create_distributed_table('order_items', 'customer_id', colocate_with => 'orders');
	ALTER TABLE customers ADD CONSTRAINT customers_country_fkey FOREIGN KEY (country) REFERENCES countries;
	ALTER TABLE orders ADD CONSTRAINT orders_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES customers;
	ALTER TABLE orders ADD CONSTRAINT orders_country_fkey FOREIGN KEY (country) REFERENCES countries;
	ALTER TABLE order_items ADD CONSTRAINT order_items_order_fkey
	  FOREIGN KEY (customer_id, order_id) REFERENCES orders (customer_id, id);
	CREATE TABLE shops (id int PRIMARY KEY, country text REFERENCES countries);
	CREATE TABLE events (customer_id bigint, day date, country text) PARTITION BY RANGE (day);
	CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
	SELECT create_distributed_table('events', 'customer_id', colocate_with => 'customers');
	ALTER TABLE events ADD CONSTRAINT events_customer_fkey FOREIGN KEY (customer_id) REFERENCES customers;
	ALTER TABLE events ADD CONSTRAINT events_country_fkey FOREIGN KEY (country) REFERENCES countries;
	INSERT INTO countries VALUES ('FR'), ('DE');
	INSERT INTO regions VALUES ('IDF', 'FR');
	INSERT INTO customers SELECT g, 'FR' FROM generate_series(1, 40) g;
	INSERT INTO orders SELECT g, g, 'DE' FROM generate_series(1, 40) g;
	INSERT INTO order_items SELECT g, g, 1 FROM generate_series(1, 40) g;
	INSERT INTO shops VALUES (1, 'FR');
	INSERT INTO events SELECT g, '2024-05-01', 'FR' FROM generate_series(1, 40) g;
});
is( $coordinator->safe_psql('postgres',
		q{SELECT string_agg(table_name::text || ':' || citus_table_type, ',' ORDER BY table_name::text)
		    FROM (SELECT DISTINCT table_name, citus_table_type FROM citus_shards) s}),
	'countries:reference,customers:distributed,events:distributed,events_2024:distributed,order_items:distributed,'
	  . 'orders:distributed,regions:reference,shops:local',
	'every table is a Citus table of the expected kind');

# Runs $sql on the node holding shard $shard (its first placement), past Citus and past the RI triggers.
sub on_shard_node
{
	my ($shard, $sql) = @_;
	my $port = $coordinator->safe_psql('postgres',
		"SELECT min(nodeport) FROM citus_shards WHERE shardid = $shard");
	return $node_by_port{$port}->safe_psql('postgres',
		"SET citus.override_table_visibility = off; SET session_replication_role = replica; $sql");
}
sub shard_of
{
	my ($table, $value) = @_;
	return $coordinator->safe_psql('postgres', "SELECT get_shard_id_for_distribution_column('$table', $value)");
}

# Orphans planted in the shards.
my $s1001 = shard_of('orders', 1001);
on_shard_node($s1001, "INSERT INTO orders_$s1001 VALUES (1001, 1, 'FR')");    # no such customer
my $s7 = shard_of('orders', 7);
on_shard_node($s7, "INSERT INTO orders_$s7 VALUES (7, 70, 'XX')");            # no such country
# A row in a shard its distribution column does not hash to: its customer
# exists, in another shard.  The shard's own foreign key rejects it, and so
# does a check of every shard.
my ($wrong) = grep { $_ != $s7 } split /\n/,
  $coordinator->safe_psql('postgres', q{SELECT shardid FROM pg_dist_shard WHERE logicalrelid = 'orders'::regclass});
on_shard_node($wrong, "INSERT INTO orders_$wrong VALUES (7, 71, 'FR')");
my $s9 = shard_of('order_items', 9);
on_shard_node($s9, "INSERT INTO order_items_$s9 VALUES (9, 999, 2)");          # no such order (two columns)
# In a partition's shard: shown under the partitioned table, with the partition's shard.
my $e11 = $coordinator->safe_psql('postgres', q{
	SELECT s.shardid FROM pg_dist_shard s
	 WHERE s.logicalrelid = 'events_2024'::regclass
	   AND hashint8(11) BETWEEN s.shardminvalue::int AND s.shardmaxvalue::int});
on_shard_node($e11, "INSERT INTO events_2024_$e11 VALUES (11, '2024-06-01', 'XX')");
my $shops_shard = $coordinator->safe_psql('postgres', q{SELECT shardid FROM pg_dist_shard WHERE logicalrelid = 'shops'::regclass});
on_shard_node($shops_shard, "INSERT INTO shops_$shops_shard VALUES (2, 'IT')");
# A reference table's orphan, written past the check on every placement (as a
# replicated write would be).
my $regions_shard = $coordinator->safe_psql('postgres', q{SELECT shardid FROM pg_dist_shard WHERE logicalrelid = 'regions'::regclass});
$_->safe_psql('postgres', "SET citus.override_table_visibility = off; SET session_replication_role = replica;
	INSERT INTO regions_$regions_shard VALUES ('ZZ', 'ZZ')")
  for ($coordinator, @workers);

# The oracle: on every node, each shard's own foreign key (the constraint Citus
# created on the shard, referencing the co-located or replicated shard on the
# same node; a partition's shard has its partitioned shard's clone) checked by
# hand over that shard alone, with the declared constraint's name (the
# shard's, less its _<shard id>).  Placements of a reference table agree, so
# their rows collapse.
my $oracle_sql = q{
SET citus.override_table_visibility = off;
CREATE TEMP TABLE oracle (constraint_name text, shard_id bigint, row_ctid tid, key text);
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN
        SELECT k.conname, k.conrelid::regclass AS child, k.confrelid::regclass AS parent, s.shardid,
               (SELECT string_agg(format('fk.%I', a.attname), ', ' ORDER BY x.n)
                  FROM unnest(k.conkey) WITH ORDINALITY x(attnum, n)
                  JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = x.attnum) AS fk_cols,
               (SELECT string_agg(format('pk.%I = fk.%I', pa.attname, fa.attname), ' AND ' ORDER BY x.n)
                  FROM unnest(k.conkey, k.confkey) WITH ORDINALITY x(fkatt, pkatt, n)
                  JOIN pg_attribute fa ON fa.attrelid = k.conrelid AND fa.attnum = x.fkatt
                  JOIN pg_attribute pa ON pa.attrelid = k.confrelid AND pa.attnum = x.pkatt) AS join_cond
          FROM pg_constraint k
          JOIN pg_class r ON r.oid = k.conrelid
          JOIN pg_dist_shard s ON r.relname = (SELECT relname FROM pg_class WHERE oid = s.logicalrelid) || '_' || s.shardid
         WHERE k.contype = 'f'
    LOOP
        EXECUTE format('INSERT INTO oracle SELECT %L, %s, fk.ctid, ROW(%s)::text FROM ONLY %s fk
                         WHERE ROW(%s) IS NOT NULL AND NOT EXISTS (SELECT FROM ONLY %s pk WHERE %s)',
                       regexp_replace(c.conname, '_[0-9]+$', ''), c.shardid, c.fk_cols, c.child,
                       c.fk_cols, c.parent, c.join_cond);
    END LOOP;
END
$$;
SELECT constraint_name || '|' || shard_id || '|' || row_ctid || '|' || key FROM oracle;
};
my %oracle;
$oracle{$_} = 1 for grep { length } map { split /\n/, $_->safe_psql('postgres', $oracle_sql) } ($coordinator, @workers);
my $oracle = join("\n", sort keys %oracle);
is(scalar(keys %oracle), 7, 'the oracle finds the seven planted orphans');

my $located = $coordinator->safe_psql('postgres', q{
	SELECT constraint_name || '|' || shard_id || '|' || child_ctid || '|' ||
	       array_to_string(ARRAY(SELECT key ->> c FROM unnest(fk_columns) WITH ORDINALITY u(c, n) ORDER BY n), ',')
	  FROM fk_orphans_located()});
# The oracle's key is ROW(a, b)::text, fk_orphans_located's a JSON object: compare the values.
sub normalised_key
{
	my ($line) = @_;
	my @f = split /\|/, $line, 4;
	$f[3] =~ s/[(){}"]//g;
	return join('|', @f);
}
is( join("\n", sort map { normalised_key($_) } split /\n/, $located),
	join("\n", sort map { normalised_key($_) } split /\n/, $oracle),
	'fk_orphans_located() on the coordinator equals the per-shard oracle, shard and ctid included');

is( $coordinator->safe_psql('postgres', q{
		SELECT string_agg(constraint_name || ':' || child_table || ':' || orphan_rows || ':' || missing_keys, ','
		                  ORDER BY constraint_name)
		  FROM fk_orphan_summary()}),
	'customers_country_fkey:customers:0:0,events_country_fkey:events:1:1,events_customer_fkey:events:0:0,'
	  . 'order_items_order_fkey:order_items:1:1,orders_country_fkey:orders:1:1,'
	  . 'orders_customer_id_fkey:orders:2:2,regions_country_fkey:regions:1:1,shops_country_fkey:shops:1:1',
	'fk_orphan_summary() counts each shape as the oracle does, under the Citus tables');
is( $coordinator->safe_psql('postgres',
		q{SELECT count(*) FROM fk_orphans() o JOIN fk_orphans_located() l USING (constraint_name, child_table, child_ctid, key)}),
	'7', 'fk_orphans() lists the same rows, under the Citus table');
is( $coordinator->safe_psql('postgres',
		q{SELECT string_agg(DISTINCT engine || ': ' || reason, ',') FROM fk_orphan_plan('orders')}),
	"planner: a Citus table: its rows are in shards, which only Citus's planner reads",
	'Citus tables take the planner path');
for my $engine ('one_pass', 'planner')
{
	is( $coordinator->safe_psql('postgres',
			"SET fk_guard.orphan_engine = $engine; SELECT sum(orphan_rows) FROM fk_orphan_summary()"),
		'7', "the same counts with fk_guard.orphan_engine = $engine");
}
is( $workers[0]->safe_psql('postgres', q{SELECT count(*) FROM fk_orphans_located()}),
	'7', 'a worker with the metadata sees the same orphans, its shards\' own foreign keys left to their tables\'');

# Citus's own catalogs' foreign keys are an extension's: out unless asked for.
is( $coordinator->safe_psql('postgres',
		q{SELECT count(*) FROM fk_orphan_summary() WHERE child_table::text LIKE 'pg_dist%'}),
	'0', "Citus's pg_dist_* foreign keys are left out by default");
cmp_ok(
	$coordinator->safe_psql('postgres',
		q{SET fk_guard.include_extension_tables = on;
		  SELECT count(*) FROM fk_orphan_summary() WHERE constraint_name = 'pg_dist_background_task_job_id_fkey'}),
	'==', 1, 'and included with fk_guard.include_extension_tables');
is( $coordinator->safe_psql('postgres', q{SELECT count(*) FROM fk_audit WHERE child_table::text LIKE 'pg_dist%'}),
	'0', 'fk_audit leaves them out too');

# Violations: one through the coordinator (raised on the worker holding the
# shard), one written straight into a shard on a worker.
my ($ret, $stdout, $stderr) = $coordinator->psql('postgres', q{INSERT INTO orders VALUES (4242, 1, 'FR')});
like($stderr, qr/violates foreign key constraint "orders_customer_id_fkey_\d+"/,
	'a violation through the coordinator fails on a worker, under the shard\'s names');
my $s4242 = shard_of('orders', 4242);
my $s4243 = shard_of('orders', 4243);
my $port4243 = $coordinator->safe_psql('postgres', "SELECT min(nodeport) FROM citus_shards WHERE shardid = $s4243");
($ret, $stdout, $stderr) = $node_by_port{$port4243}->psql('postgres',
	"SET citus.override_table_visibility = off; INSERT INTO orders_$s4243 VALUES (4243, 1, 'FR')");
like($stderr, qr/violates foreign key constraint "orders_customer_id_fkey_$s4243"/, 'a violation written on a worker');

is( $node_by_port{$port4243}->safe_psql('postgres',
		q{SELECT constraint_name || ':' || child_table || ':' || parent_table FROM fk_violation_stats
		   WHERE constraint_name LIKE 'orders_customer_id_fkey%'}),
	'orders_customer_id_fkey:public.orders:public.customers',
	'the worker counts its shard violations under the declared foreign key and tables');
is( $coordinator->safe_psql('postgres', q{
		SELECT sum(violations) FROM fk_cluster_violation_stats()
		 WHERE constraint_name = 'orders_customer_id_fkey' AND child_table = 'public.orders'}),
	'2', 'the coordinator\'s cluster view counts both under the declared foreign key');
is( $coordinator->safe_psql('postgres', q{
		SELECT string_agg(shard_id || ':' || child_partition || ':' || key, ',' ORDER BY shard_id)
		  FROM fk_cluster_violations() WHERE constraint_name = 'orders_customer_id_fkey'}),
	join(',', map { "$_->[0]:public.orders_$_->[0]:(customer_id)=($_->[1])" }
		  sort { $a->[0] <=> $b->[0] } ([ $s4242, 4242 ], [ $s4243, 4243 ])),
	'fk_cluster_violations() gives each violation\'s shard');
# A partition's shard: counted under the partitioned table's foreign key, with the partition's shard.
$coordinator->psql('postgres', q{INSERT INTO events VALUES (4244, '2024-07-01', 'FR')});
my $e4244 = $coordinator->safe_psql('postgres', q{
	SELECT s.shardid FROM pg_dist_shard s
	 WHERE s.logicalrelid = 'events_2024'::regclass
	   AND hashint8(4244) BETWEEN s.shardminvalue::int AND s.shardmaxvalue::int});
is( $coordinator->safe_psql('postgres', q{
		SELECT string_agg(child_table || ':' || child_partition || ':' || shard_id, ',')
		  FROM fk_cluster_violations() WHERE constraint_name = 'events_customer_fkey'}),
	"public.events:public.events_2024_$e4244:$e4244", 'a violation in a partition\'s shard, under the partitioned table');
is($coordinator->safe_psql('postgres', q{SELECT count(*) FROM fk_violations}),
	'0', 'the coordinator records nothing itself for the error it relays');
my $port4242 = $coordinator->safe_psql('postgres', "SELECT min(nodeport) FROM citus_shards WHERE shardid = $s4242");
is( $node_by_port{$port4243}->safe_psql('postgres',
		q{SELECT violations FROM fk_audit WHERE constraint_name = 'orders_customer_id_fkey' AND child_table = 'orders'::regclass}),
	$port4242 == $port4243 ? '2' : '1',
	'fk_audit on the worker counts them under the declared foreign key');

# An ordinary role sees no other role's keys or statements through the cluster view.
$coordinator->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN; CREATE ROLE mallory LOGIN;
	GRANT SELECT, INSERT ON orders, customers TO alice;
	GRANT SELECT ON orders, customers TO mallory;
});
($ret, $stdout, $stderr) = $coordinator->psql('postgres', q{INSERT INTO orders VALUES (31337, 1, NULL)}, extra_params => [ '-U', 'alice' ]);
like($stderr, qr/violates foreign key constraint/, 'alice raises a violation');
is( $coordinator->safe_psql('postgres',
		q{SELECT count(*) FROM fk_cluster_violations() WHERE key LIKE '%31337%' AND username = 'alice'}, extra_params => [ '-U', 'alice' ]),
	'1', 'alice sees her own violation\'s key');
is( $coordinator->safe_psql('postgres', q{
		SELECT count(*) FILTER (WHERE key IS NOT NULL OR query IS NOT NULL) || '/' || count(*)
		  FROM fk_cluster_violations()}, extra_params => [ '-U', 'mallory' ]),
	'0/4', 'mallory sees every node\'s violations but no key or statement of alice\'s or postgres\'s');
($ret, $stdout, $stderr) = $coordinator->psql('postgres', q{SELECT * FROM fk_cluster_collect('pg_authid')},
	extra_params => [ '-U', 'mallory' ]);
like($stderr, qr/reads fk_violation_stats or fk_violations, not pg_authid/, 'and cannot make the nodes run another query');

# A distributed table another role owns is checked as its owner, through
# Citus's connections to the workers; a role that may not read it is refused.
$coordinator->safe_psql('postgres', q{
	CREATE ROLE bob LOGIN;
	CREATE TABLE bob_notes (customer_id bigint, note text);
	SELECT create_distributed_table('bob_notes', 'customer_id', colocate_with => 'customers');
	ALTER TABLE bob_notes ADD CONSTRAINT bob_notes_customer_fkey FOREIGN KEY (customer_id) REFERENCES customers;
	ALTER TABLE bob_notes OWNER TO bob;
	GRANT SELECT ON customers TO bob;
	INSERT INTO bob_notes VALUES (1, 'a');
});
my $s555 = shard_of('bob_notes', 555);
on_shard_node($s555, "INSERT INTO bob_notes_$s555 VALUES (555, 'orphan')");
is( $coordinator->safe_psql('postgres', q{SELECT key::text || ':' || shard_id FROM fk_orphans_located('bob_notes')}),
	qq({"customer_id": 555}:$s555), 'a table owned by an ordinary role is checked, as its owner, on the workers');
($ret, $stdout, $stderr) = $coordinator->psql('postgres', q{SELECT * FROM fk_orphans_located('bob_notes')},
	extra_params => [ '-U', 'mallory' ]);
like($stderr, qr/permission denied for table bob_notes/, 'mallory may not check a table he cannot read');

# A table named after a shard that another node holds is not that shard: on
# worker1, mallory (CREATE on public there) names her table after a shard of
# orders on worker2 and its foreign key after the shard's.  Her violation is
# recorded under her own constraint, not counted under orders_customer_id_fkey,
# and her table's foreign key stays in the all-tables checks.
my $w1port = $workers[0]->port;
my $elsewhere = $coordinator->safe_psql('postgres', qq{
	SELECT min(shardid) FROM citus_shards WHERE table_name = 'orders'::regclass AND nodeport <> $w1port});
$workers[0]->safe_psql('postgres', 'SET citus.enable_ddl_propagation = off; GRANT CREATE ON SCHEMA public TO mallory');
$workers[0]->safe_psql('postgres', qq{
	SET citus.enable_ddl_propagation = off;
	CREATE TABLE mallory_parent (id int PRIMARY KEY);
	CREATE TABLE orders_$elsewhere (id int, customer_id int);
	INSERT INTO orders_$elsewhere VALUES (1, 666);
	ALTER TABLE orders_$elsewhere ADD CONSTRAINT orders_customer_id_fkey_$elsewhere
	  FOREIGN KEY (customer_id) REFERENCES mallory_parent NOT VALID;
}, extra_params => [ '-U', 'mallory' ]);
my $counted_before = $workers[0]->safe_psql('postgres',
	q{SELECT COALESCE(sum(violations), 0) FROM fk_violation_stats WHERE constraint_name = 'orders_customer_id_fkey'});
($ret, $stdout, $stderr) = $workers[0]->psql('postgres', "INSERT INTO orders_$elsewhere VALUES (2, 777)",
	extra_params => [ '-U', 'mallory' ]);
like($stderr, qr/violates foreign key constraint "orders_customer_id_fkey_$elsewhere"/, 'mallory raises a violation on her look-alike');
is( $workers[0]->safe_psql('postgres',
		q{SELECT COALESCE(sum(violations), 0) FROM fk_violation_stats WHERE constraint_name = 'orders_customer_id_fkey'}),
	$counted_before, 'it is not counted under the declared foreign key of orders');
is( $workers[0]->safe_psql('postgres',
		qq{SELECT constraint_name || ' ' || child_table FROM fk_violation_stats WHERE child_table = 'public.orders_$elsewhere'}),
	"orders_customer_id_fkey_$elsewhere public.orders_$elsewhere", 'but under her own constraint and table');
is( $workers[0]->safe_psql('postgres', qq{
		SET citus.override_table_visibility = off;
		SELECT fk_guard_covers_table('orders_$elsewhere'::regclass) || ' ' || count(*)
		  FROM fk_orphans() WHERE child_table = 'orders_$elsewhere'::regclass}),
	'true 1', 'and her table\'s foreign key stays in the all-tables checks');
$workers[0]->safe_psql('postgres', "SET citus.enable_ddl_propagation = off; DROP TABLE orders_$elsewhere, mallory_parent");

# Long names: Citus clips a shard's table and constraint names and adds a hash
# of the whole name; a violation in such a shard is still counted under the
# declared foreign key and table.
my $long_table = 'o_' . ('x' x 58);
my $long_fkey = 'fk_' . ('y' x 58);
$coordinator->safe_psql('postgres', qq{
	CREATE TABLE $long_table (code text, CONSTRAINT $long_fkey FOREIGN KEY (code) REFERENCES countries);
	SELECT create_distributed_table('$long_table', 'code');
});
($ret, $stdout, $stderr) = $coordinator->psql('postgres', "INSERT INTO $long_table VALUES ('ZZ')");
like($stderr, qr/violates foreign key constraint "fk_y+_[0-9a-f]{8}_[0-9]+"/, 'a violation in a shard with a clipped name');
is( $coordinator->safe_psql('postgres', qq{
		SELECT sum(violations) FROM fk_cluster_violation_stats()
		 WHERE constraint_name = '$long_fkey' AND child_table = 'public.$long_table'}),
	'1', 'is counted under the declared foreign key and table');
$coordinator->safe_psql('postgres', "DROP TABLE $long_table");

# A partition's name is data: one any role may choose, with more digits than a
# bigint holds, leaves the cluster views readable (shard_id NULL).
$coordinator->safe_psql('postgres', q{
	CREATE TABLE big_parent (id int PRIMARY KEY);
	CREATE TABLE big (id int, pid int REFERENCES big_parent) PARTITION BY RANGE (id);
	CREATE TABLE "big_99999999999999999999" PARTITION OF big FOR VALUES FROM (0) TO (10);
});
($ret, $stdout, $stderr) = $coordinator->psql('postgres', 'INSERT INTO big VALUES (1, 5)');
like($stderr, qr/violates foreign key constraint "big_pid_fkey"/, 'a violation in a partition named with 20 digits');
is( $coordinator->safe_psql('postgres', q{
		SELECT count(*) || ' ' || count(shard_id) FROM fk_cluster_violations()
		 WHERE child_partition = 'public.big_99999999999999999999'}),
	'1 0', 'fk_cluster_violations() still answers, with no shard for it');
$coordinator->safe_psql('postgres', 'DROP TABLE big, big_parent');

# Audits: fk_audit's fix for an unindexed key is a CREATE INDEX that Citus
# propagates to the shards; pg_cron audits the distributed tables.
my $fix = $coordinator->safe_psql('postgres', q{
	SELECT f ->> 'fix' FROM fk_audit, jsonb_array_elements(findings) f
	 WHERE constraint_name = 'orders_country_fkey' AND f ->> 'code' = 'unindexed_fk'});
like($fix, qr/^CREATE INDEX CONCURRENTLY ON public\.orders \(country\);$/, 'fk_audit flags the unindexed distributed key');
$coordinator->safe_psql('postgres', $fix);
is( $coordinator->safe_psql('postgres', q{
		SELECT count(*) FROM fk_audit, jsonb_array_elements(findings) f
		 WHERE constraint_name = 'orders_country_fkey' AND f ->> 'code' = 'unindexed_fk'}),
	'0', 'its fix, run on the coordinator, indexes every shard');
is( $workers[0]->safe_psql('postgres', q{
		SET citus.override_table_visibility = off;
		SELECT count(*) FROM pg_indexes WHERE tablename LIKE 'orders\_%' AND indexdef LIKE '%(country)%'}),
	$workers[0]->safe_psql('postgres', q{
		SELECT count(*) FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid)
		  JOIN pg_dist_node n ON n.groupid = p.groupid
		 WHERE s.logicalrelid = 'orders'::regclass AND n.nodeport = } . $workers[0]->port),
	'on the worker, each orders shard has the index');

SKIP:
{
	skip 'pg_cron is not installed for this server', 2 unless $cron;
	$coordinator->safe_psql('postgres', q{SELECT cron.schedule('fk-audit', '* * * * *', 'CALL fk_audit_run()')});
	ok( $coordinator->poll_query_until('postgres',
			q{SELECT count(*) > 0 FROM cron.job_run_details WHERE status = 'succeeded'}),
		'pg_cron ran fk_audit_run on the coordinator');
	$coordinator->safe_psql('postgres', q{SELECT cron.unschedule('fk-audit')});
	is( $coordinator->safe_psql('postgres', q{
			SELECT string_agg(constraint_name || '=' || orphans_at_last_audit, ',' ORDER BY constraint_name)
			  FROM fk_audit WHERE orphans_at_last_audit > 0}),
		'bob_notes_customer_fkey=1,events_country_fkey=1,order_items_order_fkey=1,orders_country_fkey=1,orders_customer_id_fkey=2,regions_country_fkey=1,shops_country_fkey=1',
		'the scheduled audit counted the distributed tables\' orphans');
}

$coordinator->safe_psql('postgres', 'CALL fk_audit_run()') unless $cron;

# Findings whose fix Citus does not support say so instead.
$coordinator->safe_psql('postgres', q{
	CREATE TABLE visits (country varchar(10), n int);
	SELECT create_distributed_table('visits', 'country');
	ALTER TABLE visits ADD CONSTRAINT visits_country_fkey FOREIGN KEY (country) REFERENCES countries;
	INSERT INTO fk_guard_bulk_loaded (table_name) VALUES ('orders');
});
my %finding = map { my ($k, $v) = split /\t/; ($k => $v) } split /\n/, $coordinator->safe_psql('postgres', q{
	SELECT constraint_name || ':' || (f ->> 'code'), COALESCE(f ->> 'fix', 'NULL') || ' / ' || COALESCE(f ->> 'citus', '-')
	  FROM fk_audit, jsonb_array_elements(findings) f
	 WHERE child_table IN ('orders'::regclass, 'visits'::regclass)}, extra_params => [ '-F', "\t" ]);
like($finding{'visits_country_fkey:type_mismatch'}, qr{^NULL / Citus cannot change the type of a distribution column},
	'type_mismatch on a distribution column: no ALTER COLUMN TYPE, a note');
like($finding{'orders_customer_id_fkey:not_deferrable_bulk_load'}, qr{^NULL / Citus does not support ALTER TABLE \.\.\. ALTER CONSTRAINT},
	'not_deferrable_bulk_load: no ALTER CONSTRAINT, a note');
like($finding{'orders_customer_id_fkey:orphans_found'}, qr{^SELECT \* FROM public\.fk_orphans_located\('public\.orders'::regclass\); / fk_repair does not repair Citus tables},
	'orphans_found: the orphans with their shards');
is( $coordinator->safe_psql('postgres', q{
		SELECT fk_guard_citus_finding(jsonb_build_object('code', 'orphans_found',
		           'fix', format('SELECT * FROM public.fk_orphans(%L::regclass);', 'public."x.fk_orphans(y"')), c.oid) ->> 'fix'
		  FROM pg_constraint c WHERE c.conname = 'orders_customer_id_fkey' AND c.conrelid = 'orders'::regclass}),
	q{SELECT * FROM public.fk_orphans_located('public.orders'::regclass);},
	'orphans_found: the fix is written from the constraint\'s own table, not from the text of the finding it replaces');
($ret, $stdout, $stderr) = $coordinator->psql('postgres', q{ALTER TABLE orders ALTER CONSTRAINT orders_customer_id_fkey DEFERRABLE});
like($stderr, qr/alter table command is currently unsupported/, 'Citus indeed refuses the ALTER CONSTRAINT fix');

# fk_repair and fk_precheck read rows by ctid or with ONLY, which Citus does
# not route to shards: they refuse Citus tables rather than answer wrongly.
($ret, $stdout, $stderr) = $coordinator->psql('postgres',
	q{\set VERBOSITY verbose
	  SELECT * FROM fk_repair_plan('orders_customer_id_fkey', 'orders', 'delete')});
like($stderr, qr/0A000: fk_repair does not repair foreign keys of Citus tables/, 'fk_repair refuses a Citus table');
$coordinator->safe_psql('postgres', 'CREATE TABLE staging_orders (LIKE orders)');
($ret, $stdout, $stderr) = $coordinator->psql('postgres',
	q{\set VERBOSITY verbose
	  SELECT * FROM fk_precheck('staging_orders', 'orders')});
like($stderr, qr/0A000: fk_precheck does not check foreign keys of Citus tables/, 'fk_precheck refuses a Citus table');

# Incremental audits: a worker's write past the RI triggers of a shard is
# counted on that worker, never on the coordinator, so the coordinator cannot
# tell whether a distributed table is clean: it checks such tables every time,
# and fk_audit's unchecked_rows_since_audit is unknown (NULL) for them.
$coordinator->safe_psql('postgres', 'CALL fk_audit_run()');
my $s4321 = shard_of('orders', 4321);
my $shard_node = $node_by_port{ $coordinator->safe_psql('postgres', "SELECT min(nodeport) FROM citus_shards WHERE shardid = $s4321") };
my $counted_sql = q{SELECT COALESCE(sum(unchecked_rows), 0) FROM fk_bypass_stats WHERE constraint_name = 'orders_customer_id_fkey'};
my $counted = $shard_node->safe_psql('postgres', $counted_sql);
on_shard_node($s4321, "INSERT INTO orders_$s4321 VALUES (4321, 1, 'FR')");    # no such customer
is($shard_node->safe_psql('postgres', $counted_sql), $counted + 1,
	'the shard\'s node counts the write under the declared foreign key');
is( $coordinator->safe_psql('postgres', q{
		SELECT unchecked_rows_since_audit IS NULL FROM fk_audit WHERE constraint_name = 'orders_customer_id_fkey'}),
	't', 'fk_audit on the coordinator does not claim the distributed table had no unchecked writes');
my $before = $coordinator->safe_psql('postgres',
	q{SELECT orphan_rows FROM fk_audit_results WHERE constraint_name = 'orders_customer_id_fkey' ORDER BY run_id DESC LIMIT 1});
$coordinator->safe_psql('postgres', 'SET client_min_messages = error; CALL fk_audit_run(incremental => true)');
is( $coordinator->safe_psql('postgres', q{
		SELECT (carried_from IS NULL) || ':' || orphan_rows FROM fk_audit_results
		 WHERE constraint_name = 'orders_customer_id_fkey' ORDER BY run_id DESC LIMIT 1}),
	'true:' . ($before + 1), 'an incremental audit on the coordinator checks the distributed table again and finds the new orphan');

# fk_load_order() leaves shards out, as the all-tables checks do, even where
# citus.override_table_visibility = off (the README's way to read a shard) shows them.
is( $workers[0]->safe_psql('postgres', q{
		SET citus.override_table_visibility = off;
		SELECT count(*) FROM fk_load_order() WHERE table_name::text ~ '_[0-9]+$'}),
	'0', 'fk_load_order() on a worker lists no shard');
is( $workers[0]->safe_psql('postgres', q{
		SET citus.override_table_visibility = off;
		SELECT count(*) FROM fk_load_order() WHERE table_name IN ('orders'::regclass, 'customers'::regclass)}),
	'2', 'and lists the Citus tables themselves');

$_->stop for (@workers, $coordinator);
done_testing();
