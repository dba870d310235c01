#!/usr/bin/env bash
# scripts/test.sh -- runs every fk_guard test and exits non-zero on any failure.
#
# On a fresh Debian 12 machine (as root) it installs the packages it needs, builds
# and installs the extension into the server of PG_BIN (default Debian's
# PostgreSQL 15, /usr/lib/postgresql/15/bin; a source-built server's bin works too:
# scripts/test-matrix.sh runs this against 15, 16 and 18), then runs:
#   0. make format-check (the sources as clang-format writes them; a second or so),
#   1. the C++ unit tests (GoogleTest, via CMake and ctest), and on the 15 leg make tidy
#      (clang-tidy; one to three minutes),
#   2. the pg_regress suite (sql/, expected/) against a throwaway cluster, and its
#      preloaded part on a temporary server pg_regress starts (make installcheck-preloaded),
#   3. the cluster tests (test/t/*.pl, TAP) that need several sessions or servers
#      (for PostgreSQL 15-17 with Citus built from ../shared/vendor, cached like the servers).
#      One runs PostgreSQL's own regression files (the server's major: for 15 the 15.1 files
#      from ../shared/vendor, FKG_VENDOR_DIR, built once into /var/cache/fk_guard, FKG_CACHE_DIR;
#      for a source-built server its tree's) with and without fk_guard.
# Clusters run as the unprivileged OS user "postgres" in directories under /tmp.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
source "$repo/scripts/lib.sh"

fkg_install_packages
fkg_build_install "$repo"

# Citus for the cluster test test/t/070_citus.pl: built once
# from ../shared/vendor into FKG_CACHE_DIR (fkg_vendor_citus) and copied into
# the server under test; without the vendored sources the test skips.
# Only the PostgreSQL 15 leg builds it (the matrix's 16 and 18 legs would each
# spend a Citus build, and Citus 13 has no 18).
citus_status=0
if [ "$PG_MAJOR" = 15 ]; then fkg_install_citus || citus_status=$?; else citus_status=2; fi
case $citus_status in
0) echo "Citus installed into $("$PG_BIN/pg_config" --pkglibdir)" ;;
2) echo "no Citus for PostgreSQL $PG_MAJOR here (only the 15 leg builds it; or no vendored sources): its cluster test skips" ;;
*) echo "Citus could not be installed: its cluster test skips, and the suite fails" ;;
esac

logs=$(mktemp -d /tmp/fk_guard.testlogs.XXXXXX)
declare -a passed=() failed=()
tests_passed=0 tests_failed=0
# record NAME STATUS PASSED FAILED: a suite's result and its test counts
# (a failed suite whose output could not be counted counts as one failure).
record() {
	if [ "$2" = 0 ]; then passed+=("$1"); else failed+=("$1"); fi
	local p=${3:-0} f=${4:-0}
	[ "$2" != 0 ] && [ "$f" = 0 ] && f=1
	tests_passed=$((tests_passed + p)) tests_failed=$((tests_failed + f))
}
# record_regress NAME STATUS LOG DIFFS: a pg_regress run's result, counted from its
# output (pg_regress 15 prints "test name ... ok|FAILED", 16 and later
# "ok|not ok N - name"), with the first lines of its diffs when it failed.
record_regress() {
	local total bad
	[ "$2" = 0 ] || head -200 "$4" 2>/dev/null || true
	total=$(grep -cE '^(test .* \.\.\. |(not )?ok [0-9]+ +- )' "$3" || true)
	bad=$(grep -cE '^(test .* \.\.\. FAILED|not ok [0-9]+ )' "$3" || true)
	record "$1" "$2" $((total - bad)) "$bad"
}

[ "$citus_status" = 0 ] || [ "$citus_status" = 2 ] || record citus_build 1 0 1

echo "== format (clang-format)"
status=0
make -C "$repo" -s PG_CONFIG="$PG_BIN/pg_config" format-check 2>&1 | tee "$logs/format" || status=$?
record format "$status" $((status == 0)) 0

