#!/usr/bin/env bash
# scripts/test-matrix.sh -- runs every fk_guard test (scripts/test.sh) against each
# supported PostgreSQL major and exits non-zero if anything failed.
#
#   PostgreSQL 15    Debian 12's packages (/usr/lib/postgresql/15), with Citus 13.2.2 built from
#                    ../shared/vendor for test/t/070_citus.pl (fkg_vendor_citus, cached the same way)
#   PostgreSQL 16.2  built from ../shared/vendor/postgresql-16.2.tar.xz
#   PostgreSQL 18.3  built from ../shared/vendor/postgresql-18.3.tar.xz
#
# Each vendored tree is built once (about 4 minutes on 2 cores) into FKG_CACHE_DIR
# (default /var/cache/fk_guard), keyed by the tarball's sha256, and reused later
# (scripts/lib.sh: fkg_vendor_postgres). Each version runs in its own copy of the
# checkout, so their objects never mix. Prints each version's
# `tests: N passed, M failed` and, last, the total in the same form.
#
# Settings (environment):
#   FKG_MATRIX          versions to run (default "15 16.2 18.3")
#   FKG_VENDOR_DIR      the vendored tarballs (default ../shared/vendor next to the checkout)
#   FKG_PG15_BIN        PostgreSQL 15's bin directory (default Debian's)
#   FKG_MATRIX_FUZZ_CASES  cases of test/t/040_orphans_fuzz.pl on the source-built
#                       versions (default 150; Debian's 15 runs the full 400)
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
source "$repo/scripts/lib.sh"

versions=${FKG_MATRIX:-15 16.2 18.3}
vendor=$(cd "${FKG_VENDOR_DIR:-$repo/../shared/vendor}" 2>/dev/null && pwd) || vendor=${FKG_VENDOR_DIR:-$repo/../shared/vendor}
export FKG_VENDOR_DIR=$vendor
pg15_bin=${FKG_PG15_BIN:-/usr/lib/postgresql/15/bin}
fuzz_cases=${FKG_MATRIX_FUZZ_CASES:-150}


elapsed() {
	local s=$(($(date +%s) - $1))
	printf '%dm%02ds' $((s / 60)) $((s % 60))
}

started=$(date +%s)
total_passed=0 total_failed=0
summary=()
for version in $versions; do
	echo
	echo "==== PostgreSQL $version"
	version_started=$(date +%s)
	fuzz=()
	if [ "$version" = 15 ]; then
		bin=$pg15_bin
	else
		if ! prefix=$(fkg_vendor_postgres "$version"); then
			summary+=("PostgreSQL $version: tests: 0 passed, 1 failed (could not build the server; $(elapsed "$version_started"))")
			total_failed=$((total_failed + 1))
			continue
		fi
		bin=$prefix/bin
		fuzz=(FKG_FUZZ_CASES="${FKG_FUZZ_CASES:-$fuzz_cases}")
	fi
	# A copy of the checkout (tracked and untracked files, none ignored): the
	# extension's objects live next to its sources.
	work=$(mktemp -d "/tmp/fk_guard.matrix-$version.XXXXXX")
	chmod 755 "$work" # test.sh runs some steps in it as the clusters' OS user
	if git -C "$repo" rev-parse --git-dir >/dev/null 2>&1; then
		(cd "$repo" && git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$work")
	else
		cp -r "$repo/." "$work"
		make -C "$work" -s clean >/dev/null 2>&1 || true
	fi
	log=$work.log
	status=0
	env PG_BIN="$bin" "${fuzz[@]}" "$work/scripts/test.sh" 2>&1 | tee "$log" || status=$?
	read -r p f < <(sed -n 's/^tests: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$log" | tail -n 1)
	p=${p:-0} f=${f:-0}
	[ "$status" != 0 ] && [ "$f" = 0 ] && f=1
	total_passed=$((total_passed + p)) total_failed=$((total_failed + f))
	note=""
	[ ${#fuzz[@]} -gt 0 ] && note="; fuzzer: ${fuzz[0]#FKG_FUZZ_CASES=} cases"
	summary+=("PostgreSQL $version: tests: $p passed, $f failed ($(elapsed "$version_started")$note)")
	echo "tests: $p passed, $f failed"
	if [ "$status" = 0 ]; then rm -rf "$work" "$log"; else echo "PostgreSQL $version: checkout and log kept in $work and $log"; fi
done

echo
echo "==== matrix ($(elapsed "$started") in all)"
for line in "${summary[@]}"; do echo "$line"; done
echo "tests: $total_passed passed, $total_failed failed"
[ "$total_failed" = 0 ]
