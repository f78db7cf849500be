# stateful-executor: build, test, demo.
#
#   make demo    the gateway demo against a throwaway redis-server (or $REDIS_URL)
#   make test    the whole test suite (installs redis-server when run as root)

CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: all build release deps test rust-test lint fmt demo demo-rust clean

all: build

build:
	$(CARGO) build

release:
	$(CARGO) build --release

# redis-server and redis-cli (Debian: redis-server, redis-tools), installed when missing.
deps:
	@scripts/ensure-deps.sh

test: deps lint rust-test

rust-test:
	$(CARGO) test --all-targets

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

fmt:
	$(CARGO) fmt

demo: demo-rust

demo-rust: deps
	$(CARGO) build --release --example demo
	scripts/with-redis.sh target/release/examples/demo

clean:
	$(CARGO) clean

# Throughput of every operation through the C and Rust APIs beside redis-benchmark on the same
# server (a throwaway one unless REDIS_URL is set); table printed, target/bench/results.json.
.PHONY: bench bench-build
bench: deps bench-build
	scripts/with-redis.sh python3 bench/run.py

bench-build:
	$(CARGO) build --release --lib --example bench_ops
	mkdir -p target/bench
	$(CC) -O2 -std=c11 -Wall -Wextra -Werror -Iinclude bench/driver.c \
		target/release/libstateful_executor.a -lpthread -ldl -lm -o target/bench/driver
