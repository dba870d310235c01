#!/usr/bin/env bash
# bench/scaling.sh -- how fk_orphans('orders') grows with the child and the parent (issue 12).
#
# For each data set of SCALING_SETS (child rows:parent keys[:work_mem,...]) it builds
# orders (bench/orders_schema.sql: three foreign keys, one composite, 0.1% orphans)
# with that many orders and customers, then for each work_mem given (default: the
# server's, 4MB) prints one row:
#   engine    what fk_orphan_plan('orders') chose for the customers key under auto
#             (products, 10k keys, and stores, 1k composite keys, always fit)
#   auto ms   fk_orphans('orders') with fk_guard.orphan_engine = auto: median [min .. max]
#   planner   the same with fk_guard.orphan_engine = planner
#   ratio     auto / planner, per round: median [min .. max]
#   forced    with fk_guard.orphan_engine = one_pass (only when auto did not take every
#             key: the pass then gives up at run time and the planner's path checks it)
#   ns/row    auto's median per child row
#   pass max  the most memory the one pass held at once (key sets, their build buffers,
#             orphan ctids), by its own account (its DEBUG2 line), in one auto call;
#             /bdg: that as a share of the budget
#   RssAnon+  the backend's private memory (RssAnon) at its highest during that auto
#             call in a fresh connection, less what it held just before the call,
#             sampled from /proc every ~5 ms in a separate call (not a timed one).
#             It includes what a session's first fk_orphans call keeps (caches), about
#             what the 10k-parent row shows; on the planner's path it leaves out the
#             parallel workers and the shared memory of a parallel hash join
#   budget    work_mem * hash_mem_multiplier, the one pass's memory budget
# The timed calls of a row are interleaved over SCALING_ROUNDS rounds (auto, planner,
# forced); rows are different data sets, so only ratios within a row compare exactly.
#
# Run it alone (it starts and stops its own cluster) or from bench/run.sh with
# SCALING=1 (it then uses run.sh's cluster and, when a set is the one run.sh built,
# run.sh's tables).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

# --sample PID OUT: RssAnon (kB) of PID just now to OUT.base, then the highest
# seen to OUT once OUT.stop exists (psql's \! runs this in the background).
if [ "${1:-}" = --sample ]; then
	pid=$2 out=$3 max=0 k= v= u=
	while read -r k v u; do [ "$k" = RssAnon: ] && break; done </proc/"$pid"/status
	echo "$v" >"$out.base"
	: >"$out.ready"
	while [ ! -e "$out.stop" ]; do
		while read -r k v u; do
			if [ "$k" = RssAnon: ]; then
				[ "$v" -gt "$max" ] && max=$v
				break
			fi
		done </proc/"$pid"/status || break
		sleep 0.005
	done
	echo "$max" >"$out.tmp" && mv "$out.tmp" "$out"
	exit 0
fi

source "$repo/scripts/lib.sh"
SCALING_ROUNDS=${SCALING_ROUNDS:-3}
# child:parent[:work_mem,...]; the first work_mem listed for 5M parents is the server's
# default (4MB, budget 8MB: the parent does not fit, auto falls back), the second lets it fit.
SCALING_SETS=${SCALING_SETS:-"1000000:500000 5000000:500000 20000000:500000 5000000:10000 5000000:5000000:4MB,64MB"}

if [ "${FKG_SCALING_IN_CLUSTER:-0}" != 1 ]; then
	fkg_install_packages
	fkg_build_install "$repo"
	fkg_cluster_start scaling "shared_buffers = '1GB'" "max_wal_size = '4GB'" "checkpoint_timeout = '30min'"
	trap fkg_cluster_stop EXIT
fi
# FKG_SCALING_REUSE="db child parent": a database run.sh already filled.
read -r reuse_db reuse_child reuse_parent <<<"${FKG_SCALING_REUSE:-- 0 0}"

tmp=$(mktemp -d /tmp/fk_guard.scaling.XXXXXX)
chmod 755 "$tmp"
query="SELECT count(*) FROM fk_orphans('orders')"

ms() { # ms PGOPTIONS db sql: wall-clock milliseconds of one psql call
	local start end
	start=$(date +%s%N)
	PGOPTIONS=$1 psql -X -q -d "$2" -o /dev/null -c "$3"
	end=$(date +%s%N)
	echo $(((end - start) / 1000000))
}

stats() { # median [min .. max] of the numbers on stdin (awk: floats)
	sort -g | awk '{ v[NR] = $1 } END { printf "%s [%s .. %s]", v[int((NR + 1) / 2)], v[1], v[NR] }'
}

# The fresh backend first runs the planner's queries with LIMIT 0 (fk_orphans(t, 0)),
# so that what the first call of a session caches (catalog entries, plans) is
# mostly in the baseline, then the measured call under fk_guard.orphan_engine = engine.
# Prints "kB bytes": the RssAnon growth, and the most the pass held by its own
# account (its DEBUG2 line; - when no pass ran).
peak_kb() { # peak_kb PGOPTIONS engine db
	local out=$tmp/peak
	rm -f "$out" "$out".*
	PGOPTIONS=$1 FKG_OUT=$out FKG_SELF="$repo/bench/scaling.sh" psql -X -q -d "$3" -o /dev/null 2>"$tmp/peak.log" <<SQL
SET fk_guard.orphan_engine = planner;
SELECT count(*) FROM fk_orphans('orders', 0);
SET fk_guard.orphan_engine = $2;
SET client_min_messages = debug2;
SELECT pg_backend_pid() AS pid \gset
\setenv FKG_PID :pid
\! bash "\$FKG_SELF" --sample "\$FKG_PID" "\$FKG_OUT" >/dev/null 2>&1 & while [ ! -e "\$FKG_OUT.ready" ]; do sleep 0.01; done
$query;
\! touch "\$FKG_OUT.stop"; while [ ! -s "\$FKG_OUT" ]; do sleep 0.01; done
SQL
	local held
	held=$(grep -o 'at most [0-9]* bytes' "$tmp/peak.log" | tr -dc '0-9')
	echo "$(($(cat "$out") - $(cat "$out.base"))) ${held:--}"
}