echo "== unit tests (ctest)"
status=0
make -C "$repo" -s PG_CONFIG="$PG_BIN/pg_config" unit 2>&1 | tee "$logs/unit" || status=$?
read -r total bad < <(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\2 \1/p' "$logs/unit")
record unit "$status" $((${total:-0} - ${bad:-0})) "${bad:-0}"

# clang-tidy (.clang-tidy, every finding an error) on the PostgreSQL 15 leg only:
# the sources are the same for every version, and it takes one to three minutes.
if [ "$PG_MAJOR" = 15 ]; then
	echo "== clang-tidy"
	status=0
	make -C "$repo" -s PG_CONFIG="$PG_BIN/pg_config" tidy >"$logs/tidy" 2>&1 || status=$?
	grep -v "warnings generated" "$logs/tidy" | tail -40 || true
	record tidy "$status" $((status == 0)) $((status != 0))
fi

echo "== pg_regress"
status=0
fkg_cluster_start regress
make -C "$repo" -s PG_CONFIG="$PG_BIN/pg_config" installcheck 2>&1 | tee "$logs/regress" || status=$?
record_regress pg_regress "$status" "$logs/regress" "$repo/regression.diffs"

echo "== pg_regress, each orphan engine forced (one_pass, then planner)"
status=0
make -C "$repo" -s PG_CONFIG="$PG_BIN/pg_config" installcheck-engines 2>&1 | tee "$logs/engines" || status=$?
fkg_cluster_stop
record_regress pg_regress_engines "$status" "$logs/engines" "$repo/regression.diffs"

echo "== pg_regress, preloaded"
status=0
preloaded=$(mktemp -d /tmp/fk_guard.preloaded.XXXXXX)
[ "$(id -u)" = 0 ] && chown "$PG_OS_USER" "$preloaded"
fkg_as_pg make -C "$repo" -s PG_CONFIG="$PG_BIN/pg_config" PRELOADED_OUTPUTDIR="$preloaded" installcheck-preloaded 2>&1 |
	tee "$logs/preloaded" || status=$?
record_regress pg_regress_preloaded "$status" "$logs/preloaded" "$preloaded/regression.diffs"
[ "$status" = 0 ] && rm -rf "$preloaded"

echo "== cluster tests (prove)"
status=0
tapdir=$(mktemp -d /tmp/fk_guard.tap.XXXXXX)
cp -r "$repo/test/t" "$tapdir/t"
[ "$(id -u)" = 0 ] && chown -R "$PG_OS_USER" "$tapdir"
# Tests that run PostgreSQL's own files read them from FKG_VENDOR_DIR (they skip
# when it is absent) and keep what they build from them in FKG_CACHE_DIR, outside
# the checkout and writable by the user the tests run as.
vendor=${FKG_VENDOR_DIR:-$repo/../shared/vendor}
if [ "$(id -u)" = 0 ]; then
	cache=${FKG_CACHE_DIR:-/var/cache/fk_guard}
	mkdir -p "$cache" && chown "$PG_OS_USER" "$cache"
else
	cache=${FKG_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/fk_guard}
fi
(cd "$tapdir" && fkg_as_pg env PATH="$PATH" TESTDIR="$tapdir" PG_REGRESS="$("$PG_BIN/pg_config" --pkglibdir)/pgxs/src/test/regress/pg_regress" \
	FKG_VENDOR_DIR="$vendor" FKG_CACHE_DIR="$cache" \
	prove -I "$("$PG_BIN/pg_config" --pkglibdir)/pgxs/src/test/perl" t/*.pl) 2>&1 | tee "$logs/cluster" || status=$?
[ "$status" = 0 ] && rm -rf "$tapdir" || echo "cluster test logs kept in $tapdir/tmp_check"
total=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p' "$logs/cluster")
bad=$(sed -n 's/.*Failed \([0-9]*\)\/[0-9]* subtests.*/\1/p' "$logs/cluster" | awk '{ s += $1 } END { print s + 0 }')
record cluster "$status" $((${total:-0} - bad)) "$bad"

echo
echo "passed suites: ${passed[*]:-none}; failed suites: ${failed[*]:-none}"
echo "tests: $tests_passed passed, $tests_failed failed"
[ "${#failed[@]}" = 0 ]
