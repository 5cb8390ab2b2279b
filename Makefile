# cthreading's one build file (plain GNU make; style.md section 8 says why).
# Each variant builds in its own directory, build/<cc>-<build>[-<san>][-posix]:
#   make check CC=clang SAN=thread     make check SAN=address,undefined
#   make check BUILD=debug TEST=lock   make check PLATFORM=posix
# `make check-all` is the whole gate that CI runs (with WERROR=1).

# Name the compiler where we can: build/gcc-release, not build/cc-release.
ifeq ($(origin CC),default)
CC := $(if $(shell command -v gcc 2>/dev/null),gcc,cc)
endif
BUILD ?= release
SAN ?=
WERROR ?=
PLATFORM ?= $(if $(filter Linux,$(shell uname -s)),linux,posix)
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DESTDIR ?=
TEST ?=
BENCH_ARGS ?=
LAB_ARGS ?=

VERSION := $(shell sed -n 's/^\#define CT_VERSION_STRING "\(.*\)"/\1/p' include/cthreading/base.h)
SOMAJOR := $(firstword $(subst ., ,$(VERSION)))

# --- Where this variant builds ----------------------------------------------

comma := ,
CCNAME := $(notdir $(lastword $(CC)))
SANDIR := $(subst $(comma),-,$(SAN))
SANDIR := $(subst thread,tsan,$(subst address,asan,$(subst undefined,ubsan,$(SANDIR))))
OUT := build/$(CCNAME)-$(BUILD)$(if $(SAN),-$(SANDIR))$(if $(filter posix,$(PLATFORM)),-posix)

# --- Sources: the platform files are chosen here, once ----------------------

PLATFORM_SRCS_linux := src/platform/parker_linux.c src/platform/os_posix.c \
    src/platform/thread_posix.c
PLATFORM_SRCS_posix := src/platform/parker_posix.c src/platform/os_posix.c \
    src/platform/thread_posix.c
