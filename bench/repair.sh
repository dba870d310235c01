#!/usr/bin/env bash
# bench/repair.sh -- the time fk_repair takes to quarantine the orphans of a big table in
# batches, against the single DELETE a DBA would write (issue 14).
#
# orders (REPAIR_ROWS rows, default 5M; REPAIR_ORPHAN_PCT % of them orphans, default 1,
# spread evenly) references customers (100k rows).  Each round copies orders twice and, on
# one copy each, runs (interleaved, in this order):
#   quarantine  CALL fk_repair(..., 'quarantine', execute => true, batch_size => REPAIR_BATCH)
#               (default 10000): each batch committed, the rows stored as jsonb
#   delete      CALL fk_repair(..., 'delete', execute => true, batch_size => REPAIR_BATCH)
#   one DELETE  DELETE FROM orders o WHERE NOT EXISTS (SELECT FROM customers c WHERE c.id = o.customer_id)
# timed from outside psql (wall clock of the call, connection included).  Prints each one's
# median [min .. max] in ms over REPAIR_ROUNDS rounds (default 3), and its ratio to the single
# DELETE of the same round, median [min .. max]: the spread is the noise.
# Run it alone: it starts and stops its own cluster (as the OS user postgres, under /tmp).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
source "$repo/scripts/lib.sh"
ROWS=${REPAIR_ROWS:-5000000}
PCT=${REPAIR_ORPHAN_PCT:-1}
BATCH=${REPAIR_BATCH:-10000}
ROUNDS=${REPAIR_ROUNDS:-3}

if [ -z "${PGHOST:-}" ] || [ "${REPAIR_OWN_CLUSTER:-1}" = 1 ]; then
	fkg_cluster_start bench_repair "shared_buffers = 512MB" "max_wal_size = 4GB"
	trap fkg_cluster_stop EXIT
fi
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d postgres "$@"; }

every=$((100 / PCT))
q -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS fk_guard" \
  -c "DROP TABLE IF EXISTS orders_template, customers"
q -c "CREATE TABLE customers (id int PRIMARY KEY, name text)" \
  -c "INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, 100000) g" \
  -c "CREATE TABLE orders_template AS
        SELECT g AS id, CASE WHEN g % $every = 0 THEN 200000 + g ELSE 1 + g % 100000 END AS customer_id,
               date '2026-01-01' + g % 365 AS placed_at, 'note ' || g AS note
          FROM generate_series(1, $ROWS) g" \
  -c "VACUUM ANALYZE customers, orders_template"

# A fresh copy of the template as orders, with its foreign key NOT VALID.
fresh_orders() {
	q -c "SET client_min_messages = warning" -c "DROP TABLE IF EXISTS orders" -c "TRUNCATE fk_guard_quarantine" \
	  -c "CREATE TABLE orders (LIKE orders_template)" -c "INSERT INTO orders SELECT * FROM orders_template" \
	  -c "ALTER TABLE orders ADD PRIMARY KEY (id)" \
	  -c "ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers NOT VALID" \
	  -c "VACUUM ANALYZE orders" -c "CHECKPOINT"
}
# Milliseconds the SQL takes; checks that no orphan is left.
timed() {
	local start end
	start=$(date +%s%N)
	q -c "$1" >/dev/null
	end=$(date +%s%N)
	[ "$(q -c "SELECT count(*) FROM fk_orphans('orders')")" = 0 ] || { echo "orphans left after: $1" >&2; exit 1; }
	echo $(((end - start) / 1000000))
}

declare -A ms
methods=(quarantine delete one_delete)
for ((r = 1; r <= ROUNDS; r++)); do
	fresh_orders
	ms[quarantine]+=" $(timed "CALL fk_repair('orders_customer_fk', 'orders', 'quarantine', execute => true, batch_size => $BATCH)")"
	fresh_orders
	ms[delete]+=" $(timed "CALL fk_repair('orders_customer_fk', 'orders', 'delete', execute => true, batch_size => $BATCH)")"
	fresh_orders
	ms[one_delete]+=" $(timed "DELETE FROM orders o WHERE NOT EXISTS (SELECT FROM customers c WHERE c.id = o.customer_id)")"
done

# median [min .. max] of the numbers given
stats() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END {printf "%s [%s .. %s]", v[int((NR+1)/2)], v[1], v[NR]}'; }
echo "orders: $ROWS rows, $PCT% orphans ($((ROWS / every)) rows), batches of $BATCH, $ROUNDS rounds"
printf '%-12s %-28s %s\n' method 'ms: median [min .. max]' 'ratio to one DELETE, per round'
for m in "${methods[@]}"; do
	read -ra mine <<<"${ms[$m]}"
	read -ra base <<<"${ms[one_delete]}"
	ratios=""
	for ((i = 0; i < ROUNDS; i++)); do ratios+=" $(awk -v a="${mine[$i]}" -v b="${base[$i]}" 'BEGIN {printf "%.2f", a / b}')"; done
	printf '%-12s %-28s %s\n' "$m" "$(echo "${ms[$m]}" | stats)" "$(echo "$ratios" | stats)"
done
