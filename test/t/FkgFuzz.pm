# FkgFuzz: random foreign-key cases for 040_orphans_fuzz.pl, and PostgreSQL's own
# verdict on each of their rows.
#
# A case is one foreign key "fk" from fz.c (or a self-referencing fz.t) to fz.p:
# 1-4 key columns of random types and collations in random orders, MATCH SIMPLE
# or FULL, either side partitioned (hash, list with DEFAULT, range; sometimes
# two levels; partitions built apart with their own column order and attached),
# dropped columns, and child rows planted the ways orphans get in (replica role,
# disabled triggers, NOT VALID, hard deletes of parents) next to rows PostgreSQL
# accepted on insert.  Everything is drawn from Perl's rand(), so a seed gives
# the same cases on every machine.
package FkgFuzz;

use strict;
use warnings;

# The objects every case may use, created once (and printed with each reproduction).
our $PRELUDE = <<'SQL';
CREATE EXTENSION IF NOT EXISTS fk_guard;
CREATE EXTENSION IF NOT EXISTS citext;
CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE COLLATION ai (provider = icu, locale = 'und-u-ks-level1', deterministic = false);
CREATE TYPE pair AS (a int, b int);
CREATE DOMAIN dpair AS pair;
CREATE TYPE mood AS ENUM ('red', 'green', 'blue');
CREATE DOMAIN small_id AS int CHECK (VALUE <> 12345);
CREATE DOMAIN label AS text CHECK (VALUE <> 'forbidden');
SQL

# The oracle, in SQL.  PostgreSQL's verdict on a row is what RI_FKey_check
# (ri_triggers.c) decides when the row is inserted: ri_NullCheck on the
# tuple's own null flags (so a composite whose fields are all NULL is a
# value, not a NULL), then SELECT 1 FROM [ONLY] p x WHERE pkatt = $n ... with
# the constraint's pf_eq_oprs, under the referenced column's collation, the
# parameters typed as the referencing columns.  Each row is therefore inserted
# again, in a subtransaction, into a copy of the referencing table (LIKE keeps
# types, typmods and collations) carrying the same foreign key, immediate and
# validated: 23503 is "orphan", any other error "PostgreSQL cannot judge it".
# The copy's operators are compared with the constraint's, so the check run is
# the constraint's own.  Rewriting the row in place would not do: an UPDATE
# that keeps the key is skipped (RI_FKey_fk_upd_check_required), and a DELETE
# and re-INSERT fires the parent-side checks of a self-reference and moves the
# row.  RI_Initial_Check (VALIDATE CONSTRAINT) is not the reference: it tests
# IS NOT NULL on row values and joins, so a hash join can split what the
# constraint's equality joins.
our $HELPERS = <<'SQL';
CREATE SCHEMA fuzz;
CREATE TYPE fuzz.verdict AS (id int, leaf regclass, verdict text);

-- "a, b": the columns attnums of rel, quoted, in order.
CREATE FUNCTION fuzz.columns(rel regclass, attnums int2[]) RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.n)
    FROM unnest(attnums) WITH ORDINALITY k(attnum, n)
    JOIN pg_attribute a ON a.attrelid = rel AND a.attnum = k.attnum
$$;
CREATE FUNCTION fuzz.column_types(rel regclass, attnums int2[]) RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(format('%s %s %s', a.atttypid, a.atttypmod, a.attcollation), ', ' ORDER BY k.n)
    FROM unnest(attnums) WITH ORDINALITY k(attnum, n)
    JOIN pg_attribute a ON a.attrelid = rel AND a.attnum = k.attnum
$$;

-- A copy of con's referencing table whose foreign key to referenced is
-- checked exactly as con is (same column types and collations, operators).
CREATE FUNCTION fuzz.referencing_copy(con oid, copy text, referenced regclass) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  c pg_constraint := (SELECT x FROM pg_constraint x WHERE x.oid = con);
  s pg_constraint;
BEGIN
  EXECUTE format('CREATE TABLE %s (LIKE %s)', copy, c.conrelid::regclass);
  EXECUTE format('ALTER TABLE %s ADD CONSTRAINT copy_fk FOREIGN KEY (%s) REFERENCES %s (%s) MATCH %s',
                 copy, fuzz.columns(c.conrelid, c.conkey), referenced, fuzz.columns(c.confrelid, c.confkey),
                 CASE c.confmatchtype WHEN 'f' THEN 'FULL' ELSE 'SIMPLE' END);
  SELECT * INTO s FROM pg_constraint x WHERE x.conrelid = copy::regclass AND x.conname = 'copy_fk';
  IF s.conpfeqop <> c.conpfeqop OR fuzz.column_types(s.conrelid, s.conkey) <> fuzz.column_types(c.conrelid, c.conkey)
     OR fuzz.column_types(s.confrelid, s.confkey) <> fuzz.column_types(c.confrelid, c.confkey) THEN
    RAISE EXCEPTION 'the copy of % would not be checked like it', c.conname;
  END IF;
