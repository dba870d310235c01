#!/usr/bin/env bash
# bench/violations.sh -- what preloading fk_guard costs, and how fast it records violations.
#
# Starts four throwaway clusters with the same settings and schema (orders with
# three foreign keys: customers, products, and a composite key into stores):
# plain, plain2 (a second plain cluster: the A/A control), preloaded
# (shared_preload_libraries = 'fk_guard') and notrack (preloaded, with
# fk_guard.track_bypass = off): preloaded/notrack is what bypass tracking costs
# on these FK-heavy inserts (target: >= 0.99x TPS, <= 1.01x CPU and
# instructions), preloaded/plain what fk_guard costs in all.
#  1. Overhead, as backend CPU time per transaction.  ROUNDS times, each cluster
#     in turn (the order rotates from round to round), orders is emptied and a
#     single-client `pgbench -n -M prepared -c 1 -t N` inserts N rows into it,
#     one violation-free single-row insert per transaction.  The pgbench script
#     itself reads its backend's CPU time from /proc/<pid>/schedstat (on-CPU
#     nanoseconds; utime+stime ticks from /proc/<pid>/stat are shown alongside)
#     just before the first insert and just after the last, so the figure is the
#     backend's CPU for exactly N transactions: no connection start-up, no
#     client, no time spent waiting.  Other processes still slow it down (shared
#     caches and cores, a virtual machine's host): hence the A/A control below,
#     and part 2.  Prints per-round µs per
#     transaction, the medians, the median of the per-round ratios
#     preloaded/plain with a distribution-free interval (order statistics of
#     the per-round ratios: [min, max] covers the median ratio with probability
#     1 - 2^(1-ROUNDS), ~97% for 6 rounds), and the same for plain2/plain: the
#     noise floor, what two identical clusters differ by.  TPS is printed too,
#     but on a busy machine it is much noisier than backend CPU.
#  2. Overhead, as instructions per transaction (INSTRUCTIONS=1, the default;
#     needs valgrind): each cluster is restarted under callgrind and runs the
#     same pgbench workload twice (1000 and 1000 + ITX transactions, fixed
#     random seed); the difference of the backend's instruction counts divided
#     by ITX is the cost of one transaction, start-up excluded.  Deterministic:
#     it is what to trust when the CPU-time interval is wider than the effect
#     (a shared or virtual machine).  The backend's socket-wait functions are
#     left out (how often it polls an empty socket depends on timing), and the
#     share executed in fk_guard.so itself is shown.
#  3. Violation throughput, on plain and preloaded: a PL/pgSQL EXCEPTION block
#     swallowing violations (pgbench, DURATION seconds), and client-visible
#     violations (CLIENTS psql sessions running VIOLATIONS failing inserts each).
#     Prints violations per second on each cluster, and on the preloaded one the
#     violations fk_violation_stats recorded per second (n/a if the views do not
#     answer).
# Only ratios measured in the same run are meaningful. Not part of the test suite.
#
# Environment: N (inserts per run, 100000), ROUNDS (6), INSTRUCTIONS (1; 0 skips
# part 2), ITX (5000), DURATION (10 s), CLIENTS (1, part 3), VIOLATIONS (5000),
# THROUGHPUT (1; 0 skips part 3), QUICK=1 (N=10000, ROUNDS=3, ITX=1000,
# DURATION=2, VIOLATIONS=500: a smoke run while developing, too short to trust),
# PG_BIN (the server's bin directory, scripts/lib.sh).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
source "$repo/scripts/lib.sh"

if [ "${QUICK:-0}" = 1 ]; then
	N=${N:-10000} ROUNDS=${ROUNDS:-3} ITX=${ITX:-1000} DURATION=${DURATION:-2} VIOLATIONS=${VIOLATIONS:-500}
fi
N=${N:-100000}
ROUNDS=${ROUNDS:-6}
INSTRUCTIONS=${INSTRUCTIONS:-1}
ITX=${ITX:-5000}
DURATION=${DURATION:-10}
# One client by default: on a 2-core machine, more clients plus their backends contend for the
# CPUs and round-to-round noise (0.7-1.2x seen with 4) swamps a 1% effect.
CLIENTS=${CLIENTS:-1}
VIOLATIONS=${VIOLATIONS:-5000}

