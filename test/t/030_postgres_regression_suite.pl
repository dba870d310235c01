# PostgreSQL's own regression files that exercise foreign keys, run by
# pg_regress on a vanilla server and on one with fk_guard preloaded (issue 8):
# the client sees the same output from both, every foreign-key error the
# client sees is recorded exactly once, the log line and fk_violations agree,
# and every record says what the client's error and the catalogs say. A third
# server runs the files too and logs its foreign keys after every DDL
# statement: what the catalogs said when each error was raised.
use strict;
use warnings;
use Cwd qw(abs_path);
use Encode qw(decode);
use File::Basename qw(dirname);
use lib dirname(abs_path(__FILE__));
use FkgLogLine;
use JSON::PP;
use List::Util qw(sum uniq);
use PgRegressSuite;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# The files run: issue 8's list, the other files whose output shows RI errors
# (generated, collate.icu.utf8), and truncate (TRUNCATE through foreign keys).
# PostgreSQL 18 split generated into generated_stored and generated_virtual;
# the files a version's schedule lacks are left out.
my @tests = qw(foreign_key alter_table triggers merge insert_conflict rules collate enum cluster rowsecurity
  generated generated_stored generated_virtual collate.icu.utf8 truncate);
# What they need run first: test_setup (the shared tables, types and
# functions) and create_index (alter_table uses onek's indexes).
my @prerequisites = qw(test_setup create_index);
# Mismatches shown in detail, per check.
my $show = 15;

# The regression files of the server's own major version: for 15 (Debian's
# packages, whose source is not packaged) the vendored 15.1 suite, built here;
# for a server built from a vendored tree (scripts/lib.sh, fkg_vendor_postgres)
# that tree's src/test/regress, installed under its prefix with regress.so.
my ($version, $bindir, $pkglibdir) = map { chomp(my $v = `pg_config --$_`); $v } qw(version bindir pkglibdir);
my ($major) = $version =~ /^PostgreSQL (\d+)/ or die "unexpected pg_config --version: $version";
my ($suite, $regress_so, $cache, $tarball);
if ($major == 15)
{
	my $vendor = $ENV{FKG_VENDOR_DIR} // dirname(abs_path(__FILE__)) . '/../../../shared/vendor';
	$tarball = "$vendor/postgresql-15.1-regress.tar.xz";
	plan skip_all => "PostgreSQL 15.1's regression suite is not at $tarball (FKG_VENDOR_DIR names its directory)"
	  unless -f $tarball;
	$cache = $ENV{FKG_CACHE_DIR} // ($ENV{XDG_CACHE_HOME} // "$ENV{HOME}/.cache") . '/fk_guard';
}
else
{
	$suite = dirname($bindir) . '/src/test/regress';
	$regress_so = "$suite/regress.so";
	plan skip_all => "PostgreSQL ${major}'s regression files are not at $suite (scripts/lib.sh's "
	  . 'fkg_vendor_postgres installs them with the servers it builds)'
	  unless -f $regress_so;
	$PgRegressSuite::psql_compatible = 0;
}

my $started = time;
($suite, $regress_so) = prepare_suite($tarball, $cache) if $tarball;
@tests = grep { scheduled_here($suite, $_) } @tests;
my @schedule = scheduled($suite, @prerequisites, @tests);
my $input = input_dir($suite, $regress_so, $pkglibdir, PostgreSQL::Test::Utils::tempdir() . '/input', @schedule);
note "suite $suite; schedule: @schedule";

