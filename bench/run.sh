#!/usr/bin/env bash
# bench/run.sh -- fk_orphans('orders') against the queries it replaces, in one run.
#
# Builds orders (ORDERS rows, default 5M) with three foreign keys -- customers
# (CUSTOMERS rows, default 500k), products, and a composite key into stores --
# and 0.1% orphans, on a throwaway cluster with default work_mem. Then, ROUNDS
# times, interleaved, it times (wall clock, results sent to the client):
#   ours:      SELECT * FROM fk_orphans('orders')
#   reference: the hand-written "Step 1" LEFT JOIN query, one per constraint, summed
#   floor:     SELECT count(*) over orders and over each parent
# and prints the median ratios ours/reference and ours/floor. Only ratios
# measured in the same run are meaningful; absolute times depend on the machine.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
source "$repo/scripts/lib.sh"

ORDERS=${ORDERS:-5000000}
CUSTOMERS=${CUSTOMERS:-500000}
ROUNDS=${ROUNDS:-5}

fkg_install_packages
fkg_build_install "$repo"
fkg_cluster_start bench "shared_buffers = '1GB'" "max_wal_size = '4GB'" "checkpoint_timeout = '30min'"
trap fkg_cluster_stop EXIT

echo "building: $ORDERS orders, $CUSTOMERS customers, 0.1% orphans"
psql -X -q -v ON_ERROR_STOP=1 -v orders="$ORDERS" -v customers="$CUSTOMERS" -f "$repo/bench/orders_schema.sql"

ours="SELECT * FROM fk_orphans('orders')"
reference=(
	"SELECT o.* FROM orders o LEFT JOIN customers c ON c.id = o.customer_id WHERE c.id IS NULL AND o.customer_id IS NOT NULL"
	"SELECT o.* FROM orders o LEFT JOIN products p ON p.id = o.product_id WHERE p.id IS NULL AND o.product_id IS NOT NULL"
	"SELECT o.* FROM orders o LEFT JOIN stores s ON s.region = o.region AND s.store_no = o.store_no WHERE s.region IS NULL AND o.region IS NOT NULL AND o.store_no IS NOT NULL"
)
floor=("SELECT count(*) FROM orders" "SELECT count(*) FROM customers" "SELECT count(*) FROM products" "SELECT count(*) FROM stores")

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
for round in $(seq 1 "$ROUNDS"); do
	o=$(time_queries "$ours")
	r=$(time_queries "${reference[@]}")
	f=$(time_queries "${floor[@]}")
	echo "round $round: fk_orphans ${o} ms, reference ${r} ms, floor ${f} ms"
	echo "$o $r $f" >>/tmp/fk_guard.bench.times
done

o=$(cut -d' ' -f1 /tmp/fk_guard.bench.times | median)
r=$(cut -d' ' -f2 /tmp/fk_guard.bench.times | median)
f=$(cut -d' ' -f3 /tmp/fk_guard.bench.times | median)
echo
echo "median of $ROUNDS rounds: fk_orphans ${o} ms, reference ${r} ms, floor ${f} ms"
awk -v o="$o" -v r="$r" -v f="$f" 'BEGIN {
	printf "ratio (a) fk_orphans / hand-written LEFT JOINs: %.2f  (target: <= 1.0)\n", o / r
	printf "ratio (b) fk_orphans / count(*) floor:          %.2f\n", o / f
}' 

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
