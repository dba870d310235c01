#!/usr/bin/env bash
# demo/run.sh -- sets everything up on a fresh Debian 12 machine and runs the demo:
# installs packages, builds and installs fk_guard, starts a throwaway cluster
# (as the OS user postgres, under /tmp, with fk_guard preloaded), loads
# demo/demo.sql, shows the server log's fk_guard lines, then removes the cluster.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
source "$repo/scripts/lib.sh"

fkg_install_packages
fkg_build_install "$repo"
fkg_cluster_start demo "shared_preload_libraries = 'fk_guard'"
trap fkg_cluster_stop EXIT
psql -X -q -d postgres -f "$repo/demo/demo.sql"
echo
echo "== What the server log says (one enriched line per violation or bypassed statement):"
grep -o 'LOG:  fk_guard: .*' "$FKG_CLUSTER_DIR/server.log" || true
