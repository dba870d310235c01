# Property test of fk_orphans() and fk_orphan_summary() (issue 9): random
# schemas and data (FkgFuzz.pm), each row judged by PostgreSQL's own RI check,
# and both functions compared with that verdict under every join method, for
# the table, one of its partitions and the whole database.  The one-pass
# engine must also list its rows in the order the planner's path lists them
# (partition OID, then ctid).
#
#   FKG_FUZZ_SEED   seed (default fixed, so CI runs the same cases; "random"
#                   draws one from the clock and prints it)
#   FKG_FUZZ_CASES  number of cases (default 400: about 2 minutes on 2 cores)
#   FKG_FUZZ_CASE   run only this case of the seed (to replay a failure)
#
# A mismatch prints the seed, the case and a reproduction: the case's CREATE
# statements and only the rows in question (the first three of each kind are
# replayed in a fresh database to check that they reproduce).  The closing
# lines count cases, rows and mismatches by kind and likely cause.
use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use lib dirname(abs_path(__FILE__));
use FkgFuzz;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes ();

my $seed = $ENV{FKG_FUZZ_SEED} // 9;
$seed = time % 1000000 if $seed eq 'random';
my $ncases = $ENV{FKG_FUZZ_CASES} // 400;
my @cases  = $ENV{FKG_FUZZ_CASE} ? ($ENV{FKG_FUZZ_CASE}) : (1 .. $ncases);
note "fuzz seed $seed (replay one case with FKG_FUZZ_SEED=$seed FKG_FUZZ_CASE=n)";

my $node = PostgreSQL::Test::Cluster->new('fuzz');
# ICU collations need a UTF8 database.
$node->init(extra => [ '--encoding=UTF8', '--locale=C.UTF-8' ]);
$node->append_conf('postgresql.conf', "fsync = off\nmax_worker_processes = 8\nmax_parallel_workers = 4");
$node->start;
# citext comes with contrib, which a server built from the vendored trees lacks.
if ($node->safe_psql('postgres', q{SELECT count(*) FROM pg_available_extensions WHERE name = 'citext'}) == 0)
{
	note 'citext is not installed for this server: the cases use no citext';
	FkgFuzz::without_citext();
}
$node->safe_psql('postgres', "CREATE DATABASE fuzz_template");
$node->safe_psql('fuzz_template', $FkgFuzz::PRELUDE . $FkgFuzz::HELPERS);

# Targets and join methods each case is checked under (FkgFuzz's case_report).
# 'default' is fk_guard's own choice of engine, 'onepass' forces the one-pass
# engine, the join methods force the planner's path (fk_guard.orphan_engine).
my @variants = (
	(map { "child:$_" } qw(default onepass hash merge nestloop)),
	'part:default', 'part:onepass', 'part:nestloop', 'all:default', 'all:onepass', 'all:hash',
	(map { "child:$_:summary" } qw(default onepass hash merge nestloop)),
	'all:default:summary', 'all:onepass:summary');

