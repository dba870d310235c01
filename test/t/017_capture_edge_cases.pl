# Violation capture in the corners a review found: transactions ending inside
# procedures, catches outside any executor call, re-raised violations whose
# text another one shares, data-modifying WITH, several foreign keys added by
# one ALTER TABLE, renames after the cache was filled, and the backend's
# pending budget reclaimed between statements. Each case states what
# PostgreSQL did (the client's errors) and what fk_guard must have recorded:
# (constraint, side, operation, handled) per violation, in order, and the
# counters.
use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use lib dirname(abs_path(__FILE__));
use FkgNode;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = start_node('edges', q{
shared_preload_libraries = 'fk_guard'
fk_guard.max_violations = 20000
fk_guard.log_format = json
log_statement = none
});
$node->safe_psql('postgres', q{
	CREATE EXTENSION fk_guard;
	CREATE ROLE alice LOGIN;
	GRANT CREATE ON SCHEMA public TO alice;
	CREATE TABLE p (id int PRIMARY KEY);
	CREATE TABLE c (id serial, pid int REFERENCES p);
	CREATE TABLE dp (id int PRIMARY KEY);
	CREATE TABLE dc (id serial, pid int REFERENCES dp DEFERRABLE INITIALLY DEFERRED);
	INSERT INTO p VALUES (1); INSERT INTO dp VALUES (1);
});

# Runs sql (as role, when given) after emptying the store; returns the
# client's stderr, the records as "constraint side operation handled" lines
# in order, and the counters as "constraint violations handled".
sub run_case
{
	my ($sql, $role) = @_;
	$node->safe_psql('postgres', 'SELECT fk_guard_reset()');
	my ($ret, $out, $err) =
	  $node->psql('postgres', $sql, on_error_stop => 0, extra_params => [ $role ? ('-U', $role) : () ]);
	my $records = $node->safe_psql('postgres', q{
		SELECT string_agg(format('%s %s %s %s', constraint_name, side, operation, handled), E'\n' ORDER BY ts)
		  FROM fk_violations});
	my $stats = $node->safe_psql('postgres', q{
		SELECT string_agg(format('%s %s %s', constraint_name, violations, handled), E'\n' ORDER BY constraint_name)
		  FROM fk_violation_stats});
	return ($err, $records, $stats);
}

my ($err, $records, $stats);

# A deferred check failing at COMMIT inside a procedure: PostgreSQL aborts,
# starts the next transaction and re-throws; one violation, to the client.
($err, $records, $stats) = run_case(q{
	CREATE PROCEDURE pc() LANGUAGE plpgsql AS $$ BEGIN INSERT INTO dc(pid) VALUES (42); COMMIT; END $$;
	CALL pc();});
like($err, qr/violates foreign key constraint "dc_pid_fkey"/, 'COMMIT in a procedure: the client gets the violation');
is($records, 'dc_pid_fkey child COMMIT f', 'COMMIT in a procedure: one record, not handled');
is($stats, 'dc_pid_fkey 1 0', 'COMMIT in a procedure: counted once');

# A handler commits, then re-raises what it caught.
($err, $records, $stats) = run_case(q{
	CREATE PROCEDURE ph() LANGUAGE plpgsql AS $$
	BEGIN INSERT INTO c(pid) VALUES (77);
	EXCEPTION WHEN foreign_key_violation THEN COMMIT; RAISE;
	END $$;
	CALL ph();});
like($err, qr/Key \(pid\)=\(77\)/, 'COMMIT in a handler, then RAISE: the client gets the violation');
is($records, 'c_pid_fkey child INSERT f', 'COMMIT in a handler, then RAISE: one record, not handled');
is($stats, 'c_pid_fkey 1 0', 'COMMIT in a handler, then RAISE: counted once');

