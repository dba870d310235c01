# Capture fidelity (issue 8): every field right on every path, nothing lost or
# merged. One test group per bullet of the issue's "Why":
#
#  1. ALTER TABLE ... ATTACH PARTITION failures (as in PostgreSQL's own
#     foreign_key regression file), the attached partition without a foreign
#     key, with one of another name, with one of the declared name but another
#     definition, itself partitioned; the referenced table partitioned.
#  2. ALTER TABLE ... ADD FOREIGN KEY without a referenced column list (as in
#     alter_table and collate), MATCH FULL, on a partitioned table, by a
#     superuser and by a non-superuser table owner.
#  3. View and log agree on the declared names, and child_partition /
#     parent_partition name the relations of the pg_constraint row that raised
#     the error: INSERT into a partitioned child, DELETE from a partition of a
#     partitioned parent, both sides partitioned, UPDATE moving rows.
#  4. Distinct caught violations are distinct records: ADD FOREIGN KEY on s1.c
#     and s2.c caught in PL/pgSQL, one VALIDATE CONSTRAINT caught twice, one
#     INSERT caught 100 times.
#  5. Re-raise: one record, handled = false, however many statements (and
#     caught violations) ran in the handler; a handler that does not match.
#  6. No lost records: 5,000 caught violations in one transaction, also on a
#     path where no statement starts between them (SET CONSTRAINTS).
#  7. Who sees what: child_partition / parent_partition are table names, shown
#     to every role like child_table; key and query only to the role that
#     raised the violation (README, "Violation capture").
#
# Nothing expected is written down by hand where PostgreSQL can tell: each
# violation's constraint, table and schema come from the client's error
# (psql with VERBOSITY verbose prints PostgreSQL's SCHEMA NAME, TABLE NAME and
# CONSTRAINT NAME fields; PL/pgSQL handlers print them from GET STACKED
# DIAGNOSTICS), its key from the DETAIL, and the declared constraint, tables,
# columns and partitions from pg_constraint: the row the error names, followed
# through conparentid to the constraint the user declared. For ALTER TABLE,
# whose new constraint rows are rolled back with the error, the same ALTER
# TABLE is run once more, made to succeed, in a transaction that is rolled
# back after reading the catalogs ("dry run").
#
# Each check compares one field over all the records of a path, as sorted
# lists, in fk_violations (to_jsonb of its rows: a column the view lacks shows
# as "<no such column>"), in the log lines (text or JSON, through FkgLogLine)
# and in fk_violation_stats (emptied by fk_guard_reset() before each path).
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

my $LOOP = 5000;    # violations caught in one transaction (the old limit was 32 waiting)

my $node = start_node('fidelity', q{
shared_preload_libraries = 'fk_guard'
fk_guard.max_violations = 20000
log_statement = none
});
my $db = 'fidelity';
$node->safe_psql('postgres', "CREATE DATABASE $db");

# Catalog helpers: the expected description of the violation an error names.
$node->safe_psql($db, q{
CREATE EXTENSION fk_guard;

-- A relation as fk_guard names it: schema-qualified, each part quoted as needed.
CREATE FUNCTION fkg_qual(rel oid) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT format('%I.%I', n.nspname, c.relname)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = rel $$;

-- "a, b": the key columns of a constraint, in key order.
CREATE FUNCTION fkg_cols(rel oid, cols int2[]) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.o)
    FROM unnest(cols) WITH ORDINALITY AS k(n, o)
    JOIN pg_attribute a ON a.attrelid = rel AND a.attnum = k.n $$;

-- The foreign key PostgreSQL's error names (schema and table of its conrelid,
-- constraint name), described by the constraint the user declared (the top of
-- its conparentid chain); child_partition / parent_partition are the raising
-- row's relations where they differ from the declared ones.
CREATE FUNCTION fkg_expect(nsp text, rel text, con text) RETURNS jsonb LANGUAGE sql STABLE AS $$
  WITH RECURSIVE chain AS (
    SELECT c.oid, c.conparentid, 0 AS depth
      FROM pg_constraint c
      JOIN pg_class r ON r.oid = c.conrelid
      JOIN pg_namespace n ON n.oid = r.relnamespace
     WHERE n.nspname = nsp AND r.relname = rel AND c.conname = con AND c.contype = 'f'
    UNION ALL
    SELECT p.oid, p.conparentid, chain.depth + 1
      FROM chain JOIN pg_constraint p ON p.oid = chain.conparentid
  )
  SELECT jsonb_build_object(
           'constraint_name', d.conname,
           'child_table', fkg_qual(d.conrelid),
           'parent_table', fkg_qual(d.confrelid),
           'fk_columns', fkg_cols(d.conrelid, d.conkey),
           'parent_columns', fkg_cols(d.confrelid, d.confkey),
           'child_partition', CASE WHEN r.conrelid <> d.conrelid THEN fkg_qual(r.conrelid) END,
           'parent_partition', CASE WHEN r.confrelid <> d.confrelid THEN fkg_qual(r.confrelid) END)
    FROM chain rc JOIN pg_constraint r ON r.oid = rc.oid,
         chain dc JOIN pg_constraint d ON d.oid = dc.oid
   WHERE rc.depth = 0 AND dc.conparentid = 0
     AND (SELECT count(*) FROM chain WHERE depth = 0) = 1 $$;
});

# ---- reading what the client saw -------------------------------------------

# The 23503 errors psql printed (VERBOSITY verbose) and the violations PL/pgSQL
# handlers caught and printed as NOTICE "fkg_caught|schema|table|constraint|message|detail".
sub client_violations
{
	my ($stderr) = @_;
	my @v;
	for my $block (split /^(?=psql:[^\n]*?: [A-Z]+:  )/m, $stderr)
	{
		if ($block =~ /^psql:[^\n]*?: ERROR:  23503: ([^\n]*)$/m)
		{
			my %e = (message => $1, handled => 'false');
			$e{detail} = $1 if $block =~ /^DETAIL:  ([^\n]*)$/m;
			$e{schema} = $1 if $block =~ /^SCHEMA NAME:  ([^\n]*)$/m;
			$e{table} = $1 if $block =~ /^TABLE NAME:  ([^\n]*)$/m;
			$e{constraint} = $1 if $block =~ /^CONSTRAINT NAME:  ([^\n]*)$/m;
			push @v, \%e;
		}
		elsif ($block =~ /^psql:[^\n]*?: NOTICE:  (?:00000: )?fkg_caught\|([^|\n]*)\|([^|\n]*)\|([^|\n]*)\|([^|\n]*)\|([^\n]*)$/m)
		{
			push @v, { schema => $1, table => $2, constraint => $3, message => $4, detail => $5, handled => 'true' };
		}
	}
	return @v;
}

