# stateful-executor: build, test, demo, install.
#
#   make check                 the quick check, no Redis needed: format, clippy, unit tests, header
#   make sfctl                 the operator's tool, target/release/sfctl (docs/sfctl.md)
#   make sfctl-test            sfctl's tests against throwaway servers and clusters (part of make test)
#   make demo                  the gateway demo in C against a throwaway redis-server (or $REDIS_URL)
#   make demo-rust             the same demo in Rust
#   make demo-cpp              the same gateway in C++ (examples-cpp/gateway.cpp, the C++ API)
#   make test                  the whole test suite: lint, header check, Rust tests (twice: with
#                              the default, adaptive auto-pipelining, and with every call
#                              through the shared connection), C tests (also
#                              under valgrind and sanitizers), the Rust and C suites against
#                              Valkey, the Go and Java packages, a short fuzz run; installs
#                              redis-server, valgrind, clang-14, ... when run as root
#   make valkey-test           the Rust integration and C suites against Valkey (VALKEY_SERVER)
#   make install PREFIX=/usr/local
#                              bin/sfctl, the stripped shared library (libstateful_executor.so.X.Y.Z with
#                              its .so.X and .so links), the static one, the header, pkg-config
#                              files (stateful_executor.pc, stateful_executor-static.pc) and a
#                              CMake package (find_package(stateful_executor))
#   make install-debug         also the shared library's debug info, lib/.debug/*.debug (gdb
#                              finds it through the library's debug link)
#   make header                regenerate include/stateful_executor.h from the Rust source
#   make bench                 throughput of every operation (C and Rust APIs) beside redis-benchmark
#   make c-test-sanitize       the C suite built with AddressSanitizer and UBSan (part of make test)
#   make cxx-test              the C++ API (include/stateful_executor.hpp): its GoogleTest suite
#                              with g++ (C++17) and clang++-14 (C++20) under ASan and UBSan, the
#                              no-exceptions build, the C++ gateway against the C demo (part of make test)
#   make bench-cpp             the C++ API's overhead per call against the C call (alternated pairs)
#   make fuzz                  libFuzzer on the C API against a throwaway redis-server, for
#                              FUZZ_SECONDS (default 60); make test runs it for 20 s
#   make soak                  one million mixed calls from 16 threads; throughput, errors, RSS
#   make go-test               the Go package (bindings/go): gofmt, go vet, go test ./... against
#                              throwaway redis-servers, the README's Go quickstart built shared and static
#                              (the sfexec tests twice: as they come, then with every single-key call batched)
#   make go-bench              the Go package beside go-redis v9 (same scripts, EVALSHA), 1 and 16 goroutines
#   make charts                docs/perf/*.svg from the benches' JSON (target/bench/*-vs-*.json)
#   make java-test             the Java binding (bindings/java): its JNI library, then mvn test
#                              (part of make test; the suite twice: as it comes, then with every
#                              call batched, on JDK 21+ when installed, with the virtual-thread
#                              tests); installs a JDK and Maven when run as root
#   make java-bench            the Java binding beside Jedis (EVALSHA of the same scripts), 1 and 16
#                              threads and 1,000 virtual threads
#   make java-install          mvn install of the Java binding into the local Maven repository
#   make go-dist               the Go module with the static library inside, as a module tree and
#                              as a Go module proxy serves it (target/go-dist; docs/packaging.md)
#   make java-dist             the jar (native library inside), -sources and -javadoc jars
#   make dist-check            each package adopted as its users would: cargo package, cargo doc,
#                              go get from the proxy folder without Rust, mvn deploy to a file
#                              repository and a consumer project on JDK 17 and 25, release-check
#                              (part of make test)
#   make release-check         the version in Cargo.toml is the one everywhere else
#   make update-deps           the one way versions move: cargo update, then the whole make test
#   make check-latest          clippy and unit tests on the newest compatible versions (a scratch
#                              copy without Cargo.lock): what a Rust user of the crate builds

CARGO ?= cargo
# Flags for every cargo build and test: the committed Cargo.lock, never a newer resolution (a
# version moves only through `make update-deps`).
CARGO_FLAGS ?= --locked
CC ?= cc
CXX ?= g++
export CARGO_TERM_COLOR ?= never

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DOCDIR ?= $(PREFIX)/share/doc/stateful_executor
DESTDIR ?=

# The one version number: Cargo.toml's. The header's SF_VERSION_* macros (tests/header.rs), the
# SONAME, the pkg-config and CMake files, the Go module's tag (go-dist) and the jar (the pom's
# <version>, which cannot be computed and so is compared) all follow it; make release-check
# fails when anything disagrees. `make go-dist VERSION=x.y.z` and `make java-dist VERSION=...`
# only confirm it: a different VERSION is refused (change Cargo.toml and the pom instead).
CARGO_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
VERSION := $(CARGO_VERSION)
VERSION_MAJOR := $(firstword $(subst ., ,$(VERSION)))
# The shared library's SONAME (set in build.rs) and its installed file name.
SONAME := libstateful_executor.so.$(VERSION_MAJOR)
SHARED_FILE := libstateful_executor.so.$(VERSION)

# Where cargo builds (CARGO_TARGET_DIR when set, as cargo itself does).
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
# The C libraries come from the release profile (with debug info, see Cargo.toml).
LIB_DIR := $(TARGET_DIR)/release
SHARED_LIB := $(LIB_DIR)/libstateful_executor.so
STATIC_LIB := $(LIB_DIR)/libstateful_executor.a
# What a program linked with the static library needs besides libc (also in the .pc file).
STATIC_DEPS := -lpthread -ldl -lm