END $$;

-- Inserts row (tableoid, ctid) of source into copy: 'ok', 'orphan' or 'error ...'.
CREATE FUNCTION fuzz.insert_verdict(copy text, source regclass, tab oid, row_ctid tid) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('INSERT INTO %s SELECT * FROM %s WHERE tableoid = $1 AND ctid = $2', copy, source) USING tab, row_ctid;
  RETURN 'ok';
EXCEPTION
  WHEN foreign_key_violation THEN RETURN 'orphan';
  WHEN OTHERS THEN RETURN 'error ' || SQLSTATE || ': ' || SQLERRM;
END $$;

-- PostgreSQL's verdict on every row of con's table (run with
-- session_replication_role = origin, so that the RI trigger fires).
CREATE FUNCTION fuzz.verdicts(con oid) RETURNS SETOF fuzz.verdict LANGUAGE plpgsql AS $$
DECLARE
  c pg_constraint := (SELECT x FROM pg_constraint x WHERE x.oid = con);
  r record;
BEGIN
  PERFORM fuzz.referencing_copy(con, 'fuzz.judge', c.confrelid::regclass);
  FOR r IN EXECUTE format('SELECT tableoid, ctid, id FROM %s ORDER BY id', c.conrelid::regclass) LOOP
    RETURN NEXT ROW(r.id, r.tableoid::regclass, fuzz.insert_verdict('fuzz.judge', c.conrelid::regclass, r.tableoid, r.ctid));
  END LOOP;
  DROP TABLE fuzz.judge;
END $$;

-- How many parent rows must be inserted to fix the complete keys of the
-- orphans: each orphan still refused gets a parent row made of its own key
-- (cast to the referenced types), in a scratch parent with the same unique
-- key, so keys equal under the constraint's equality count once.
CREATE FUNCTION fuzz.missing_keys(con oid, orphans int[]) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  c pg_constraint := (SELECT x FROM pg_constraint x WHERE x.oid = con);
  child regclass := c.conrelid;
  needed int := 0;
  r record;
BEGIN
  EXECUTE format('CREATE TABLE fuzz.keys_p (LIKE %s)', c.confrelid::regclass);
  EXECUTE format('ALTER TABLE fuzz.keys_p ADD UNIQUE (%s)', fuzz.columns(c.confrelid, c.confkey));
  PERFORM fuzz.referencing_copy(con, 'fuzz.keys_c', 'fuzz.keys_p');
  -- num_nulls tests each column's own null flag, as ri_NullCheck does
  FOR r IN EXECUTE format('SELECT tableoid, ctid, id FROM %s WHERE id = ANY ($1) AND num_nulls(%s) = 0 ORDER BY id',
                          child, fuzz.columns(c.conrelid, c.conkey)) USING orphans LOOP
    CONTINUE WHEN fuzz.insert_verdict('fuzz.keys_c', child, r.tableoid, r.ctid) = 'ok';
    EXECUTE format('INSERT INTO fuzz.keys_p (%s) SELECT %s FROM %s WHERE tableoid = $1 AND ctid = $2',
                   fuzz.columns(c.confrelid, c.confkey), fuzz.columns(c.conrelid, c.conkey), child)
      USING r.tableoid, r.ctid;
    needed := needed + 1;
    IF fuzz.insert_verdict('fuzz.keys_c', child, r.tableoid, r.ctid) <> 'ok' THEN
      RAISE EXCEPTION 'a parent made of row %''s key does not satisfy it', r.id;
    END IF;
  END LOOP;
  DROP TABLE fuzz.keys_c, fuzz.keys_p;
  RETURN needed;
EXCEPTION WHEN OTHERS THEN
  RETURN 'unknown: ' || SQLERRM;
END $$;

