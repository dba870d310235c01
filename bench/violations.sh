#!/usr/bin/env bash
# bench/violations.sh -- what preloading fk_guard costs, and how fast it records violations.
#
# Starts two throwaway clusters with the same settings, one with
# shared_preload_libraries = 'fk_guard', and the same schema: orders with three
# foreign keys (customers, products, and a composite key into stores).
#  1. Overhead: ROUNDS times, alternating which cluster goes first, a pgbench
#     run of DURATION seconds (CLIENTS clients, one single-row insert into orders
#     per transaction, no violation) on each cluster, orders emptied before each
#     run, after an untimed 2-second warm-up on each. Prints the median TPS of each and the median of the per-round ratios
#     preloaded/plain (target: >= 0.99).
#  2. Violation throughput, on both clusters: a PL/pgSQL EXCEPTION block
#     swallowing violations (pgbench, DURATION seconds), and client-visible
#     violations (CLIENTS psql sessions running VIOLATIONS failing inserts each).
#     Prints violations per second on each cluster, and on the preloaded one the
#     violations fk_violation_stats recorded per second (n/a if the views do not
#     answer).
# Only ratios measured in the same run are meaningful. Not part of the test suite.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
source "$repo/scripts/lib.sh"

ROUNDS=${ROUNDS:-6}
DURATION=${DURATION:-10}
# One client by default: on a 2-core machine, more clients plus their backends contend for the
# CPUs and round-to-round noise (0.7-1.2x seen with 4) swamps a 1% effect.
CLIENTS=${CLIENTS:-1}
VIOLATIONS=${VIOLATIONS:-5000}

fkg_install_packages
fkg_build_install "$repo"

work=$(mktemp -d /tmp/fk_guard.bench-violations.XXXXXX)
settings=("shared_buffers = '256MB'" "max_wal_size = '4GB'" "checkpoint_timeout = '30min'")
declare -A host pgdata dir
stop_clusters() {
	for c in "${!dir[@]}"; do
		FKG_CLUSTER_DIR=${dir[$c]} FKG_PGDATA=${pgdata[$c]} fkg_cluster_stop
	done
	rm -rf "$work"
}
trap stop_clusters EXIT
fkg_cluster_start bench-plain "${settings[@]}"
host[plain]=$PGHOST pgdata[plain]=$FKG_PGDATA dir[plain]=$FKG_CLUSTER_DIR
fkg_cluster_start bench-preloaded "${settings[@]}" "shared_preload_libraries = 'fk_guard'"
host[preloaded]=$PGHOST pgdata[preloaded]=$FKG_PGDATA dir[preloaded]=$FKG_CLUSTER_DIR
unset FKG_CLUSTER_DIR

# on CLUSTER COMMAND...: runs a client command against one of the clusters.
on() { local c=$1; shift; PGHOST=${host[$c]} "$@"; }

for c in plain preloaded; do
	on "$c" psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE EXTENSION fk_guard;
CREATE TABLE customers (id int PRIMARY KEY);
CREATE TABLE products (id int PRIMARY KEY);
CREATE TABLE stores (region int, store_no int, PRIMARY KEY (region, store_no));
CREATE TABLE orders (
  id bigserial PRIMARY KEY,
  customer_id int NOT NULL REFERENCES customers,
  product_id int NOT NULL REFERENCES products,
  region int NOT NULL,
  store_no int NOT NULL,
  FOREIGN KEY (region, store_no) REFERENCES stores);
