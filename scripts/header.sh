#!/usr/bin/env bash
# The C header include/stateful_executor.h is generated from the Rust source by cbindgen in
# build.rs, into the build's OUT_DIR, and committed.
#
#   scripts/header.sh write   regenerate it and copy it to include/stateful_executor.h
#   scripts/header.sh check   regenerate it into a temporary file and fail (showing the diff)
#                             when the committed header differs
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-check}
cargo=${CARGO:-cargo}

# Build the library (which runs build.rs when the source changed) and find its OUT_DIR.
out_dir=$("$cargo" build --lib --quiet --message-format=json \
  | grep '"reason":"build-script-executed"' \
  | grep '#stateful-executor@' \
  | sed -n 's/.*"out_dir":"\([^"]*\)".*/\1/p' | tail -n 1)
generated="$out_dir/stateful_executor.h"
if [ -z "$out_dir" ] || [ ! -f "$generated" ]; then
  echo "header.sh: the build produced no header (looked for $generated)" >&2
  exit 1
fi

case "$mode" in
  write)
    mkdir -p include
    cp "$generated" include/stateful_executor.h
    echo "wrote include/stateful_executor.h"
    ;;
  check)
    tmp=$(mktemp -t stateful_executor.XXXXXX.h)
    trap 'rm -f "$tmp"' EXIT
    cp "$generated" "$tmp"
    if ! diff -u include/stateful_executor.h "$tmp"; then
      echo "include/stateful_executor.h is out of date: run 'make header' and commit it" >&2
      exit 1
    fi
    echo "include/stateful_executor.h matches the source"
    ;;
  *)
    echo "usage: $0 write|check" >&2
    exit 2
    ;;
esac