-- Join methods: 'default', or one of hash, merge, nestloop, parallel (hash),
-- all on the planner's path; or 'onepass', the one-pass engine.
-- Index scans are turned off to keep the nested loop out of the hash and merge
-- plans; enable_nestloop = off is not used for that, as it slows fk_guard's
-- catalog query down to seconds.
CREATE FUNCTION fuzz.plan(name text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  settings text[] := CASE name
    WHEN 'hash' THEN '{enable_mergejoin,enable_indexscan,enable_indexonlyscan,enable_bitmapscan}'
    WHEN 'merge' THEN '{enable_hashjoin,enable_indexscan,enable_indexonlyscan,enable_bitmapscan}'
    WHEN 'nestloop' THEN '{enable_hashjoin,enable_mergejoin}'
    WHEN 'parallel' THEN '{enable_mergejoin,enable_indexscan,enable_indexonlyscan,enable_bitmapscan}'
    ELSE '{}' END;
BEGIN
  PERFORM set_config(g, CASE WHEN g = ANY (settings) THEN 'off' ELSE 'on' END, true)
     FROM unnest('{enable_hashjoin,enable_mergejoin,enable_indexscan,enable_indexonlyscan,enable_bitmapscan}'::text[]) g;
  -- 'default' lets fk_guard choose its engine; 'onepass' forces the one-pass
  -- engine where it applies; the join methods are the planner's path.
  PERFORM set_config('fk_guard.orphan_engine', CASE name WHEN 'default' THEN 'auto' WHEN 'onepass' THEN 'one_pass'
                                                ELSE 'planner' END, true);
  PERFORM set_config('max_parallel_workers_per_gather', CASE WHEN name = 'parallel' THEN '2' ELSE '0' END, true),
          set_config('parallel_setup_cost', CASE WHEN name = 'parallel' THEN '0' ELSE '1000' END, true),
          set_config('parallel_tuple_cost', CASE WHEN name = 'parallel' THEN '0' ELSE '0.1' END, true),
          set_config('min_parallel_table_scan_size', CASE WHEN name = 'parallel' THEN '0' ELSE '8MB' END, true);
END $$;

-- Everything about one case, as rows (kind, variant, id, info):
--   verdict  <leaf> <top partition>  id  ok | orphan | error ...    (PostgreSQL)
--   missing_keys                          <n> | unknown: ...       (PostgreSQL)
--   target   <partition the part: variants check>
--   listed   <variant>  id  key ok | wrong key ...                 (fk_orphans, in its order)
--   bogus / sentinel <variant>                                      (fk_orphans)
--   summary  <variant>  <constraint> <orphan_rows> <missing_keys>   (fk_orphan_summary)
--   raised   <variant>  <sqlstate>: <message>
-- A variant is <target>:<plan>[:summary], target child, part (a partition of
-- the child) or all (NULL: every foreign key).
CREATE FUNCTION fuzz.case_report(child regclass, variants text[])
RETURNS TABLE (kind text, variant text, id int, info text) LANGUAGE plpgsql AS $$
DECLARE
  con oid := (SELECT x.oid FROM pg_constraint x WHERE x.conrelid = child AND x.conname = 'fk');
  fkcols text[] := (SELECT array_agg(a.attname ORDER BY k.n) FROM pg_constraint x, unnest(x.conkey) WITH ORDINALITY k(attnum, n)
                      JOIN pg_attribute a ON a.attrelid = child AND a.attnum = k.attnum WHERE x.oid = con);
  verdicts fuzz.verdict[] := ARRAY(SELECT v FROM fuzz.verdicts(con) v);
  tops regclass[];
  part regclass;
  v text;
  target regclass;
BEGIN
  -- each leaf's partition directly under the child
  tops := ARRAY(SELECT (SELECT a FROM pg_partition_ancestors(x.leaf) a JOIN pg_inherits i ON i.inhrelid = a
                         WHERE i.inhparent = child) FROM unnest(verdicts) x);
  RETURN QUERY SELECT 'verdict', x.leaf::text || ' ' || coalesce(tops[x.n]::text, '-'), x.id, x.verdict
                 FROM unnest(verdicts) WITH ORDINALITY x(id, leaf, verdict, n);
  RETURN QUERY SELECT 'missing_keys', NULL, NULL::int,
                      fuzz.missing_keys(con, ARRAY(SELECT x.id FROM unnest(verdicts) x WHERE x.verdict = 'orphan'));
  -- the partition holding the first orphan, else the first partition
  part := (SELECT i.inhrelid::regclass FROM pg_inherits i WHERE i.inhparent = child
            ORDER BY i.inhrelid = ANY (SELECT tops[x.n] FROM unnest(verdicts) WITH ORDINALITY x(id, leaf, verdict, n)
                                        WHERE x.verdict = 'orphan' ORDER BY x.id LIMIT 1) DESC,
                     i.inhrelid::regclass::text LIMIT 1);
  RETURN QUERY SELECT 'target', part::text, NULL::int, NULL WHERE part IS NOT NULL;
  FOREACH v IN ARRAY variants LOOP
    CONTINUE WHEN v LIKE 'part:%' AND part IS NULL;
    target := CASE split_part(v, ':', 1) WHEN 'child' THEN child WHEN 'part' THEN part END;
    BEGIN
      PERFORM fuzz.plan(split_part(v, ':', 2));
      IF v LIKE '%:summary' THEN
        RETURN QUERY SELECT 'summary', v, NULL::int, concat_ws(' ', s.constraint_name,
                              coalesce(s.orphan_rows::text, 'NULL'), coalesce(s.missing_keys::text, 'NULL'))
                       FROM fk_orphan_summary(target) s WHERE s.constraint_name IN ('fk', 'sentinel_fk');
      ELSE
        RETURN QUERY EXECUTE format($q$
          SELECT CASE WHEN o.constraint_name = 'sentinel_fk' THEN 'sentinel' WHEN r.id IS NULL THEN 'bogus' ELSE 'listed' END,
                 $3, r.id,
                 CASE WHEN o.key = (SELECT jsonb_object_agg(k, to_jsonb(r) -> k) FROM unnest($2) k) THEN 'key ok'
                      ELSE 'wrong key ' || o.key::text END
            FROM fk_orphans($1) WITH ORDINALITY o LEFT JOIN %s r ON r.tableoid = o.child_table AND r.ctid = o.child_ctid
           ORDER BY o.ordinality$q$, child)
          USING target, fkcols, v;
      END IF;
    EXCEPTION WHEN OTHERS THEN
      RETURN QUERY SELECT 'raised', v, NULL::int, SQLSTATE || ': ' || SQLERRM;
    END;
  END LOOP;
END $$;

-- A foreign key with one orphan that every database-wide call must report,
-- whatever happens to the case's foreign key.
CREATE SCHEMA sentinel;
CREATE TABLE sentinel.p (id int PRIMARY KEY);
CREATE TABLE sentinel.c (id int, p int, CONSTRAINT sentinel_fk FOREIGN KEY (p) REFERENCES sentinel.p);
SET session_replication_role = replica;
INSERT INTO sentinel.c VALUES (1, 99);
RESET session_replication_role;
SQL

# Values per type, as literals.  The pools overlap on purpose: values equal
# under some equality but not another ('abc'/'ABC', 0/-0, 1.5/1.500,
# 16777216/16777217 through float4), NULL fields in composites and arrays,
# values that overflow the referenced type's cast (1e39 into float4).
my @ints  = qw(0 1 2 3 -1);
my @texts = ('abc', 'ABC', 'Abc', 'ábc', 'abd', 'a b', '', 'abc ');
my @pairs = ('(1,2)', '(2,)', '(,)', '(3,4)', '(1,)', '(,2)');
my %POOL = (
	int2            => [ @ints, '32767' ],
	int4            => [ @ints, '32767', '2147483647' ],
	int8            => [ @ints, '16777216', '16777217', '2147483648' ],
	small_id        => [@ints],
	numeric         => [qw(0 1 2 1.5 1.500 2.000 -0 0.1 NaN 16777217 1e39)],
	'numeric(10,3)' => [qw(0 1 2 1.5 1.500 2.000 0.1 NaN 1.0004)],
	float8          => [qw(0 -0 1 2 1.5 0.1 NaN Infinity -Infinity 16777217)],
	float4          => [qw(0 -0 1 2 1.5 0.1 NaN Infinity 16777216)],
	text            => \@texts,
	'varchar(8)'    => \@texts,
	'bpchar(4)'     => \@texts,
	name            => \@texts,
	citext          => \@texts,
	label           => \@texts,
	mood            => [qw(red green blue)],
	'int4[]'        => [ '{1,2}', '{2,1}', '{1,NULL}', '{}', '{1}', '{{1,2}}', '{NULL}' ],
	'text[]'        => [ '{abc}', '{ABC}', '{abc,NULL}', '{}', '{Abc,abd}' ],
	pair            => \@pairs,
	dpair           => \@pairs,
	date            => [ '2020-01-01', '2020-01-02', 'infinity', '-infinity' ],
	timestamp       => [ '2020-01-01', '2020-01-01 00:00:01', '2020-01-02', 'infinity' ],
);

# Referenced type => the referencing types PostgreSQL accepts for it (each
# pair tried: citext <- text, for one, is refused).
my %REFERENCED_BY = (
	int2            => [qw(int2 int4 int8)],
	int4            => [qw(int4 int2 int8 small_id)],
	int8            => [qw(int8 int4 int2)],
	small_id        => [qw(small_id int4)],
	numeric         => [ 'numeric', 'numeric(10,3)', 'int4', 'int8' ],
	'numeric(10,3)' => [ 'numeric(10,3)', 'numeric' ],
	float8          => [qw(float8 float4 numeric int4 int8)],
	float4          => [qw(numeric float4 float8 numeric int8 int4)],
	text            => [ 'text', 'varchar(8)', 'name', 'citext', 'label', 'bpchar(4)' ],
	'varchar(8)'    => [ 'varchar(8)', 'text' ],
	name            => [qw(name text)],
	citext          => ['citext'],
	'bpchar(4)'     => [ 'bpchar(4)', 'text' ],
	label           => [qw(label text)],
	mood            => ['mood'],
	'int4[]'        => ['int4[]'],
	'text[]'        => ['text[]'],
	pair            => [qw(pair dpair)],
	dpair           => [qw(dpair pair)],
	date            => ['date'],
	timestamp       => [qw(timestamp date)],
);

# Referenced types, repeated to weight the draw towards the interesting ones.
my @PARENT_TYPES = (
	qw(int4 int4 int8 int2 small_id numeric float8 float4 float4), 'numeric(10,3)',
	qw(text text text varchar(8) name name name citext bpchar(4) label),
	qw(mood int4[] text[] pair pair pair dpair date timestamp));
# Leaves citext (contrib) out of the cases, for a server that lacks it (the
# source-built ones of scripts/test-matrix.sh): call before the first case.
sub without_citext
{
	$PRELUDE =~ s/^CREATE EXTENSION IF NOT EXISTS citext;\n//m;
	delete $REFERENCED_BY{citext};
	$REFERENCED_BY{$_} = [ grep { $_ ne 'citext' } @{ $REFERENCED_BY{$_} } ] for keys %REFERENCED_BY;
	@PARENT_TYPES = grep { $_ ne 'citext' } @PARENT_TYPES;
	return;
}
my %COLLATABLE = map { $_ => 1 } ('text', 'varchar(8)', 'bpchar(4)', 'name', 'label', 'text[]');
# '' is the type's default; ci and ai are nondeterministic.
my @COLLATIONS = ('', '', 'C', 'und-x-icu', 'ci', 'ci', 'ai');

sub pick   { return $_[ int rand @_ ] }
sub chance { return rand() < $_[0] }

sub shuffled
{
	my @a = @_;
	for (my $i = @a; --$i > 0;)
	{
		my $j = int rand($i + 1);
		@a[ $i, $j ] = @a[ $j, $i ];
	}
	return @a;
}

sub qi { my ($n) = @_; return $n =~ /^[a-z_][a-z0-9_]*$/ ? $n : '"' . ($n =~ s/"/""/gr) . '"' }
sub ql { my ($v) = @_; return defined $v ? "'" . ($v =~ s/'/''/gr) . "'" : 'NULL' }

sub column_sql
{
	my ($col) = @_;
	return join '', qi($col->{name}), ' ', $col->{type},
	  ($col->{coll} ? ' COLLATE ' . qi($col->{coll}) : ''),
	  ($col->{notnull} ? ' NOT NULL' : '');
}

# CREATE TABLE with dropped columns mixed in (when $dropped), so that attribute
# numbers differ from the column order; returns the statements.
sub create_table
{
	my ($name, $cols, $extra, $dropped) = @_;
	my @defs = map { column_sql($_) } @$cols;
	my @junk;
	if ($dropped)
	{
		for my $j (1 .. 1 + int rand 2)
		{
			splice @defs, int rand(@defs + 1), 0, "junk$j int";
			push @junk, "junk$j";
		}
	}
	my $sql = "CREATE TABLE $name (" . join(', ', @defs, @{ $extra->{constraints} || [] }) . ')';
	$sql .= " PARTITION BY $extra->{by}" if $extra->{by};
	return ("$sql;", map { "ALTER TABLE $name DROP COLUMN $_;" } @junk);
}

# One partitioning level: PARTITION BY clause and the FOR VALUES bounds.
sub partition_level
{
	my ($strategy, $col) = @_;
	my $key = qi($col->{name});
	if ($strategy eq 'hash')
	{
		my $m = pick(2, 3);
		return ("HASH ($key)", map { "FOR VALUES WITH (MODULUS $m, REMAINDER $_)" } 0 .. $m - 1);
	}
	if ($strategy eq 'range')
	{
		return ("RANGE ($key)", 'FOR VALUES FROM (MINVALUE) TO (10)', 'FOR VALUES FROM (10) TO (20)', 'DEFAULT');
	}
	# list: values from the column's pool (two that overlap under the key's
	# collation make the DDL fail, and the case is drawn again)
	my @v = shuffled(@{ $POOL{ $col->{type} } });
	my @bounds = ('FOR VALUES IN (' . join(', ', map { ql($_) } @v[ 0 .. int rand 2 ]) . ')');
	push @bounds, 'FOR VALUES IN (' . ql($v[2]) . ')' if chance(0.5);
	return ("LIST ($key)", @bounds, 'DEFAULT');
}

# Statements creating $table's partitions, one level of @$levels ([PARTITION BY
# clause, bounds...] each) per depth; the first partition takes the next level.
# A partition is made in place, or built apart (own column order, dropped
# columns) and attached, as loaders do.
sub partitions
{
	my ($table, $cols, $levels) = @_;
	my ($level, @rest) = @$levels;
	my (undef, @bounds) = @$level;
	my @sql;
	for my $j (0 .. $#bounds)
	{
		my $part = "${table}_$j";
		my $sub = $j == 0 && @rest ? $rest[0][0] : undef;
		if (chance(0.6))
		{
			push @sql, "CREATE TABLE $part PARTITION OF $table $bounds[$j]" . ($sub ? " PARTITION BY $sub" : '') . ';';
			push @sql, partitions($part, $cols, \@rest) if $sub;
		}
		else
		{
			push @sql, create_table($part, [ shuffled(@$cols) ], { by => $sub }, chance(0.7));
			push @sql, partitions($part, $cols, \@rest) if $sub;
			push @sql, "ALTER TABLE $table ATTACH PARTITION $part $bounds[$j];";
		}
	}
	return @sql;
}

sub collation { my ($type) = @_; return $COLLATABLE{$type} ? pick(@COLLATIONS) : '' }

# A random case: {schema, data} statements and what a reproduction needs.
sub generate_case
{
	my %c = (selfref => chance(0.12), match => chance(0.35) ? 'FULL' : 'SIMPLE');
	my $pk = chance(0.75) ? 'PRIMARY KEY' : 'UNIQUE';
	my @keys;
	for my $i (1 .. pick(1, 1, 1, 2, 2, 3, 4))
	{
		my $ptype = pick(@PARENT_TYPES);
		my $ctype = pick(@{ $REFERENCED_BY{$ptype} });
		push @keys, {
			parent => { name => pick("k$i", "K $i", "k\"$i", "kä$i"), type => $ptype, coll => collation($ptype),
				notnull => $pk eq 'PRIMARY KEY' },
			child => { name => pick("f$i", "F $i", "f\"$i", "fé$i"), type => $ctype, coll => collation($ctype) } };
		# A name child compared with a parent under another non-default
		# collation: PostgreSQL's check raises 42P22 or not depending on its
		# plan (sql/orphans_fidelity.sql has fk_orphans' answer).
		$keys[-1]{parent}{coll} = pick('', 'C') if $ctype eq 'name' && $keys[-1]{parent}{coll} !~ /^(|C)$/;
	}
	$c{keys} = \@keys;
	my @pcols = map { $_->{parent} } @keys;
	my @ccols = map { $_->{child} } @keys;
	my $dropped = chance(0.4);
	($c{parent}, $c{child}, $c{parent_id}) = $c{selfref} ? ('t', 't', 'id') : ('p', 'c', 'pid');

	# Partitioning: the parent's on its key columns (a unique key must contain
	# them), the child's on id or a referencing column; sometimes two levels.
	my (@plevels, @clevels);
	# Not by hash on a key compared across types under a nondeterministic
	# collation: PostgreSQL's own check prunes such a parent by the wrong
	# hash and rejects rows whose key is there (a PostgreSQL bug, README).
	my %hash_unsafe = map { $_->{parent}{name} => 1 }
	  grep { $_->{parent}{coll} =~ /^(ci|ai)$/ && $_->{parent}{type} ne $_->{child}{type} } @keys;
	my $parent_level = sub {
		my $col = pick(@pcols);
		return partition_level($hash_unsafe{ $col->{name} } ? 'list' : pick('hash', 'list'), $col);
	};
	if (chance(0.3))
	{
		push @plevels, [ $parent_level->() ];
		push @plevels, [ $parent_level->() ] if chance(0.4);
	}
	if (!$c{selfref} && chance(0.3))
	{
		for (1 .. (chance(0.4) ? 2 : 1))
		{
			my $s = pick('range', 'hash', 'list');
			push @clevels, [ partition_level($s, $s eq 'range' ? { name => 'id', type => 'int4' } : pick(@ccols)) ];
		}
	}
	# NOT VALID foreign keys cannot be added to partitioned tables (PostgreSQL 15).
	$c{notvalid} = !@clevels && !($c{selfref} && @plevels) && chance(0.3);

	my @order = shuffled(0 .. $#keys);
	$c{fk} = sprintf 'ALTER TABLE %s ADD CONSTRAINT fk FOREIGN KEY (%s) REFERENCES %s (%s) MATCH %s%s%s;',
	  $c{child}, join(', ', map { qi($keys[$_]{child}{name}) } @order),
	  $c{parent}, join(', ', map { qi($keys[$_]{parent}{name}) } @order), $c{match},
	  (chance(0.15) ? ' DEFERRABLE INITIALLY DEFERRED' : ''), ($c{notvalid} ? ' NOT VALID' : '');
	my $keydef = "$pk (" . join(', ', map { qi($keys[$_]{parent}{name}) } shuffled(0 .. $#keys)) . ')';
	my $id = { name => $c{parent_id}, type => 'int4' };
	my ($pby, $cby) = map { @$_ ? $_->[0][0] : undef } \@plevels, \@clevels;

	my @schema;
	if ($c{selfref})
	{
		my @cols = shuffled($id, @pcols, @ccols);
		push @schema, create_table('t', \@cols, { constraints => [$keydef], by => $pby }, $dropped);
		push @schema, partitions('t', \@cols, \@plevels) if @plevels;
	}
	else
	{
		my @p = shuffled($id, @pcols);
		push @schema, create_table('p', \@p, { constraints => [$keydef], by => $pby }, $dropped);
		push @schema, partitions('p', \@p, \@plevels) if @plevels;
		my @c = shuffled({ name => 'id', type => 'int4' }, @ccols);
		push @schema, create_table('c', \@c, { by => $cby }, $dropped);
		# a foreign key declared before the partitions exist is cloned onto them
		push @schema, $c{fk} if @clevels && !$c{notvalid} && chance(0.5);
		push @schema, partitions('c', \@c, \@clevels) if @clevels;
	}
	push @schema, $c{fk} if !$c{notvalid} && !grep { $_ eq $c{fk} } @schema;
	$c{schema} = \@schema;

	# Data: parents, then children aimed at a parent's key (equal values, or
	# look-alikes from the pool) or drawn at random, with NULLs.
	my (@parents, @data);
	for my $j (1 .. 2 + int rand 9)
	{
		push @parents, [ $j, map { chance($pk eq 'UNIQUE' ? 0.05 : 0) ? undef : pick(@{ $POOL{ $_->{type} } }) } @pcols ];
	}
	push @data, sprintf('INSERT INTO %s (%s) VALUES %s ON CONFLICT DO NOTHING;', $c{parent},
		join(', ', map { qi($_->{name}) } $id, @pcols),
		join(', ', map { '(' . join(', ', $_->[0], map { ql($_) } @$_[ 1 .. $#$_ ]) . ')' } @parents));

	my @methods = $c{notvalid} ? ('plain') : shuffled('checked', 'replica', 'disabled');
	@methods = @methods[ 0 .. int rand @methods ];
	my %by_method;
	for my $j (1 .. 3 + int rand 22)
	{
		my $aim = chance(0.6) ? pick(@parents) : undef;
		my @values;
		for my $i (0 .. $#keys)
		{
			my $pool = $POOL{ $ccols[$i]{type} };
			# A value whose cast overflows in a key of several columns: whether
			# PostgreSQL's check evaluates that cast depends on its plan.
			$pool = [ grep { $_ ne '1e39' } @$pool ] if @keys > 1;
			my $want = $aim ? $aim->[ $i + 1 ] : undef;
			push @values, chance(0.1) ? undef
			  : defined $want && grep({ $_ eq $want } @$pool) ? $want
			  : pick(@$pool);
		}
		# self-referencing rows are parents too: they need a key of their own
		unshift @values, map { pick(@{ $POOL{ $_->{type} } }) } @pcols if $c{selfref};
		push @{ $by_method{ pick(@methods) } }, '(' . join(', ', 100 + $j, map { ql($_) } @values) . ')';
	}
	my $columns = join ', ', map { qi($_->{name}) } ($c{selfref} ? ($id, @pcols) : ({ name => 'id' })), @ccols;
	my $insert = "INSERT INTO $c{child} ($columns) VALUES";
	my $conflict = $c{selfref} ? ' ON CONFLICT DO NOTHING' : '';
	for my $m (sort keys %by_method)
	{
		my $rows = join ', ', @{ $by_method{$m} };
		push @data, "$insert $rows$conflict;" if $m eq 'plain';
		push @data, "SET session_replication_role = replica; $insert $rows$conflict; RESET session_replication_role;"
		  if $m eq 'replica';
		push @data, "ALTER TABLE $c{child} DISABLE TRIGGER ALL; $insert $rows$conflict; ALTER TABLE $c{child} ENABLE TRIGGER ALL;"
		  if $m eq 'disabled';
		# rows PostgreSQL's check let in (the rows it refuses, or cannot
		# check, are left out)
		push @data, map { "DO \$\$BEGIN SET CONSTRAINTS ALL IMMEDIATE; $insert $_$conflict; EXCEPTION WHEN "
			  . "foreign_key_violation OR indeterminate_collation OR numeric_value_out_of_range THEN NULL; END\$\$;" }
		  @{ $by_method{$m} }
		  if $m eq 'checked';
	}
	my @deleted = grep { chance(0.35) } map { $_->[0] } @parents;
	push @data, "SET session_replication_role = replica; DELETE FROM $c{parent} WHERE $c{parent_id} IN ("
	  . join(', ', @deleted) . '); RESET session_replication_role;' if @deleted && chance(0.4);
	push @data, $c{fk} if $c{notvalid};
	push @data, 'ANALYZE;' if chance(0.3);
	$c{data} = \@data;
	$c{methods} = join(',', sort(@methods), (grep { /DELETE/ } @data) ? 'hard delete' : ());
	# what the case covers, for the closing statistics
	$c{features} = [
		(map { "type $_->{parent}{type} <- $_->{child}{type}" } @keys),
		(map { "collation " . ($_ || 'default') } grep { defined } map { $COLLATABLE{ $_->{parent}{type} } ? $_->{parent}{coll} : undef } @keys),
		scalar(@keys) . ' key columns', "MATCH $c{match}", ($c{selfref} ? 'self-reference' : ()),
		(@plevels ? 'partitioned parent' : ()), (@clevels ? 'partitioned child' : ()),
		((@plevels > 1 || @clevels > 1) ? 'two partition levels' : ()),
		((grep { $_->[-1] eq 'DEFAULT' } @plevels, @clevels) ? 'default partition' : ()),
		((grep { /DROP COLUMN/ } @schema) ? 'dropped columns' : ()), ((grep { /ATTACH/ } @schema) ? 'attached partitions' : ()),
		($c{notvalid} ? 'NOT VALID' : map { "planted: $_" } grep { $_ ne 'checked' } @methods),
		((grep { /DELETE/ } @data) ? 'hard delete' : ())];
	# causes known from issue 9 that this case has, to name a mismatch's likely cause
	$c{has} = {
		composite => scalar(grep { $_->{parent}{type} =~ /pair/ } @keys),
		name_nondeterministic => scalar(grep { $_->{parent}{type} eq 'name' && $_->{parent}{coll} =~ /^(ci|ai)$/ } @keys),
		differs => scalar(grep { $_->{parent}{type} ne $_->{child}{type} || $_->{parent}{coll} ne $_->{child}{coll} } @keys),
		# PostgreSQL's own check prunes the wrong partition for these
		hash_pruning => scalar(grep {
			my $k = $_;
			grep { $_->[0] eq 'HASH (' . qi($k->{parent}{name}) . ')' } @plevels
			  and $k->{parent}{coll} =~ /^(ci|ai)$/ and $k->{parent}{type} ne $k->{child}{type}
		} @keys) };
	$c{summary} = sprintf '%s%s MATCH %s; %s; partitioned: parent %s, child %s',
	  $c{selfref} ? 'self-reference ' : '', join(', ', map { signature($_) } @keys), $c{match},
	  $c{notvalid} ? 'NOT VALID' : $c{methods}, @plevels ? join('/', map { $_->[0] =~ /^(\w+)/ } @plevels) : 'no',
	  @clevels ? join('/', map { $_->[0] =~ /^(\w+)/ } @clevels) : 'no';
	return \%c;
}

# "name COLLATE ci <- text": one key column pair, as the categories print it.
sub signature
{
	my ($k) = @_;
	my $side = sub { $_[0]{type} . ($_[0]{coll} ? " COLLATE $_[0]{coll}" : '') };
	return $side->($k->{parent}) . ' <- ' . $side->($k->{child});
}

1;
