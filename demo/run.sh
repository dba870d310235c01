#!/usr/bin/env bash
# demo/run.sh -- sets everything up on a fresh Debian 12 machine and runs the demo:
# installs packages, builds and installs fk_guard, starts a throwaway cluster
# (as the OS user postgres, under /tmp), loads demo/demo.sql, then removes it.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
source "$repo/scripts/lib.sh"

fkg_install_packages
fkg_build_install "$repo"
fkg_cluster_start demo
trap fkg_cluster_stop EXIT
psql -X -q -d postgres -f "$repo/demo/demo.sql"