# A deferred constraint trigger swallows a violation at COMMIT, then the
# deferred foreign key fails at the same COMMIT with the same text.
($err, $records, $stats) = run_case(q{
	CREATE TABLE trig_t (x int);
	CREATE FUNCTION tf() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		BEGIN INSERT INTO dc(pid) VALUES (43); SET CONSTRAINTS dc_pid_fkey IMMEDIATE;
		EXCEPTION WHEN foreign_key_violation THEN NULL;
		END;
		RETURN NULL;
	END $$;
	CREATE CONSTRAINT TRIGGER tt AFTER INSERT ON trig_t DEFERRABLE INITIALLY DEFERRED
		FOR EACH ROW EXECUTE FUNCTION tf();
	BEGIN;
	INSERT INTO trig_t VALUES (1);
	INSERT INTO dc(pid) VALUES (43);
	COMMIT;});
like($err, qr/Key \(pid\)=\(43\)/, 'swallowed at COMMIT, then failing at COMMIT: the client gets one');
is($records, "dc_pid_fkey child SET CONSTRAINTS t\ndc_pid_fkey child COMMIT f",
	'swallowed at COMMIT, then failing at COMMIT: two records');

# A function folded at plan time swallows a violation outside any executor call.
($err, $records, $stats) = run_case(q{
	CREATE FUNCTION ins_dc(k int) RETURNS void LANGUAGE plpgsql AS $$
	BEGIN INSERT INTO dc(pid) VALUES (k); SET CONSTRAINTS dc_pid_fkey IMMEDIATE; END $$;
	CREATE FUNCTION swallow(k int) RETURNS int IMMUTABLE LANGUAGE plpgsql AS $$
	BEGIN BEGIN PERFORM ins_dc(k); EXCEPTION WHEN foreign_key_violation THEN RETURN 1; END; RETURN 0; END $$;
	BEGIN;
	SELECT swallow(44);
	SET CONSTRAINTS dc_pid_fkey DEFERRED;
	INSERT INTO dc(pid) VALUES (44);
	COMMIT;});
is($records, "dc_pid_fkey child SET CONSTRAINTS t\ndc_pid_fkey child COMMIT f",
	'swallowed at plan time, then failing at COMMIT: two records');
is($stats, 'dc_pid_fkey 2 1', 'swallowed at plan time, then failing at COMMIT: counted twice, once handled');

# Two violations of the same text; the handler re-raises the first.
($err, $records, $stats) = run_case(q{
	INSERT INTO c(id, pid) VALUES (500, 1);
	DO $$
	BEGIN
		UPDATE c SET pid = 90 WHERE id = 500;
	EXCEPTION WHEN foreign_key_violation THEN
		BEGIN INSERT INTO c(pid) VALUES (90); EXCEPTION WHEN foreign_key_violation THEN NULL; END;
		RAISE;
	END $$;});
like($err, qr/SQL statement "UPDATE c SET pid = 90 WHERE id = 500"/, 'same text: the client gets the UPDATE\'s');
is($records, "c_pid_fkey child UPDATE f\nc_pid_fkey child INSERT t",
	'same text: the re-raised UPDATE reached the client, the INSERT was swallowed');

# Data-modifying WITH: the operation that can raise the violation.
($err, $records, $stats) = run_case(q{
	WITH x AS (INSERT INTO c(pid) VALUES (7) RETURNING *) SELECT count(*) FROM x;
	INSERT INTO c(pid) VALUES (1);
	WITH d AS (DELETE FROM p WHERE id = 1 RETURNING id) INSERT INTO c(pid) SELECT 1 FROM d WHERE false;});
is($records, "c_pid_fkey child INSERT f\nc_pid_fkey parent DELETE f",
	'WITH: INSERT under SELECT, DELETE under INSERT');
$node->safe_psql('postgres', 'DELETE FROM c WHERE pid = 1');

# Two foreign keys added by one ALTER TABLE, checked row by row (alice may
# reference the parents but not read them), the second failing on its first row.
$node->safe_psql('postgres', q{
	CREATE TABLE bp1 (id int PRIMARY KEY); CREATE TABLE bp2 (a int, b int, PRIMARY KEY (a, b));
	GRANT REFERENCES ON bp1, bp2 TO alice;});
($err, $records, $stats) = run_case(q{
	CREATE TABLE ac2 (x int, a int, b int); INSERT INTO ac2 VALUES (NULL, 1, NULL);
	ALTER TABLE ac2 ADD CONSTRAINT ac2_x_fk FOREIGN KEY (x) REFERENCES bp1,
	                ADD CONSTRAINT ac2_ab_fk FOREIGN KEY (a, b) REFERENCES bp2 MATCH FULL;}, 'alice');
