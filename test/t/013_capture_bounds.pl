# Violation capture within the shared memory it reserved at startup, and who
# sees what it captured. An ordinary LOGIN role, mallory, is the attacker.
#
#  - Counter flood: mallory replaces the foreign key of a temp table by a new
#    one 6000 times and violates each, asking for 6000 distinct counters (one
#    per declared foreign key; renaming one does not make a new counter). The
#    counter table stays at 4096 entries (the free shared memory reported by
#    pg_shmem_allocations does not move), the rest is counted in one overflow
#    row of fk_violation_stats, everything adds up to what the EXCEPTION blocks
#    caught, and fk_guard_reset() gives every entry back.
#  - Texts that do not fit the arena: violations whose query text is larger
#    than the per-slot text budget; fk_violations returns the newest ones,
#    intact, and fewer than the ring's slots.
#  - Visibility: key and query only for the role that raised the violation,
#    superusers and pg_read_all_data, not for pg_read_all_stats.
#  - Large ring and the pending budget: fk_guard.max_violations = 200000,
#    filled by two transactions of 105000 swallowed violations each. Each keeps
#    100000 for fk_violations (the per-backend budget, violation_pending.h) and
#    counts the rest in fk_violation_stats only, saying so in the log.
use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use lib dirname(abs_path(__FILE__));
use FkgNode;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = start_node('bounds', q{
shared_preload_libraries = 'fk_guard'
fk_guard.log_violations = off
log_statement = none
});
$node->safe_psql('postgres', q{
	CREATE EXTENSION fk_guard;
	CREATE ROLE mallory LOGIN;
	CREATE ROLE stats_reader LOGIN IN ROLE pg_read_all_stats;
	CREATE ROLE data_reader LOGIN IN ROLE pg_read_all_data;
});

my $free_shmem_sql = 'SELECT size FROM pg_shmem_allocations WHERE name IS NULL';
my $free_before = $node->safe_psql('postgres', $free_shmem_sql);
ok($free_before > 0, "free shared memory before the flood: $free_before bytes");

# ---- counter flood ----
my $renames = 6000;
my $log_offset = -s $node->logfile;
my $started = time;
my $raised = $node->safe_psql('postgres', qq{
	CREATE TEMP TABLE flood_p (id int PRIMARY KEY);
	CREATE TEMP TABLE flood_c (parent_id int CONSTRAINT flood_0 REFERENCES flood_p);
	CREATE TEMP TABLE caught (n int);
	DO \$\$
	BEGIN
		FOR i IN 1 .. $renames LOOP
			EXECUTE format('ALTER TABLE flood_c DROP CONSTRAINT %I, ADD CONSTRAINT %I FOREIGN KEY (parent_id) REFERENCES flood_p',
			               'flood_' || (i - 1), 'flood_' || i);
			BEGIN
				INSERT INTO flood_c VALUES (i);
			EXCEPTION WHEN foreign_key_violation THEN
				INSERT INTO caught VALUES (i);
			END;
			-- Dropping a constraint locks it until the transaction ends.
			IF i % 500 = 0 THEN
				COMMIT;
			END IF;
		END LOOP;
	END
	\$\$;
	SELECT count(*) FROM caught;
}, extra_params => [ '-U', 'mallory' ]);
my $elapsed = time - $started;
is($raised, $renames, "mallory raised $renames violations of $renames foreign keys");

is($node->safe_psql('postgres', $free_shmem_sql), $free_before,
	'free shared memory is unchanged after the flood');

my $stats = $node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE constraint_name IS NOT NULL) <= 4096,
	       count(*) FILTER (WHERE constraint_name IS NULL),
	       sum(violations), sum(handled)
	  FROM fk_violation_stats});
is($stats, "t|1|$renames|$renames",
	'fk_violation_stats: at most 4096 named rows plus one overflow row, adding up to every violation raised');
my $overflow = $node->safe_psql('postgres', qq{
	SELECT child_table IS NULL AND parent_table IS NULL, violations = $renames - 4096,
	       violations = handled, first_at <= last_at
	  FROM fk_violation_stats WHERE constraint_name IS NULL});