[ "$INSTRUCTIONS" = 1 ] && FKG_PACKAGES="$FKG_PACKAGES valgrind" # part 2: callgrind, callgrind_annotate
fkg_install_packages
fkg_build_install "$repo"

work=$(mktemp -d /tmp/fk_guard.bench-violations.XXXXXX)
chmod 755 "$work"
# No autovacuum: every run starts from an empty orders, and a worker waking up
# mid-run would compete with the measured backend for the CPUs.
settings=("shared_buffers = '256MB'" "max_wal_size = '4GB'" "checkpoint_timeout = '30min'" "autovacuum = off")
clusters=(plain plain2 preloaded notrack)
declare -A host pgdata dir
stop_clusters() {
	for c in "${!dir[@]}"; do
		FKG_CLUSTER_DIR=${dir[$c]} FKG_PGDATA=${pgdata[$c]} fkg_cluster_stop
	done
	rm -rf "$work"
}
trap stop_clusters EXIT
for c in "${clusters[@]}"; do
	extra=()
	[ "$c" = preloaded ] && extra=("shared_preload_libraries = 'fk_guard'")
	[ "$c" = notrack ] && extra=("shared_preload_libraries = 'fk_guard'" "fk_guard.track_bypass = off")
	fkg_cluster_start "bench-$c" "${settings[@]}" "${extra[@]}"
	host[$c]=$PGHOST pgdata[$c]=$FKG_PGDATA dir[$c]=$FKG_CLUSTER_DIR
done
unset FKG_CLUSTER_DIR

# on CLUSTER COMMAND...: runs a client command against one of the clusters.
on() { local c=$1; shift; PGHOST=${host[$c]} "$@"; }

for c in "${clusters[@]}"; do
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

# cpu_sample PID FILE: the backend's on-CPU nanoseconds, utime+stime ticks and pid, read by pgbench's \shell.
cat >"$work/cpu_sample" <<'EOF'
#!/bin/sh
read -r ns _ <"/proc/$1/schedstat" || ns=0
ticks=$(sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }')
echo "$ns $ticks $1" >"$2"
EOF
chmod 755 "$work/cpu_sample"
# One insert per transaction; the first transaction samples the backend's CPU
# before its insert, the last one after its insert (n counts transactions).
cat >"$work/insert.sql" <<EOF
\\if :n = 0
SELECT pg_backend_pid() AS pid \\gset
\\shell $work/cpu_sample :pid $work/cpu.start
\\endif
\\set n :n + 1
\\set c random(1, 100000)
\\set p random(1, 10000)
\\set r random(1, 20)
\\set s random(1, 50)
INSERT INTO orders (customer_id, product_id, region, store_no) VALUES (:c, :p, :r, :s);
\\if :n = :last
\\shell $work/cpu_sample :pid $work/cpu.end
\\endif
EOF
echo "SELECT swallow_many(100);" >"$work/swallow.sql"
for i in $(seq 1 "$VIOLATIONS"); do
	echo "INSERT INTO orders (customer_id, product_id, region, store_no) VALUES (0, 1, 1, 1);"
done >"$work/violate.sql"

# insert_run CLUSTER TRANSACTIONS: N single-row inserts on an empty orders, one
# pgbench client; prints "cpu_us_per_tx ticks tps".
insert_run() {
	on "$1" psql -X -q -c "TRUNCATE orders" -c "CHECKPOINT"
	rm -f "$work/cpu.start" "$work/cpu.end"
	local tps
	tps=$(on "$1" pgbench -n -M prepared -c 1 -j 1 -t "$2" -D n=0 -D last="$2" -f "$work/insert.sql" 2>&1 |
		awk '/^tps = / { printf "%.0f\n", $3 }')
	if [ ! -s "$work/cpu.start" ] || [ ! -s "$work/cpu.end" ] || [ -z "$tps" ]; then
		echo "pgbench run on $1 failed" >&2
		return 1
	fi
	read -r ns0 t0 _ <"$work/cpu.start"
	read -r ns1 t1 _ <"$work/cpu.end"
	awk -v ns="$((ns1 - ns0))" -v t="$((t1 - t0))" -v n="$2" -v tps="$tps" \
		'BEGIN { printf "%.3f %d %d\n", ns / n / 1000, t, tps }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# interval: distribution-free interval for the median of the values on stdin,
# [x(k), x(n+1-k)] with the largest k whose coverage 1 - 2 P(Binomial(n, 1/2) < k) is >= 95%
# (k = 1, [min, max], when no k reaches 95%); prints "lo hi coverage%".
interval() {
	sort -g | awk '{ v[NR] = $1 } END {
		n = NR; p = 2 ^ -n; c = 1; cdf = 0; k = 1; cov = 1 - 2 * p
		for (j = 0; j < n / 2; j++) {  # cdf = P(B <= j); [x(j+1), x(n-j)] covers with 1 - 2 cdf
			cdf += c * p; c = c * (n - j) / (j + 1)
			if (1 - 2 * cdf < 0.95) break
			k = j + 1; cov = 1 - 2 * cdf
		}
		printf "%s %s %.1f\n", v[k], v[n + 1 - k], cov * 100 }'
}