my (%tally, %first, %covered, %verdicts, $rows_checked, $redrawn, $failed_cases);
my $started = Time::HiRes::time();
$node->safe_psql('postgres', 'CREATE DATABASE fuzz TEMPLATE fuzz_template');
for my $n (@cases)
{
	srand($seed * 100003 + $n);
	my ($case, $err);
	for my $attempt (1 .. 8)
	{
		$case = FkgFuzz::generate_case();
		$err = setup($node, 'fuzz', $case);
		last unless $err;
		$redrawn++;
		note "case $n: drawn again after: $err";
	}
	BAIL_OUT("case $n: no valid case in 8 draws: $err") if $err;
	my @v = (@variants, $n % 4 == 0 ? ('child:parallel') : ());
	my $report = report($node, 'fuzz', $case, \@v);
	$rows_checked += keys %{ $report->{verdict} };
	$covered{$_}++ for @{ $case->{features} };
	$verdicts{ $_ =~ /^error (\w+)/ ? "cannot judge ($1)" : $_ }++ for values %{ $report->{verdict} };
	my @mismatches = compare($report, \@v);
	next unless @mismatches;
	$_->{category} .= ' - likely cause: ' . likely_cause($_, $case, $report) for @mismatches;

	$failed_cases++;
	my %ids;
	for my $m (@mismatches)
	{
		$tally{ $m->{category} } += @{ $m->{ids} } || 1;
		push @{ $first{ $m->{category} } }, $n;
		$ids{$_} = 1 for @{ $m->{ids} };
	}
	# a count needs the rows it counts
	if (grep { !@{ $_->{ids} } } @mismatches)
	{
		$ids{$_} = 1 for grep { $report->{verdict}{$_} ne 'ok' } keys %{ $report->{verdict} };
	}
	my $repro = reproduction($node, $case, $n, $report, [ sort { $a <=> $b } keys %ids ], \@mismatches);
	# the first cases of each category are replayed in a fresh database, and
	# the first one is printed to the terminal (the others go to the log)
	my $confirmed = !(grep { @{ $first{ $_->{category} } } <= 3 } @mismatches) ? 'not replayed'
	  : confirm($node, $repro, $case, \@v, \@mismatches) ? 'reproduces in a fresh database'
	  : 'did NOT reproduce in a fresh database (depends on physical layout or statistics)';
	my $text = "seed $seed case $n: " . join('; ', map { $_->{category} } @mismatches)
	  . "\n-- reproduction ($confirmed):\n$repro";
	(grep { $first{ $_->{category} }[0] == $n } @mismatches) ? diag($text) : note($text);
}
my $elapsed = Time::HiRes::time() - $started;