C_STRICT := -std=c99 -Wall -Wextra -Werror -pedantic
CXX_STRICT := -std=c++11 -Wall -Wextra -Werror -pedantic
C_OUT := $(TARGET_DIR)/c
# The C suite: the tests, their harness, and the RESP client they share with the fuzzer.
C_TEST_SRC := tests/c/test_c_api.c tests/c/harness.c tests/c/resp.c
DEMO_OUT := examples-c/build
LINK_SHARED := -L$(LIB_DIR) -Wl,-rpath,$(abspath $(LIB_DIR)) -lstateful_executor

VALGRIND := valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite,indirect \
	--show-leak-kinds=definite,indirect --error-exitcode=1 --quiet

.PHONY: all build release lib sfctl sfctl-test deps deps-c check unit-test test rust-test lint fmt \
	header check-header \
	c-test c-test-build c-test-run c-test-valgrind cpp-test install-check demo-c-check \
	c-test-sanitize deps-fuzz fuzz fuzz-build fuzz-lib fuzz-smoke soak soak-build \
	demo demo-static demo-c-build demo-rust install clean deps-cxx cxx-test demo-cpp demo-cpp-build \
	bench-cpp

all: build

# The library and sfctl (a workspace member with its own dependencies, sfctl/Cargo.toml).
build:
	$(CARGO) build $(CARGO_FLAGS) -p stateful-executor -p sfctl

release:
	$(CARGO) build $(CARGO_FLAGS) --release -p stateful-executor -p sfctl

# The operator's command-line tool: target/release/sfctl (docs/sfctl.md).
sfctl:
	$(CARGO) build $(CARGO_FLAGS) --release -p sfctl

# libstateful_executor.so and .a; the SONAME link lets programs linked here run from here.
lib:
	$(CARGO) build $(CARGO_FLAGS) --release --lib
	ln -sf libstateful_executor.so $(LIB_DIR)/$(SONAME)

# redis-server and redis-cli (Debian: redis-server, redis-tools), installed when missing.
deps:
	@scripts/ensure-deps.sh

# ... plus what the C tests use.
deps-c:
	@scripts/ensure-deps.sh valgrind pkg-config g++ cmake binutils

test: deps lint check-header rust-test sfctl-test c-test valkey-test go-test java-test dist-check \
	fuzz-smoke

# The quick check before a commit: no redis-server, under a minute on a warm build.
check: lint unit-test check-header

# The unit tests inside src/ and the documentation examples (none of them needs a server).
unit-test:
	$(CARGO) test $(CARGO_FLAGS) --lib
	$(CARGO) test $(CARGO_FLAGS) --doc
	$(CARGO) test $(CARGO_FLAGS) -p sfctl --bins

# Every Rust test: the unit tests and the integration tests (tests/it, one binary, each test on
# its own throwaway redis-server). The integration tests mostly wait on their servers, so they
# run on more threads than cores. The fault and hostile-server tests assert timings: they run
# in a second pass, where those that measure run alone (`alone()`, tests/it/harness/server.rs)
# and no CPU-bound test runs beside them.
TEST_THREADS ?= 4
TIMED_TESTS := faults:: hostile_server:: pipelining::

# The Rust suites run with the default and again with SF_PIPELINING=always (auto-pipelining
# on for every call, even a lone caller's: the shared connection under every test).
rust-test:
	$(CARGO) test $(CARGO_FLAGS) --all-targets -- --test-threads=$(TEST_THREADS) \
		$(addprefix --skip ,$(TIMED_TESTS))
	$(CARGO) test $(CARGO_FLAGS) --test it -- --test-threads=$(TEST_THREADS) $(TIMED_TESTS)
	$(CARGO) test $(CARGO_FLAGS) --doc
	SF_PIPELINING=always $(CARGO) test $(CARGO_FLAGS) --test it -- --test-threads=$(TEST_THREADS) \
		$(addprefix --skip ,$(TIMED_TESTS))
	SF_PIPELINING=always $(CARGO) test $(CARGO_FLAGS) --test it -- --test-threads=$(TEST_THREADS) \
		$(TIMED_TESTS)

# Moves every dependency to its newest compatible version in Cargo.lock, then runs the whole
# suite on it; commit Cargo.lock only when it passes.
.PHONY: update-deps check-latest
update-deps:
	$(CARGO) update
	$(MAKE) test

# A Rust user of the crate does not get our Cargo.lock: in a scratch copy without it, resolve the
# newest compatible versions, then clippy -D warnings and the unit tests. The copy keeps its
# own target directory (target/check-latest) so the locked builds stay warm.
LATEST_DIR := $(abspath $(TARGET_DIR))/check-latest
check-latest:
	rm -rf $(LATEST_DIR)/src-copy && mkdir -p $(LATEST_DIR)/src-copy
	git ls-files -z | xargs -0 cp --parents -t $(LATEST_DIR)/src-copy
	rm -f $(LATEST_DIR)/src-copy/Cargo.lock
	cd $(LATEST_DIR)/src-copy && $(CARGO) update && \
		CARGO_TARGET_DIR=$(LATEST_DIR)/target $(CARGO) clippy --all-targets -- -D warnings && \
		CARGO_TARGET_DIR=$(LATEST_DIR)/target $(CARGO) test --lib
	@echo "check-latest: clippy and unit tests pass on the newest compatible versions"

# ---- Valkey ----