# The PL/pgSQL handler that prints what it caught (declare s, t, c, m, d text).
my $DECLARE = 'DECLARE s text; t text; c text; m text; d text;';
my $PRINT = q{GET STACKED DIAGNOSTICS s = SCHEMA_NAME, t = TABLE_NAME, c = CONSTRAINT_NAME,
	m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL;
	RAISE NOTICE 'fkg_caught|%|%|%|%|%', s, t, c, m, d;};
my $CATCH = "EXCEPTION WHEN foreign_key_violation THEN $PRINT";

sub side_of
{
	my ($v) = @_;
	return 'match_full'
	  if $v->{message} =~ /^insert or update on table/
	  && ($v->{detail} // '') =~ /^MATCH FULL does not allow mixing of null and nonnull key values\.$/;
	return 'child' if $v->{message} =~ /^insert or update on table "[^"]*" violates foreign key constraint/;
	return 'parent' if $v->{message} =~ /^update or delete on table "[^"]*" violates foreign key constraint/;
	return 'partition' if $v->{message} =~ /^removing partition "[^"]*" violates foreign key constraint/;
	return '<unknown message>';
}

sub key_of
{
	my ($v) = @_;
	return ($v->{detail} // '') =~ /^Key (\(.*\)=\(.*\)) is (?:not present in|still referenced from) table "[^"]*"\.$/
	  ? $1 : undef;
}

sub literal { my ($s) = @_; $s =~ s/'/''/g; return "'$s'"; }

# ---- what PostgreSQL's catalogs say ----------------------------------------

# fkg_expect() of each distinct (schema, table, constraint) the client saw,
# after the case's dry run (in a transaction rolled back) if it has one.
sub catalog_expectations
{
	my ($case, @violations) = @_;
	my %triples = map { join("\0", map { $_ // '' } @$_{qw(schema table constraint)}) => 1 } @violations;
	return {} unless %triples;
	my $values = join(', ', map { '(' . join(', ', map { literal($_) } split(/\0/, $_, -1)) . ')' } sort keys %triples);
	my $sql = "SELECT s || E'\\x01' || t || E'\\x01' || c || E'\\x01' || coalesce(fkg_expect(s, t, c)::text, '')"
	  . " FROM (VALUES $values) v(s, t, c);";
	$sql = "BEGIN;\n$case->{dry_run};\n$sql\nROLLBACK;" if $case->{dry_run};
	my ($ret, $out, $err) = $node->psql($db, $sql, on_error_stop => 1,
		$case->{user} ? (extra_params => [ '-U', $case->{user} ]) : ());
	is("$ret|$err", '0|', "$case->{name}: dry run / catalog lookup succeeds");
	my %exp;
	for my $line (split /\n/, $out)
	{
		my ($s, $t, $c, $json) = split /\x01/, $line, 4;
		$exp{"$s\0$t\0$c"} = $json eq '' ? undef : decode_json($json);
	}
	return \%exp;
}

# ---- what fk_guard recorded ------------------------------------------------

sub norm
{
	my ($v) = @_;
	return '<NULL>' unless defined $v;
	return $v ? 'true' : 'false' if JSON::PP::is_bool($v);
	return join(', ', @$v) if ref $v eq 'ARRAY';
	return "$v";
}

# Rows of a view, as hashes (to_jsonb: the columns the view has).
sub view_rows
{
	my ($view, $user) = @_;
	my ($ret, $out, $err) = $node->psql($db, "SELECT to_jsonb(v)::text FROM $view v",
		$user ? (extra_params => [ '-U', $user ]) : ());
	die "reading $view failed: $err" if $ret != 0;
	return map { decode_json($_) } grep { length } split /\n/, $out;
}

# fk_guard's log messages, text or JSON, as hashes named like the view's columns.
sub log_records
{
	my ($log) = @_;
	my @r;
	for my $m (fk_guard_messages($log))
	{
		my %f;
		if ($m =~ /^\{/)
		{
			my $v = decode_json_line($m, 1);
			%f = %$v;
			$f{format} = 'json';
		}
		else
		{
			my $fields = parse_text_line($m, 1);
			if (!$fields)
			{
				push @r, { format => 'unparsable', constraint => $m };
				next;
			}
			%f = map { @$_ } @$fields;
			$f{format} = 'text';
		}
		$f{constraint_name} = delete $f{constraint};
		$f{deferred} = delete $f{at_commit};
		push @r, \%f;
	}
	return @r;
}

sub distinct
{
	my ($list) = @_;
	my %seen;
	return [ grep { !$seen{$_}++ } sort @$list ];
}

sub field_values
{
	my ($rows, $field) = @_;
	return [ sort map { exists $_->{$field} ? norm($_->{$field}) : '<no such column>' } @$rows ];
}

# The log omits child_partition / parent_partition (text and JSON) and key
# (text) when NULL: absent is NULL there.
sub log_values
{
	my ($rows, $field) = @_;
	return [ sort map { norm($_->{$field}) } @$rows ];
}

# ---- the new columns ---------------------------------------------------------

# fk_violations gains child_partition and parent_partition (text), appended
# after pid; the other columns keep their names and order.
my @view_columns = split /\n/, $node->safe_psql($db, q{
	SELECT attname || ' ' || format_type(atttypid, atttypmod) FROM pg_attribute
	 WHERE attrelid = 'fk_violations'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum});
is_deeply(\@view_columns,
	[ 'ts timestamp with time zone', 'database name', 'username name', 'application_name text', 'constraint_name name',
	  'child_table text', 'parent_table text', 'side text', 'operation text', 'key text', 'query text',
	  'deferred boolean', 'handled boolean', 'pid integer', 'child_partition text', 'parent_partition text' ],
	'fk_violations: the columns of 1.3 and then child_partition, parent_partition');
my %view_has = map { (split / /)[0] => 1 } @view_columns;

# ---- one path ---------------------------------------------------------------

my %log_text_seen;

# Runs a case: resets the views, runs its SQL through psql (as its user), and
# checks every record against the client's errors and the catalogs. Returns
# the records expected, the view rows and the log records.
sub run_case
{
	my (%case) = @_;
	my $name = $case{name};
	$node->safe_psql($db, 'SELECT fk_guard_reset()');
	my $offset = -s $node->logfile;
	my $sql = "\\set VERBOSITY verbose\n";
	$sql .= "SET fk_guard.log_format = $case{format};\n" if $case{format} && !$case{user};
	$sql .= $case{sql};
	my ($ret, $out, $stderr) = $node->psql($db, $sql, on_error_stop => 0,
		$case{user} ? (extra_params => [ '-U', $case{user} ]) : ());
	# What fk_guard recorded, read before the dry run runs anything.
	my $log = slurp_file($node->logfile, $offset);
	my @rows = view_rows('fk_violations');
	my @stats = view_rows('fk_violation_stats');
	my @lines = log_records($log);

	# What the client saw: the script did what the case is about.
	my @violations = client_violations($stderr);
	my $errors = grep { $_->{handled} eq 'false' } @violations;
	my $caught = grep { $_->{handled} eq 'true' } @violations;
	is("$errors errors, $caught caught", "$case{errors} errors, $case{caught} caught",
		"$name: the client saw $case{errors} 23503 errors and the handlers caught $case{caught}")
	  or diag($stderr);
	unlike($stderr, qr/^psql:[^\n]*: (?:ERROR:  (?!23503)|FATAL|PANIC)|server closed the connection/m,
		"$name: no other failure") or diag($stderr);
	$case{check_client}->(\@violations) if $case{check_client};

	# What PostgreSQL's catalogs say about each of them.
	my $exp = catalog_expectations(\%case, @violations);
	my @expected;
	for my $v (@violations)
	{
		my $e = $exp->{ join("\0", map { $_ // '' } @$v{qw(schema table constraint)}) };
		if (!defined $e)
		{
			fail("$name: pg_constraint has the constraint the error names "
				  . "($v->{schema}.$v->{table} $v->{constraint})");
			next;
		}
		push @expected, { %$e,
			side => side_of($v), deferred => $case{deferred} // 'false',
			operation => ref $case{operation} eq 'CODE' ? $case{operation}->($v) : $case{operation},
			handled => $v->{handled}, key => key_of($v) };
	}
	my $n = scalar @expected;

	# fk_violations: one row per violation; each field's values as expected
	# (compared as sets: the count and the whole rows, below, compare
	# multiplicities). Without the new columns, which the column check
	# reports once, the other fields are still compared.
	is(scalar @rows, $n, "$name: fk_violations has $n rows");
	for my $f (qw(constraint_name child_table parent_table child_partition parent_partition
		side operation deferred handled key))
	{
	  SKIP:
		{
			skip "fk_violations has no column $f", 1 unless $view_has{$f};
			is_deeply(distinct(field_values(\@rows, $f)), distinct(log_values(\@expected, $f)), "$name: fk_violations.$f");
		}
	}
	# The fields together, one entry per record: nothing merged, lost or
	# mixed from two violations.
	my @whole = grep { $view_has{$_} }
	  qw(constraint_name child_table parent_table child_partition parent_partition side handled key);
	is_deeply([ sort map { my $r = $_; join('|', map { norm($r->{$_}) } @whole) } @rows ],
		[ sort map { my $r = $_; join('|', map { norm($r->{$_}) } @whole) } @expected ],
		"$name: fk_violations rows, whole (" . join(', ', @whole) . ')');

	# The log: one line per violation, every field as expected.
	is(scalar @lines, $n, "$name: $n log lines");
	is_deeply(distinct([ map { $_->{format} } @lines ]), [ $case{format} // 'text' ],
		"$name: log lines in fk_guard.log_format = " . ($case{format} // 'text'));
	$log_text_seen{ $case{format} // 'text' } += @lines;
	for my $f (qw(constraint_name child_table parent_table fk_columns parent_columns child_partition parent_partition
		side operation deferred handled key))
	{
		is_deeply(distinct(log_values(\@lines, $f)), distinct(log_values(\@expected, $f)), "$name: log $f");
	}
	is(scalar(grep { my $r = $_; grep { exists $r->{$_} && !defined $r->{$_} } qw(child_partition parent_partition) } @lines),
		0, "$name: log lines carry child_partition / parent_partition only when not NULL");
	my @whole_log = qw(constraint_name child_table parent_table fk_columns parent_columns child_partition parent_partition
	  side handled key);
	is_deeply([ sort map { my $r = $_; join('|', map { norm($r->{$_}) } @whole_log) } @lines ],
		[ sort map { my $r = $_; join('|', map { norm($r->{$_}) } @whole_log) } @expected ],
		"$name: log lines, whole");
	for my $f (qw(constraint_name child_table parent_table child_partition parent_partition))
	{
	  SKIP:
		{
			skip "fk_violations has no column $f", 1 unless $view_has{$f};
			is_deeply(distinct(field_values(\@rows, $f)), distinct(log_values(\@lines, $f)),
				"$name: view and log agree on $f");
		}
	}
	unlike($log, qr/were not recorded/, "$name: no \"were not recorded\" log line");

	# fk_violation_stats: one row per declared constraint, counting them all.
	my %stats;
	for my $e (@expected)
	{
		my $k = join('|', map { norm($e->{$_}) } qw(constraint_name child_table parent_table));
		$stats{$k}[0]++;
		$stats{$k}[1] += $e->{handled} eq 'true' ? 1 : 0;
	}
	is_deeply(
		[ sort map { my $r = $_; join('|', (map { norm($r->{$_}) } qw(constraint_name child_table parent_table)),
				norm($r->{violations}), norm($r->{handled})) } @stats ],
		[ sort map { "$_|$stats{$_}[0]|$stats{$_}[1]" } keys %stats ],
		"$name: fk_violation_stats (declared constraint, tables, violations, handled)");
	is(scalar(grep { !defined $_->{parent_table} } @stats), 0, "$name: no fk_violation_stats row with parent_table NULL");

	return (\@expected, \@rows, \@lines, \@violations);
}

# Asserts that the client saw exactly these (table, constraint) pairs: the
# test's understanding of what PostgreSQL raises on this path.
sub client_names
{
	my ($name, @pairs) = @_;
	return sub {
		my ($v) = @_;
		is_deeply([ sort map { "$_->{table} $_->{constraint}" } @$v ], [ sort @pairs ],
			"$name: PostgreSQL's errors name (table, constraint) " . join(', ', map { "($_)" } @pairs));
	};
}

# ============================================================================
# 1. ATTACH PARTITION
# ============================================================================
$node->safe_psql($db, q{
CREATE TABLE fkp (x int, y int, PRIMARY KEY (x, y));
INSERT INTO fkp VALUES (1, 1), (1600, 1), (1700, 1), (1800, 1), (1900, 1);
CREATE TABLE other_p (id int PRIMARY KEY);
INSERT INTO other_p VALUES (1800);
CREATE TABLE fk_part (a int, b int, CONSTRAINT fk_part_fk FOREIGN KEY (a, b) REFERENCES fkp)
  PARTITION BY LIST (a);
CREATE TABLE fk_part_1 PARTITION OF fk_part FOR VALUES IN (1);

-- a: no foreign key of its own; columns in another order, a dropped column.
CREATE TABLE fk_part_2 (b int, junk int, a int);
ALTER TABLE fk_part_2 DROP COLUMN junk;
INSERT INTO fk_part_2 (a, b) VALUES (1600, 1), (1600, 2);
-- b: its own foreign key, same definition but another name and NOT VALID, so
--    PostgreSQL does not adopt it and validates a new clone.
CREATE TABLE fk_part_3 (a int, b int);
INSERT INTO fk_part_3 VALUES (1700, 1), (1700, 3);
ALTER TABLE fk_part_3 ADD CONSTRAINT fk_part_3_own FOREIGN KEY (a, b) REFERENCES fkp NOT VALID;
-- c: a foreign key with the declared name but another definition: the clone
--    gets another name.
CREATE TABLE fk_part_4 (a int, b int, CONSTRAINT fk_part_fk FOREIGN KEY (a) REFERENCES other_p);
INSERT INTO fk_part_4 VALUES (1800, 1), (1800, 4);
-- d: itself partitioned: the orphan is in one of its partitions.
CREATE TABLE fk_part_5 (a int, b int) PARTITION BY LIST (b);
CREATE TABLE fk_part_5_1 PARTITION OF fk_part_5 FOR VALUES IN (1);
CREATE TABLE fk_part_5_5 PARTITION OF fk_part_5 FOR VALUES IN (5);
INSERT INTO fk_part_5 VALUES (1900, 1), (1900, 5);

-- e: PostgreSQL's fkpart5 case: a partitioned referenced table too.
CREATE SCHEMA fkpart5;
CREATE TABLE fkpart5.pk (a int PRIMARY KEY) PARTITION BY LIST (a);
CREATE TABLE fkpart5.pk1 PARTITION OF fkpart5.pk FOR VALUES IN (1) PARTITION BY LIST (a);
CREATE TABLE fkpart5.pk11 PARTITION OF fkpart5.pk1 FOR VALUES IN (1);
CREATE TABLE fkpart5.fk (a int) PARTITION BY LIST (a);
CREATE TABLE fkpart5.fk1 PARTITION OF fkpart5.fk FOR VALUES IN (1) PARTITION BY LIST (a);
CREATE TABLE fkpart5.fk11 PARTITION OF fkpart5.fk1 FOR VALUES IN (1);
ALTER TABLE fkpart5.fk ADD FOREIGN KEY (a) REFERENCES fkpart5.pk;
CREATE TABLE fkpart5.pk2 PARTITION OF fkpart5.pk FOR VALUES IN (2);
CREATE TABLE fkpart5.fk4 (LIKE fkpart5.fk);
INSERT INTO fkpart5.fk4 VALUES (50);
});

# PostgreSQL validates the clone it creates on the attached partition (named
# like the declared constraint unless the partition has a constraint of that
# name: then fk_part_4_a_b_fkey); a partition's own foreign key is adopted
# instead only when it matches and is VALID. For an attached partition that is
# itself partitioned, each leaf's clone is validated and the error names the
# leaf: child_partition is that leaf (the raising pg_constraint row), not the
# partition named in ATTACH PARTITION. Which row raised, the dry run tells.
# PostgreSQL 18 adopts a matching NOT VALID foreign key of the partition too
# (and validates it), and names a clone whose name is taken after the declared
# constraint (fk_part_fk_1).
my $pg18 = $node->safe_psql('postgres', 'SHOW server_version_num') >= 180000;
for my $attach (
	[ 'ATTACH PARTITION (partition without a foreign key)',
		'ALTER TABLE fk_part ATTACH PARTITION fk_part_2 FOR VALUES IN (1600)',
		'DELETE FROM fk_part_2 WHERE b <> 1', [ 'fk_part_2 fk_part_fk' ], 'text' ],
	[ 'ATTACH PARTITION (partition with its own NOT VALID foreign key fk_part_3_own)',
		'ALTER TABLE fk_part ATTACH PARTITION fk_part_3 FOR VALUES IN (1700)',
		'DELETE FROM fk_part_3 WHERE b <> 1', [ $pg18 ? 'fk_part_3 fk_part_3_own' : 'fk_part_3 fk_part_fk' ], 'json' ],
	[ 'ATTACH PARTITION (partition with another foreign key named fk_part_fk)',
		'ALTER TABLE fk_part ATTACH PARTITION fk_part_4 FOR VALUES IN (1800)',
		'DELETE FROM fk_part_4 WHERE b <> 1', [ $pg18 ? 'fk_part_4 fk_part_fk_1' : 'fk_part_4 fk_part_4_a_b_fkey' ], 'text' ],
	[ 'ATTACH PARTITION (partitioned partition)',
		'ALTER TABLE fk_part ATTACH PARTITION fk_part_5 FOR VALUES IN (1900)',
		'DELETE FROM fk_part_5 WHERE b <> 1', [ 'fk_part_5_5 fk_part_fk' ], 'json' ],
	[ 'ATTACH PARTITION (fkpart5: partitioned referenced table)',
		'ALTER TABLE fkpart5.fk ATTACH PARTITION fkpart5.fk4 FOR VALUES IN (50)',
		'DELETE FROM fkpart5.fk4', [ 'fk4 fk_a_fkey' ], 'text' ])
{
	my ($name, $stmt, $fix, $names, $format) = @$attach;
	my ($expected) = run_case(
		name => $name, sql => "$stmt;\n", errors => 1, caught => 0, operation => 'ALTER TABLE',
		format => $format, dry_run => "$fix; $stmt",
		check_client => client_names($name, @$names));
	# The orphan's partition: where PostgreSQL's error says the row is.
	my ($table) = split / /, $names->[0];
	my $schema = $stmt =~ /fkpart5/ ? 'fkpart5' : 'public';
	is(join('|', map { norm($_->{child_partition}) } @$expected), "$schema.$table",
		"$name: (catalog) the raising constraint is on $schema.$table");
}

# ============================================================================
# 2. ADD FOREIGN KEY (without a referenced column list; partitioned; non-superuser)
# ============================================================================
$node->safe_psql($db, q{
-- alter_table's attmp2/attmp3
CREATE TABLE attmp2 (a int PRIMARY KEY);
INSERT INTO attmp2 VALUES (1), (2), (3), (4);
CREATE TABLE attmp3 (a int, b int);
INSERT INTO attmp3 VALUES (1, 10), (1, 20), (5, 50);
-- collate's collate_test20/22: the referenced key has another name than the referencing column
CREATE TABLE collate_test20 (f1 text COLLATE "C" PRIMARY KEY);
INSERT INTO collate_test20 VALUES ('foo'), ('bar');
CREATE TABLE collate_test22 (f2 text COLLATE "POSIX");
INSERT INTO collate_test22 VALUES ('foo'), ('bar'), ('baz');
-- a primary key whose column order is not the table's
CREATE TABLE pk_yx (x int, y int, PRIMARY KEY (y, x));
INSERT INTO pk_yx VALUES (1, 2);
CREATE TABLE c_yx (a int, b int);
INSERT INTO c_yx VALUES (2, 1), (7, 8);
-- MATCH FULL with a partly NULL key
CREATE TABLE c_mf (a int, b int);
INSERT INTO c_mf VALUES (2, 1), (3, NULL);
-- a partitioned child, by the superuser
CREATE TABLE spc (a int, b int) PARTITION BY RANGE (a);
CREATE TABLE spc_1 PARTITION OF spc FOR VALUES FROM (0) TO (100);
CREATE TABLE spc_2 PARTITION OF spc FOR VALUES FROM (100) TO (200);
INSERT INTO spc VALUES (2, 1), (150, 1);

-- A non-superuser table owner, with REFERENCES (not SELECT) on the parents,
-- as in foreign_key's other_partitioned_fk case.
CREATE ROLE fid_owner LOGIN;
ALTER ROLE fid_owner SET fk_guard.log_format = 'json';
CREATE SCHEMA own AUTHORIZATION fid_owner;
GRANT REFERENCES ON pk_yx, attmp2 TO fid_owner;
SET ROLE fid_owner;
CREATE TABLE own.opc (a int, b int) PARTITION BY LIST (a);
CREATE TABLE own.opc_2 PARTITION OF own.opc FOR VALUES IN (2);
CREATE TABLE own.opc_2048 PARTITION OF own.opc FOR VALUES IN (2048);
INSERT INTO own.opc VALUES (2, 1), (2048, 1), (2048, 2);
CREATE TABLE own.oplain (a int);
INSERT INTO own.oplain VALUES (1), (42);
RESET ROLE;
});

for my $add (
	[ 'ADD CONSTRAINT ... REFERENCES attmp2 MATCH FULL (no column list)',
		'ALTER TABLE attmp3 ADD CONSTRAINT attmpconstr FOREIGN KEY (a) REFERENCES attmp2 MATCH FULL',
		'DELETE FROM attmp3 WHERE a = 5', undef, [ 'attmp3 attmpconstr' ], 'text', 'a' ],
	[ 'ADD FOREIGN KEY (f2) REFERENCES collate_test20 (no column list)',
		'ALTER TABLE collate_test22 ADD FOREIGN KEY (f2) REFERENCES collate_test20',
		q{DELETE FROM collate_test22 WHERE f2 = 'baz'}, undef, [ 'collate_test22 collate_test22_f2_fkey' ], 'json', 'f1' ],
	[ 'ADD FOREIGN KEY (a, b) REFERENCES pk_yx (primary key (y, x))',
		'ALTER TABLE c_yx ADD FOREIGN KEY (a, b) REFERENCES pk_yx',
		'DELETE FROM c_yx WHERE a = 7', undef, [ 'c_yx c_yx_a_b_fkey' ], 'text', 'y, x' ],
	[ 'ADD CONSTRAINT ... MATCH FULL, a partly NULL key',
		'ALTER TABLE c_mf ADD CONSTRAINT c_mf_fk FOREIGN KEY (a, b) REFERENCES pk_yx MATCH FULL',
		'DELETE FROM c_mf WHERE b IS NULL', undef, [ 'c_mf c_mf_fk' ], 'json', 'y, x' ],
	[ 'ADD FOREIGN KEY on a partitioned table (superuser)',
		'ALTER TABLE spc ADD FOREIGN KEY (a, b) REFERENCES pk_yx',
		'DELETE FROM spc WHERE a = 150', undef, [ 'spc_2 spc_a_b_fkey' ], 'text', 'y, x' ],
	[ 'ADD FOREIGN KEY on a partitioned table (non-superuser owner)',
		'ALTER TABLE own.opc ADD FOREIGN KEY (a, b) REFERENCES public.pk_yx',
		'DELETE FROM own.opc WHERE a = 2048', 'fid_owner', [ 'opc_2048 opc_a_b_fkey' ], 'json', 'y, x' ],
	[ 'ADD FOREIGN KEY on a plain table (non-superuser owner)',
		'ALTER TABLE own.oplain ADD FOREIGN KEY (a) REFERENCES public.attmp2',
		'DELETE FROM own.oplain WHERE a = 42', 'fid_owner', [ 'oplain oplain_a_fkey' ], 'json', 'a' ])
{
	my ($name, $stmt, $fix, $user, $names, $format, $pk_columns) = @$add;
	my ($expected) = run_case(
		name => $name, sql => "$stmt;\n", errors => 1, caught => 0, operation => 'ALTER TABLE',
		format => $format, user => $user, dry_run => "$fix; $stmt",
		check_client => client_names($name, @$names));
	# parent_columns is the referenced table's primary key (pg_index, not the
	# dry run): the statement names no referenced columns.
	my ($parent) = $stmt =~ /REFERENCES (\S+)/;
	my $pk = $node->safe_psql($db, qq{
		SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.o)
		  FROM pg_index i, unnest(i.indkey) WITH ORDINALITY k(n, o), pg_attribute a
		 WHERE i.indrelid = '$parent'::regclass AND i.indisprimary
		   AND a.attrelid = i.indrelid AND a.attnum = k.n});
	is($pk, $pk_columns, "$name: (catalog) the primary key of $parent is ($pk_columns)");
	is(join('|', map { $_->{parent_columns} // '<NULL>' } @$expected), $pk,
		"$name: (catalog) the constraint's referenced columns are the primary key");
}

# ============================================================================
# 3. Partitioned tables: declared names in view and log, child_partition /
#    parent_partition per the raising constraint
# ============================================================================
$node->safe_psql($db, q{
CREATE TABLE p (id int PRIMARY KEY);
INSERT INTO p SELECT generate_series(1, 10);
-- a partitioned child
CREATE TABLE pc (id int, parent_id int, CONSTRAINT pc_fk FOREIGN KEY (parent_id) REFERENCES p)
  PARTITION BY RANGE (id);
CREATE TABLE pc_1 PARTITION OF pc FOR VALUES FROM (0) TO (100);
CREATE TABLE pc_2 PARTITION OF pc FOR VALUES FROM (100) TO (200);
INSERT INTO pc VALUES (5, 5);
-- a partitioned parent
CREATE TABLE pp (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE pp_1 PARTITION OF pp FOR VALUES FROM (0) TO (100);
CREATE TABLE pp_2 PARTITION OF pp FOR VALUES FROM (100) TO (200);
INSERT INTO pp VALUES (1), (101), (102), (103);
CREATE TABLE c_pp (id int PRIMARY KEY, parent_id int CONSTRAINT c_pp_fk REFERENCES pp);
INSERT INTO c_pp VALUES (1, 101), (2, 102);
-- both partitioned
CREATE TABLE pcc (id int, parent_id int, CONSTRAINT pcc_fk FOREIGN KEY (parent_id) REFERENCES pp)
  PARTITION BY RANGE (id);
CREATE TABLE pcc_1 PARTITION OF pcc FOR VALUES FROM (0) TO (100);
CREATE TABLE pcc_2 PARTITION OF pcc FOR VALUES FROM (100) TO (200);
INSERT INTO pcc VALUES (150, 103);
-- a partitioned child whose foreign key is checked at COMMIT
CREATE TABLE pcd (id int, parent_id int,
  CONSTRAINT pcd_fk FOREIGN KEY (parent_id) REFERENCES p DEFERRABLE INITIALLY DEFERRED) PARTITION BY RANGE (id);
CREATE TABLE pcd_1 PARTITION OF pcd FOR VALUES FROM (0) TO (100);
CREATE TABLE pcd_2 PARTITION OF pcd FOR VALUES FROM (100) TO (200);
});

for my $dml (
	[ 'INSERT into a partitioned child', 'INSERT INTO pc VALUES (150, 981)', 'INSERT', [ 'pc_2 pc_fk' ], 'text' ],
	[ 'UPDATE moving a row to another partition of the child', 'UPDATE pc SET id = 150, parent_id = 980 WHERE id = 5',
		'UPDATE', [ 'pc_2 pc_fk' ], 'json' ],
	[ 'DELETE from a partition of a partitioned parent', 'DELETE FROM pp_2 WHERE id = 101', 'DELETE', undef, 'text' ],
	[ 'DELETE from a partitioned parent (routed to its partition)', 'DELETE FROM pp WHERE id = 102', 'DELETE', undef, 'json' ],
	[ 'UPDATE moving a referenced row to another partition of the parent', 'UPDATE pp SET id = 50 WHERE id = 101',
		'UPDATE', undef, 'text' ],
	[ 'INSERT into a partitioned child of a partitioned parent', 'INSERT INTO pcc VALUES (20, 150)', 'INSERT',
		[ 'pcc_1 pcc_fk' ], 'json' ],
	[ 'DELETE from a partition of the parent, both sides partitioned', 'DELETE FROM pp_2 WHERE id = 103', 'DELETE',
		undef, 'text' ],
	[ 'COPY into a partitioned child', "COPY pc FROM STDIN;\n150\t979\n\\.", 'COPY', [ 'pc_2 pc_fk' ], 'json' ],
	[ 'deferred check at COMMIT on a partitioned child', "BEGIN;\nINSERT INTO pcd VALUES (150, 978);\nCOMMIT",
		'COMMIT', [ 'pcd_2 pcd_fk' ], 'text', 'true' ])
{
	my ($name, $stmt, $operation, $names, $format, $deferred) = @$dml;
	my ($expected, $rows, $lines, $violations) = run_case(
		name => $name, sql => $stmt =~ /\\\.$/ ? "$stmt\n" : "$stmt;\n", errors => 1, caught => 0,
		operation => $operation, format => $format, deferred => $deferred, $names ? (check_client => client_names($name, @$names)) : ());
	# The relations PostgreSQL names: the child's partition holding the row
	# (child side), the partition of the parent the row was deleted from
	# (parent side: the error's first table). A cross-partition UPDATE of a
	# referenced row is checked by PostgreSQL 15 on the partitioned parent
	# itself, with the declared constraint: parent_partition is NULL there.
	my $v = $violations->[0] // {};
	my $e = $expected->[0] // {};
	if (side_of($v) eq 'child')
	{
		is(norm($e->{child_partition}), "public.$v->{table}", "$name: (catalog) child_partition is the error's table");
		is(norm($e->{parent_partition}), '<NULL>', "$name: (catalog) parent_partition is NULL");
	}
	else
	{
		my ($from) = $v->{message} =~ /^update or delete on table "([^"]*)"/;
		is(norm($e->{parent_partition}), $from eq 'pp' ? '<NULL>' : "public.$from",
			"$name: (catalog) parent_partition is the table the error says the row left ($from), NULL for the declared one");
		is(norm($e->{child_partition}), '<NULL>', "$name: (catalog) child_partition is NULL (the RI query reads the declared child)");
	}
}

# ============================================================================
# 4. Distinct caught violations are distinct records
# ============================================================================
$node->safe_psql($db, q{
CREATE SCHEMA s1;
CREATE SCHEMA s2;
CREATE TABLE s1.p (id int PRIMARY KEY);
CREATE TABLE s2.p (id int PRIMARY KEY);
CREATE TABLE s1.c (id int, a int);
CREATE TABLE s2.c (id int, a int);
INSERT INTO s1.c VALUES (1, 5);
INSERT INTO s2.c VALUES (1, 5);
CREATE TABLE cv (id int, a int);
INSERT INTO cv VALUES (1, 77);
ALTER TABLE cv ADD CONSTRAINT cv_fk FOREIGN KEY (a) REFERENCES p NOT VALID;
CREATE TABLE c100 (id int, parent_id int CONSTRAINT c100_fk REFERENCES p);
});

run_case(
	name => 'ADD FOREIGN KEY on s1.c and s2.c, caught', errors => 0, caught => 2, operation => 'ALTER TABLE',
	format => 'json',
	sql => qq{DO \$\$ $DECLARE
BEGIN
	BEGIN ALTER TABLE s1.c ADD FOREIGN KEY (a) REFERENCES s1.p; $CATCH END;
	BEGIN ALTER TABLE s2.c ADD FOREIGN KEY (a) REFERENCES s2.p; $CATCH END;
END \$\$;
},
	dry_run => 'DELETE FROM s1.c; DELETE FROM s2.c; '
	  . 'ALTER TABLE s1.c ADD FOREIGN KEY (a) REFERENCES s1.p; ALTER TABLE s2.c ADD FOREIGN KEY (a) REFERENCES s2.p',
	check_client => sub {
		my ($v) = @_;
		is_deeply([ map { "$_->{table}|$_->{constraint}|$_->{message}|$_->{detail}" } @$v ],
			[ ('c|c_a_fkey|insert or update on table "c" violates foreign key constraint "c_a_fkey"'
				  . '|Key (a)=(5) is not present in table "p".') x 2 ],
			's1.c and s2.c: the two caught errors have identical message and DETAIL');
		is_deeply([ sort map { $_->{schema} } @$v ], [ 's1', 's2' ], 's1.c and s2.c: in schemas s1 and s2');
	});

run_case(
	name => 'VALIDATE CONSTRAINT caught twice', errors => 0, caught => 2, operation => 'ALTER TABLE', format => 'text',
	sql => qq{DO \$\$ $DECLARE
BEGIN
	FOR i IN 1..2 LOOP
		BEGIN ALTER TABLE cv VALIDATE CONSTRAINT cv_fk; $CATCH END;
	END LOOP;
END \$\$;
},
	check_client => client_names('VALIDATE CONSTRAINT caught twice', 'cv cv_fk', 'cv cv_fk'));

my ($expected100) = run_case(
	name => 'the same INSERT caught 100 times', errors => 0, caught => 100, operation => 'INSERT', format => 'json',
	sql => qq{DO \$\$ $DECLARE
BEGIN
	FOR i IN 1..100 LOOP
		BEGIN INSERT INTO c100 VALUES (1, 555); $CATCH END;
	END LOOP;
END \$\$;
});

# ============================================================================
# 5. Re-raise
# ============================================================================
$node->safe_psql($db, q{
CREATE TABLE r_c (id int, parent_id int CONSTRAINT r_c_fk REFERENCES p);
CREATE TABLE r_c2 (id int, parent_id int CONSTRAINT r_c2_fk REFERENCES p);
CREATE TABLE r_log (note text);
CREATE TABLE r_u (id int PRIMARY KEY, parent_id int CONSTRAINT r_u_fk REFERENCES p);
});

# The client's error of a re-raised r_c violation with this key.
sub client_gets_reraised
{
	my ($key) = @_;
	return sub {
		my ($v) = @_;
		my @err = grep { $_->{handled} eq 'false' } @$v;
		is(scalar(@err) && "$err[0]{table} $err[0]{constraint} $err[0]{detail}",
			"r_c r_c_fk Key (parent_id)=($key) is not present in table \"p\".",
			're-raise: the client gets r_c\'s violation');
	};
}

# The handler catches r_c's violation, runs statements (among them 40 caught
# violations of r_c2 and one of r_c identical to the first), then re-raises.
my ($expected_rr, $rows_rr) = run_case(
	name => 'RAISE; after statements and caught violations in the handler', errors => 1, caught => 41,
	operation => 'INSERT', format => 'text',
	sql => qq{DO \$\$ $DECLARE n int := 0;
BEGIN
	BEGIN
		INSERT INTO r_c VALUES (1, 901);
	EXCEPTION WHEN foreign_key_violation THEN
		INSERT INTO r_log VALUES ('caught');
		SELECT count(*) INTO n FROM r_log;
		FOR i IN 1..40 LOOP
			BEGIN INSERT INTO r_c2 VALUES (i, 1000 + i); $CATCH END;
		END LOOP;
		BEGIN INSERT INTO r_c VALUES (1, 901); $CATCH END;
		UPDATE r_log SET note = 'handled';
		RAISE;
	END;
END \$\$;
},
	check_client => client_gets_reraised(901));
is( join(',', sort map { norm($_->{handled}) } grep { ($_->{key} // '') eq '(parent_id)=(901)' } @$rows_rr),
	join(',', sort map { $_->{handled} } grep { ($_->{key} // '') eq '(parent_id)=(901)' } @$expected_rr),
	're-raise: r_c\'s key 901 is two records, the re-raised one handled = false, the one caught in the handler true')
  if $rows_rr;

# The same without the caught violation identical to the re-raised one.
run_case(
	name => 'RAISE; after 40 caught violations of another foreign key in the handler', errors => 1, caught => 40,
	operation => 'INSERT', format => 'json',
	sql => qq{DO \$\$ $DECLARE
BEGIN
	BEGIN
		INSERT INTO r_c VALUES (2, 903);
	EXCEPTION WHEN foreign_key_violation THEN
		FOR i IN 1..40 LOOP
			BEGIN INSERT INTO r_c2 VALUES (i, 2000 + i); $CATCH END;
		END LOOP;
		INSERT INTO r_log VALUES ('re-raising');
		RAISE;
	END;
END \$\$;
},
	check_client => client_gets_reraised(903));

run_case(
	name => 'a handler that does not match (WHEN unique_violation)', errors => 1, caught => 0, operation => 'INSERT',
	format => 'json',
	sql => q{DO $$
BEGIN
	BEGIN
		INSERT INTO r_u VALUES (1, 902);
	EXCEPTION WHEN unique_violation THEN
		RAISE NOTICE 'not reached';
	END;
END $$;
},
	check_client => client_names('a handler that does not match', 'r_u r_u_fk'));

# ============================================================================
# 6. No lost records
# ============================================================================
$node->safe_psql($db, q{
CREATE TABLE loop_c (id int, parent_id int CONSTRAINT loop_c_fk REFERENCES p);
CREATE TABLE pk2 (a int, b int, PRIMARY KEY (a, b));
CREATE TABLE setc_c (id int, a int, b int,
  CONSTRAINT setc_c_fk FOREIGN KEY (a, b) REFERENCES pk2 MATCH FULL DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE setd_c (id int, parent_id int CONSTRAINT setd_c_fk REFERENCES p DEFERRABLE INITIALLY DEFERRED);
});
# 40 deferred MATCH FULL foreign keys: their checks run no query, so no
# statement starts between their violations.
$node->safe_psql($db, join('', map { "CREATE TABLE mf_$_ (a int, b int, CONSTRAINT mf_${_}_fk FOREIGN KEY (a, b) REFERENCES pk2 MATCH FULL DEFERRABLE INITIALLY DEFERRED);\n" } 1 .. 40));

run_case(
	name => "$LOOP INSERT violations caught in one transaction", errors => 0, caught => $LOOP, operation => 'INSERT',
	format => 'text',
	sql => qq{DO \$\$ $DECLARE
BEGIN
	FOR i IN 1..$LOOP LOOP
		BEGIN INSERT INTO loop_c VALUES (i, 100000 + i); $CATCH END;
	END LOOP;
END \$\$;
});

run_case(
	name => "SET CONSTRAINTS ALL IMMEDIATE failing $LOOP times in one transaction (MATCH FULL, no query between)",
	errors => 0, caught => $LOOP, operation => 'SET CONSTRAINTS', deferred => 'true', format => 'json',
	sql => qq{DO \$\$ $DECLARE
BEGIN
	INSERT INTO setc_c VALUES (1, 1, NULL);
	FOR i IN 1..$LOOP LOOP
		BEGIN SET CONSTRAINTS ALL IMMEDIATE; $CATCH END;
	END LOOP;
	DELETE FROM setc_c;
END \$\$;
});

run_case(
	name => 'SET CONSTRAINTS ALL IMMEDIATE failing 200 times in one transaction (a key looked up each time)',
	errors => 0, caught => 200, operation => 'SET CONSTRAINTS', deferred => 'true', format => 'text',
	sql => qq{DO \$\$ $DECLARE
BEGIN
	INSERT INTO setd_c VALUES (1, 777);
	FOR i IN 1..200 LOOP
		BEGIN SET CONSTRAINTS ALL IMMEDIATE; $CATCH END;
	END LOOP;
	DELETE FROM setd_c;
END \$\$;
});

run_case(
	name => '40 distinct deferred foreign keys failing in one transaction, no statement between',
	errors => 0, caught => 40, operation => 'SET CONSTRAINTS', deferred => 'true', format => 'json',
	sql => qq{DO \$\$ $DECLARE
BEGIN
	FOR i IN 1..40 LOOP
		EXECUTE format('INSERT INTO mf_%s VALUES (1, NULL)', i);
	END LOOP;
	FOR i IN 1..40 LOOP
		BEGIN EXECUTE format('SET CONSTRAINTS mf_%s_fk IMMEDIATE', i); $CATCH END;
	END LOOP;
	FOR i IN 1..40 LOOP
		EXECUTE format('DELETE FROM mf_%s', i);
	END LOOP;
END \$\$;
});

# ============================================================================
# 7. Who sees child_partition / parent_partition, key and query
# ============================================================================
$node->safe_psql($db, q{
CREATE ROLE fid_alice LOGIN;
CREATE ROLE fid_bob LOGIN;
CREATE TABLE vis_pp (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE vis_pp_1 PARTITION OF vis_pp FOR VALUES FROM (0) TO (100);
CREATE TABLE vis_pp_2 PARTITION OF vis_pp FOR VALUES FROM (100) TO (200);
CREATE TABLE vis_pc (id int, parent_id int, CONSTRAINT vis_pc_fk FOREIGN KEY (parent_id) REFERENCES vis_pp)
  PARTITION BY RANGE (id);
CREATE TABLE vis_pc_1 PARTITION OF vis_pc FOR VALUES FROM (0) TO (100);
CREATE TABLE vis_pc_2 PARTITION OF vis_pc FOR VALUES FROM (100) TO (200);
INSERT INTO vis_pp VALUES (1), (101);
INSERT INTO vis_pc VALUES (1, 101);
GRANT SELECT, INSERT, DELETE ON vis_pp, vis_pp_1, vis_pp_2, vis_pc, vis_pc_1, vis_pc_2 TO fid_alice;
});

my $vis_name = 'violations by an ordinary role on partitioned tables';
my ($vis_expected, $vis_rows) = run_case(
	name => $vis_name, errors => 2, caught => 0, user => 'fid_alice',
	operation => sub { side_of($_[0]) eq 'child' ? 'INSERT' : 'DELETE' },
	sql => "INSERT INTO vis_pc VALUES (150, 199);\nDELETE FROM vis_pp_2 WHERE id = 101;\n",
	check_client => sub {
		my ($v) = @_;
		is(scalar(grep { defined key_of($_) } @$v), 2, "$vis_name: PostgreSQL shows fid_alice both keys");
	});

for my $who ([ 'fid_bob', 0 ], [ 'fid_alice', 1 ], [ undef, 1 ])
{
	my ($user, $sees_details) = @$who;
	my $label = $user // 'the superuser';
	my @rows = view_rows('fk_violations', $user);
	is(scalar @rows, scalar @$vis_expected, "$label sees every row");
	# Table names, like child_table: the same for everyone, as the catalogs say.
	for my $f (qw(constraint_name child_table parent_table child_partition parent_partition side))
	{
		is_deeply(field_values(\@rows, $f), log_values($vis_expected, $f), "$label sees $f of fid_alice's violations");
	}
	is_deeply(field_values(\@rows, 'key'),
		$sees_details ? log_values($vis_expected, 'key') : [ ('<NULL>') x @$vis_expected ],
		$sees_details ? "$label sees the keys" : "$label does not see the keys");
	is_deeply([ sort map { norm($_->{query}) =~ s/[\s;]+$//r } @rows ],
		$sees_details
		? [ sort ('DELETE FROM vis_pp_2 WHERE id = 101', 'INSERT INTO vis_pc VALUES (150, 199)') ]
		: [ '<NULL>', '<NULL>' ],
		$sees_details ? "$label sees the statements" : "$label does not see the statements");
}

ok($log_text_seen{text} && $log_text_seen{json}, 'log lines were read in both formats');
ok(!$node->log_contains(qr/terminated by signal|PANIC:|was terminated/, 0), 'no backend crashed');
$node->stop;
done_testing();