# Warm-up (not counted): caches, the first checkpoint, backend start-up paths.
for c in "${clusters[@]}"; do
	insert_run "$c" "$((N / 10 > 1000 ? N / 10 : 1000))" >/dev/null
done

echo "overhead: $ROUNDS rounds x ${#clusters[@]} clusters, each a single-client pgbench -M prepared run of $N"
echo "transactions (one insert into orders, 3 foreign keys, no violation); backend CPU from /proc;"
echo "$(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) before the first round"
: >"$work/runs"
for round in $(seq 1 "$ROUNDS"); do
	# Rotate the order: each cluster runs in each position equally often (over as many rounds as clusters).
	order=()
	for i in "${!clusters[@]}"; do order+=("${clusters[$(((i + round - 1) % ${#clusters[@]}))]}"); done
	declare -A cpu=() ticks=() tps=()
	for c in "${order[@]}"; do
		read -r cpu[$c] ticks[$c] tps[$c] < <(insert_run "$c" "$N")
	done
	# Columns: CPU (1-4), ticks (5-8), tps (9-12) of plain, plain2, preloaded, notrack.
	echo "${cpu[plain]} ${cpu[plain2]} ${cpu[preloaded]} ${cpu[notrack]} ${ticks[plain]} ${ticks[plain2]} ${ticks[preloaded]} ${ticks[notrack]} ${tps[plain]} ${tps[plain2]} ${tps[preloaded]} ${tps[notrack]}" >>"$work/runs"
	awk -v r="$round" -v o="${order[*]}" -v a="${cpu[plain]}" -v a2="${cpu[plain2]}" -v b="${cpu[preloaded]}" \
		-v n="${cpu[notrack]}" -v ta="${ticks[plain]}" -v ta2="${ticks[plain2]}" -v tb="${ticks[preloaded]}" \
		-v pa="${tps[plain]}" -v pb="${tps[preloaded]}" -v pn="${tps[notrack]}" 'BEGIN {
		gsub(" ", ",", o)
		printf "round %d (%s): us/tx plain %.2f, plain2 %.2f, preloaded %.2f, notrack %.2f; ratio preloaded/plain %.4f, plain2/plain %.4f, preloaded/notrack %.4f;", r, o, a, a2, b, n, b / a, a2 / a, b / n
		printf " ticks %d/%d/%d; tps plain %d, preloaded %d, notrack %d\n", ta, ta2, tb, pa, pb, pn }'
done
col() { awk -v i="$1" '{ print $i }' "$work/runs"; }
ratio() { awk -v i="$1" -v j="$2" '{ print $i / $j }' "$work/runs"; }
echo
printf "medians of %d rounds: backend CPU per transaction plain %.2f us, plain2 %.2f us, preloaded %.2f us, notrack %.2f us\n" \
	"$ROUNDS" "$(col 1 | median)" "$(col 2 | median)" "$(col 3 | median)" "$(col 4 | median)"
printf "                      utime+stime ticks per %d transactions plain %s, plain2 %s, preloaded %s, notrack %s\n" \
	"$N" "$(col 5 | median)" "$(col 6 | median)" "$(col 7 | median)" "$(col 8 | median)"
printf "                      tps plain %s, plain2 %s, preloaded %s, notrack %s\n" "$(col 9 | median)" "$(col 10 | median)" \
	"$(col 11 | median)" "$(col 12 | median)"