# The Rust integration suite and the C suite once more against Valkey instead of Redis (the
# harnesses' one switch: SF_TEST_SERVER=valkey). VALKEY_SERVER names the binary; by default
# scripts/ensure-valkey.sh puts a pinned Valkey 8.1.8 into target/valkey/bin. A build without
# TLS (that one) cannot run the TLS tests: they are skipped, and the run says so. The
# hostile-server tests talk to a fake server, not to Valkey, and stay with the Redis pass.
VALKEY_DIR := $(abspath $(TARGET_DIR))/valkey/bin
VALKEY_SERVER ?= $(VALKEY_DIR)/valkey-server
VALKEY_ENV = SF_TEST_SERVER=valkey REDIS_SERVER=$(VALKEY_SERVER)
VALKEY_TLS_TESTS := tls:: batch::over_a_unix_socket_and_tls
.PHONY: deps-valkey valkey-test
deps-valkey:
	@[ "$(VALKEY_SERVER)" != "$(VALKEY_DIR)/valkey-server" ] || scripts/ensure-valkey.sh $(VALKEY_DIR)

valkey-test: deps deps-valkey c-test-build
	@$(VALKEY_SERVER) --version
	@skip=""; \
	if timeout 10 $(VALKEY_SERVER) --port 0 --tls-port 1 --save "" 2>&1 | grep -q "TLS support"; then \
		skip="$(addprefix --skip ,$(VALKEY_TLS_TESTS))"; \
		echo "valkey-test: SKIPPED the TLS tests ($(VALKEY_TLS_TESTS)): $(VALKEY_SERVER) was built without TLS"; \
	fi; \
	$(VALKEY_ENV) $(CARGO) test $(CARGO_FLAGS) --test it -- --test-threads=$(TEST_THREADS) \
		$(addprefix --skip ,$(TIMED_TESTS)) $$skip && \
	$(VALKEY_ENV) $(CARGO) test $(CARGO_FLAGS) --test it -- --test-threads=$(TEST_THREADS) \
		faults:: pipelining:: $$skip
	$(VALKEY_ENV) $(C_OUT)/test_c_api
	@if [ -x $(CXX_OUT)/test_cxx_api-gcc ]; then $(VALKEY_ENV) $(SAN_ENV) $(CXX_OUT)/test_cxx_api-gcc; \
	else echo "valkey-test: the C++ suite is not built (make cxx-test builds it; make test does)"; fi
	@echo "valkey-test: the Rust integration, C and C++ suites passed against $$($(VALKEY_SERVER) --version | cut -d' ' -f1-3)"

lint:
	$(CARGO) fmt --check -p stateful-executor -p sfctl
	$(CARGO) clippy $(CARGO_FLAGS) --all-targets -- -D warnings
	$(CARGO) clippy $(CARGO_FLAGS) -p sfctl --all-targets -- -D warnings

fmt:
	$(CARGO) fmt -p stateful-executor -p sfctl

# include/stateful_executor.h is generated by cbindgen, run by tests/header.rs (never by the
# build, so crates depending on this one do not run it), and committed.
header:
	CARGO="$(CARGO)" CARGO_LOCKED="$(CARGO_FLAGS)" scripts/header.sh write

check-header:
	CARGO="$(CARGO)" CARGO_LOCKED="$(CARGO_FLAGS)" scripts/header.sh check

# sfctl's tests run the binary against servers, clusters (3 primaries), TLS and Sentinel setups
# that the library's test harness starts (sfctl/tests/sfctl), among them a drain of 100,000 links
# across a cluster whose peak RSS must match that of 10,000.
sfctl-test: deps
	$(CARGO) test $(CARGO_FLAGS) -p sfctl -- --test-threads=$(TEST_THREADS)

# ---- C ----

c-test: deps-c c-test-build c-test-run cpp-test cxx-test c-test-valgrind c-test-sanitize \
	install-check demo-c-check

# The C demo builds against both libraries (-Werror); the static one runs on a throwaway server.
demo-c-check: deps demo-c-build
	scripts/with-redis.sh $(DEMO_OUT)/demo-static >/dev/null
	@echo "demo-c-check: the static C demo ran"

c-test-build: lib
	@mkdir -p $(C_OUT)
	$(CC) $(C_STRICT) -g -O1 -Iinclude -Itests/c -DSF_EXPECTED_VERSION='"$(VERSION)"' \
		-o $(C_OUT)/test_c_api $(C_TEST_SRC) $(LINK_SHARED) -lpthread
	$(CXX) $(CXX_STRICT) -Iinclude -o $(C_OUT)/cpp_header tests/c/cpp_header.cpp $(LINK_SHARED)
	$(CC) -std=c11 -Wall -Wextra -Werror -pedantic -Iinclude -o $(C_OUT)/test_layout \
		tests/c/test_layout.c $(LINK_SHARED)

c-test-run: c-test-build
	$(C_OUT)/test_layout
	$(C_OUT)/test_c_api

cpp-test: c-test-build
	$(C_OUT)/cpp_header

# The same suite under memcheck: no error, nothing definitely or indirectly lost.
c-test-valgrind: deps-c c-test-build
	SF_TEST_SLOW=1 $(VALGRIND) $(C_OUT)/test_c_api

# The same suite with AddressSanitizer and UBSan on the C side (the Rust library is not
# instrumented; ASan still checks every access the C code makes to memory the library hands
# out, and LeakSanitizer sees every allocation, the library's too). Any report fails the run.
SAN_CC ?= $(CC)
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

c-test-sanitize: deps-c lib
	@mkdir -p $(C_OUT)
	$(SAN_CC) $(C_STRICT) -g -O1 $(SAN_FLAGS) -Iinclude -Itests/c \
		-DSF_EXPECTED_VERSION='"$(VERSION)"' -o $(C_OUT)/test_c_api_asan \
		$(C_TEST_SRC) $(LINK_SHARED) -lpthread
	$(SAN_ENV) $(C_OUT)/test_c_api_asan

