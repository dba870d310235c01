# PostgreSQL's own regression suite (a vendored tarball of a PostgreSQL 15
# tree's src/test/regress), for the cluster tests: unpacks it and builds its
# regress.so once per tarball into a cache outside the checkout, lays out an
# input directory for pg_regress, and reads foreign-key errors out of the
# result files. The repository holds none of PostgreSQL's files.
package PgRegressSuite;
use strict;
use warnings;
use Digest::SHA;
use Exporter 'import';
use File::Path qw(make_path remove_tree);
use File::Temp ();
use PostgreSQL::Test::Utils;

our @EXPORT = qw(prepare_suite input_dir scheduled scheduled_here ri_errors);

# Whether input_dir adapts the sql files to a later psql (psql_compatible):
# for the vendored 15.1 files run by a later 15.x psql. A suite from the
# server's own tree matches its psql: set this to 0.
our $psql_compatible = 1;

# The unpacked suite (its src/test/regress) and its regress.so, built against
# the server of the pg_config on PATH, under $cache/<tarball name>-<sha256>:
# built once, by whichever run comes first (in a private directory renamed
# into place, so concurrent runs never see half a tree).
sub prepare_suite
{
	my ($tarball, $cache) = @_;
	(my $name = $tarball) =~ s{^.*/|\.tar\.xz$}{}g;
	my $dir = "$cache/$name-" . Digest::SHA->new(256)->addfile($tarball)->hexdigest;
	my @prepared = ("$dir/src/test/regress", "$dir/build/regress.so");
	return @prepared if -f $prepared[1];

	make_path($cache);
	my $tmp = File::Temp::tempdir("$name.XXXXXX", DIR => $cache);
	system_or_bail('tar', '-xJf', $tarball, '-C', $tmp, '--strip-components=1');
	# regress.c is an ordinary extension module for the installed server.
	make_path("$tmp/build");
	PostgreSQL::Test::Utils::append_to_file("$tmp/build/Makefile",
		"MODULES = regress\noverride with_llvm = no\nPGXS := \$(shell pg_config --pgxs)\ninclude \$(PGXS)\n");
	system_or_bail('cp', "$tmp/src/test/regress/regress.c", "$tmp/build/");
	system_or_bail('make', '-s', '-C', "$tmp/build");
	remove_tree($tmp) unless rename($tmp, $dir);    # lost the race: use the winner's
	return @prepared;
}

# The tests in the order parallel_schedule runs them.
sub scheduled
{
	my ($suite, @tests) = @_;
	my @order = map { /^test:\s*(.*)/ ? split(' ', $1) : () } split /\n/, slurp_file("$suite/parallel_schedule");
	my %position = map { $order[$_] => $_ } 0 .. $#order;
	die "not in parallel_schedule: $_" for grep { !exists $position{$_} } @tests;
	return sort { $position{$a} <=> $position{$b} } @tests;
}

# True when the suite's parallel_schedule runs the test.
sub scheduled_here
{
	my ($suite, $test) = @_;
	return grep { /^test:\s*(.*)/ && grep { $_ eq $test } split(' ', $1) } split /\n/, slurp_file("$suite/parallel_schedule");
}

# An --inputdir (and --dlpath, its lib/) for pg_regress: the suite's data and
# expected files, its libraries and those of the installed server's contrib
# (the triggers test loads contrib/spi's autoinc and refint), and the tests'
# sql files as the suite's psql would run them (see psql_compatible).
sub input_dir
{
	my ($suite, $regress_so, $pkglibdir, $dir, @tests) = @_;
	make_path("$dir/sql", "$dir/lib");
	symlink("$suite/$_", "$dir/$_") or die "symlink $_: $!" for qw(data expected);
	symlink($regress_so, "$dir/lib/regress.so") or die "symlink regress.so: $!";
	symlink("$pkglibdir/$_.so", "$dir/lib/$_.so") or die "symlink $_.so: $!" for qw(autoinc refint);
	for my $test (@tests)
	{
		PostgreSQL::Test::Utils::append_to_file("$dir/sql/$test.sql",
			$psql_compatible
			? psql_compatible(slurp_file("$suite/sql/$test.sql"), slurp_file("$suite/expected/$test.out"))
			: slurp_file("$suite/sql/$test.sql"));
	}
	return $dir;
}

