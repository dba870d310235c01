# Bypass tracking across sessions and restarts, and an ordinary role abusing it.
#
#  - Log lines: one per statement and declared foreign key, in text and JSON,
#    with every name quoted as a JSON string, so that a role and a table named
#    with newlines and quotes cannot forge a line; ALTER TABLE ... DISABLE
#    TRIGGER that stops RI triggers says so, DISABLE TRIGGER USER does not.
#  - Restarts: a clean restart keeps every count; pg_ctl -m immediate loses
#    tracking (every foreign key possibly bypassed, even one audited before);
#    a run without fk_guard preloaded in between is noticed too, although it
#    shut down cleanly.
#  - mallory, an ordinary role granted SET on session_replication_role, asks
#    for 4200 distinct counters: the table stays within its 4096 entries
#    (free shared memory unchanged), the rest is counted in the overflow row,
#    every row is accounted for, nothing fails; mallory cannot reset counters.
use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use lib dirname(abs_path(__FILE__));
use FkgNode;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = start_node('bypass', q{
shared_preload_libraries = 'fk_guard'
log_statement = none
});
$node->safe_psql('postgres', q{
	CREATE EXTENSION fk_guard;
	CREATE TABLE p (id int PRIMARY KEY);
	INSERT INTO p SELECT generate_series(1, 10);
	CREATE TABLE c (id int, pid int CONSTRAINT c_fk REFERENCES p);
	CREATE ROLE mallory LOGIN;
	GRANT SET ON PARAMETER session_replication_role TO mallory;
});

# The fk_guard bypass messages the server logged since $offset, one per line
# it wrote ("<timestamp> [pid] ... LOG:  <message>").
sub bypass_messages
{
	my ($offset) = @_;
	my $log = slurp_file($node->logfile, $offset);
	return map { /^\d{4}-\d\d-\d\d [\d:.]+ \S+ \[\d+\] (?:.*? )?LOG:  (fk_guard: (?:foreign key|RI triggers) .*|\{"fk_guard":"(?:bypass|triggers_disabled)".*\})$/ ? $1 : () }
	  split /\n/, $log;
}

my $json_string = qr/"(?:[^"\\]|\\.)*"/;
sub unquote { JSON::PP->new->allow_nonref->decode($_[0]) }

# ---- log lines ----
my $offset = -s $node->logfile;
$node->safe_psql('postgres', q{
	SET session_replication_role = replica;
	INSERT INTO c SELECT g, 1000 FROM generate_series(1, 7) g;
	RESET session_replication_role;
	INSERT INTO c VALUES (100, 1);  -- checked: no line
	ALTER TABLE c DISABLE TRIGGER USER;
	ALTER TABLE c DISABLE TRIGGER ALL;
	ALTER TABLE c ENABLE TRIGGER ALL;
});
my @lines = bypass_messages($offset);
is(scalar @lines, 2, 'one line for the bypassed INSERT, one for DISABLE TRIGGER ALL, none for the rest')
  or diag explain \@lines;
like($lines[0],
	qr/^fk_guard: foreign key "c_fk" not enforced for 7 rows written to "public\.c" by role "postgres" \(session_replication_role = replica\): child_table="public\.c" parent_table="public\.p" side=child operation=INSERT rows=7 reason=replica_role database="postgres" pid=\d+$/,
	'the bypass line');
like($lines[1], qr/^fk_guard: RI triggers of foreign key "c_fk" disabled on "public\.c" by role "postgres": .* reason=triggers_disabled /,
	'the DISABLE TRIGGER line');

# Names with newlines and quotes, from a role that may bypass.
$offset = -s $node->logfile;
$node->safe_psql('postgres', q{
	CREATE ROLE "mal
lory"" LOG:  fake" LOGIN;
	GRANT SET ON PARAMETER session_replication_role TO "mal
lory"" LOG:  fake";
	CREATE SCHEMA "s
2026-01-01 00:00:00.000 UTC [1] LOG:  fk_guard: ""x""" AUTHORIZATION "mal
lory"" LOG:  fake";
});
my $evil_schema = qq{s\n2026-01-01 00:00:00.000 UTC [1] LOG:  fk_guard: "x"};
my $evil_role = qq{mal\nlory" LOG:  fake};
$node->safe_psql('postgres', q{
	SET ROLE "mal
lory"" LOG:  fake";
	SET search_path = "s
2026-01-01 00:00:00.000 UTC [1] LOG:  fk_guard: ""x""";
	CREATE TABLE "t""
x" (id int PRIMARY KEY);
	CREATE TABLE "u
""y" (pid int CONSTRAINT "k
"" fake=1" REFERENCES "t""
x");
	SET session_replication_role = replica;
	INSERT INTO "u
""y" VALUES (5), (6);
});
@lines = bypass_messages($offset);
is(scalar @lines, 1, 'names with newlines make one line, and fake none') or diag explain \@lines;
ok($lines[0] =~ /^fk_guard: foreign key ($json_string) not enforced for 2 rows written to ($json_string) by role ($json_string) \(session_replication_role = replica\): child_table=($json_string) parent_table=($json_string) side=child operation=INSERT rows=2 reason=replica_role database="postgres" pid=\d+$/,
	'every name is one JSON string');