read -r lo hi cov < <(ratio 3 1 | interval)
awk -v m="$(ratio 3 1 | median)" -v lo="$lo" -v hi="$hi" -v cov="$cov" 'BEGIN {
	printf "backend CPU preloaded/plain: median ratio %.4f (%+.2f%%), %s%% interval [%.4f, %.4f]  (target: <= 1.01)\n",
		m, (m - 1) * 100, cov, lo, hi }'
read -r lo hi cov < <(ratio 2 1 | interval)
awk -v m="$(ratio 2 1 | median)" -v lo="$lo" -v hi="$hi" -v cov="$cov" 'BEGIN {
	printf "noise floor, plain2/plain (A/A): median ratio %.4f (%+.2f%%), %s%% interval [%.4f, %.4f]\n",
		m, (m - 1) * 100, cov, lo, hi
	if (lo < 0.99 || hi > 1.01)
		print "  the A/A interval is wider than the 1% target: here backend CPU time cannot tell a 1% effect from noise (instruction counts can)" }'
read -r lo hi cov < <(ratio 11 9 | interval)
awk -v m="$(ratio 11 9 | median)" -v a="$(ratio 10 9 | median)" -v lo="$lo" -v hi="$hi" -v cov="$cov" 'BEGIN {
	printf "tps preloaded/plain: median ratio %.4f, %s%% interval [%.4f, %.4f]; A/A plain2/plain %.4f\n",
		m, cov, lo, hi, a }'
# Bypass tracking alone: the same preloaded server with and without it.
read -r lo hi cov < <(ratio 3 4 | interval)
awk -v m="$(ratio 3 4 | median)" -v lo="$lo" -v hi="$hi" -v cov="$cov" 'BEGIN {
	printf "bypass tracking, backend CPU preloaded/notrack: median ratio %.4f (%+.2f%%), %s%% interval [%.4f, %.4f]  (target: <= 1.01)\n",
		m, (m - 1) * 100, cov, lo, hi }'
read -r lo hi cov < <(ratio 11 12 | interval)
awk -v m="$(ratio 11 12 | median)" -v lo="$lo" -v hi="$hi" -v cov="$cov" 'BEGIN {
	printf "bypass tracking, tps preloaded/notrack: median ratio %.4f (%+.2f%%), %s%% interval [%.4f, %.4f]  (target: >= 0.99; noise: the A/A intervals above)\n",
		m, (m - 1) * 100, cov, lo, hi }'

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

