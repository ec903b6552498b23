EXTENSION = gateway
# The version lives in gateway.control only.
EXTVERSION = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(EXTENSION).control)

MODULE_big = gateway
OBJS = \
	src/gateway.o \
	src/http.o \
	src/jsonutil.o \
	src/util.o \
	src/account.o \
	src/rights.o \
	src/mask.o \
	src/credfile.o \
	src/provider.o \
	src/result.o \
	src/outcome.o \
	src/circuit.o \
	src/route.o \
	src/token.o \
	src/request.o \
	src/call.o \
	src/shmem.o \
	src/stats.o \
	src/health.o \
	src/metrics.o \
	src/monitor.o \
	src/outbox.o \
	src/journal.o \
	src/inbound.o \
	src/optout.o \
	src/launcher.o \
	src/worker.o \
	src/pause.o \
	src/cancel.o \
	src/callback.o \
	src/listener.o \
	src/clients.o \
	src/front.o \
	src/msisdn.o \
	src/smsinfo.o \
	src/cost.o \
	src/rollup.o \
	src/statuspage.o \
	src/providers/vaspro.o \
	src/providers/mspace.o \
	src/providers/umeskia.o \
	src/providers/vtpass.o \
	src/providers/nenasasa.o

DATA = $(wildcard sql/$(EXTENSION)--*.sql)

# Every sql/*.sql except the install and upgrade scripts is a regression test.
TESTS = $(filter-out sql/$(EXTENSION)--%,$(wildcard sql/*.sql))
REGRESS = $(patsubst sql/%.sql,%,$(TESTS))
REGRESS_OPTS = --inputdir=. --dbname=contrib_regression

PG_CPPFLAGS = -I$(srcdir)/src -DGW_VERSION=\"$(EXTVERSION)\"
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare \
	-MMD -MP
SHLIB_LINK = -lcurl -lmicrohttpd

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Rebuild objects when a header they include changes.
-include $(OBJS:.o=.d)
EXTRA_CLEAN = $(OBJS:.o=.d)

.PHONY: mock dist
mock:
	$(MAKE) -C test/mock

# The PGXN distribution: the committed HEAD as gateway-VERSION.zip (one top
# directory, META.json in it); test/t/dist.sh builds and installs it.
dist:
	git archive --format zip --prefix=$(EXTENSION)-$(EXTVERSION)/ -o $(EXTENSION)-$(EXTVERSION).zip HEAD

# Hostile input (docs/development.md: "Hostile input"): clang builds with AddressSanitizer
# and UndefinedBehaviorSanitizer in fuzz/build/, never over this build.
FUZZ_SECONDS ?= 30
.PHONY: fuzz fuzz-build asan-build check-asan
# (scripts/setup.sh --fuzz installs clang-14, its sanitizer runtimes and llvm-14)
fuzz-build:
	@bash scripts/setup.sh --fuzz
	@$(MAKE) -s -j2 -f fuzz/Makefile FLAVOR=fuzz GW_OBJS="$(OBJS)"
asan-build:
	@bash scripts/setup.sh --fuzz
	@$(MAKE) -s -j2 -f fuzz/Makefile FLAVOR=asan GW_OBJS="$(OBJS)"
fuzz: fuzz-build
	@bash fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_HARNESSES)
check-asan: asan-build
	@flock /tmp/gw-test.lock bash fuzz/check-asan.sh
