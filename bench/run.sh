#!/usr/bin/env bash
# bench/run.sh -- fk_orphans('orders') against the queries it replaces, in one run.
#
# Builds orders (ORDERS rows, default 5M) with three foreign keys -- customers
# (CUSTOMERS rows, default 500k), products, and a composite key into stores --
# and 0.1% orphans, on a throwaway cluster with default work_mem. Then, ROUNDS
# times, interleaved, it times (wall clock, results sent to the client):
#   fk_orphans('orders') with fk_guard.orphan_engine = one_pass, and = planner
#   reference: the hand-written "Step 1" LEFT JOIN query, one per constraint, summed
#   floor:     reading every key value once (count(col) over orders and each parent)
#   fk_orphan_summary('orders') with one_pass, and with planner
#   with PARTITIONED=1 (default): fk_orphans and fk_orphan_summary of orders_part, the same
#   rows and keys hash-partitioned into 8 leaves, with one_pass and with planner
# and prints each ratio's median over the rounds with its min and max. Only ratios
# measured in the same run are meaningful; absolute times depend on the machine.
#
# PERF=1: then records one fk_orphans('orders') call on the one-pass path with
#   perf (perf record -g on the backend) and prints the top of perf report.
#   (Not PROFILE=1: PGXS passes $PROFILE to the compiler and the linker.)
# SCALING=1: then runs bench/scaling.sh on the same cluster: the scaling table
#   (child rows and parent keys, time and peak memory against the budget).
# PG_BIN: the server to build for, install into and run (default: the system's).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
source "$repo/scripts/lib.sh"

ORDERS=${ORDERS:-5000000}
CUSTOMERS=${CUSTOMERS:-500000}
ROUNDS=${ROUNDS:-5}
PARTITIONED=${PARTITIONED:-1}

fkg_install_packages
fkg_build_install "$repo"
fkg_cluster_start bench "shared_buffers = '1GB'" "max_wal_size = '4GB'" "checkpoint_timeout = '30min'"
trap fkg_cluster_stop EXIT

echo "building: $ORDERS orders, $CUSTOMERS customers, 0.1% orphans$([ "$PARTITIONED" = 1 ] && echo "; orders_part: the same in 8 hash partitions")"
partitioned=$([ "$PARTITIONED" = 1 ] && echo true || echo false)
psql -X -q -v ON_ERROR_STOP=1 -v orders="$ORDERS" -v customers="$CUSTOMERS" -v partitioned="$partitioned" \
	-f "$repo/bench/orders_schema.sql" >/dev/null

ours="SELECT * FROM fk_orphans('orders')"
summary="SELECT * FROM fk_orphan_summary('orders')"
ours_part="SELECT * FROM fk_orphans('orders_part')"
summary_part="SELECT * FROM fk_orphan_summary('orders_part')"
reference=(
	"SELECT o.* FROM orders o LEFT JOIN customers c ON c.id = o.customer_id WHERE c.id IS NULL AND o.customer_id IS NOT NULL"
	"SELECT o.* FROM orders o LEFT JOIN products p ON p.id = o.product_id WHERE p.id IS NULL AND o.product_id IS NOT NULL"
	"SELECT o.* FROM orders o LEFT JOIN stores s ON s.region = o.region AND s.store_no = o.store_no WHERE s.region IS NULL AND o.region IS NOT NULL AND o.store_no IS NOT NULL"
)
# The key-read floor: PostgreSQL reading every key value once (issue 12).
floor=("SELECT count(customer_id), count(product_id), count(region), count(store_no) FROM orders"
	"SELECT count(id) FROM customers" "SELECT count(id) FROM products" "SELECT count(region), count(store_no) FROM stores")

echo "orphans found: $(psql -X -At -c "SELECT count(*) FROM fk_orphans('orders')")" \
	"(reference: $(for q in "${reference[@]}"; do psql -X -At -c "SELECT count(*) FROM ($q) s"; done | awk '{ s += $1 } END { print s }'))"