# ---- 2. instructions per transaction ----
# cg_run CLUSTER TRANSACTIONS: one pgbench run (fixed seed) against the cluster
# running under callgrind; prints the backend's callgrind output file.
cg_run() {
	on "$1" psql -X -q -c "TRUNCATE orders" -c "CHECKPOINT"
	rm -f "$work/cpu.start"
	on "$1" pgbench -n -M prepared -c 1 -j 1 -t "$2" --random-seed=1 -D n=0 -D last="$2" \
		-f "$work/insert.sql" >/dev/null 2>&1
	local pid
	pid=$(awk '{ print $3 }' "$work/cpu.start")
	# The backend writes its profile when it exits.
	for _ in $(seq 1 600); do
		grep -qs '^totals:' "${dir[$1]}/callgrind.$pid" && break
		sleep 0.2
	done
	echo "${dir[$1]}/callgrind.$pid"
}
# The backend's socket-wait functions: how often it polls an empty socket depends on timing, not on the work.
socket_wait='^(WaitEventSetWait|WaitEventSetWaitBlock|ModifyWaitEvent|secure_read|secure_raw_read|pq_recvbuf|recv|epoll_wait)$'
# cg_counts FILE: "instructions fk_guard_instructions" of a callgrind profile,
# the socket-wait functions left out of the first.
cg_counts() {
	callgrind_annotate --auto=no --threshold=100 "$1" 2>/dev/null | awk -v wait="$socket_wait" '
		{ n = $1; gsub(",", "", n) }
		/PROGRAM TOTALS/ { total = n }
		{ f = $0; sub(/^ *[0-9,]+ +(\([ 0-9.%]+\) +)?/, "", f); f = substr(f, index(f, ":") + 1); sub(/ \[.*$/, "", f) }
		f ~ wait { wait += n }
		/fk_guard\.so\]$|fkg::|:fkg_/ { fkg += n }  # code inlined from headers may not name the object
		END { printf "%.0f %.0f\n", total - wait, fkg }'
}
# cg_functions WEIGHT FILE: "weight*instructions function" for each function of a profile.
cg_functions() {
	callgrind_annotate --auto=no --threshold=100 --show-percs=no "$2" 2>/dev/null | awk -v w="$1" '
		/^-+$/ { next }
		/file:function/ { body = 1; next }
		body && /^ *[0-9,]+  / {
			n = $1; gsub(",", "", n)
			name = $0; sub(/^ *[0-9,]+  /, "", name); name = substr(name, index(name, ":") + 1)
			sub(/ \[[^]]*\/[^]\/]*\]$/, "", name)  # the object
			print w * n, name }'
}
if [ "$INSTRUCTIONS" = 1 ]; then
	echo
	echo "instructions per transaction (callgrind, runs of 1000 and $((1000 + ITX)) transactions, difference / $ITX):"
	declare -A ir=() fkg_ir=() profile_short=() profile_long=()
	for c in "${clusters[@]}"; do
		fkg_as_pg pg_ctl -D "${pgdata[$c]}" -m fast -w stop >/dev/null
		fkg_as_pg valgrind --tool=callgrind --dump-instr=no --callgrind-out-file="${dir[$c]}/callgrind.%p" \
			"$PG_BIN/postgres" -D "${pgdata[$c]}" >"${dir[$c]}/callgrind.log" 2>&1 &
		for _ in $(seq 1 300); do
			PGHOST=${host[$c]} pg_isready -q && break
			sleep 0.5
		done
		cg_run "$c" 200 >/dev/null # warm-up
		profile_short[$c]=$(cg_run "$c" 1000)
		profile_long[$c]=$(cg_run "$c" $((1000 + ITX)))
		read -r i1 f1 < <(cg_counts "${profile_short[$c]}")
		read -r i2 f2 < <(cg_counts "${profile_long[$c]}")
		ir[$c]=$(((i2 - i1) / ITX)) fkg_ir[$c]=$(((f2 - f1) / ITX))
		fkg_as_pg pg_ctl -D "${pgdata[$c]}" -m fast -w -t 300 stop >/dev/null
		fkg_as_pg pg_ctl -D "${pgdata[$c]}" -l "${dir[$c]}/server.log" -w start >/dev/null
	done
	awk -v a="${ir[plain]}" -v a2="${ir[plain2]}" -v b="${ir[preloaded]}" -v f="${fkg_ir[preloaded]}" \
		-v n="${ir[notrack]}" -v fn="${fkg_ir[notrack]}" 'BEGIN {
		printf "plain %d, plain2 %d, preloaded %d (of which %d in fk_guard.so), notrack %d (%d in fk_guard.so)\n", a, a2, b, f, n, fn
		printf "instructions preloaded/plain: %.4f (%+.2f%%, %+d per transaction); noise floor, plain2/plain (A/A): %.4f (%+.2f%%)\n",
			b / a, (b / a - 1) * 100, b - a, a2 / a, (a2 / a - 1) * 100
		printf "bypass tracking, instructions preloaded/notrack: %.4f (%+.2f%%, %+d per transaction)  (target: <= 1.01)\n",
			b / n, (b / n - 1) * 100, b - n }'
	echo "where the difference goes (instructions per transaction, preloaded - plain, by function, largest first):"
	{
		cg_functions 1 "${profile_long[preloaded]}"
		cg_functions -1 "${profile_short[preloaded]}"
		cg_functions -1 "${profile_long[plain]}"
		cg_functions 1 "${profile_short[plain]}"
	} | awk -v itx="$ITX" -v wait="$socket_wait" '{ n = $1; $1 = ""; f = substr($0, 2); if (f !~ wait) d[f] += n / itx }
		END { for (f in d) if (d[f] >= 5 || d[f] <= -5) printf "%+8.0f  %s\n", d[f], f }' |
		sort -k1,1gr | awk '{ v = $1 < 0 ? -$1 : $1; print v "\t" $0 }' | sort -k1,1gr | head -15 | cut -f2-
fi

[ "${THROUGHPUT:-1}" = 0 ] && exit 0
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
