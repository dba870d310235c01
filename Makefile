# fk_guard: PGXS build, install and tests.
#   make && make install         build and install into the server found by PG_CONFIG
#   make installcheck            pg_regress against a running server (scripts/test.sh starts one)
#   make installcheck-preloaded  pg_regress of violation capture on a temporary server that preloads
#                                fk_guard (test/preloaded.conf); run it as a user initdb accepts
#   make prove_installcheck      the cluster tests (test/t, TAP) against the installed server; they
#                                start their own clusters, so run them as a user initdb accepts
#   make installcheck-engines    installcheck twice more, with fk_guard.orphan_engine forced to
#                                one_pass, then to planner
#   make unit                    the C++ unit tests (GoogleTest, through CMake and ctest)
#   make format                  reformat src/ and test/unit/ with clang-format (.clang-format)
#   make format-check            fail if clang-format would change any of them (scripts/test.sh runs it)
#   make tidy                    clang-tidy (.clang-tidy) over src/**/*.cpp, through build/compile_commands.json
# scripts/test.sh is the one command that installs what they need and runs them all.

MODULE_big = fk_guard
OBJS = $(patsubst %.cpp,%.o,$(sort $(wildcard src/*.cpp src/*/*.cpp)))

EXTENSION = fk_guard
DATA = $(sort $(wildcard fk_guard--*.sql))
PGFILEDESC = "fk_guard - find orphaned rows and watch foreign-key violations"

REGRESS = test_setup orphans_basic orphans_semantics orphans_partitions orphans_identifiers \
	orphans_privileges orphans_arguments orphans_summary orphans_fidelity orphans_citext orphans_engine load_order precheck violations_not_preloaded upgrade audit security security_schema foreign_keys_pg18 extension_members citus_absent repair
REGRESS_OPTS = --inputdir=. --load-extension=fk_guard
# Needs shared_preload_libraries: run by installcheck-preloaded on a server of its own.
REGRESS_PRELOADED = violations_preloaded bypass_preloaded
# Where installcheck-preloaded writes results/ and its temporary server.
PRELOADED_OUTPUTDIR ?= $(CURDIR)

PG_CONFIG ?= pg_config

# Sources include each other by their path under src/ ("common/pg_boundary.h").
PG_CPPFLAGS = -I$(srcdir)/src
# C++17; -Wno-register silences PostgreSQL headers that still use `register`.
PG_CXXFLAGS = -std=c++17 -Wall -Wextra -Wno-register -Wno-unused-parameter -Wno-missing-field-initializers
SHLIB_LINK += -lstdc++

# Debian's PGXS would also compile the sources to LLVM bitcode without PG_CXXFLAGS;
# fk_guard has nothing worth inlining into JIT-compiled expressions.
override with_llvm = no

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

PROVE ?= prove
.PHONY: installcheck-preloaded installcheck-engines prove_installcheck unit format format-check tidy
# The whole pg_regress suite once more with each engine forced (fk_guard.orphan_engine).
installcheck-engines:
	PGOPTIONS='-c fk_guard.orphan_engine=one_pass' $(MAKE) installcheck
	PGOPTIONS='-c fk_guard.orphan_engine=planner' $(MAKE) installcheck

installcheck-preloaded:
	$(pg_regress_installcheck) $(REGRESS_OPTS) --outputdir='$(PRELOADED_OUTPUTDIR)' \
	  --temp-instance='$(PRELOADED_OUTPUTDIR)/tmp_check_preloaded' --temp-config='$(srcdir)/test/preloaded.conf' \
	  $(REGRESS_PRELOADED)

prove_installcheck:
	rm -rf '$(CURDIR)/tmp_check'
	cd '$(srcdir)/test' && TESTDIR='$(CURDIR)' PATH="$(bindir):$$PATH" \
	  PG_REGRESS='$(pgxsdir)/src/test/regress/pg_regress' \
	  $(PROVE) -I '$(pgxsdir)/src/test/perl' $(PROVE_FLAGS) $(or $(PROVE_TESTS),t/*.pl)

# The CMake build tree: compile_commands.json for clang-tidy, the unit tests for ctest.
cmake_configure = cmake -S '$(srcdir)' -B '$(CURDIR)/build' -DPG_CONFIG='$(shell command -v $(PG_CONFIG))' >/dev/null

unit:
	$(cmake_configure)
	cmake --build '$(CURDIR)/build' -j2 >/dev/null
	ctest --test-dir '$(CURDIR)/build' --output-on-failure

# Formatting and static checks (clang-format and clang-tidy 14, as on Debian 12).
CLANG_FORMAT ?= clang-format
CLANG_TIDY ?= clang-tidy
RUN_CLANG_TIDY ?= run-clang-tidy
TIDY_JOBS ?= $(shell nproc 2>/dev/null || echo 2)
FORMAT_SOURCES = $(sort $(wildcard $(srcdir)/src/*.cpp $(srcdir)/src/*.h $(srcdir)/src/*/*.cpp $(srcdir)/src/*/*.h \
	$(srcdir)/test/unit/*.cpp $(srcdir)/test/unit/*.h))

format:
	$(CLANG_FORMAT) -i $(FORMAT_SOURCES)

format-check:
	$(CLANG_FORMAT) --dry-run --Werror $(FORMAT_SOURCES)

# Every diagnostic is an error (.clang-tidy: WarningsAsErrors), so any finding fails.
tidy:
	$(cmake_configure)
	$(RUN_CLANG_TIDY) -clang-tidy-binary '$(CLANG_TIDY)' -p '$(CURDIR)/build' -j $(TIDY_JOBS) -quiet \
	  $(addprefix '$(abspath $(srcdir))/,$(addsuffix ',$(OBJS:.o=.cpp)))