# Milliseconds to run each query given, one psql each, results sent to the client.
time_queries() {
	local start end
	start=$(date +%s%N)
	for q in "$@"; do psql -X -q -o /dev/null -c "$q"; done
	end=$(date +%s%N)
	echo $(((end - start) / 1000000))
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

: >/tmp/fk_guard.bench.times
# Columns: one_pass rows, planner rows, reference, floor, one_pass summary, planner summary;
# with PARTITIONED=1 the same four fk_guard calls on orders_part (else 1s).
for round in $(seq 1 "$ROUNDS"); do
	o=$(PGOPTIONS='-c fk_guard.orphan_engine=one_pass' time_queries "$ours")
	r=$(time_queries "${reference[@]}")
	p=$(PGOPTIONS='-c fk_guard.orphan_engine=planner' time_queries "$ours")
	f=$(time_queries "${floor[@]}")
	so=$(PGOPTIONS='-c fk_guard.orphan_engine=one_pass' time_queries "$summary")
	sp=$(PGOPTIONS='-c fk_guard.orphan_engine=planner' time_queries "$summary")
	echo "round $round: fk_orphans one_pass ${o} ms, planner ${p} ms, reference ${r} ms, floor ${f} ms," \
		"fk_orphan_summary one_pass ${so} ms, planner ${sp} ms"
	po=1 pp=1 pso=1 psp=1
	if [ "$PARTITIONED" = 1 ]; then
		pp=$(PGOPTIONS='-c fk_guard.orphan_engine=planner' time_queries "$ours_part")
		po=$(PGOPTIONS='-c fk_guard.orphan_engine=one_pass' time_queries "$ours_part")
		psp=$(PGOPTIONS='-c fk_guard.orphan_engine=planner' time_queries "$summary_part")
		pso=$(PGOPTIONS='-c fk_guard.orphan_engine=one_pass' time_queries "$summary_part")
		echo "    orders_part (8 partitions): fk_orphans one_pass ${po} ms, planner ${pp} ms," \
			"fk_orphan_summary one_pass ${pso} ms, planner ${psp} ms"
	fi
	echo "$o $p $r $f $so $sp $po $pp $pso $psp" >>/tmp/fk_guard.bench.times
done

echo
echo "per-round ratios over $ROUNDS interleaved rounds: median [min .. max]"
awk '
function stats(name, col, den, target,    i, j, n, v, t) {
	n = 0
	for (i = 1; i <= NR; i++) v[++n] = a[i, col] / a[i, den]
	for (i = 2; i <= n; i++)  # insertion sort (mawk has no asort)
		for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
	printf "%-52s %.2f [%.2f .. %.2f]%s\n", name, v[int((n + 1) / 2)], v[1], v[n], target
}
{ for (c = 1; c <= NF; c++) a[NR, c] = $c }
END {
	stats("(a) fk_orphans one_pass / hand-written LEFT JOINs", 1, 3, "  (target <= 0.5)")
	stats("(b) fk_orphans one_pass / key-read floor", 1, 4, "  (target <= 3)")
	stats("(c) fk_orphan_summary one_pass / LEFT JOINs", 5, 3, "  (target <= 0.4)")
	stats("(d) fk_orphans one_pass / fk_orphans planner", 1, 2, "")
	stats("(e) fk_orphans planner / LEFT JOINs", 2, 3, "")
	stats("(f) fk_orphan_summary one_pass / summary planner", 5, 6, "")
	if (partitioned) {
		stats("(g) orders_part: fk_orphans one_pass / planner", 7, 8, "")
		stats("(h) orders_part: summary one_pass / planner", 9, 10, "")
		stats("(i) fk_orphans one_pass: orders_part / orders", 7, 1, "")
	}
}' partitioned="$([ "$PARTITIONED" = 1 ] && echo 1 || echo 0)" /tmp/fk_guard.bench.times
echo "engine choices (auto): $(psql -X -At -F' ' -c "SELECT string_agg(constraint_name || '=' || engine, ', ') FROM fk_orphan_plan('orders')")"
if [ "$PARTITIONED" = 1 ]; then
	echo "orders_part: $(psql -X -At -F' ' -c "SELECT string_agg(constraint_name || '=' || engine, ', ') FROM fk_orphan_plan('orders_part')");" \
		"orphans $(psql -X -At -c "SELECT count(*) FROM fk_orphans('orders_part')") (one_pass)," \
		"$(PGOPTIONS='-c fk_guard.orphan_engine=planner' psql -X -At -c "SELECT count(*) FROM fk_orphans('orders_part')") (planner)"
fi

# Memory: the backend's private (anonymous) memory after fk_orphans over the
# whole table. Results go to a tuplestore that spills past work_mem, so this
# stays flat as the table grows (VmHWM would also count touched shared buffers).
psql -X -q <<'SQL'
SELECT pg_backend_pid() AS pid \gset
\setenv FKG_PID :pid
\! echo "backend private memory before fk_orphans: $(grep RssAnon /proc/$FKG_PID/status | tr -s ' \t' ' ')"
SELECT count(*) AS orphans FROM fk_orphans('orders') \gset
\! echo "backend private memory after fk_orphans (work_mem 4MB): $(grep RssAnon /proc/$FKG_PID/status | tr -s ' \t' ' ')"
SQL

if [ "${PERF:-0}" = 1 ]; then
	if ! command -v perf >/dev/null; then
		echo "PERF=1: perf is not installed; no profile"
	else
		# perf attaches to the backend before the call and stops when it returns.
		prof=$(mktemp -d /tmp/fk_guard.profile.XXXXXX)
		PGOPTIONS='-c fk_guard.orphan_engine=one_pass' FKG_PROF=$prof psql -X -q -o /dev/null <<'SQL'
SELECT count(*) FROM fk_orphan_plan('orders');
SELECT pg_backend_pid() AS pid \gset
\setenv FKG_PID :pid
\! perf record -q -g -o "$FKG_PROF/perf.data" -p "$FKG_PID" >"$FKG_PROF/record.log" 2>&1 & echo $! >"$FKG_PROF/perf.pid"; sleep 1
SELECT count(*) FROM fk_orphans('orders');
\! kill -INT "$(cat "$FKG_PROF/perf.pid")"; while kill -0 "$(cat "$FKG_PROF/perf.pid")" 2>/dev/null; do sleep 0.1; done
SQL
		echo
		echo "profile of one fk_orphans('orders') on the one-pass path (perf report --no-children, self time):"
		perf report -i "$prof/perf.data" --stdio --no-children --sort dso,symbol -g none --percent-limit 0.5 2>/dev/null |
			grep -v '^#' | grep -v '^$' | head -40
		rm -rf "$prof"
	fi
fi

if [ "${SCALING:-0}" = 1 ]; then
	FKG_SCALING_IN_CLUSTER=1 FKG_SCALING_REUSE="postgres $ORDERS $CUSTOMERS" bash "$repo/bench/scaling.sh"
fi