is($overflow, 't|t|t|t', 'the overflow row names no table and counts exactly the violations that found no counter');
is($node->safe_psql('postgres', 'SELECT count(*) FROM fk_violation_stats WHERE constraint_name IS NULL',
		extra_params => [ '-U', 'mallory' ]),
	'1', 'mallory sees the overflow row too');

my @overflow_lines = grep { /fk_guard: no free counter for foreign key/ } split /\n/,
  slurp_file($node->logfile, $log_offset);
my $allowed_lines = 1 + int(($elapsed + 59) / 60);
ok(@overflow_lines >= 1 && @overflow_lines <= $allowed_lines,
	'the overflow is logged at most once a minute (' . scalar(@overflow_lines) . " lines in ${elapsed}s)");

# Reset empties the counters and the overflow row; the entries are reusable.
my ($ret, $out, $err) = $node->psql('postgres', 'SELECT fk_guard_reset()', extra_params => [ '-U', 'mallory' ]);
like($err, qr/permission denied for function fk_guard_reset/, 'mallory may not reset');
$node->safe_psql('postgres', 'SELECT fk_guard_reset()');
is($node->safe_psql('postgres', 'SELECT count(*) FROM fk_violation_stats'), '0',
	'fk_guard_reset() empties fk_violation_stats, overflow row included');
$node->safe_psql('postgres', q{
	CREATE TEMP TABLE again_p (id int PRIMARY KEY);
	CREATE TEMP TABLE again_c (parent_id int CONSTRAINT again_fk REFERENCES again_p);
	DO $$ BEGIN INSERT INTO again_c VALUES (1); EXCEPTION WHEN foreign_key_violation THEN NULL; END $$;
}, extra_params => [ '-U', 'mallory' ]);
is($node->safe_psql('postgres', q{
		SELECT coalesce(string_agg(format('%s|%s|%s', constraint_name, violations, handled), ','), '<none>')
		  FROM fk_violation_stats}),
	'again_fk|1|1', 'after the reset a new constraint gets a counter of its own');
is($node->safe_psql('postgres', $free_shmem_sql), $free_before, 'free shared memory is unchanged after the reset');
is($node->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'}), 'f',
	'mallory is still no superuser');

# ---- texts larger than the per-slot budget ----
# fk_guard.max_violations = 1000 (the default): an arena of 512000 bytes. Each
# violation below carries a query of about 1100 bytes, so fewer than 1000 fit.
$node->safe_psql('postgres', q{
	SELECT fk_guard_reset();
	CREATE TABLE big_p (id int PRIMARY KEY);
	CREATE TABLE big_c (parent_id int CONSTRAINT big_fk REFERENCES big_p);
});
my $padding = 'x' x 1100;
$node->safe_psql('postgres', qq{
	DO \$\$ /* $padding */
	BEGIN
		FOR i IN 1 .. 1500 LOOP
			BEGIN
				INSERT INTO big_c VALUES (i);
			EXCEPTION WHEN foreign_key_violation THEN NULL;
			END;
		END LOOP;
	END
	\$\$});
my $ring = $node->safe_psql('postgres', q{
	WITH v AS (SELECT substring(key FROM '^\(parent_id\)=\((\d+)\)$')::int AS k, query FROM fk_violations)
	SELECT count(*) BETWEEN 2 AND 999, max(k), max(k) - min(k) + 1 = count(DISTINCT k),
	       count(*) = count(DISTINCT k), bool_and(ltrim(query, E' \n\t') LIKE 'DO $$ /* xxx%'), bool_and(length(query) = 1024)
	  FROM v});
is($ring, 't|1500|t|t|t|t',
	'texts over budget: fewer rows than slots, the newest ones, consecutive, each with its own intact key and query');
is($node->safe_psql('postgres', q{SELECT violations FROM fk_violation_stats WHERE constraint_name = 'big_fk'}),
	'1500', 'the counter counts every one of them');

