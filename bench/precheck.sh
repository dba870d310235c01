#!/usr/bin/env bash
# bench/precheck.sh -- fk_precheck('stage', 'orders') against the queries it replaces, in one run.
#
# Builds orders with three foreign keys -- customers (CUSTOMERS rows, default
# 200k), products (20k), and a composite key into stores -- and a staging
# table of STAGE rows (default 1M) holding the keys as narrower types (int4
# and int2 into int8 and int4 columns, varchar into text, as a CSV load
# would), a payload column of PAYLOAD bytes (default 60; 1000 for the wide
# rows of a typical CSV import), and 0.5% missing keys per foreign key, on a
# throwaway cluster with default work_mem.  Then, ROUNDS times, interleaved,
# it times (wall clock, results sent to the client):
#   fk_precheck('stage', 'orders')
#   reference: the hand-written check, one NOT EXISTS query per foreign key, summed
#   floor:     reading every staged key value once (count(col) over stage)
#   anti joins: the other shape one query could take (UNION ALL of anti joins
#              over the converted rows), for comparison with fk_precheck's one pass
# and prints each ratio's median over the rounds with its min and max. Only
# ratios measured in the same run are meaningful.
# PG_BIN: the server to build for, install into and run (default: the system's).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
source "$repo/scripts/lib.sh"

STAGE=${STAGE:-1000000}
CUSTOMERS=${CUSTOMERS:-200000}
ROUNDS=${ROUNDS:-5}
PAYLOAD=${PAYLOAD:-60}

fkg_install_packages
fkg_build_install "$repo"
fkg_cluster_start bench "shared_buffers = '512MB'" "max_wal_size = '4GB'" "checkpoint_timeout = '30min'"
trap fkg_cluster_stop EXIT

echo "building: $STAGE staging rows ($PAYLOAD-byte payload), $CUSTOMERS customers, 0.5% missing keys per foreign key"
psql -X -q -v ON_ERROR_STOP=1 -v stage="$STAGE" -v customers="$CUSTOMERS" -v payload="$PAYLOAD" <<'SQL'
CREATE EXTENSION fk_guard;
CREATE TABLE customers (id int8 PRIMARY KEY, name text);
INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, :customers) g;
CREATE TABLE products (id int8 PRIMARY KEY, name text);
INSERT INTO products SELECT g, 'product ' || g FROM generate_series(1, 20000) g;
CREATE TABLE stores (region text, store_no int, PRIMARY KEY (region, store_no));
INSERT INTO stores SELECT r, n FROM unnest(ARRAY['eu', 'us', 'apac']) r, generate_series(1, 500) n;
CREATE TABLE orders (id bigint, customer_id int8 REFERENCES customers, product_id int8 REFERENCES products,
                     region text, store_no int, note text,
                     FOREIGN KEY (region, store_no) REFERENCES stores);
CREATE TABLE stage (id int, customer_id int4, product_id int4, region varchar(8), store_no int2, note text);
INSERT INTO stage
SELECT g,
       CASE WHEN g % 200 = 1 THEN :customers + g ELSE 1 + (g::int8 * 7919) % :customers END,
       CASE WHEN g % 200 = 2 THEN 20000 + g ELSE 1 + (g::int8 * 104729) % 20000 END,
       (ARRAY['eu', 'us', 'apac'])[1 + g % 3],
       CASE WHEN g % 200 = 3 THEN 900 ELSE 1 + g % 500 END,
       repeat('x', :payload)
  FROM generate_series(1, :stage) g;
VACUUM ANALYZE;
SQL

