# scripts/lib.sh -- shared by scripts/test.sh, demo/run.sh and bench/run.sh (source it).
# Installs what fk_guard needs on Debian 12 and runs throwaway PostgreSQL clusters
# as an unprivileged OS user (PostgreSQL refuses to run as root).

# The server: PG_BIN (its bin directory) names it; without one, Debian's
# packaged PG_MAJOR (default 15). A PG_BIN outside /usr/lib/postgresql is a
# server built from source (scripts/test-matrix.sh: fkg_vendor_postgres), for
# which no server package is installed.
if [ -n "${PG_BIN:-}" ]; then
	case $PG_BIN in
	/usr/lib/postgresql/*/bin) PG_MAJOR=$(basename "$(dirname "$PG_BIN")") ;;
	*) PG_MAJOR=$("$PG_BIN/pg_config" --version | sed -n 's/^PostgreSQL \([0-9]*\).*/\1/p') ;;
	esac
else
	PG_MAJOR=${PG_MAJOR:-15}
	PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
fi
PG_OS_USER=${PG_OS_USER:-postgres}
export PATH="$PG_BIN:$PATH"

# Debian packages fk_guard needs to build, test, benchmark and demo: the
# toolchain, and for a packaged server the server, its headers, contrib and
# pg_cron (where Debian packages one for that major).
FKG_PACKAGES="libboost-dev libgtest-dev cmake g++ make libipc-run-perl perl clang-format clang-tidy"
case $PG_BIN in
/usr/lib/postgresql/*/bin)
	FKG_PACKAGES="postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR postgresql-contrib $FKG_PACKAGES"
	if dpkg-query -W -f='${Status}' "postgresql-$PG_MAJOR-cron" 2>/dev/null | grep -q "install ok installed" ||
		apt-cache show "postgresql-$PG_MAJOR-cron" >/dev/null 2>&1; then
		FKG_PACKAGES="$FKG_PACKAGES postgresql-$PG_MAJOR-cron"
	fi
	;;
esac

# fkg_install_packages [PACKAGE...]: installs those missing (default: FKG_PACKAGES).
fkg_install_packages() {
	local missing=""
	for p in ${*:-$FKG_PACKAGES}; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" != 0 ]; then
		echo "missing Debian packages:$missing (run as root, or install them)" >&2
		return 1
	fi
	echo "installing:$missing"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# Runs a command as the unprivileged OS user that owns the clusters.
fkg_as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u "$PG_OS_USER" -- "$@"; else "$@"; fi
}

# Builds and installs the extension into the server found by pg_config.
fkg_build_install() {
	local src=$1
	make -C "$src" -s PG_CONFIG="$PG_BIN/pg_config" >/dev/null
	if [ "$(id -u)" = 0 ]; then
		make -C "$src" -s PG_CONFIG="$PG_BIN/pg_config" install >/dev/null
	else
		sudo make -C "$src" -s PG_CONFIG="$PG_BIN/pg_config" install >/dev/null
	fi
}

# fkg_cluster_start NAME [postgresql.conf lines...]
# Starts a new cluster in a fresh directory under /tmp, listening on a Unix socket
# only, and exports PGHOST, PGPORT, PGUSER and FKG_PGDATA for it.
fkg_cluster_start() {
	local name=$1; shift
	local dir
	dir=$(mktemp -d "/tmp/fk_guard.$name.XXXXXX")
	[ "$(id -u)" = 0 ] && chown "$PG_OS_USER" "$dir"
	fkg_as_pg initdb -D "$dir/data" -U postgres --auth=trust --no-sync -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; return 1; }
	{
		echo "listen_addresses = ''"
		echo "unix_socket_directories = '$dir'"
		echo "port = 5432"
		echo "fsync = off"
		for line in "$@"; do echo "$line"; done
	} | fkg_as_pg tee -a "$dir/data/postgresql.conf" >/dev/null
	fkg_as_pg pg_ctl -D "$dir/data" -l "$dir/server.log" -w start >/dev/null ||
		{ cat "$dir/server.log" >&2; return 1; }
	export PGHOST=$dir PGPORT=5432 PGUSER=postgres FKG_PGDATA=$dir/data FKG_CLUSTER_DIR=$dir
}

# Stops the cluster started last and removes its directory (keep it with FKG_KEEP=1).
fkg_cluster_stop() {
	[ -n "${FKG_CLUSTER_DIR:-}" ] || return 0
	fkg_as_pg pg_ctl -D "$FKG_PGDATA" -m fast -w stop >/dev/null 2>&1 || true
	[ "${FKG_KEEP:-0}" = 1 ] || rm -rf "$FKG_CLUSTER_DIR"
	unset FKG_CLUSTER_DIR
}

# fkg_vendor_postgres VERSION
# Prints the install prefix of PostgreSQL VERSION built from the vendored
# postgresql-VERSION.tar.xz (FKG_VENDOR_DIR, default ../shared/vendor next to the
# checkout). Built once into FKG_CACHE_DIR (default /var/cache/fk_guard), outside
# the checkout, under postgresql-VERSION-<first 12 hex digits of the tarball's
# sha256>, and reused when present. The build happens in a private directory that
# is renamed into place only once complete, so a killed build is never taken for
# a finished one. Besides the server (with TAP test support) it installs what the
# tests need: contrib/spi (autoinc, refint) and, under PREFIX/src/test/regress,
# the tree's regression files with their regress.so built for this server.
# It is built with ICU (nondeterministic collations, which the tests exercise,
# as every packaged PostgreSQL has them: needs libicu-dev and pkg-config). A
# cache entry built by another recipe (FKG_VENDOR_RECIPE below, recorded in
# PREFIX/.fkg-recipe) is rebuilt. Build output goes to PREFIX.build.log.
FKG_VENDOR_RECIPE="configure --enable-tap-tests --with-icu; install; contrib/spi; src/test/regress"
FKG_BUILD_PACKAGES="bison flex libreadline-dev zlib1g-dev libssl-dev libicu-dev pkg-config make gcc"
fkg_vendor_postgres() {
	local version=$1
	local repo
	repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	local vendor=${FKG_VENDOR_DIR:-$repo/../shared/vendor}
	local cache=${FKG_CACHE_DIR:-/var/cache/fk_guard}
	local tarball=$vendor/postgresql-$version.tar.xz
	if [ ! -f "$tarball" ]; then
		echo "fkg_vendor_postgres: no $tarball (FKG_VENDOR_DIR names the vendor directory)" >&2
		return 1
	fi
	local sha
	sha=$(sha256sum "$tarball" | cut -d' ' -f1)
	if [ -f "$vendor/SHA256SUMS" ] && ! grep -q "^$sha  postgresql-$version.tar.xz\$" "$vendor/SHA256SUMS"; then
		echo "fkg_vendor_postgres: $tarball does not match $vendor/SHA256SUMS" >&2
		return 1
	fi
	local prefix=$cache/postgresql-$version-${sha:0:12}
	if [ -x "$prefix/bin/pg_config" ] && [ "$(cat "$prefix/.fkg-recipe" 2>/dev/null)" = "$FKG_VENDOR_RECIPE" ]; then
		echo "$prefix"
		return 0
	fi
	fkg_install_packages $FKG_BUILD_PACKAGES >&2 || return 1
	mkdir -p "$cache" || return 1
	local tmp log=$prefix.build.log
	tmp=$(mktemp -d "$cache/.build-postgresql-$version.XXXXXX") || return 1
	echo "building PostgreSQL $version into $prefix (log: $log)" >&2
	if ! (
		set -e
		tar -xJf "$tarball" -C "$tmp"
		cd "$tmp/postgresql-$version"
		sh ./configure --prefix="$prefix" --enable-tap-tests --with-icu
		make -j"$(nproc)"
		make install DESTDIR="$tmp/dest"
		make -C contrib/spi install DESTDIR="$tmp/dest"
		make -C src/test/regress all
		mkdir -p "$tmp/dest$prefix/src/test"
		cp -r src/test/regress "$tmp/dest$prefix/src/test/regress"
		cp COPYRIGHT "$tmp/dest$prefix/src/"
		echo "$FKG_VENDOR_RECIPE" >"$tmp/dest$prefix/.fkg-recipe"
	) >"$log" 2>&1; then
		echo "fkg_vendor_postgres: building PostgreSQL $version failed; the end of $log:" >&2
		tail -n 30 "$log" >&2
		rm -rf "$tmp"
		return 1
	fi
	# An entry of another recipe goes aside first. rename(2) is atomic; if a
	# concurrent build got there first, use its result.
	if [ -e "$prefix" ] && [ "$(cat "$prefix/.fkg-recipe" 2>/dev/null)" != "$FKG_VENDOR_RECIPE" ]; then
		mv -T "$prefix" "$tmp/previous"
	fi
	mv -T "$tmp/dest$prefix" "$prefix" 2>/dev/null || [ -f "$prefix/.fkg-recipe" ] || {
		echo "fkg_vendor_postgres: cannot move the build into $prefix" >&2
		rm -rf "$tmp"
		return 1
	}
	rm -rf "$tmp"
	echo "$prefix"
}

# fkg_vendor_citus
# Prints the directory holding Citus built from the vendored citus-13.2.2.tar.xz
# (with citus-13.2.2-pg15.18.patch) for the server of PG_BIN. Returns 2 when
# Citus cannot be had here (the vendored sources are absent, or the server's major
# is not one Citus supports, 15-17), 1 when the build fails (with the log's end).
# Built once into FKG_CACHE_DIR (default /var/cache/fk_guard) under
# citus-VERSION-pgMAJOR-<first 12 hex digits of the sha256 of the tarball's and
# the patch's checksums>, like fkg_vendor_postgres (private build directory, renamed
# into place when complete). The entry holds lib/ (citus.so and friends) and
# extension/ (control and SQL files); fkg_install_citus copies them into a server.
FKG_CITUS_VERSION=13.2.2
FKG_CITUS_PACKAGES="libcurl4-openssl-dev liblz4-dev libzstd-dev libkrb5-dev libssl-dev libselinux1-dev libxslt1-dev libpam0g-dev libreadline-dev make gcc"
fkg_vendor_citus() {
	local version=$FKG_CITUS_VERSION
	case $PG_MAJOR in 15 | 16 | 17) ;; *) return 2 ;; esac
	local repo
	repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	local vendor=${FKG_VENDOR_DIR:-$repo/../shared/vendor}
	local cache=${FKG_CACHE_DIR:-/var/cache/fk_guard}
	local tarball=$vendor/citus-$version.tar.xz patch=$vendor/citus-$version-pg15.18.patch
	if [ ! -f "$tarball" ] || [ ! -f "$patch" ]; then
		echo "fkg_vendor_citus: no $tarball or $patch (FKG_VENDOR_DIR names the vendor directory)" >&2
		return 2
	fi
	local tsha psha
	tsha=$(sha256sum "$tarball" | cut -d' ' -f1)
	psha=$(sha256sum "$patch" | cut -d' ' -f1)
	if [ -f "$vendor/SHA256SUMS" ] && ! { grep -q "^$tsha  citus-$version.tar.xz\$" "$vendor/SHA256SUMS" &&
		grep -q "^$psha  citus-$version-pg15.18.patch\$" "$vendor/SHA256SUMS"; }; then
		echo "fkg_vendor_citus: $tarball or $patch does not match $vendor/SHA256SUMS" >&2
		return 1
	fi
	local key
	key=$(printf '%s %s\n' "$tsha" "$psha" | sha256sum | cut -c1-12)
	local prefix=$cache/citus-$version-pg$PG_MAJOR-$key
	if [ -f "$prefix/lib/citus.so" ] && [ -f "$prefix/extension/citus.control" ]; then
		echo "$prefix"
		return 0
	fi
	fkg_install_packages $FKG_CITUS_PACKAGES >&2 || return 1
	mkdir -p "$cache" || return 1
	local tmp log=$prefix.build.log pg_config=$PG_BIN/pg_config
	tmp=$(mktemp -d "$cache/.build-citus-$version.XXXXXX") || return 1
	echo "building Citus $version for PostgreSQL $PG_MAJOR into $prefix (log: $log)" >&2
	if ! (
		set -e
		tar -xJf "$tarball" -C "$tmp"
		cd "$tmp/citus-$version"
		patch -p1 <"$patch"
		./configure PG_CONFIG="$pg_config"
		make -j2
		make install DESTDIR="$tmp/dest"
		mkdir -p "$tmp/entry/lib" "$tmp/entry/extension"
		cp -a "$tmp/dest$("$pg_config" --pkglibdir)/." "$tmp/entry/lib/"
		cp -a "$tmp/dest$("$pg_config" --sharedir)/extension/." "$tmp/entry/extension/"
		cp LICENSE "$tmp/entry/"
	) >"$log" 2>&1; then
		echo "fkg_vendor_citus: building Citus $version failed; the end of $log:" >&2
		tail -n 30 "$log" >&2
		rm -rf "$tmp"
		return 1
	fi
	mv -T "$tmp/entry" "$prefix" 2>/dev/null || [ -f "$prefix/lib/citus.so" ] || {
		echo "fkg_vendor_citus: cannot move the build into $prefix" >&2
		rm -rf "$tmp"
		return 1
	}
	rm -rf "$tmp"
	echo "$prefix"
}

# fkg_install_citus: installs the cached Citus build (fkg_vendor_citus) into the
# server of PG_BIN (its pkglibdir and sharedir/extension). Returns 2 when Citus
# cannot be had here (fkg_vendor_citus), 1 when it cannot be built or installed.
fkg_install_citus() {
	local prefix status=0
	prefix=$(fkg_vendor_citus) || status=$?
	[ "$status" = 0 ] || return "$status"
	local lib ext sudo=""
	lib=$("$PG_BIN/pg_config" --pkglibdir)
	ext=$("$PG_BIN/pg_config" --sharedir)/extension
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo cp -a "$prefix/lib/." "$lib/" && $sudo cp -a "$prefix/extension/." "$ext/"
}