# ---- visibility ----
$node->safe_psql('postgres', q{
	SELECT fk_guard_reset();
	CREATE TABLE vis_p (id int PRIMARY KEY);
	CREATE TABLE vis_c (parent_id int CONSTRAINT vis_fk REFERENCES vis_p);
	GRANT SELECT, INSERT ON vis_p, vis_c TO mallory;
});
($ret, $out, $err) = $node->psql('postgres', 'INSERT INTO vis_c VALUES (4242)', extra_params => [ '-U', 'mallory' ]);
like($err, qr/DETAIL:  Key \(parent_id\)=\(4242\) is not present/, 'mallory violates vis_fk and is shown the key');
my $vis_query = q{
	SELECT username, constraint_name, child_table, parent_table, side, operation,
	       coalesce(key, '<NULL>'), coalesce(btrim(query, E' \n;'), '<NULL>')
	  FROM fk_violations WHERE constraint_name = 'vis_fk'};
my $visible = 'mallory|vis_fk|public.vis_c|public.vis_p|child|INSERT|(parent_id)=(4242)|INSERT INTO vis_c VALUES (4242)';
my $hidden = 'mallory|vis_fk|public.vis_c|public.vis_p|child|INSERT|<NULL>|<NULL>';
is($node->safe_psql('postgres', $vis_query, extra_params => [ '-U', 'stats_reader' ]), $hidden,
	'pg_read_all_stats member: constraint and tables, but no key or query');
is($node->safe_psql('postgres', $vis_query, extra_params => [ '-U', 'mallory' ]), $visible,
	'the violating role sees its own key and query');
is($node->safe_psql('postgres', $vis_query, extra_params => [ '-U', 'data_reader' ]), $visible,
	'pg_read_all_data member sees key and query');
is($node->safe_psql('postgres', $vis_query), $visible, 'superuser sees key and query');
is($node->safe_psql('postgres', q{SELECT constraint_name, violations FROM fk_violation_stats},
		extra_params => [ '-U', 'stats_reader' ]),
	'vis_fk|1', 'pg_read_all_stats member sees the counters');

ok(!$node->log_contains(qr/terminated by signal|PANIC:|was terminated/, 0), 'no backend crashed');
$node->stop;

# ---- large ring ----
my $slots = 200000;
my $large = start_node('large_ring', qq{
shared_preload_libraries = 'fk_guard'
fk_guard.max_violations = $slots
fk_guard.log_violations = off
log_statement = none
});
my $per_transaction = 105000;
my $budget = 100000;
my $large_log = -s $large->logfile;
$large->safe_psql('postgres', q{
	CREATE EXTENSION fk_guard;
	CREATE TABLE lr_p (id int PRIMARY KEY);
	CREATE TABLE lr_c (parent_id int CONSTRAINT lr_fk REFERENCES lr_p);
});
for my $first (1, $per_transaction + 1) {
	my $last = $first + $per_transaction - 1;
	$large->safe_psql('postgres', qq{
		DO \$\$
		BEGIN
			FOR i IN $first .. $last LOOP
				BEGIN
					INSERT INTO lr_c VALUES (i);
				EXCEPTION WHEN foreign_key_violation THEN NULL;
				END;
			END LOOP;
		END
		\$\$});
}
is($large->safe_psql('postgres', 'SELECT sum(violations), sum(handled) FROM fk_violation_stats'),
	2 * $per_transaction . '|' . 2 * $per_transaction, "every one of the violations counted, all handled");
# Every text fits the 512-byte budget here, so every slot is returned.
is( $large->safe_psql('postgres', q{
		SELECT count(*), min(substring(key FROM '\((\d+)\)$')::int), max(substring(key FROM '\((\d+)\)$')::int)
		  FROM fk_violations}),
	"200000|1|" . ($per_transaction + $budget),
	"fk_violations: the first $budget violations of each transaction");
my @beyond = grep { /fk_guard: \d+ foreign-key violations of one transaction came past/ } split /\n/,
  slurp_file($large->logfile, $large_log);
is(scalar(@beyond), 2, 'one log line for each transaction past the budget');
like($beyond[0] // '', qr/fk_guard: ${\($per_transaction - $budget)} foreign-key violations .* counts ${\($per_transaction - $budget)} of them/,
	'the line says how many were only counted');
ok(!$large->log_contains(qr/terminated by signal|PANIC:|was terminated|invalid memory alloc/, 0),
	'no backend crashed, no failed allocation');
$large->stop;

done_testing();