# make install (and install-debug) into a temporary prefix, check the layout (links, SONAME,
# stripped library, debug link), then build and run programs with pkg-config (shared and static)
# and a CMake project using find_package(stateful_executor) (shared, static, and the C++ API
# through stateful_executor::cxx).
install-check: deps-c lib
	MAKE="$(MAKE)" scripts/c-install-check.sh

# ---- C++ (include/stateful_executor.hpp, header-only over the C library) ----

CXX_OUT := $(TARGET_DIR)/cxx
CXX_WARN := -Wall -Wextra -Werror -pedantic
CLANG_CC ?= clang-14
CLANG_CXX ?= clang++-14
CXX_TEST := tests/cpp/test_cxx_api.cpp
GTEST_LIBS := -lgtest -lpthread
CXX_DEMO_OUT := examples-cpp/build

deps-cxx:
	@scripts/ensure-deps.sh g++ clang-14 libclang-rt-14-dev libgtest-dev

# One sanitized build and run of the suite: $(1) C compiler (for the test harness), $(2) C++
# compiler, $(3) language standard, $(4) a name for the build.
define CXX_SUITE
	$(1) -std=c99 -g -O1 $(SAN_FLAGS) -Iinclude -Itests/c -c tests/c/harness.c \
		-o $(CXX_OUT)/harness-$(4).o
	$(1) -std=c99 -g -O1 $(SAN_FLAGS) -Itests/c -c tests/c/resp.c -o $(CXX_OUT)/resp-$(4).o
	$(2) -std=$(3) $(CXX_WARN) -g -O1 $(SAN_FLAGS) -Iinclude -Itests/c \
		-o $(CXX_OUT)/test_cxx_api-$(4) $(CXX_TEST) $(CXX_OUT)/harness-$(4).o \
		$(CXX_OUT)/resp-$(4).o $(LINK_SHARED) $(GTEST_LIBS)
	$(SAN_ENV) $(CXX_OUT)/test_cxx_api-$(4)
endef

# The suite with g++ at C++17 and clang++-14 at C++20, each under ASan and UBSan (the other two
# pairings compile it with -fsyntax-only: the same warnings, no build); the program that uses
# the API without exceptions (-fno-exceptions -fno-rtti); the C++ gateway, whose output must
# be the C demo's.
cxx-test: deps deps-cxx lib demo-c-build demo-cpp-build
	@mkdir -p $(CXX_OUT)
	$(CXX) -std=c++20 $(CXX_WARN) -fsyntax-only -Iinclude -Itests/c $(CXX_TEST)
	$(CLANG_CXX) -std=c++17 $(CXX_WARN) -fsyntax-only -Iinclude -Itests/c $(CXX_TEST)
	$(call CXX_SUITE,$(CC),$(CXX),c++17,gcc)
	$(call CXX_SUITE,$(CLANG_CC),$(CLANG_CXX),c++20,clang)
	$(CXX) -std=c++17 $(CXX_WARN) -fno-exceptions -fno-rtti -g -O1 $(SAN_FLAGS) -Iinclude -Itests/c \
		-o $(CXX_OUT)/no_exceptions tests/cpp/no_exceptions.cpp $(CXX_OUT)/harness-gcc.o \
		$(CXX_OUT)/resp-gcc.o $(LINK_SHARED)
	$(SAN_ENV) $(CXX_OUT)/no_exceptions
	scripts/with-redis.sh sh -c '$(DEMO_OUT)/demo > $(CXX_OUT)/demo-c.txt && \
		$(CXX_DEMO_OUT)/gateway > $(CXX_OUT)/demo-cpp.txt'
	diff $(CXX_OUT)/demo-c.txt $(CXX_OUT)/demo-cpp.txt
	@echo "cxx-test: the C++ gateway printed what the C demo printed"

demo-cpp-build: lib
	@mkdir -p $(CXX_DEMO_OUT)
	$(CXX) -std=c++17 $(CXX_WARN) -O2 -Iinclude -o $(CXX_DEMO_OUT)/gateway examples-cpp/gateway.cpp \
		$(LINK_SHARED)

demo-cpp: deps demo-cpp-build
	scripts/with-redis.sh $(CXX_DEMO_OUT)/gateway

# The C++ API's cost per call against the C call it wraps, on one executor and a throwaway
# redis-server: timed in alternated pairs (median ratio), then counted in instructions under
# callgrind (bench/cxx_overhead.cpp and bench/cxx_instructions.py say how).
# BENCH_CPP_ARGS="--pairs 41 --calls 1000" changes the timed runs.
bench-cpp: deps deps-c lib
	@mkdir -p $(TARGET_DIR)/bench
	$(CXX) -std=c++17 $(CXX_WARN) -O2 -g -Iinclude -o $(TARGET_DIR)/bench/cxx_overhead \
		bench/cxx_overhead.cpp $(STATIC_LIB) $(STATIC_DEPS)
	scripts/with-redis.sh sh -c '$(TARGET_DIR)/bench/cxx_overhead $(BENCH_CPP_ARGS) && \
		python3 bench/cxx_instructions.py'

# ---- demo ----

demo-c-build: lib
	@mkdir -p $(DEMO_OUT)
	$(CC) $(C_STRICT) -O2 -Iinclude -o $(DEMO_OUT)/demo examples-c/demo.c $(LINK_SHARED)
	$(CC) $(C_STRICT) -O2 -Iinclude -o $(DEMO_OUT)/demo-static examples-c/demo.c \
		$(STATIC_LIB) $(STATIC_DEPS)

demo: deps demo-c-build
	scripts/with-redis.sh $(DEMO_OUT)/demo

demo-static: deps demo-c-build
	scripts/with-redis.sh $(DEMO_OUT)/demo-static