# A test's sql with a "\." line after each COPY ... FROM STDIN that its
# expected output shows failing before any data was sent. Since "Teach psql
# to skip in-line COPY ... FROM STDIN data after a failure" (backpatched into
# 15.x minor releases after 15.1), psql skips the input after such a failure
# up to a "\."; the 15.1 files have none there, so psql would swallow the rest
# of the file. PostgreSQL added the same lines to its own files with that fix;
# an older psql reports them as an invalid command, on both servers alike.
sub psql_compatible
{
	my ($sql, $expected) = @_;
	my @out = split /^/, $expected;
	my (%seen, %fails);
	for my $i (0 .. $#out - 1)
	{
		next unless $out[$i] =~ /^copy\b.*\bfrom\s+stdin\b/i;
		my $occurrence = ++$seen{ $out[$i] };
		next unless $out[ $i + 1 ] =~ /^ERROR:/;
		my $j = $i + 2;
		$j++ while $j < @out && $out[$j] =~ /^(?:DETAIL|HINT):/;
		# An error in the data itself has a COPY context: psql was in COPY mode.
		$fails{ $out[$i] }{$occurrence} = 1 unless $j < @out && $out[$j] =~ /^CONTEXT:  COPY /;
	}
	my %count;
	return join '', map { $_, ($fails{$_} && $fails{$_}{ ++$count{$_} } ? "\\.\n" : ()) } split /^/, $sql;
}

# The foreign-key violations a result file shows the client: every message
# ri_triggers.c raises with SQLSTATE 23503 (and from PostgreSQL 18 with 23001,
# for the referenced side of a RESTRICT key), with its DETAIL. Each is a hash:
# line, side (child, parent, match_full, partition), constraint, child (the
# referencing table's name) and parent (the referenced one's, when shown),
# key ("(cols)=(values)" when shown), and before: the output since the
# previous violation (it holds the statement that raised this one).
sub ri_errors
{
	my ($text) = @_;
	my @lines = split /\n/, $text;
	my (@errors, $since);
	for my $n (0 .. $#lines)
	{
		my $e;
		my $detail = $lines[ $n + 1 ] // '';
		if ($lines[$n] =~ /^ERROR:  insert or update on table "(.+)" violates foreign key constraint "(.+)"$/)
		{
			$e = { side => 'child', child => $1, constraint => $2 };
			if ($detail =~ /^DETAIL:  MATCH FULL does not allow mixing of null and nonnull key values\.$/)
			{
				$e->{side} = 'match_full';
			}
			elsif ($detail =~ /^DETAIL:  Key (?:(\(.*\)=\(.*\)) )?is not present in table "(.+)"\.$/)
			{
				@$e{qw(key parent)} = ($1, $2);
			}
		}
		elsif ($lines[$n] =~
			/^ERROR:  update or delete on table "(.+)" violates (?:RESTRICT setting of )?foreign key constraint "(.+)" on table "(.+)"$/)
		{
			$e = { side => 'parent', parent => $1, constraint => $2, child => $3 };
			$e->{key} = $1 if $detail =~ /^DETAIL:  Key (\(.*\)=\(.*\)) is (?:still )?referenced from table "(.+)"\.$/;
		}
		elsif ($lines[$n] =~ /^ERROR:  removing partition "(.+)" violates foreign key constraint "(.+)"$/)
		{
			$e = { side => 'partition', parent => $1, constraint => $2 };
			@$e{qw(key child)} = ($1, $2)
			  if $detail =~ /^DETAIL:  Key (\(.*\)=\(.*\)) is still referenced from table "(.+)"\.$/;
		}
		$since .= "$lines[$n]\n";
		next unless $e;
		$e->{line} = $n + 1;
		$e->{before} = $since;
		$since = '';
		push @errors, $e;
	}
	return @errors;
}

1;