INSERT INTO customers SELECT generate_series(1, 100000);
INSERT INTO products SELECT generate_series(1, 10000);
INSERT INTO stores SELECT r, s FROM generate_series(1, 20) r, generate_series(1, 50) s;
CREATE TABLE caught (n int);
-- Swallows n violations; inserts a row into caught for each, so the server counts them.
CREATE FUNCTION swallow_many(n int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1 .. n LOOP
    BEGIN
      INSERT INTO orders (customer_id, product_id, region, store_no) VALUES (0, 1, 1, 1);
    EXCEPTION WHEN foreign_key_violation THEN
      INSERT INTO caught VALUES (1);
    END;
  END LOOP;
END
$$;
VACUUM ANALYZE;
SQL
done

cat >"$work/insert.sql" <<'EOF'
\set c random(1, 100000)
\set p random(1, 10000)
\set r random(1, 20)
\set s random(1, 50)
INSERT INTO orders (customer_id, product_id, region, store_no) VALUES (:c, :p, :r, :s);
EOF
echo "SELECT swallow_many(100);" >"$work/swallow.sql"
for i in $(seq 1 "$VIOLATIONS"); do
	echo "INSERT INTO orders (customer_id, product_id, region, store_no) VALUES (0, 1, 1, 1);"
done >"$work/violate.sql"

# tps CLUSTER: one pgbench run of the insert workload on an empty orders table.
tps() {
	on "$1" psql -X -q -c "TRUNCATE orders" -c "CHECKPOINT"
	on "$1" pgbench -n -c "$CLIENTS" -j "$CLIENTS" -T "$DURATION" -f "$work/insert.sql" 2>&1 |
		awk '/^tps = / { printf "%.0f\n", $3 }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# Warm-up (not counted): caches, the first checkpoint, backend start-up paths.
for c in plain preloaded; do
	on "$c" pgbench -n -c "$CLIENTS" -j "$CLIENTS" -T 2 -f "$work/insert.sql" >/dev/null 2>&1
done

echo "overhead: $ROUNDS rounds of ${DURATION}s, $CLIENTS clients, inserts into orders (3 foreign keys), no violation"
: >"$work/tps"
for round in $(seq 1 "$ROUNDS"); do
	if [ $((round % 2)) = 1 ]; then
		a=$(tps plain); b=$(tps preloaded)
	else
		b=$(tps preloaded); a=$(tps plain)
	fi
	echo "round $round: plain $a tps, preloaded $b tps, ratio $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b / a }')"
	echo "$a $b $(awk -v a="$a" -v b="$b" 'BEGIN { print b / a }')" >>"$work/tps"
done
a=$(cut -d' ' -f1 "$work/tps" | median)
b=$(cut -d' ' -f2 "$work/tps" | median)
r=$(cut -d' ' -f3 "$work/tps" | median)
echo
echo "median of $ROUNDS rounds: plain $a tps, preloaded $b tps"
awk -v r="$r" 'BEGIN { printf "median ratio preloaded/plain: %.3f  (target: >= 0.99)\n", r }'

# recorded: violations counted by fk_violation_stats on the preloaded cluster, or n/a.
recorded() {
	on preloaded psql -X -At -c "SELECT coalesce(sum(violations), 0) FROM fk_violation_stats" 2>"$work/views.err" ||
		echo "n/a"
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
rate() { awk -v n="$1" -v ms="$2" 'BEGIN { if (n == "n/a") print "n/a"; else printf "%.0f", n * 1000 / ms }'; }

# report CLUSTER LINE BEFORE AFTER N MS: prints LINE, with what the preloaded
# cluster's fk_violation_stats recorded of the N violations.
report() {
	local line=$2
	if [ "$1" = preloaded ]; then
		if [ "$3" = n/a ] || [ "$4" = n/a ]; then
			line="$line; recorded: n/a ($(head -1 "$work/views.err"))"
		else
			line="$line; recorded $(($4 - $3)) of $5, $(rate $(($4 - $3)) "$6") recorded/s"
		fi
	fi
	echo "$line"
}

echo
echo "violation throughput (orders with customer_id 0; $CLIENTS clients)"
for c in plain preloaded; do
	before=$(recorded)
	on "$c" psql -X -q -c "TRUNCATE caught"
	start=$(now_ms)
	on "$c" pgbench -n -c "$CLIENTS" -j "$CLIENTS" -T "$DURATION" -f "$work/swallow.sql" >/dev/null 2>&1 || true
	ms=$(($(now_ms) - start))
	n=$(on "$c" psql -X -At -c "SELECT count(*) FROM caught")
	after=$(recorded)
	line="handled (PL/pgSQL EXCEPTION), $c: $(rate "$n" "$ms") violations/s"
	report "$c" "$line" "$before" "$after" "$n" "$ms"
done
for c in plain preloaded; do
	before=$(recorded)
	start=$(now_ms)
	for i in $(seq 1 "$CLIENTS"); do
		on "$c" psql -X -q -f "$work/violate.sql" >/dev/null 2>"$work/violate.$i.err" &
	done
	wait
	ms=$(($(now_ms) - start))
	n=$(cat "$work"/violate.*.err | grep -c 'violates foreign key constraint' || true)
	after=$(recorded)
	line="client-visible (psql, $VIOLATIONS failing inserts per client), $c: $(rate "$n" "$ms") violations/s"
	report "$c" "$line" "$before" "$after" "$n" "$ms"
done
