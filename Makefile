# fk_guard: PGXS build, install and pg_regress tests.
#   make && make install         build and install into the server found by PG_CONFIG
#   make installcheck            pg_regress against a running server (scripts/test.sh starts one)
# scripts/test.sh is the one command that runs every test on a fresh machine.

MODULE_big = fk_guard
OBJS = $(patsubst %.cpp,%.o,$(sort $(wildcard src/*.cpp src/*/*.cpp)))

EXTENSION = fk_guard
DATA = $(sort $(wildcard fk_guard--*.sql))
PGFILEDESC = "fk_guard - find orphaned rows and watch foreign-key violations"

REGRESS = orphans_basic orphans_semantics orphans_partitions orphans_identifiers \
	orphans_privileges orphans_arguments orphans_summary orphans_fidelity violations_not_preloaded upgrade audit security security_schema
REGRESS_OPTS = --inputdir=. --load-extension=fk_guard

PG_CONFIG ?= pg_config

# C++17; -Wno-register silences PostgreSQL headers that still use `register`.
PG_CXXFLAGS = -std=c++17 -Wall -Wextra -Wno-register -Wno-unused-parameter -Wno-missing-field-initializers
SHLIB_LINK += -lstdc++

# Debian's PGXS would also compile the sources to LLVM bitcode without PG_CXXFLAGS;
# fk_guard has nothing worth inlining into JIT-compiled expressions.
override with_llvm = no

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
