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
