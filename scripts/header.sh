#!/usr/bin/env bash
# The C header include/stateful_executor.h is generated from the Rust source by cbindgen, run by
# the test tests/header.rs (never by the build), and committed.
#
#   scripts/header.sh write   regenerate include/stateful_executor.h
#   scripts/header.sh check   fail (naming the regenerated file) when the committed header differs
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-check}
cargo=${CARGO:-cargo}
locked=${CARGO_LOCKED-}

case "$mode" in
  write) SF_WRITE_HEADER=1 "$cargo" test $locked --quiet --test header committed_header_matches_the_source ;;
  check)
    env -u SF_WRITE_HEADER "$cargo" test $locked --quiet --test header
    echo "include/stateful_executor.h matches the source"
    ;;
  *)
    echo "usage: $0 write|check" >&2
    exit 2
    ;;
esac