# Runs the schedule on a node, serially, and returns each file's output
# (decoded: the databases are UTF8). pg_regress's own verdict compares with
# the suite's expected files and is only logged: the servers may be later
# minor releases (15.1's files, a later 15.x server).
# $setup runs in the suite's database once pg_regress has created it for the
# first file.
sub run_suite
{
	my ($node, $setup) = @_;
	my $out = PostgreSQL::Test::Utils::tempdir();
	my @pg_regress = ($ENV{PG_REGRESS} // "$pkglibdir/pgxs/src/test/regress/pg_regress",
		"--bindir=$bindir", '--host=' . $node->host, '--port=' . $node->port,
		"--inputdir=$input", "--outputdir=$out", "--dlpath=$input/lib");
	if ($setup)
	{
		PostgreSQL::Test::Utils::run_log([ @pg_regress, $schedule[0] ]);
		$node->safe_psql('regression', $setup);
		PostgreSQL::Test::Utils::run_log([ @pg_regress, '--use-existing', @schedule[ 1 .. $#schedule ] ]);
	}
	else
	{
		PostgreSQL::Test::Utils::run_log([ @pg_regress, @schedule ]);
	}
	my %results = map { -f "$out/results/$_.out" ? ($_ => decode('UTF-8', slurp_file("$out/results/$_.out"))) : () }
	  @schedule;
	is(scalar keys %results, scalar @schedule, $node->name . ': every file ran');
	return \%results;
}

# The foreign keys of a database, as one line of JSON: each constraint with
# its parent constraint, quote_qualified_identifier's table names and its
# columns.
my $foreign_keys = q{
	SELECT coalesce(jsonb_agg(jsonb_build_object(
	         'oid', c.oid, 'conname', c.conname, 'conparentid', c.conparentid,
	         'deferrable', c.condeferrable, 'initially_deferred', c.condeferred,
	         'child', quote_ident(cn.nspname) || '.' || quote_ident(cr.relname),
	         'parent', quote_ident(pn.nspname) || '.' || quote_ident(pr.relname),
	         'fk_columns', ARRAY(SELECT attname FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
	                               JOIN pg_attribute ON attrelid = c.conrelid AND attnum = k.n ORDER BY k.i),
	         'parent_columns', ARRAY(SELECT attname FROM unnest(c.confkey) WITH ORDINALITY k(n, i)
	                                   JOIN pg_attribute ON attrelid = c.confrelid AND attnum = k.n ORDER BY k.i))), '[]')::text
	  FROM pg_constraint c
	  JOIN pg_class cr ON cr.oid = c.conrelid JOIN pg_namespace cn ON cn.oid = cr.relnamespace
	  JOIN pg_class pr ON pr.oid = c.confrelid JOIN pg_namespace pn ON pn.oid = pr.relnamespace
	 WHERE c.contype = 'f'};
# The recorder's event trigger: the foreign keys after each DDL command, in
# the server log, when they changed since the session last logged them.
my $record_catalogs = qq{
	CREATE SCHEMA fkg_recorder;
	CREATE FUNCTION fkg_recorder.log_foreign_keys() RETURNS event_trigger LANGUAGE plpgsql
	SET search_path = pg_catalog AS \$\$
	DECLARE
		foreign_keys text := ($foreign_keys);
	BEGIN
		IF md5(foreign_keys) IS DISTINCT FROM current_setting('fkg_recorder.logged', true) THEN
			PERFORM set_config('fkg_recorder.logged', md5(foreign_keys), false);
			RAISE LOG 'fkg_recorder: %', foreign_keys;
		END IF;
	END \$\$;
	CREATE EVENT TRIGGER log_foreign_keys ON ddl_command_end EXECUTE FUNCTION fkg_recorder.log_foreign_keys();
};

my $vanilla = PostgreSQL::Test::Cluster->new('vanilla');
my $fkg = PostgreSQL::Test::Cluster->new('fk_guard');
my $recorder = PostgreSQL::Test::Cluster->new('catalog_recorder');
for my $node ($vanilla, $fkg, $recorder)
{
	$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
}
# Room for every record (the ring would drop the oldest), the longest
# statement text, and log lines that parse as JSON.
my $ring = 100000;
$fkg->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'fk_guard'
fk_guard.max_violations = $ring
fk_guard.max_query_length = 4096
fk_guard.log_format = 'json'
});
$_->start for $vanilla, $fkg, $recorder;
my %out = (vanilla => run_suite($vanilla), fk_guard => run_suite($fkg), recorder => run_suite($recorder, $record_catalogs));
$_->stop for $vanilla, $recorder;

# 1. The client sees the same output. Masked: nothing so far (both servers
# assign the same OIDs: the fk_guard database is created after the run).
my @differ;
for my $test (@schedule)
{
	my ($a, $b) = map { $out{$_}{$test} // '' } qw(vanilla fk_guard);
	next if $a eq $b;
	push @differ, $test;
	my $dir = PostgreSQL::Test::Utils::tempdir();
	PostgreSQL::Test::Utils::append_to_file("$dir/vanilla", Encode::encode('UTF-8', $a));
	PostgreSQL::Test::Utils::append_to_file("$dir/fk_guard", Encode::encode('UTF-8', $b));
	my ($diff) = PostgreSQL::Test::Utils::run_command([ 'diff', '-u', "$dir/vanilla", "$dir/fk_guard" ]);
	diag "$test.out differs with fk_guard preloaded:\n" . join("\n", (split /\n/, $diff)[ 0 .. 80 ]);
}
is("@differ", '', 'every result file is identical with and without fk_guard');

# What fk_guard recorded: the view (read from a database of its own, created
# now so that it shifted no OID in the suite's output) and the log lines.
$fkg->safe_psql('postgres', 'CREATE DATABASE fk_guard_views');
$fkg->safe_psql('fk_guard_views', 'CREATE EXTENSION fk_guard');
my $json = JSON::PP->new->utf8;
my @rows = @{ $json->decode($fkg->safe_psql('fk_guard_views',
	q{SELECT coalesce(json_agg(v), '[]') FROM fk_violations v})) };
my @lines = map { $json->decode($_) } fk_guard_messages(slurp_file($fkg->logfile));
# fk_violation_stats counts the violations of the database it is read in:
# the suite's, whose output is complete.
$fkg->safe_psql('regression', 'CREATE EXTENSION fk_guard');
my @stats = @{ $json->decode($fkg->safe_psql('regression',
	q{SELECT coalesce(json_agg(s), '[]') FROM fk_violation_stats s})) };
$fkg->stop;
ok(@rows < $ring, scalar(@rows) . " records, fewer than the ring's $ring slots: none was overwritten");

# The RI errors a node's clients got, in order, each with its file's name.
sub client_errors
{
	my ($node) = @_;
	return map { my $test = $_; map { { %$_, test => $test } } ri_errors($out{$node}{$test} // '') } @schedule;
}
my @errors = client_errors('fk_guard');
my @caught = grep { $_->{handled} } @rows;
my @raised = grep { !$_->{handled} } @rows;
note sprintf('client-visible RI errors: %d; records: %d (%d reached the client, %d caught by server-side code)',
	scalar @errors, scalar @rows, scalar @raised, scalar @caught);

# Names, as quote_qualified_identifier writes them.
my $ident = qr/(?:"(?:[^"]|"")+"|[^".]+)/;
sub name_parts
{
	my ($name) = @_;
	return () unless defined $name && $name =~ /^($ident)(?:\.($ident))?$/;
	return map { s/^"(.*)"$/$1/sr =~ s/""/"/gr } grep { defined } $1, $2;
}
sub relname { (name_parts($_[0]))[-1] // '' }

# Mismatches, as details listed per kind, until the check they belong to
# reports them: a count and the first few of each kind.
my %mismatches;
sub report
{
	my ($check) = @_;
	my $total = 0;
	for my $what (sort keys %mismatches)
	{
		my @list = @{ $mismatches{$what} };
		$total += @list;
		$#list = $show - 1 if @list > $show;
		diag sprintf("%d x %s, e.g.:\n  %s", scalar @{ $mismatches{$what} }, $what, join("\n  ", @list));
	}
	diag "$check: $total mismatches of " . scalar(keys %mismatches) . ' kinds' if $total;
	is($total, 0, $check);
	%mismatches = ();
}
sub mismatch
{
	my ($what, $record, $detail) = @_;
	push @{ $mismatches{$what} }, !$record ? $detail : "$detail\n    record: "
	  . join(' ', map { "$_=" . ($record->{$_} // 'NULL') }
		qw(application_name constraint_name child_table child_partition parent_table parent_partition side operation
		  deferred handled key query));
}
sub same { (defined $_[0] ? "$_[0]" : 'NULL') eq (defined $_[1] ? "$_[1]" : 'NULL') }

# 2. Every RI error the client saw is one record, in the same order.
is(scalar @raised, scalar @errors, 'every client-visible RI error is recorded once (handled = false)');

# 3. The view and the log line of each record agree (each record is one line,
# written as it is recorded: the same order).
my %view_of_log = (constraint => 'constraint_name', user => 'username', at_commit => 'deferred');
is(scalar @lines, scalar @rows, 'one log line per record');
for my $i (0 .. $#rows)
{
	my ($row, $line) = ($rows[$i], $lines[$i] // {});
	for my $field (qw(constraint child_table parent_table child_partition parent_partition side operation at_commit
		handled key query database user application_name pid))
	{
		my ($v, $l) = ($row->{ $view_of_log{$field} // $field }, $line->{$field});
		mismatch("view/log disagree on $field", $row, "log has " . ($l // 'NULL')) unless same($v, $l);
	}
	# The JSON line has partition keys only when they name one.
	mismatch("log line has $_ null", $row, '') for grep { exists $line->{$_} && !defined $line->{$_} }
	  qw(child_partition parent_partition);
	# What only the log line has, for the checks below.
	$row->{$_} = $line->{$_} for qw(fk_columns parent_columns deferrable initially_deferred);
}
report('fk_violations and the log lines agree field by field');
ok(exists $rows[0]{child_partition} && exists $rows[0]{parent_partition},
	'fk_violations has child_partition and parent_partition') if @rows;

# The foreign keys the recorder logged last before each RI error it logged:
# what the catalogs said when that error was raised. Its errors are the ones
# fk_guard's clients got (the event trigger changes no result but OIDs).
# (A DDL statement rolled back later leaves its state logged until the next
# one: a mismatch right after such a rollback may be the recorder's.)
my (@foreign_keys_at_error, $logged);
for (split /\n/, slurp_file($recorder->logfile))
{
	next unless /^\d{4}-\d\d-\d\d [\d:.]+ \S+ \[\d+\] (?:.*? )?(LOG|ERROR):  (.*)$/;
	if ($1 eq 'LOG' && $2 =~ /^fkg_recorder: (.*)/) { $logged = $1 }
	elsif ($1 eq 'ERROR' && ri_errors("ERROR:  $2")) { push @foreign_keys_at_error, $logged }
}
my $sequence = sub { join ' ', map { $_->{test}, $_->{side}, $_->{constraint}, $_->{key} // '' } @_ };
is($sequence->(client_errors('recorder')), $sequence->(@errors), 'the recorder\'s clients got the same RI errors');
is(scalar @foreign_keys_at_error, scalar @errors, 'the recorder logged each of them');

# The foreign keys of one logged state: by name and table, and the one each
# was declared as (following conparentid to the top) with its clones.
my %catalogs;
sub catalog_at
{
	my ($logged) = @_;
	return $catalogs{$logged} //= do
	{
		my %by_oid = map { $_->{oid} => $_ } @{ decode_json($logged) };
		my $declared_of = sub {
			my ($c) = @_;
			$c = $by_oid{ $c->{conparentid} } while $c->{conparentid} && $by_oid{ $c->{conparentid} };
			return $c;
		};
		my (%by_name, %clones);
		for my $c (values %by_oid)
		{
			my $declared = $declared_of->($c);
			$by_name{"$c->{conname}\0$c->{child}"} = { %$c, declared => $declared };
			push @{ $clones{ $declared->{oid} } }, $c;
		}
		{ by_name => \%by_name, clones => \%clones };
	};
}

# A record's declared foreign key and its clones, when the catalogs had the
# constraint it names as its error was raised (not for a caught one, nor
# for a foreign key being added by the failing statement).
sub declared_in_catalog
{
	my ($r) = @_;
	return () unless $r->{error} && defined $r->{error}{foreign_keys};
	my $catalog = catalog_at($r->{error}{foreign_keys});
	my $c = $catalog->{by_name}{"$r->{constraint_name}\0" . ($r->{child_table} // '')} or return ();
	return ($c->{declared}, $catalog->{clones}{ $c->{declared}{oid} });
}

# The operation a record must name, from the statement the client ran; undef
# when its first words do not tell (SELECT f(), DO, CALL, WITH, EXECUTE).
sub expected_operation
{
	my ($record) = @_;
	(my $q = $record->{query} // '') =~ s{^(?:\s+|--[^\n]*\n|/\*.*?\*/)*}{}s;
	return 'COMMIT' if $q =~ /^(?:COMMIT|END)\b/i;
	return 'PREPARE' if $q =~ /^PREPARE\s+TRANSACTION\b/i;
	return 'SET CONSTRAINTS' if $q =~ /^SET\s+CONSTRAINTS\b/i;
	return undef unless $q =~ /^(INSERT|UPDATE|DELETE|MERGE|COPY|ALTER\s+TABLE)\b/i;
	# A deferred check failing at the end of an autocommit statement.
	return 'COMMIT' if $record->{deferred} && $record->{deferrable};
	return uc($1) =~ s/\s+/ /r;
}

# Each record that reached the client goes with its error, in order.
$raised[$_]{error} = $errors[$_] for 0 .. ($#raised < $#errors ? $#raised : $#errors);
$errors[$_]{foreign_keys} = $foreign_keys_at_error[$_] for 0 .. $#errors;

# 4a. Each record on its own, and against the catalogs of the moment its
# error was raised.
my %not_in_catalogs = (caught => 0, 'added by the failing statement' => 0);
for my $r (@rows)
{
	for my $field (qw(child_table parent_table child_partition parent_partition))
	{
		next if !defined $r->{$field} && $field =~ /partition/;
		mismatch('table not schema-qualified', $r, $field) unless name_parts($r->{$field}) == 2;
	}
	mismatch('columns missing', $r, 'fk_columns ' . encode_json($r->{fk_columns} // []) . ' parent_columns '
		  . encode_json($r->{parent_columns} // []))
	  unless @{ $r->{fk_columns} // [] } && @{ $r->{fk_columns} // [] } == @{ $r->{parent_columns} // [] };
	mismatch('deferred out of place', $r, "deferred = $r->{deferred} for operation $r->{operation}")
	  unless same($r->{deferred} ? 1 : 0, ($r->{operation} =~ /^(?:COMMIT|PREPARE|SET CONSTRAINTS)$/ ? 1 : 0));
	mismatch('not the regression database', $r, "database $r->{database}") unless $r->{database} eq 'regression';

	my ($c, $clones) = declared_in_catalog($r);
	if (!$c)
	{
		$not_in_catalogs{ $r->{handled} ? 'caught' : 'added by the failing statement' }++;
		next;
	}
	my %declared = (constraint_name => $c->{conname}, child_table => $c->{child}, parent_table => $c->{parent},
		map { $_ => $c->{$_} } qw(fk_columns parent_columns deferrable initially_deferred));
	for my $field (sort keys %declared)
	{
		my ($mine, $theirs) = map { ref($_) eq 'ARRAY' ? "@$_" : $_ } $r->{$field}, $declared{$field};
		mismatch("$field is not the declared constraint's", $r, "catalog: " . ($theirs // 'NULL'))
		  unless same($mine, $theirs);
	}
	# A partition is the table of one of the declared key's clones (but
	# ATTACH PARTITION creates its clones in the statement that failed).
	next if ($r->{query} // '') =~ /\bATTACH\s+PARTITION\b/i;
	for (['child_partition', 'child'], ['parent_partition', 'parent'])
	{
		my ($field, $side) = @$_;
		next unless defined $r->{$field};
		mismatch("$field is no clone's table", $r, 'clones: ' . join(', ', map { $_->{$side} } @$clones))
		  unless $r->{$field} ne $c->{$side} && grep { $_->{$side} eq $r->{$field} } @$clones;
	}
}
note sprintf('records checked against the catalogs: %d; whose constraint the catalogs did not have: %s',
	@rows - sum(values %not_in_catalogs), join(', ', map { "$not_in_catalogs{$_} $_" } sort keys %not_in_catalogs));
report('every record names qualified tables and its columns, and agrees with the catalogs');

# 4b. Each record that reached the client against its error.
for my $r (grep { $_->{error} } @raised)
{
	my $e = $r->{error};
	my $where = "$e->{test}.out line $e->{line}";
	my $say = sub { mismatch($_[0], $r, "$where: $_[1]") };
	$say->('side', "error's side $e->{side}") unless $r->{side} eq $e->{side};
	$say->('key', 'DETAIL shows ' . ($e->{key} // 'no key')) unless same($r->{key}, $e->{key});
	$say->('application_name', "error in $e->{test}") unless same($r->{application_name}, "pg_regress/$e->{test}");
	$say->('query not the statement run', 'not in the output before the error')
	  unless defined $r->{query} && index($e->{before}, $r->{query}) >= 0;
	# The DETAIL lists the key columns of the table it names: the referencing
	# ones for a missing parent row, the referenced ones for a row still
	# referenced.
	my $columns = $r->{ $e->{side} eq 'child' ? 'fk_columns' : 'parent_columns' } // [];
	$say->('columns differ from the DETAIL\'s', "DETAIL key $e->{key}")
	  if defined $e->{key} && index($e->{key}, '(' . join(', ', @$columns) . ')=(') != 0;
	my $op = expected_operation($r);
	$say->('operation', "the statement is a $op") if $op && $op ne $r->{operation};
	# The error names the relations of the clone that raised it: the partition
	# when there is one, else the declared table.
	$say->('child table or partition', qq{error names "$e->{child}"})
	  if defined $e->{child} && relname($r->{child_partition} // $r->{child_table}) ne $e->{child};
	$say->('parent table or partition', qq{error names "$e->{parent}"})
	  if defined $e->{parent} && relname($r->{parent_partition} // $r->{parent_table}) ne $e->{parent};
	# The error names the clone that raised it: one of the declared
	# constraint's clones in the catalogs (when they had it: else the
	# declared name, or a clone's: the declared name and a number).
	my ($c, $clones) = declared_in_catalog($r);
	$say->('constraint_name', qq{error names "$e->{constraint}"})
	  unless $c ? (grep { $_->{conname} eq $e->{constraint} } @$clones) || adopted_by_attach($r, $e, $c)
	  : $e->{constraint} =~ /^\Q$r->{constraint_name}\E\d*$/;
}

# PostgreSQL 18's ATTACH PARTITION adopts a matching foreign key of the
# partition, a NOT VALID one too, as a clone of the declared one and then
# validates it: the error names the partition's foreign key, which the
# catalogs logged before the failing statement still show declared on its own.
sub adopted_by_attach
{
	my ($r, $e, $c) = @_;
	return 0 unless ($r->{query} // '') =~ /\bATTACH\s+PARTITION\b/i;
	my $catalog = catalog_at($r->{error}{foreign_keys});
	return grep {
		$_->{conname} eq $e->{constraint} && relname($_->{child}) eq ($e->{child} // '')
		  && $_->{parent} eq $c->{parent} && "@{ $_->{fk_columns} }" eq "@{ $c->{fk_columns} }"
		  && "@{ $_->{parent_columns} }" eq "@{ $c->{parent_columns} }"
	} values %{ $catalog->{by_name} };
}
report('every record that reached the client agrees with its error');

# 5. fk_violation_stats counts each record in its declared constraint's row
# (rows of the same names, for a table dropped and created again, add up).
sub names { join ' ', map { $_ // 'NULL' } @{ $_[0] }{qw(constraint_name child_table parent_table)} }
my (%recorded, %counted);
for my $r (@rows)
{
	my $t = $recorded{ names($r) } //= [ 0, 0 ];
	$t->[0]++;
	$t->[1]++ if $r->{handled};
}
for my $s (@stats)
{
	my $t = $counted{ names($s) } //= [ 0, 0 ];
	$t->[0] += $s->{violations};
	$t->[1] += $s->{handled};
}
for my $key (sort(uniq(keys %recorded, keys %counted)))
{
	my ($r, $c) = map { "@{ $_->{$key} // [ 0, 0 ] }" } \%recorded, \%counted;
	mismatch('fk_violation_stats differs from the records', undef, "$key: (violations, handled) counted $c, recorded $r")
	  unless $r eq $c;
}

report('fk_violation_stats counts every record in its declared constraint\'s row');
note sprintf('took %d s', time - $started);

done_testing();