demo-rust: deps
	$(CARGO) build $(CARGO_FLAGS) --release --example demo
	scripts/with-redis.sh $(LIB_DIR)/examples/demo

# ---- install ----

# The installed shared library is stripped; its debug info goes to a separate file beside the
# build (make install-debug installs it), tied to it by a GNU debug link.
STRIPPED_DIR := $(LIB_DIR)/stripped
STRIPPED_LIB := $(STRIPPED_DIR)/$(SHARED_FILE)
DEBUG_FILE := $(STRIPPED_DIR)/$(SHARED_FILE).debug

.PHONY: strip-lib install-debug
strip-lib: lib
	@mkdir -p $(STRIPPED_DIR)
	objcopy --only-keep-debug $(SHARED_LIB) $(DEBUG_FILE)
	cd $(STRIPPED_DIR) && objcopy --strip-debug --strip-unneeded \
		--add-gnu-debuglink=$(SHARED_FILE).debug $(abspath $(SHARED_LIB)) $(SHARED_FILE)

PC_SED = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	-e 's|@VERSION_MAJOR@|$(VERSION_MAJOR)|g' -e 's|@SONAME@|$(SONAME)|g' \
	-e 's|@SHARED_FILE@|$(SHARED_FILE)|g' -e 's|@STATIC_DEPS@|$(STATIC_DEPS)|g'
CMAKE_DIR := $(LIBDIR)/cmake/stateful_executor