is($records, 'ac2_ab_fk match_full ALTER TABLE f', 'two foreign keys added: the failing one recorded');
is($node->safe_psql('postgres', q{SELECT parent_table FROM fk_violations}), 'public.bp2',
	'two foreign keys added: described as the failing one');

# The referenced table and a schema renamed after the cache was filled.
($err, $records, $stats) = run_case(q{
	CREATE SCHEMA s1;
	CREATE TABLE s1.rp (id int PRIMARY KEY);
	CREATE TABLE s1.rc (pid int REFERENCES s1.rp);
	INSERT INTO s1.rc VALUES (20);
	ALTER TABLE s1.rp RENAME TO rp2;
	ALTER SCHEMA s1 RENAME TO s2;
	INSERT INTO s2.rc VALUES (21);});
is( $node->safe_psql('postgres', q{SELECT string_agg(child_table || ' ' || parent_table, ', ' ORDER BY ts) FROM fk_violations}),
	's1.rc s1.rp, s2.rc s2.rp2', 'renames: each violation named as the catalogs were when it was raised');

# One transaction of 3000 statements, each swallowing a violation: the budget
# is given back as each one is written, so every one is listed.
my $statements = join("\n", map { "DO \$\$ BEGIN INSERT INTO c(pid) VALUES ($_); EXCEPTION WHEN others THEN NULL; END \$\$;" }
	  (100000 .. 102999));
($err, $records, $stats) = run_case("BEGIN;\n$statements\nCOMMIT;");
is($stats, 'c_pid_fkey 3000 3000', '3000 statements in one transaction: all counted');
is($node->safe_psql('postgres', 'SELECT count(*) FROM fk_violations'), '3000',
	'3000 statements in one transaction: all listed');

# A procedure whose handlers commit keeps its caught violations past each
# commit, and the store is compacted at statement starts: many long distinct
# statement texts, in an order other than the one they came in, keep each
# record's query.
my $texts = join(', ', map { "'INSERT INTO c(pid) VALUES (0) /* $_ " . ('x' x 3000) . " */'" } 0 .. 5);
($err, $records, $stats) = run_case(qq{
	CREATE PROCEDURE churn_texts() LANGUAGE plpgsql AS \$\$
	DECLARE texts text[] := ARRAY[$texts];
	BEGIN
		FOR i IN 0 .. 199 LOOP
			BEGIN EXECUTE texts[1 + (i * 7 + i / 5) % 6];
			EXCEPTION WHEN foreign_key_violation THEN COMMIT;
			END;
		END LOOP;
	END \$\$;
	CALL churn_texts() /* @{['y' x 1100]} */;});
is($stats, 'c_pid_fkey 200 200', 'handlers that commit: 200 violations counted, all handled');
is($node->safe_psql('postgres', q{SELECT count(*), count(*) FILTER (WHERE query LIKE 'CALL churn_texts()%') FROM fk_violations}),
	'200|200', 'handlers that commit: every record keeps its statement');

# The constraint cache keeps a fixed size whatever invalidations arrive.
my $cache = q{SELECT sum(total_bytes) FROM pg_backend_memory_contexts WHERE name LIKE 'fk_guard constraint%'};
my $session = $node->background_psql('postgres');
$session->query_safe('INSERT INTO c(pid) VALUES (1); ANALYZE p;');
$session->query_safe('INSERT INTO c(pid) VALUES (1)');
chomp(my $before = $session->query_safe($cache));
$session->query_safe(q{
	CREATE PROCEDURE churn(n int) LANGUAGE plpgsql AS $$
	BEGIN FOR i IN 1..n LOOP ANALYZE p; INSERT INTO c(pid) VALUES (1); COMMIT; END LOOP; END $$;
	CALL churn(1000);});
is($session->query_safe($cache) =~ s/\n\z//r, $before, 'the constraint cache does not grow over 1000 invalidations');
$session->quit;

ok(!$node->log_contains(qr/terminated by signal|PANIC:|came past/, 0), 'no crash, nothing past the budget');
$node->stop;
done_testing();