ours="SELECT * FROM fk_precheck('stage', 'orders')"
reference=(
	"SELECT s.ctid, s.customer_id FROM stage s WHERE s.customer_id IS NOT NULL AND NOT EXISTS (SELECT FROM customers c WHERE c.id = s.customer_id)"
	"SELECT s.ctid, s.product_id FROM stage s WHERE s.product_id IS NOT NULL AND NOT EXISTS (SELECT FROM products p WHERE p.id = s.product_id)"
	"SELECT s.ctid, s.region, s.store_no FROM stage s WHERE s.region IS NOT NULL AND s.store_no IS NOT NULL AND NOT EXISTS (SELECT FROM stores t WHERE t.region = s.region AND t.store_no = s.store_no)"
)
floor=("SELECT count(customer_id), count(product_id), count(region), count(store_no) FROM stage")
# The other shape a single query could take: the staged rows converted as
# INSERT would (an inlined CTE) and one anti join per foreign key, UNION ALL
# (fk_precheck's own shape is one pass with a left join per foreign key).
anti_joins="WITH st AS NOT MATERIALIZED (SELECT s.ctid AS c, s.customer_id::int8 AS customer_id, s.product_id::int8 AS product_id, s.region::text AS region, s.store_no::int4 AS store_no FROM ONLY stage s)
SELECT 1, fk.c FROM st fk WHERE ROW(fk.customer_id) IS NOT NULL AND NOT EXISTS (SELECT FROM ONLY customers pk WHERE pk.id = fk.customer_id)
UNION ALL SELECT 2, fk.c FROM st fk WHERE ROW(fk.product_id) IS NOT NULL AND NOT EXISTS (SELECT FROM ONLY products pk WHERE pk.id = fk.product_id)
UNION ALL SELECT 3, fk.c FROM st fk WHERE ROW(fk.region, fk.store_no) IS NOT NULL AND NOT EXISTS (SELECT FROM ONLY stores pk WHERE pk.region = fk.region AND pk.store_no = fk.store_no)"

echo "violations found: $(psql -X -At -c "SELECT count(*) FROM fk_precheck('stage', 'orders')")" \
	"(reference: $(for q in "${reference[@]}"; do psql -X -At -c "SELECT count(*) FROM ($q) s"; done | awk '{ s += $1 } END { print s }'))"

# Milliseconds to run each query given, one psql each, results sent to the client.
time_queries() {
	local start end
	start=$(date +%s%N)
	for q in "$@"; do psql -X -q -o /dev/null -c "$q"; done
	end=$(date +%s%N)
	echo $(((end - start) / 1000000))
}

times=$(mktemp /tmp/fk_guard.bench.precheck.XXXXXX)
# Columns: fk_precheck, reference, floor, anti joins.  The order rotates from round to round.
for round in $(seq 1 "$ROUNDS"); do
	case $((round % 4)) in
	0) o=$(time_queries "$ours"); r=$(time_queries "${reference[@]}"); f=$(time_queries "${floor[@]}"); a=$(time_queries "$anti_joins") ;;
	1) r=$(time_queries "${reference[@]}"); f=$(time_queries "${floor[@]}"); a=$(time_queries "$anti_joins"); o=$(time_queries "$ours") ;;
	2) f=$(time_queries "${floor[@]}"); a=$(time_queries "$anti_joins"); o=$(time_queries "$ours"); r=$(time_queries "${reference[@]}") ;;
	3) a=$(time_queries "$anti_joins"); o=$(time_queries "$ours"); r=$(time_queries "${reference[@]}"); f=$(time_queries "${floor[@]}") ;;
	esac
	echo "round $round: fk_precheck ${o} ms, reference ${r} ms, floor ${f} ms, anti-join shape ${a} ms"
	echo "$o $r $f $a" >>"$times"
done

echo
echo "per-round ratios over $ROUNDS interleaved rounds: median [min .. max]"
awk '
function stats(name, col, den,    i, j, n, v, t) {
	n = 0
	for (i = 1; i <= NR; i++) v[++n] = a[i, col] / a[i, den]
	for (i = 2; i <= n; i++)  # insertion sort (mawk has no asort)
		for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
	printf "%-58s %.2f [%.2f .. %.2f]\n", name, v[int((n + 1) / 2)], v[1], v[n]
}
{ for (c = 1; c <= NF; c++) a[NR, c] = $c }
END {
	stats("(a) fk_precheck / hand-written NOT EXISTS per foreign key", 1, 2)
	stats("(b) fk_precheck / key-read floor", 1, 3)
	stats("(c) hand-written NOT EXISTS / key-read floor", 2, 3)
	stats("(d) anti-join shape (one query) / hand-written NOT EXISTS", 4, 2)
}' "$times"
rm -f "$times"