install: strip-lib sfctl
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR) \
		$(DESTDIR)$(CMAKE_DIR)
	install -m 755 $(TARGET_DIR)/release/sfctl $(DESTDIR)$(BINDIR)/sfctl
	strip --strip-debug $(DESTDIR)$(BINDIR)/sfctl
	install -m 755 $(STRIPPED_LIB) $(DESTDIR)$(LIBDIR)/$(SHARED_FILE)
	ln -sf $(SHARED_FILE) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libstateful_executor.so
	install -m 644 $(STATIC_LIB) $(DESTDIR)$(LIBDIR)/libstateful_executor.a
	strip --strip-debug $(DESTDIR)$(LIBDIR)/libstateful_executor.a
	install -m 644 include/stateful_executor.h $(DESTDIR)$(INCLUDEDIR)/stateful_executor.h
	install -m 644 include/stateful_executor.hpp $(DESTDIR)$(INCLUDEDIR)/stateful_executor.hpp
	$(PC_SED) packaging/stateful_executor.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/stateful_executor.pc
	$(PC_SED) packaging/stateful_executor-static.pc.in \
		> $(DESTDIR)$(LIBDIR)/pkgconfig/stateful_executor-static.pc
	$(PC_SED) packaging/stateful_executorConfig.cmake.in \
		> $(DESTDIR)$(CMAKE_DIR)/stateful_executorConfig.cmake
	$(PC_SED) packaging/stateful_executorConfigVersion.cmake.in \
		> $(DESTDIR)$(CMAKE_DIR)/stateful_executorConfigVersion.cmake
	chmod 644 $(DESTDIR)$(LIBDIR)/pkgconfig/*.pc $(DESTDIR)$(CMAKE_DIR)/*.cmake
	install -d $(DESTDIR)$(DOCDIR)
	install -m 644 docs/c-api.md docs/data-model.md docs/cpp.md docs/sfctl.md $(DESTDIR)$(DOCDIR)

install-debug: install
	install -d $(DESTDIR)$(LIBDIR)/.debug
	install -m 644 $(DEBUG_FILE) $(DESTDIR)$(LIBDIR)/.debug/$(SHARED_FILE).debug

clean:
	$(CARGO) clean
	rm -rf $(DEMO_OUT) $(CXX_DEMO_OUT)

# Throughput of every operation through the C and Rust APIs beside redis-benchmark on the same
# server (a throwaway one unless REDIS_URL is set), then the C layer's per-call instructions
# under callgrind; table printed, target/bench/results.json.
.PHONY: bench bench-build
bench: deps bench-build
	scripts/with-redis.sh sh -c 'python3 bench/run.py && python3 bench/ffi_overhead.py && \
		python3 bench/cache.py'

bench-build: lib
	$(CARGO) build $(CARGO_FLAGS) --release --example bench_ops
	mkdir -p $(TARGET_DIR)/bench
	$(CC) -O2 -std=c11 -Wall -Wextra -Werror -Iinclude bench/driver.c \
		$(STATIC_LIB) $(STATIC_DEPS) -o $(TARGET_DIR)/bench/driver

# The charts of docs/performance.md: copies target/bench/*-vs-*.json (written by make bench,
# go-bench and java-bench) into docs/perf and draws docs/perf/*.svg from them. CHARTS_FROM=docs/perf
# only redraws the committed data.
CHARTS_FROM ?= $(TARGET_DIR)/bench
.PHONY: charts
charts:
	python3 scripts/charts.py $(CHARTS_FROM) docs/perf

# ---- fuzzing ----

# libFuzzer (clang's -fsanitize=fuzzer) drives the C API with arbitrary bytes against a throwaway
# redis-server; fuzz/fuzz_c_api.c says what it checks. The library is built separately, into
# target/fuzz, with SanitizerCoverage instrumentation on stable rustc (so that coverage of the
# Rust side guides the fuzzer too) and with debug assertions and overflow checks on. The explicit
# --target keeps the instrumentation away from build scripts and proc macros.
FUZZ_CC ?= clang-14
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 20
FUZZ_OUT := $(TARGET_DIR)/fuzz
FUZZ_TRIPLE := $(shell rustc -vV 2>/dev/null | sed -n 's/^host: //p')
FUZZ_LIB := $(FUZZ_OUT)/$(FUZZ_TRIPLE)/release/libstateful_executor.a
FUZZ_RUSTFLAGS := -C passes=sancov-module -C llvm-args=-sanitizer-coverage-level=3 \
	-C llvm-args=-sanitizer-coverage-inline-8bit-counters \
	-C llvm-args=-sanitizer-coverage-pc-table \
	-C llvm-args=-sanitizer-coverage-trace-compares \
	-C debug-assertions=on -C overflow-checks=on
FUZZ_BIN := $(FUZZ_OUT)/fuzz_c_api

deps-fuzz:
	@scripts/ensure-deps.sh clang-14 libclang-rt-14-dev

fuzz-lib:
	RUSTFLAGS="$(FUZZ_RUSTFLAGS)" $(CARGO) rustc $(CARGO_FLAGS) --release --lib \
		--crate-type staticlib \
		--target $(FUZZ_TRIPLE) --target-dir $(FUZZ_OUT)

fuzz-build: deps-fuzz fuzz-lib
	$(FUZZ_CC) -std=c99 -Wall -Wextra -Werror -g -O1 -fno-omit-frame-pointer \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Iinclude -Itests/c \
		-o $(FUZZ_BIN) fuzz/fuzz_c_api.c tests/c/resp.c $(FUZZ_LIB) $(STATIC_DEPS)

# Runs the fuzzer for FUZZ_SECONDS on a throwaway redis-server (never $REDIS_URL: the fuzzer
# flushes its database), from the committed seeds (fuzz/seeds, read only) plus what earlier runs
# found (target/fuzz/corpus). A crash or broken invariant leaves its input in
# target/fuzz/artifacts and fails the run.
FUZZ_RUN = env -u REDIS_URL ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	scripts/fuzz-run.sh $(FUZZ_BIN) $(1) $(FUZZ_OUT)/corpus fuzz/seeds $(FUZZ_OUT)/artifacts/

fuzz: deps fuzz-build
	$(call FUZZ_RUN,$(FUZZ_SECONDS))

# The short run make test does.
fuzz-smoke: deps fuzz-build
	$(call FUZZ_RUN,$(FUZZ_SMOKE_SECONDS))

# ---- soak (not part of make test) ----

# One million mixed calls from 16 threads on one executor, every result checked; prints the
# throughput, the error count and VmRSS at start, after the warm-up and at the end. Fails on any
# error or when VmRSS grows by 1 MiB or more after the warm-up. Runs against $REDIS_URL when set,
# else a throwaway redis-server. SOAK_OPS and SOAK_THREADS change the size.
soak-build: lib
	@mkdir -p $(C_OUT)
	$(CC) $(C_STRICT) -O2 -g -Iinclude -o $(C_OUT)/soak soak/soak.c $(LINK_SHARED) -lpthread

soak: deps soak-build
	scripts/with-redis.sh $(C_OUT)/soak

# ---- release ----

# A VERSION given on the command line must be the one in Cargo.toml.
version-arg:
	@test "$(VERSION)" = "$(CARGO_VERSION)" || { echo "VERSION=$(VERSION) but Cargo.toml says \
	$(CARGO_VERSION): the version is set in Cargo.toml (scripts/release-check.py says what follows it)" >&2; exit 1; }

# Every place that carries the version agrees with Cargo.toml (Cargo.lock, the header, the pom,
# the CMake and pkg-config templates, a Go dist when one was built); then the check's self-test
# (each place changed in a scratch copy must be caught).
.PHONY: release-check package-check doc-check dist-check
release-check:
	python3 scripts/release-check.py
	python3 scripts/release-check.py --self-test

# The crate as published: what `cargo package` puts in it (the Lua scripts, the header and
# build.rs must be there; tests, bindings and benchmarks must not), then `cargo package` builds
# the packaged sources alone. CARGO_TARGET_DIR keeps that build in this target directory, where
# the dependencies are already compiled. --allow-dirty: this checks, it does not publish.
PACKAGE_MUST_HOLD := Cargo.toml Cargo.lock build.rs src/lib.rs src/ffi/mod.rs lua/prelude.lua \
	lua/set_linked_pod.lua include/stateful_executor.h docs/c-api.md README.md LICENSE
package-check:
	$(CARGO) package $(CARGO_FLAGS) --allow-dirty --list > $(TARGET_DIR)/package-list.txt
	@for f in $(PACKAGE_MUST_HOLD); do grep -qx "$$f" $(TARGET_DIR)/package-list.txt || \
		{ echo "package-check: the crate lacks $$f" >&2; exit 1; }; done
	@! grep -E '^(tests|bindings|bench|fuzz|soak|examples-c|scripts|target)/' $(TARGET_DIR)/package-list.txt || \
		{ echo "package-check: the crate holds files it does not need (above)" >&2; exit 1; }
	CARGO_TARGET_DIR=$(abspath $(TARGET_DIR)) $(CARGO) package $(CARGO_FLAGS) --allow-dirty
	@ls -l $(TARGET_DIR)/package/stateful-executor-$(VERSION).crate

# The crate's documentation, as docs.rs builds it: no warning (broken links, missing docs...).
doc-check:
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc $(CARGO_FLAGS) --no-deps --lib

# The three packages, each adopted as its users would (make test runs this).
dist-check: package-check doc-check go-dist-check java-dist-check release-check

# ---- Go (bindings/go) ----

# The Go package links the library built here: CGO_LDFLAGS (which cgo puts before the package's
# own flags) points it, and the rpath of the test binaries, at LIB_DIR. Go itself must be
# installed; the Go tests start their own redis-servers, and the interop test builds a small C
# program and a small Rust program against the same library.
GO ?= go
GO_DIR := bindings/go
GO_ENV := CGO_CFLAGS="-I$(abspath include)" \
	CGO_LDFLAGS="-L$(abspath $(LIB_DIR)) -Wl,-rpath,$(abspath $(LIB_DIR))" CARGO="$(CARGO)"
GO_BENCH_ARGS ?=

.PHONY: go-test go-lint go-bench
go-lint:
	@cd $(GO_DIR) && unformatted=$$(gofmt -l .) && [ -z "$$unformatted" ] || \
		{ echo "gofmt needed: $$unformatted" >&2; exit 1; }
	cd $(GO_DIR) && $(GO_ENV) $(GO) vet ./... && $(GO_ENV) $(GO) vet -tags sfexec_static ./...

go-test: deps lib go-lint
	cd $(GO_DIR) && $(GO_ENV) $(GO) test -count=1 ./...
	cd $(GO_DIR) && SFEXEC_TEST_BATCH=1 $(GO_ENV) $(GO) test -count=1 ./sfexec/
	cd $(GO_DIR) && $(GO_ENV) $(GO) test -count=1 -tags sfexec_static -run 'TestLinks|TestStates|TestContext' ./sfexec/
	$(GO_ENV) GO=$(GO) $(GO_DIR)/scripts/quickstart-check.sh

# The released module (docs/packaging.md): make go-dist writes, for the version in Cargo.toml,
# the module tree (target/go-dist/module: sources, header, the static library per GOOS_GOARCH)
# and the same module as a Go module proxy serves it (target/go-dist/proxy: list, .info, .mod,
# .zip). GO_DIST_PLATFORMS adds platforms (e.g. "linux_amd64 linux_arm64"): each one but the
# host's takes the archive of `cargo build --release --lib --target TRIPLE` (RUST_TRIPLE_*).
# go-dist-check adopts it as a team would: go get from GOPROXY=file://..., no cargo/rustc on the
# PATH, the quickstart and every method built and run against a throwaway redis-server.
GO_MODULE := $(shell sed -n 's/^module //p' $(GO_DIR)/go.mod)
GO_DIST := $(TARGET_DIR)/go-dist
GO_HOST_PLATFORM = $(shell $(GO) env GOOS)_$(shell $(GO) env GOARCH)
GO_DIST_PLATFORMS ?= $(GO_HOST_PLATFORM)
RUST_TRIPLE_linux_amd64 := x86_64-unknown-linux-gnu
RUST_TRIPLE_linux_arm64 := aarch64-unknown-linux-gnu
go_dist_archive = $(if $(filter $(1),$(GO_HOST_PLATFORM)),$(STATIC_LIB),$(TARGET_DIR)/$(RUST_TRIPLE_$(1))/release/libstateful_executor.a)
# The version's time for the proxy's .info: the commit's, so that the files depend on the commit only.
GO_DIST_TIME = $(shell TZ=UTC git log -1 --date=format-local:%Y-%m-%dT%H:%M:%SZ --format=%cd 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)

.PHONY: go-dist go-dist-check version-arg
go-dist: version-arg lib
	python3 scripts/go-dist.py --module $(GO_MODULE) --version $(VERSION) --out $(GO_DIST) \
		--time $(GO_DIST_TIME) \
		$(foreach p,$(GO_DIST_PLATFORMS),--archive $(p)=$(call go_dist_archive,$(p)))

go-dist-check: deps go-dist
	GO=$(GO) scripts/go-dist-check.sh $(GO_DIST) $(GO_MODULE) $(VERSION)

# Every seed operation through the Go package beside plain go-redis v9 running the same Lua
# scripts with EVALSHA, on one throwaway redis-server; GO_BENCH_ARGS="-pairs 7 -ops get" etc.
# The bench module (bindings/go/bench) is the only place that needs go-redis, which the go
# command fetches into its module cache.
go-bench: deps lib
	@mkdir -p $(TARGET_DIR)/bench
	cd $(GO_DIR)/bench && $(GO_ENV) $(GO) vet ./... && $(GO_ENV) $(GO) run . \
		-json $(abspath $(TARGET_DIR))/bench/go-vs-goredis.json $(GO_BENCH_ARGS)
# ---- Java (bindings/java) ----

# The JNI glue and the static library linked into one self-contained shared library, packed into
# the jar (loaded from a temporary file on first use: no LD_LIBRARY_PATH). Only the JNI entry
# points are exported; the Rust symbols stay private to it.
JAVA_DIR := bindings/java
JAVA_PLATFORM := linux-$(shell uname -m | sed -e 's/amd64/x86_64/' -e 's/arm64/aarch64/')
JAVA_NATIVE := $(JAVA_DIR)/target/native/$(JAVA_PLATFORM)/libstateful_executor_jni.so
JAVA_GLUE := $(JAVA_DIR)/src/main/c/stateful_executor_jni.c
JAVA_HOME ?= $(shell dirname $$(dirname $$(readlink -f $$(command -v javac) 2>/dev/null)) 2>/dev/null)
# The C program the interop tests run against the data the Java tests write.
JAVA_PEER := $(JAVA_DIR)/target/interop/interop_peer
# A JDK with virtual threads (21 or later), when one is installed: the Java suite's second run
# (every call batched) and the virtual-thread tests run on it, and java-bench runs on it (its
# 1,000-virtual-thread rows). Without one, those tests are skipped (saying why) and those rows
# left out, on $(JAVA_HOME).
# A JDK 25 (the machine's Temurin beside OpenJDK 17): also where java-dist-check runs the consumer.
JAVA25_HOME ?= $(firstword $(wildcard /usr/lib/jvm/temurin-25-jdk-* /usr/lib/jvm/java-25-openjdk-*))
JAVA_VT_HOME ?= $(or $(JAVA25_HOME),$(firstword $(wildcard /usr/lib/jvm/temurin-21-jdk-* \
	/usr/lib/jvm/java-21-openjdk-*)))
JAVA_VT_JVM := $(if $(JAVA_VT_HOME),$(JAVA_VT_HOME),$(JAVA_HOME))/bin/java
MVN ?= mvn -B -ntp

.PHONY: deps-java java-native java-test java-bench java-install
deps-java:
	@scripts/ensure-deps.sh openjdk-17-jdk-headless maven

java-native: lib
	@$(MAKE) --no-print-directory $(JAVA_NATIVE) $(JAVA_PEER)

$(JAVA_NATIVE): $(JAVA_GLUE) $(STATIC_LIB) include/stateful_executor.h
	@mkdir -p $(dir $@)
	@test -f "$(JAVA_HOME)/include/jni.h" || { echo "no JDK headers under JAVA_HOME=$(JAVA_HOME)" >&2; exit 1; }
	$(CC) -std=c99 -Wall -Wextra -Werror -O2 -fPIC -shared -fvisibility=hidden \
		-Iinclude -I"$(JAVA_HOME)/include" -I"$(JAVA_HOME)/include/linux" \
		-o $@ $(JAVA_GLUE) $(STATIC_LIB) $(STATIC_DEPS) \
		-Wl,--gc-sections -Wl,--exclude-libs,ALL -Wl,-z,defs -Wl,--strip-debug \
		-Wl,-soname,libstateful_executor_jni.so

$(JAVA_PEER): $(JAVA_DIR)/src/test/c/interop_peer.c $(STATIC_LIB) include/stateful_executor.h
	@mkdir -p $(dir $@)
	$(CC) $(C_STRICT) -O1 -Iinclude -o $@ $< $(STATIC_LIB) $(STATIC_DEPS)

# mvn test against throwaway redis-servers that the tests start themselves, twice: as they come
# on $(JAVA_HOME), then with every call handed to the runner threads (as a virtual thread's is)
# on $(JAVA_VT_JVM), where the virtual-thread tests run; then the jar alone: the README's
# example compiled against it and run with `java -cp` and no LD_LIBRARY_PATH.
JAVA_JAR = $(JAVA_DIR)/target/stateful-executor-$(VERSION).jar
java-test: deps deps-java java-native
	cd $(JAVA_DIR) && JAVA_HOME="$(JAVA_HOME)" $(MVN) -Dnative.skipBuild=true \
		-Dtest.batched.jvm="$(JAVA_VT_JVM)" test
	cd $(JAVA_DIR) && JAVA_HOME="$(JAVA_HOME)" $(MVN) -q -Dnative.skipBuild=true -DskipTests package
	rm -rf $(JAVA_DIR)/target/example && mkdir -p $(JAVA_DIR)/target/example
	"$(JAVA_HOME)/bin/javac" -cp $(JAVA_JAR) -d $(JAVA_DIR)/target/example $(JAVA_DIR)/examples/Example.java
	env -u LD_LIBRARY_PATH scripts/with-redis.sh "$(JAVA_HOME)/bin/java" \
		-cp $(JAVA_JAR):$(JAVA_DIR)/target/example Example > $(JAVA_DIR)/target/example/output.txt
	cat $(JAVA_DIR)/target/example/output.txt
	grep -q '^user-42 -> chat pod 0 (Running)$$' $(JAVA_DIR)/target/example/output.txt
	@echo "java-test: the jar ran the example on its own"

java-install: deps-java java-native
	cd $(JAVA_DIR) && JAVA_HOME="$(JAVA_HOME)" $(MVN) -Dnative.skipBuild=true -DskipTests install

# The release's jars (docs/packaging.md): the jar with the native library of each platform
# under bindings/java/target/native/<platform>/ (this machine's from java-native; others copied
# there from their own builds), its -sources and -javadoc jars, in bindings/java/target/.
.PHONY: java-dist java-dist-check
java-dist: version-arg deps-java java-native
	cd $(JAVA_DIR) && JAVA_HOME="$(JAVA_HOME)" $(MVN) -q -Pdist -Dnative.skipBuild=true -DskipTests package
	@ls -l $(JAVA_DIR)/target/stateful-executor-$(VERSION)*.jar

# mvn deploy to a file repository in a scratch folder, then a separate consumer project resolves
# the jar from there and runs on JDK 17 and on JDK 25 (JAVA25_HOME) with no warning on stderr.
java-dist-check: deps deps-java java-native
	JAVA_HOME="$(JAVA_HOME)" JAVA25_HOME="$(JAVA25_HOME)" MVN="$(MVN)" \
		scripts/java-dist-check.sh $(VERSION) $(JAVA_PLATFORM)

# Each operation through the binding beside Jedis on one throwaway server: 1 and 16 platform
# threads and 1,000 virtual threads (on $(JAVA_VT_JVM)).
java-bench: deps deps-java java-native
	cd $(JAVA_DIR) && JAVA_HOME="$(JAVA_HOME)" $(MVN) -q -Dnative.skipBuild=true test-compile \
		dependency:build-classpath -Dmdep.outputFile=target/bench.classpath -Dmdep.includeScope=test
	scripts/with-redis.sh sh -c 'cd $(JAVA_DIR) && "$(JAVA_VT_JVM)" -Xms512m -Xmx512m \
		--enable-native-access=ALL-UNNAMED \
		-cp target/classes:target/test-classes:$$(cat target/bench.classpath) \
		io.statefulexecutor.bench.JedisComparison'