rows=()
for set in $SCALING_SETS; do
	IFS=: read -r child parent mems <<<"$set"
	mems=${mems//,/ }
	if [ "$reuse_db" != - ] && [ "$child" = "$reuse_child" ] && [ "$parent" = "$reuse_parent" ]; then
		db=$reuse_db
	else
		db=scaling_${child}_${parent}
		echo "scaling: building $child orders, $parent customers" >&2
		psql -X -q -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
		psql -X -q -d "$db" -v ON_ERROR_STOP=1 -v orders="$child" -v customers="$parent" \
			-f "$repo/bench/orders_schema.sql"
	fi
	for mem in ${mems:-default}; do
		opts=
		[ "$mem" = default ] || opts="-c work_mem=$mem"
		mem=$(PGOPTIONS=$opts psql -X -At -d "$db" -c "SHOW work_mem")
		engines=$(PGOPTIONS=$opts psql -X -At -d "$db" -c "SELECT string_agg(engine, ',' ORDER BY constraint_name) FILTER (WHERE constraint_name = 'orders_customer_id_fkey'), bool_and(engine = 'one_pass') FROM fk_orphan_plan('orders')")
		engine=${engines%|*}
		all_one_pass=${engines#*|}
		reason=$(PGOPTIONS=$opts psql -X -At -d "$db" -c "SELECT reason FROM fk_orphan_plan('orders') WHERE constraint_name = 'orders_customer_id_fkey'")
		budget=$(PGOPTIONS=$opts psql -X -At -d "$db" -c "SELECT pg_size_pretty((pg_size_bytes(current_setting('work_mem')) * current_setting('hash_mem_multiplier')::float8)::bigint)")
		budget_kb=$(PGOPTIONS=$opts psql -X -At -d "$db" -c "SELECT (pg_size_bytes(current_setting('work_mem')) * current_setting('hash_mem_multiplier')::float8 / 1024)::bigint")
		: >"$tmp/a" && : >"$tmp/p" && : >"$tmp/f" && : >"$tmp/r"
		for round in $(seq 1 "$SCALING_ROUNDS"); do
			a=$(ms "$opts -c fk_guard.orphan_engine=auto" "$db" "$query")
			p=$(ms "$opts -c fk_guard.orphan_engine=planner" "$db" "$query")
			echo "$a" >>"$tmp/a" && echo "$p" >>"$tmp/p"
			awk -v a="$a" -v p="$p" 'BEGIN { printf "%.2f\n", a / p }' >>"$tmp/r"
			if [ "$all_one_pass" != t ]; then
				ms "$opts -c fk_guard.orphan_engine=one_pass" "$db" "$query" >>"$tmp/f"
			fi
			echo "scaling: $child/$parent work_mem ${mem}: round $round auto $a ms, planner $p ms" >&2
		done
		read -r peak held <<<"$(peak_kb "$opts" auto "$db")"
		forced=-
		[ "$all_one_pass" = t ] || forced=$(stats <"$tmp/f")
		a_med=$(stats <"$tmp/a" | cut -d' ' -f1)
		held_mb=- held_pct=-
		if [ "$held" != - ]; then
			held_mb=$(awk -v b="$held" 'BEGIN { printf "%.2f MB", b / 1048576 }')
			held_pct=$(awk -v b="$held" -v k="$budget_kb" 'BEGIN { printf "%.0f%%", 100 * b / 1024 / k }')
		fi
		rows+=("$(printf '%9s %8s %6s %7s %-9s %-22s %-22s %-19s %-22s %6.0f %8s %4s %7.1f MB' \
			"$child" "$parent" "$mem" "$budget" "$engine" "$(stats <"$tmp/a")" "$(stats <"$tmp/p")" \
			"$(stats <"$tmp/r")" "$forced" "$(awk -v a="$a_med" -v c="$child" 'BEGIN { print a * 1e6 / c }')" \
			"$held_mb" "$held_pct" "$(awk -v k="$peak" 'BEGIN { print k / 1024 }')")")
		[ "$engine" = one_pass ] || rows+=("          (customers key on the planner's path: $reason)")
	done
	[ "$db" = "$reuse_db" ] || psql -X -q -c "DROP DATABASE $db"
done

echo
echo "scaling: fk_orphans('orders'), $SCALING_ROUNDS interleaved rounds per row, times in ms: median [min .. max]"
printf '%9s %8s %6s %7s %-9s %-22s %-22s %-19s %-22s %6s %8s %4s %10s\n' child parent work_mem budget engine \
	"auto ms" "planner ms" "auto/planner" "forced one_pass ms" "ns/row" "pass max" "/bdg" "RssAnon+"
printf '%s\n' "${rows[@]}"
rm -rf "$tmp"