my $total = 0;
$total += $_ for values %tally;
diag(sprintf "fuzz seed %s: %d cases (%d drawn again after a DDL error), %d rows judged by PostgreSQL and "
	  . "checked under %d targets and plans each, in %.0f s; %d mismatches in %d cases",
	$seed, scalar @cases, $redrawn // 0, $rows_checked // 0, scalar @variants, $elapsed, $total, $failed_cases // 0);
note('covered (cases): ' . join(', ', map { "$_ $covered{$_}" } sort keys %covered));
diag('PostgreSQL verdicts (rows): ' . join(', ', map { "$_ $verdicts{$_}" } sort keys %verdicts));
diag(sprintf "  %5d  %s  (cases %s)", $tally{$_}, $_, join(' ', (@{ $first{$_} })[ 0 .. ($#{ $first{$_} } < 4 ? $#{ $first{$_} } : 4) ]))
  for sort { $tally{$b} <=> $tally{$a} || $a cmp $b } keys %tally;
is($total, 0, "fk_orphans and fk_orphan_summary agree with PostgreSQL's RI check on every row of "
	  . scalar(@cases) . " random cases");
$node->stop;
done_testing();

# Creates a case in schema fz; returns the error that stopped it, if any.
sub setup
{
	my ($node, $db, $case) = @_;
	my $sql = join "\n", 'DROP SCHEMA IF EXISTS fz CASCADE; CREATE SCHEMA fz; SET search_path = fz, public;',
	  @{ $case->{schema} }, @{ $case->{data} };
	my ($ret, $out, $err) = $node->psql($db, $sql, on_error_stop => 1);
	return $ret ? ($err =~ /ERROR:\s+(.*)/ ? $1 : $err) : undef;
}

# case_report's rows, sorted by kind.
sub report
{
	my ($node, $db, $case, $variants) = @_;
	my $list = join ', ', map { "'$_'" } @$variants;
	my $out = $node->safe_psql($db,
		"SET search_path = fz, public; SELECT * FROM fuzz.case_report('$case->{child}', ARRAY[$list])");
	my %r = (target => '');
	for (split /\n/, $out)
	{
		my ($kind, $variant, $id, $info) = split /\|/, $_, 4;
		if ($kind eq 'verdict')
		{
			$r{verdict}{$id} = $info;
			$r{top}{$id} = (split / /, $variant)[1];
		}
		elsif ($kind eq 'missing_keys') { $r{missing_keys} = $info }
		elsif ($kind eq 'target') { $r{target} = $variant }
		elsif ($kind eq 'listed')
		{
			$r{listed}{$variant}{$id}++;
			push @{ $r{order}{$variant} }, $id if $id ne '';
			push @{ $r{wrong_key}{$variant} }, $id if $info ne 'key ok';
		}
		elsif ($kind eq 'summary')
		{
			my ($con, $rows, $keys) = split / /, $info;
			$r{summary}{$variant}{$con} = [ $rows, $keys ];
		}
		elsif ($kind eq 'raised') { $r{raised}{$variant} = $info }
		else { $r{$kind}{$variant}++ }    # bogus, sentinel
	}
	return \%r;
}

# The disagreements of one case's report, each {kind, variant, ids}, merged
# into one per kind and row with the variants it appeared under.
sub compare
{
	my ($r, $variants) = @_;
	my %verdict = %{ $r->{verdict} || {} };
	my @unjudged = grep { $verdict{$_} =~ /^error/ } keys %verdict;
	my $orphans = grep { $verdict{$_} eq 'orphan' } keys %verdict;
	my @found;
	my $add = sub { my ($kind, $v, @ids) = @_; push @found, [ $kind, $v, $_ ] for @ids ? @ids : (undef) };
	for my $v (@$variants)
	{
		my ($target, $plan, $summary) = split /:/, $v;
		next if $target eq 'part' && !$r->{target};
		my @scope = grep { $target ne 'part' || $r->{top}{$_} eq $r->{target} } keys %verdict;
		my $unjudged = grep { $verdict{$_} =~ /^error/ } @scope;
		if (my $error = $r->{raised}{$v})
		{
			# "An explicit target call may still raise it."
			$add->("call raised $error", $v) unless $unjudged && $target ne 'all';
			next;
		}
		$add->('sentinel foreign key lost', $v) if $target eq 'all' && !$summary && ($r->{sentinel}{$v} // 0) != 1;
		if ($summary)
		{
			my $s = $r->{summary}{$v}{fk};
			my $sentinel = $r->{summary}{$v}{sentinel_fk};
			$add->('sentinel summary wrong', $v) if $target eq 'all' && "@{ $sentinel || [] }" ne '1 1';
			if (!$s) { $add->('no summary row', $v) }
			elsif ($unjudged) { $add->('unjudgeable key given counts', $v) if $s->[0] ne 'NULL' }
			else
			{
				$add->("orphan_rows $s->[0], PostgreSQL $orphans", $v) if $s->[0] ne $orphans;
				$add->("missing_keys $s->[1], PostgreSQL $r->{missing_keys}", $v)
				  if $r->{missing_keys} =~ /^\d+$/ && $s->[1] ne $r->{missing_keys};
			}
			next;
		}
		my $listed = $r->{listed}{$v} || {};
		# a database-wide call reports a key PostgreSQL cannot check as not
		# checkable: no rows of it
		next if $unjudged && $target eq 'all' && !%$listed;
		for my $id (@scope)
		{
			my ($pg, $ours) = ($verdict{$id}, $listed->{$id} // 0);
			if    ($pg =~ /^error/) { $add->('unjudgeable row listed', $v, $id) if $ours }
			elsif ($pg eq 'orphan' && !$ours) { $add->('orphan not listed', $v, $id) }
			elsif ($pg eq 'ok' && $ours) { $add->('accepted row listed', $v, $id) }
			$add->('row listed twice', $v, $id) if $ours > 1;
		}
		my %in = map { $_ => 1 } @scope;
		$add->('row of another partition listed', $v, grep { !$in{$_} } keys %$listed) if grep { !$in{$_} } keys %$listed;
		$add->('wrong key', $v, @{ $r->{wrong_key}{$v} }) if $r->{wrong_key}{$v};
		$add->('listed row not in the table', $v) if $r->{bogus}{$v};
		# the one pass lists the rows in the planner's order (tableoid, ctid)
		my ($reference) = grep { /^$target:(hash|nestloop)$/ && !$r->{raised}{$_} } @$variants;
		$add->("rows in another order than under $reference", $v)
		  if $plan eq 'onepass' && $reference
		  && join(',', @{ $r->{order}{$v} || [] }) ne join(',', @{ $r->{order}{$reference} || [] });
	}
	# one mismatch per kind and row, naming the variants it appeared under
	my %merged;
	for (@found)
	{
		my ($kind, $v, $id) = @$_;
		my $key = $kind . "\0" . ($id // '');
		$merged{$key} //= { kind => $kind, id => $id, variants => [] };
		push @{ $merged{$key}{variants} }, $v;
	}
	# the category: the kind, and the join methods it shows under
	my $plans = sub { my %p = map { (split /:/)[1] => 1 } @_; return join ', ', sort keys %p };
	my %by_category;
	for my $m (values %merged)
	{
		my $summary = $m->{variants}[0] =~ /summary/;
		my $all = $plans->(grep { /summary/ ? $summary : !$summary } @$variants);
		my $where = $plans->(@{ $m->{variants} });
		(my $kind = $m->{kind}) =~ s/\d+/N/g;
		my $category = "$kind (" . ($where eq $all ? 'every plan' : "plans: $where") . ')';
		my $c = $by_category{$category} //= { category => $category, kind => $kind, ids => [], plans => $where,
			plans_text => $where eq $all ? 'every plan' : $where };
		push @{ $c->{ids} }, $m->{id} if defined $m->{id};
		push @{ $c->{variants} }, @{ $m->{variants} };
		push @{ $c->{details} }, "$m->{kind}" . (defined $m->{id} ? " (id $m->{id})" : '') . ' under ' . join(', ', sort @{ $m->{variants} });
	}
	return map { $by_category{$_} } sort keys %by_category;
}

# The cause a mismatch most likely has, of those issue 9 names: PostgreSQL's
# own check failing, a hash join splitting what the constraint's equality
# joins (name under a nondeterministic collation), composite keys' null test,
# counting keys under the referencing column's equality.
sub likely_cause
{
	my ($m, $case, $report) = @_;
	my %has = %{ $case->{has} };
	if ($m->{kind} =~ /unjudgeable/)
	{
		my %states = map { /^error (\w+)/ ? ($1 => 1) : () } values %{ $report->{verdict} };
		return 'PostgreSQL cannot check these rows (' . join(', ', sort keys %states) . ')';
	}
	return 'a cast that overflows, which PostgreSQL\'s own check evaluates or not depending on its plan'
	  if (grep { /out of range/ } values %{ $report->{raised} || {} })
	  && ($m->{kind} =~ /raised|NULL/ || !grep { !/^all:/ } @{ $m->{variants} });
	return 'PostgreSQL\'s own check prunes the wrong hash partition (cross-type key, nondeterministic collation)'
	  if $case->{has}{hash_pruning} && $m->{kind} =~ /orphan not listed|orphan_rows|missing_keys/;
	my $every = $m->{plans_text} eq 'every plan';
	return 'name under a nondeterministic collation' if !$every && $m->{plans_text} =~ /hash/ && $has{name_nondeterministic};
	return 'composite key' if $every && $has{composite};
	return 'missing_keys counted under the referencing column\'s equality' if $m->{kind} =~ /missing_keys/ && $has{differs};
	return 'name under a nondeterministic collation' if $has{name_nondeterministic};
	return 'none known';
}

# The SQL that rebuilds the case with only the rows in question.
sub reproduction
{
	my ($node, $case, $n, $report, $ids, $mismatches) = @_;
	my @keys = @{ $case->{keys} };
	my @pcols = map { FkgFuzz::qi($_->{parent}{name}) } @keys;
	my @ccols = map { FkgFuzz::qi($_->{child}{name}) } @keys;
	my $in = @$ids ? join(', ', @$ids) : 'NULL';
	my $rows = sub {
		my ($table, $id, $where, @exprs) = @_;
		return $node->safe_psql('fuzz', "SET search_path = fz, public; SELECT string_agg(format('(%s)', concat_ws(', ', "
			  . join(', ', "quote_nullable($id)", @exprs) . ")), E',\\n  ' ORDER BY $id) FROM $table WHERE $where");
	};
	my @inserts;
	if ($case->{selfref})
	{
		# every row is a parent; only the rows in question keep their reference
		push @inserts, "INSERT INTO t (id, " . join(', ', @pcols, @ccols) . ") VALUES\n  "
		  . $rows->('t', 'id', 'true', (map { "quote_nullable($_)" } @pcols),
			map { "CASE WHEN id IN ($in) THEN quote_nullable($_) ELSE 'NULL' END" } @ccols) . ';';
	}
	else
	{
		my $p = $rows->('p', 'pid', 'true', map { "quote_nullable($_)" } @pcols);
		push @inserts, "INSERT INTO p (pid, " . join(', ', @pcols) . ") VALUES\n  $p;" if $p ne '';
		push @inserts, "INSERT INTO c (id, " . join(', ', @ccols) . ") VALUES\n  "
		  . $rows->('c', 'id', "id IN ($in)", map { "quote_nullable($_)" } @ccols) . ';';
	}
	(my $check = $case->{fk}) =~ s/^ALTER TABLE (\w+) ADD CONSTRAINT fk /ALTER TABLE $1_check ADD CONSTRAINT fk_check /;
	$check =~ s/ (DEFERRABLE INITIALLY DEFERRED|NOT VALID)//g;
	my %plans = map { $_ => 1 } map { split /, / } map { $_->{plans} } @$mismatches;
	my $off = sub { join '', map { "SET enable_$_ = off; " } @_ };
	my $planner = 'SET fk_guard.orphan_engine = planner; ';
	my %set = (
		default  => '',
		onepass  => 'SET fk_guard.orphan_engine = one_pass; ',
		hash     => $planner . $off->(qw(mergejoin indexscan indexonlyscan bitmapscan)),
		merge    => $planner . $off->(qw(hashjoin indexscan indexonlyscan bitmapscan)),
		nestloop => $planner . $off->(qw(hashjoin mergejoin)),
		parallel => $planner . $off->(qw(mergejoin indexscan indexonlyscan bitmapscan)) . 'SET parallel_setup_cost = 0; '
		  . 'SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 2; ');
	%plans = (default => 1) if !%plans || grep { !exists $set{$_} } keys %plans;
	return join "\n", "-- seed $seed case $n: $case->{summary}", $FkgFuzz::PRELUDE . 'SET search_path = public;',
	  (grep { $_ ne $case->{fk} || !$case->{notvalid} } @{ $case->{schema} }),
	  'SET session_replication_role = replica;', @inserts, 'RESET session_replication_role;',
	  ($case->{notvalid} ? $case->{fk} : ()),
	  "-- PostgreSQL's verdict: its RI check on each row inserted into a copy with the same foreign key",
	  "CREATE TABLE $case->{child}_check (LIKE $case->{child});", $check,
	  (map { "INSERT INTO $case->{child}_check SELECT * FROM $case->{child} WHERE id = $_;  -- "
		  . ($report->{verdict}{$_} eq 'ok' ? 'accepted' : $report->{verdict}{$_} eq 'orphan' ? 'rejected (23503)' : $report->{verdict}{$_}) } @$ids),
	  (map { "-- fk_guard: $_" } sort map { @{ $_->{details} } } @$mismatches),
	  (map { "$set{$_}SELECT key, child_ctid FROM fk_orphans('$case->{child}'); "
		  . "SELECT orphan_rows, missing_keys FROM fk_orphan_summary('$case->{child}'); RESET ALL;  -- $_" } sort keys %plans),
	  '';
}

# Whether the reproduction, run in a fresh database, shows the same kinds of mismatch.
sub confirm
{
	my ($node, $repro, $case, $variants, $mismatches) = @_;
	$node->safe_psql('postgres', 'DROP DATABASE IF EXISTS repro; CREATE DATABASE repro TEMPLATE fuzz_template');
	(my $body = $repro) =~ s/\Q$FkgFuzz::PRELUDE\E//;
	$body =~ s/^SET search_path = public;/CREATE SCHEMA fz; SET search_path = fz, public;/m;
	$body =~ s/-- PostgreSQL's verdict.*//s;
	my ($ret) = $node->psql('repro', $body, on_error_stop => 1);
	return 0 if $ret;
	my @again = compare(report($node, 'repro', $case, $variants), $variants);
	my %again = map { $_->{kind} => 1 } @again;
	return !grep { !$again{ $_->{kind} } } @$mismatches;
}
