#!/usr/bin/env bash
# scripts/test.sh -- runs every fk_guard test and exits non-zero on any failure.
#
# On a fresh Debian 12 machine (as root) it installs the packages it needs, builds
# and installs the extension, then runs:
#   1. the C++ unit tests (GoogleTest, via CMake and ctest),
#   2. the pg_regress suite (sql/, expected/) against a throwaway cluster,
#   3. the cluster tests (test/t/*.pl, TAP) that need several sessions or servers.
# Clusters run as the unprivileged OS user "postgres" in directories under /tmp.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
source "$repo/scripts/lib.sh"

fkg_install_packages
fkg_build_install "$repo"

declare -a passed=() failed=()
record() { # record NAME STATUS
	if [ "$2" = 0 ]; then passed+=("$1"); else failed+=("$1"); fi
}

echo "== unit tests (ctest)"
status=0
{ cmake -S "$repo" -B "$repo/build" -DPG_CONFIG="$PG_BIN/pg_config" >/dev/null &&
	cmake --build "$repo/build" -j2 >/dev/null &&
	ctest --test-dir "$repo/build" --output-on-failure; } || status=$?
record unit "$status"

echo "== pg_regress"
status=0
fkg_cluster_start regress
make -C "$repo" -s PG_CONFIG="$PG_BIN/pg_config" installcheck || status=$?
[ "$status" = 0 ] || cat "$repo/regression.diffs" 2>/dev/null | head -200
fkg_cluster_stop
record pg_regress "$status"

echo "== cluster tests (prove)"
status=0
tapdir=$(mktemp -d /tmp/fk_guard.tap.XXXXXX)
cp -r "$repo/test/t" "$tapdir/t"
[ "$(id -u)" = 0 ] && chown -R "$PG_OS_USER" "$tapdir"
(cd "$tapdir" && fkg_as_pg env PATH="$PATH" TESTDIR="$tapdir" PG_REGRESS="$("$PG_BIN/pg_config" --pkglibdir)/pgxs/src/test/regress/pg_regress" \
	prove -I "$("$PG_BIN/pg_config" --pkglibdir)/pgxs/src/test/perl" t/*.pl) || status=$?
[ "$status" = 0 ] && rm -rf "$tapdir" || echo "cluster test logs kept in $tapdir/tmp_check"
record cluster "$status"

echo
echo "passed suites: ${passed[*]:-none}; failed suites: ${failed[*]:-none}"
echo "suites: ${#passed[@]} passed, ${#failed[@]} failed"
[ "${#failed[@]}" = 0 ]