sub quote_ident { my ($n) = @_; $n =~ s/"/""/g; return qq{"$n"} }
is_deeply([ map { unquote($_) } ($1, $2, $3) ], [ qq{k\n" fake=1}, quote_ident($evil_schema) . '.' . quote_ident(qq{u\n"y}), $evil_role ],
	'the names decode to the names') or diag $lines[0];

# JSON (fk_guard.log_format is superuser-only: set server-wide).
set_server_wide($node, 'fk_guard.log_format', 'json');
$offset = -s $node->logfile;
$node->safe_psql('postgres', q{SET session_replication_role = replica; DELETE FROM p WHERE id = 10;});
@lines = bypass_messages($offset);
is(scalar @lines, 1, 'one JSON line');
my $j = JSON::PP->new->decode($lines[0]);
is_deeply([ @$j{qw(fk_guard constraint child_table parent_table table side operation rows user)}, $j->{reasons} ],
	[ 'bypass', 'c_fk', 'public.c', 'public.p', 'public.p', 'parent', 'DELETE', 1, 'postgres', ['replica_role'] ],
	'the JSON line');
set_server_wide($node, 'fk_guard.log_format', 'text');

# ---- restarts ----
my $stats_sql = q{SELECT constraint_name || ':' || unchecked_rows || ':' || array_to_string(reasons, ',')
                    FROM fk_bypass_stats WHERE constraint_name IS NOT NULL ORDER BY 1};
$node->safe_psql('postgres', 'CALL fk_audit_run()');
my $before = $node->safe_psql('postgres', $stats_sql);
is($before, "c_fk:8:replica_role\nk\n\" fake=1:2:replica_role", 'counts before the restart');
my $lost_before = $node->safe_psql('postgres', 'SELECT lost_at || lost_reason FROM fk_guard_bypass_tracking()');
$node->restart;
is($node->safe_psql('postgres', $stats_sql), $before, 'a clean restart keeps every count');
is($node->safe_psql('postgres', 'SELECT lost_at || lost_reason FROM fk_guard_bypass_tracking()'), $lost_before,
	'and when tracking was last lost');
is($node->safe_psql('postgres', q{SELECT count(*) FROM fk_audit WHERE findings @> '[{"code": "ri_bypassed"}]'}), '0',
	'audited after the bypasses: no finding');

# A damaged file (only the server's OS user can write it) is ignored, never
# trusted: the counters after the first one's key (database, constraint)
# overwritten with bytes that make an absurd role count and unterminated
# names, then a file cut short.
my $stat_file = $node->data_dir . '/pg_stat/fk_guard_bypass.stat';
for my $damage ('garbage', 'truncated') {
	$node->stop;
	my $saved = slurp_file($stat_file);
	my $header = 88;    # sizeof(FileHeader) on 64-bit builds; other sizes still damage the file
	my $damaged = $damage eq 'garbage'
	  ? substr($saved, 0, $header + 8) . ('A' x (length($saved) - $header - 8))    # the first counter's key kept
	  : substr($saved, 0, $header + 100);
	open(my $fh, '>:raw', $stat_file) or die "$stat_file: $!";
	print $fh $damaged;
	close($fh);
	$node->start;
	is($node->safe_psql('postgres', q{SELECT t.lost_reason || ' ' || (SELECT count(*) FROM fk_bypass_stats b WHERE b.unchecked_rows > 0)
	                                   FROM fk_guard_bypass_tracking() t}),
		'no_saved_counters 0', "a $damage file: ignored, tracking lost");
	my @said = slurp_file($node->logfile) =~ /fk_guard: ignoring unreadable file "pg_stat\/fk_guard_bypass\.stat"/g;
	is(scalar @said, $damage eq 'garbage' ? 1 : 2, "a $damage file: the log says so");
	$node->safe_psql('postgres', q{SET session_replication_role = replica; INSERT INTO c VALUES (1, 5000);});
	$node->safe_psql('postgres', 'DELETE FROM c WHERE pid = 5000');
}

$node->stop('immediate');
$node->start;
is($node->safe_psql('postgres', 'SELECT lost_reason FROM fk_guard_bypass_tracking()'), 'unclean_shutdown',
	'pg_ctl -m immediate: tracking lost');
is($node->safe_psql('postgres', q{SELECT string_agg(constraint_name || ':' || unchecked_rows || ':' || array_to_string(reasons, ','), ' ' ORDER BY constraint_name)
                                    FROM fk_bypass_stats}),
	"c_fk:0:tracking_lost k\n\" fake=1:0:tracking_lost", 'every foreign key possibly bypassed, audited or not');
is($node->safe_psql('postgres', q{SELECT count(*) FROM fk_audit WHERE findings @> '[{"code": "ri_bypassed"}]'}), '2',
	'fk_audit says so');
$node->safe_psql('postgres', 'CALL fk_audit_run()');
is($node->safe_psql('postgres', 'SELECT count(*) FROM fk_bypass_stats'), '0', 'until audited again');