ifeq ($(PLATFORM_SRCS_$(PLATFORM)),)
$(error PLATFORM=$(PLATFORM): choose linux or posix)
endif
LIB_SRCS := $(wildcard src/*.c src/sync/*.c $(PLATFORM_SRCS_$(PLATFORM)))
TEST_SRCS := $(wildcard tests/harness/*.c tests/test_*.c) tests/json_mini.c \
    tests/ctlab_run.c
BENCH_SRCS := $(wildcard bench/*.c)
EXAMPLE_SRCS := $(wildcard examples/*.c)
LAB_SRCS := $(wildcard lab/*.c)
HEADERS := include/cthreading.h $(wildcard include/cthreading/*.h)
FORMAT_FILES := $(wildcard include/*.h include/*/*.h src/*.[ch] src/*/*.[ch] \
    tests/*.[ch] tests/*/*.[ch] bench/*.[ch] examples/*.c lab/*.[ch])

LIB_OBJS := $(LIB_SRCS:%.c=$(OUT)/obj/%.o)
TEST_OBJS := $(TEST_SRCS:%.c=$(OUT)/obj/%.o)
BENCH_OBJS := $(BENCH_SRCS:%.c=$(OUT)/obj/%.o)
LAB_OBJS := $(LAB_SRCS:%.c=$(OUT)/obj/%.o)
# The tests check ctlab's JSON and SVG writers directly, as well as ctlab.
LAB_TEST_OBJS := $(OUT)/obj/lab/json.o $(OUT)/obj/lab/svg.o

# --- Flags -------------------------------------------------------------------

WARNINGS := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
    -Wmissing-prototypes -Wcast-align -Wpointer-arith -Wwrite-strings -Wundef
OPT_release := -O2 -g
OPT_debug := -O0 -g -DCT_DEBUG
ifeq ($(OPT_$(BUILD)),)
$(error BUILD=$(BUILD): choose release or debug)
endif
OPT := $(OPT_$(BUILD))
ifeq ($(SAN),thread)
OPT := -O1 -g
SANFLAGS := -fsanitize=thread
else ifneq ($(SAN),)
OPT := -O1 -g
SANFLAGS := -fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

ALL_CFLAGS := $(strip -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc \
    -fvisibility=hidden -fPIC -pthread $(OPT) $(SANFLAGS) $(WARNINGS) \
    $(if $(filter 1,$(WERROR)),-Werror) -MMD -MP $(CPPFLAGS) $(CFLAGS))
ALL_LDFLAGS := $(strip -pthread $(SANFLAGS) $(LDFLAGS))
LIBS := -lm
# Bench programs may compare against GLib; its headers count as system ones.
GLIB = $(shell pkg-config --exists glib-2.0 2>/dev/null && \
    pkg-config --cflags glib-2.0 | sed 's/-I/-isystem /g')
GLIB_LIBS = $(if $(GLIB),$(shell pkg-config --libs glib-2.0))
# Extra flags by top directory: tests/ and bench/ see their own headers.
DIR_FLAGS_tests = -Itests -Itests/harness -Ilab
DIR_FLAGS_lab = -Ilab -Ibench
DIR_FLAGS_bench = -Ibench $(GLIB) $(if $(GLIB),-DCT_HAVE_GLIB)

# Rebuild everything when the flags change (WERROR=1 after a plain build).
ifneq ($(filter-out clean format lint headers-check check-all,$(or $(MAKECMDGOALS),all)),)
FLAGS_NOW := $(ALL_CFLAGS) | $(ALL_LDFLAGS)
FLAGS_OLD := $(strip $(shell cat $(OUT)/flags 2>/dev/null))
ifneq ($(FLAGS_NOW),$(FLAGS_OLD))
$(shell mkdir -p $(OUT) && echo '$(FLAGS_NOW)' > $(OUT)/flags)
endif
endif

# --- Products ----------------------------------------------------------------

STATIC := $(OUT)/libcthreading.a
SHARED := $(OUT)/libcthreading.so.$(VERSION)

.PHONY: all check check-all bench lab install install-check exports-check \
    headers-check lint format examples clean

all: $(STATIC) $(SHARED) $(OUT)/ctlab $(OUT)/ct_bench

$(OUT)/obj/%.o: %.c $(OUT)/flags
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(DIR_FLAGS_$(firstword $(subst /, ,$<))) -c $< -o $@

$(OUT)/flags:
	@mkdir -p $(@D) && echo '$(ALL_CFLAGS) | $(ALL_LDFLAGS)' > $@

$(STATIC): $(LIB_OBJS)
	rm -f $@ && $(AR) rcs $@ $^

$(SHARED): $(LIB_OBJS)
	$(CC) -shared -Wl,-soname,libcthreading.so.$(SOMAJOR) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)
	ln -sf libcthreading.so.$(VERSION) $(OUT)/libcthreading.so.$(SOMAJOR)
	ln -sf libcthreading.so.$(SOMAJOR) $(OUT)/libcthreading.so

$(OUT)/ct_tests: $(TEST_OBJS) $(LAB_TEST_OBJS) $(STATIC)
	$(CC) $(ALL_LDFLAGS) -o $@ $(TEST_OBJS) $(LAB_TEST_OBJS) $(STATIC) $(LIBS)

# The program that tests/test_thread.c runs to see the join at process exit.
$(OUT)/ct_exit_child: $(OUT)/obj/tests/exit_child.o $(STATIC)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(STATIC) $(LIBS)

$(OUT)/ct_bench: $(BENCH_OBJS) $(STATIC)
	$(CC) $(ALL_LDFLAGS) -o $@ $(BENCH_OBJS) $(STATIC) $(GLIB_LIBS) $(LIBS)

# ctlab: the static library, libc, pthread and libm only (no GLib).
# `ctlab gil` runs the benchmark's GIL workloads (bench/bench_gil.c).
LAB_BENCH_OBJS := $(OUT)/obj/bench/bench_gil.o
$(OUT)/ctlab: $(LAB_OBJS) $(LAB_BENCH_OBJS) $(STATIC)
	$(CC) $(ALL_LDFLAGS) -o $@ $(LAB_OBJS) $(LAB_BENCH_OBJS) $(STATIC) $(LIBS)

# An example that needs a library of its own names it in EXAMPLE_LIBS_<name>.
EXAMPLE_LIBS_exercise5_threads_vs_sequential := -lcrypto
$(OUT)/examples/%: examples/%.c $(STATIC) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(filter-out -Isrc,$(ALL_CFLAGS)) $(ALL_LDFLAGS) -MF $@.d -o $@ $< \
	    $(STATIC) $(EXAMPLE_LIBS_$*) $(LIBS)

-include $(LIB_OBJS:.o=.d) $(TEST_OBJS:.o=.d) $(BENCH_OBJS:.o=.d) \
    $(LAB_OBJS:.o=.d) \
    $(OUT)/obj/tests/exit_child.d

# --- Tests -------------------------------------------------------------------

# Sanitizers slow the tests down: give the watchdog more time.
TEST_ENV := $(if $(SAN),CT_TEST_TIMEOUT_SCALE=$${CT_TEST_TIMEOUT_SCALE:-5})
ifeq ($(SAN),thread)
TEST_ENV += TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 $$TSAN_OPTIONS"
else ifneq ($(SAN),)
TEST_ENV += ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:$$ASAN_OPTIONS" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:$$UBSAN_OPTIONS"
endif

# tests/test_ctlab.c runs the ctlab built beside ct_tests.
EXAMPLE_BINS := $(EXAMPLE_SRCS:examples/%.c=$(OUT)/examples/%)
# The tests run ctlab, ct_bench and the examples built beside ct_tests.
check: $(OUT)/ct_tests $(OUT)/ct_exit_child $(OUT)/ctlab $(OUT)/ct_bench \
    $(EXAMPLE_BINS)
	$(TEST_ENV) $(OUT)/ct_tests $(if $(TEST),"$(TEST)")

# The gate: every variant, then the install, header and lint checks. Each
# test run appends its closing line to a file; the total comes last. A step
# that fails without a failed test (a build, lint) counts as one failure.
CHECK_STEPS := check+CC=gcc+SAN=+PLATFORM=$(PLATFORM) \
    check+CC=clang+SAN=thread+PLATFORM=$(PLATFORM) \
    check+CC=gcc+SAN=address,undefined+PLATFORM=$(PLATFORM) \
    check+CC=gcc+SAN=+PLATFORM=posix \
    check+CC=gcc+SAN=+BUILD=debug+TEST=future \
    examples install-check headers-check lint
check-all:
	@mkdir -p build; sum=$(CURDIR)/build/check-all.summary; rm -f $$sum; \
	export CT_TEST_SUMMARY_FILE=$$sum; failed=; i=0; \
	for step in $(CHECK_STEPS); do \
	    step=$$(echo $$step | tr + ' '); i=$$((i + 1)); start=$$(date +%s); \
	    echo "==== [$$i/$(words $(CHECK_STEPS))] make $$step"; \
	    lines=$$(cat $$sum 2>/dev/null | wc -l); \
	    if ! $(MAKE) --no-print-directory $$step; then \
	        failed="$$step"; \
	        tail -n +$$((lines + 1)) $$sum 2>/dev/null | \
	            awk '$$3 > 0 { f = 1 } END { exit !f }' || \
	            echo "0 passed, 1 failed, 0 skipped" >> $$sum; \
	        break; \
	    fi; \
	    echo "==== make $$step: ok ($$(($$(date +%s) - start)) s)"; \
	done; \
	if [ -n "$$failed" ]; then echo "check-all: FAILED at 'make $$failed'"; fi; \
	cat $$sum 2>/dev/null | awk '{ p += $$1; f += $$3; s += $$5 } END { \
	    printf "TOTAL: %d passed, %d failed, %d skipped\n", p, f, s }' \
	    > build/check-all.total; \
	cat build/check-all.total; test -z "$$failed"

# --- Benchmarks and examples -------------------------------------------------

ifneq ($(SAN)$(filter-out release,$(BUILD)),)
bench:
	$(MAKE) --no-print-directory bench SAN= BUILD=release
else ifeq ($(BENCH_SRCS),)
bench:
	@echo "bench: no bench/*.c yet"
else
bench: $(OUT)/ct_bench
	$(OUT)/ct_bench $(BENCH_ARGS)
endif

# The lab measures, so like bench it runs the release build.
ifneq ($(SAN)$(filter-out release,$(BUILD)),)
lab:
	$(MAKE) --no-print-directory lab SAN= BUILD=release
else
lab: $(OUT)/ctlab $(OUT)/ct_bench
	$(OUT)/ctlab tour $(LAB_ARGS)
endif

examples: $(EXAMPLE_SRCS:examples/%.c=$(OUT)/examples/%)
	@echo "examples: $(words $(EXAMPLE_SRCS)) built in $(OUT)/examples"

# --- Install -----------------------------------------------------------------

# The .pc file names its libdir relative to ${prefix} where it can.
PC_LIBDIR = $(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))
PC_INCLUDEDIR = $(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))

install: $(STATIC) $(SHARED)
	install -d $(DESTDIR)$(INCLUDEDIR)/cthreading $(DESTDIR)$(LIBDIR)/pkgconfig
	install -m 644 include/cthreading.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 include/cthreading/*.h $(DESTDIR)$(INCLUDEDIR)/cthreading/
	install -m 644 $(STATIC) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(SHARED) $(DESTDIR)$(LIBDIR)/
	ln -sf libcthreading.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libcthreading.so.$(SOMAJOR)
	ln -sf libcthreading.so.$(SOMAJOR) $(DESTDIR)$(LIBDIR)/libcthreading.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(PC_LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(PC_INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    cthreading.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/cthreading.pc

# Installs into a staging DESTDIR, then builds tests/install_smoke.c from the
# installed tree only, through pkg-config, linked statically and shared.
STAGE = $(CURDIR)/$(OUT)/stage
PC_ENV = PKG_CONFIG_PATH=$(STAGE)$(LIBDIR)/pkgconfig PKG_CONFIG_SYSROOT_DIR=$(STAGE)
SMOKE_CC = $(CC) -std=c11 -Wall -Wextra -Wpedantic -Werror $(SANFLAGS)

install-check: exports-check
	rm -rf $(STAGE)
	$(MAKE) --no-print-directory install DESTDIR=$(STAGE) > /dev/null
	$(PC_ENV) pkg-config --exists --print-errors cthreading
	$(SMOKE_CC) tests/install_smoke.c -o $(OUT)/smoke_shared \
	    $$($(PC_ENV) pkg-config --cflags --libs cthreading)
	$(SMOKE_CC) tests/install_smoke.c -o $(OUT)/smoke_static \
	    $$($(PC_ENV) pkg-config --cflags --static --libs cthreading | \
	    sed 's/-lcthreading/-l:libcthreading.a/')
	LD_LIBRARY_PATH=$(STAGE)$(LIBDIR) $(OUT)/smoke_shared
	$(OUT)/smoke_static
	@if readelf -d $(OUT)/smoke_static | grep -q 'NEEDED.*libcthreading'; then \
	    echo "install-check: smoke_static needs libcthreading.so"; exit 1; fi
	@echo "install-check: ok"

# Every symbol the shared library exports must be ours: ct_... (ct__... for
# helpers that inline code in the headers needs).
exports-check: $(SHARED)
	@bad=$$(nm -D --defined-only $(SHARED) | awk '{ print $$NF }' | \
	    grep -v '^ct_' || true); \
	if [ -n "$$bad" ]; then echo "exports-check: not ct_*:" $$bad; exit 1; fi
	@echo "exports-check: $$(nm -D --defined-only $(SHARED) | wc -l) symbols, all ct_*"

# --- Static checks -----------------------------------------------------------

# Each public header must compile alone (twice) as strict C11, and the
# umbrella header as C++ with every C++ compiler found.
headers-check:
	@for h in $(HEADERS:include/%=%); do \
	    printf '#include <%s>\n#include <%s>\n' $$h $$h | \
	    $(CC) -std=c11 -Iinclude -Wall -Wextra -Wpedantic -Werror \
	        -fsyntax-only -x c - || { echo "headers-check: $$h"; exit 1; }; \
	done
	@for cxx in g++ clang++; do \
	    command -v $$cxx > /dev/null || continue; \
	    printf '#include <cthreading.h>\n' | $$cxx -std=c++11 -Iinclude \
	        -Wall -Wextra -Wpedantic -Werror -fsyntax-only -x c++ - || \
	        { echo "headers-check: cthreading.h as C++ ($$cxx)"; exit 1; }; \
	    echo "headers-check: cthreading.h compiles as C++ ($$cxx)"; \
	done
	@echo "headers-check: $(words $(HEADERS)) headers compile alone as C11"

# Only src/platform/ may know the OS (style.md section 2).
lint:
	@if grep -rnE '__linux__|<pthread.h>|SYS_futex|_GNU_SOURCE' src \
	    --exclude-dir=platform; then \
	    echo "lint: OS-specific code outside src/platform/"; exit 1; fi
	@if ! command -v clang-format > /dev/null; then \
	    echo "lint: clang-format not installed, format check skipped"; \
	elif ! clang-format --dry-run -Werror $(FORMAT_FILES); then \
	    echo "lint: formatting differs: run make format"; exit 1; fi
	@if command -v cppcheck > /dev/null; then \
	    cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
	        --std=c11 -Iinclude -Isrc src || exit 1; \
	else echo "lint: cppcheck not installed, skipped"; fi
	@echo "lint: ok"

format:
	clang-format -i $(FORMAT_FILES)

clean:
	rm -rf build