# A run without fk_guard: writes nobody saw, then a clean shutdown.
$node->adjust_conf('postgresql.conf', 'shared_preload_libraries', "''");
$node->restart;
$node->safe_psql('postgres', q{SET session_replication_role = replica; INSERT INTO c VALUES (1, 5000);});
$node->adjust_conf('postgresql.conf', 'shared_preload_libraries', "'fk_guard'");
$node->restart;
is($node->safe_psql('postgres', 'SELECT lost_reason FROM fk_guard_bypass_tracking()'), 'ran_without_fk_guard',
	'a clean run without fk_guard in between: tracking lost');
is($node->safe_psql('postgres', q{SELECT count(*) FROM fk_bypass_stats WHERE 'tracking_lost' = ANY (reasons)}), '2',
	'every foreign key possibly bypassed');

# fk_guard.track_bypass = off: no counters, and incremental audits check everything.
$node->safe_psql('postgres', 'CALL fk_audit_run()');
$node->append_conf('postgresql.conf', 'fk_guard.track_bypass = off');
$node->restart;
my ($rc, $out, $err) = $node->psql('postgres', 'SELECT * FROM fk_bypass_stats');
like($err, qr/ERROR:  fk_guard's bypass tracking is off/, 'track_bypass = off: fk_bypass_stats says tracking is off');
# fk_guard_reset() resets the violations, and has no bypass counters to reset.
$node->safe_psql('postgres', 'SELECT fk_guard_reset()');
is($node->safe_psql('postgres', 'SELECT count(*) FROM fk_violation_stats'), '0', 'track_bypass = off: fk_guard_reset() works');
$node->safe_psql('postgres', 'CALL fk_audit_run(incremental => true)');
is($node->safe_psql('postgres', q{SELECT count(*) FILTER (WHERE carried_from IS NULL) || '/' || count(*) FROM fk_audit_results
                                   WHERE run_id = (SELECT max(run_id) FROM fk_audit_runs)}), '2/2',
	'and an incremental audit checks every foreign key');
$node->adjust_conf('postgresql.conf', 'fk_guard.track_bypass', 'on');
$node->restart;
is($node->safe_psql('postgres', 'SELECT lost_reason FROM fk_guard_bypass_tracking()'), 'ran_without_fk_guard',
	'tracking back on: lost while it was off');

# ---- mallory floods the counters ----
$node->safe_psql('postgres', 'SELECT fk_guard_reset()');
my $free_sql = 'SELECT size FROM pg_shmem_allocations WHERE name IS NULL';
my $free_before = $node->safe_psql('postgres', $free_sql);
my $keys = 4200;
my $script = "SET session_replication_role = replica;\n"
  . "CREATE TEMP TABLE fp (id int PRIMARY KEY);\n"
  . "CREATE TEMP TABLE fc (pid int CONSTRAINT f_0 REFERENCES fp);\n";
$script .= "ALTER TABLE fc DROP CONSTRAINT f_" . ($_ - 1) . ", ADD CONSTRAINT f_$_ FOREIGN KEY (pid) REFERENCES fp NOT VALID;\n"
  . "INSERT INTO fc VALUES ($_);\n"
  for 1 .. $keys;
$script .= "SELECT fk_guard_reset();\n";
my ($ret, $stdout, $stderr) = $node->psql('postgres', $script, extra_params => [ '-U', 'mallory', '-v', 'ON_ERROR_STOP=0' ]);
my @errors = $stderr =~ /ERROR:  (.*)/g;
is_deeply(\@errors, ['permission denied for function fk_guard_reset'],
	'mallory: every write succeeds, the reset is refused') or diag $stderr;
is($node->safe_psql('postgres', $free_sql), $free_before, 'no shared memory taken');
is($node->safe_psql('postgres', 'SELECT count(*) FROM fk_guard_bypass_counters()'), '4096', 'the counters are full');
is($node->safe_psql('postgres', q{SELECT (SELECT sum(unchecked_rows) FROM fk_guard_bypass_counters()) || ' + ' || overflow_rows
                                   FROM fk_guard_bypass_tracking()}), '4096 + 104', 'every row counted, the rest in the overflow row');
is($node->safe_psql('postgres', q{SELECT unchecked_rows || ' ' || array_to_string(reasons, ',') FROM fk_bypass_stats WHERE constraint_name IS NULL}),
	'104 replica_role', 'fk_bypass_stats shows the overflow row');
like(slurp_file($node->logfile), qr/fk_guard: no free bypass counter \(all 4096 are taken\)/, 'the log says so');
is($node->safe_psql('postgres', q{SELECT count(*) FROM fk_audit WHERE findings @> '[{"code": "ri_bypassed"}]'}), '2',
	'counters full: every foreign key possibly bypassed');
$node->safe_psql('postgres', 'SELECT fk_guard_reset()');
is($node->safe_psql('postgres', 'SELECT count(*) FROM fk_guard_bypass_counters()'), '0', 'a reset gives every counter back');

$node->stop;
done_testing();
