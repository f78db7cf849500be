#!/usr/bin/env bash
# Runs the C API fuzzer (fuzz/fuzz_c_api.c) for a bounded time against a throwaway redis-server,
# keeps libFuzzer's full output in target/fuzz/last-run.log, and prints its figures.
#
#   scripts/fuzz-run.sh BINARY SECONDS CORPUS_DIR SEED_DIR ARTIFACT_PREFIX
#
# New inputs go to CORPUS_DIR; SEED_DIR (the committed seeds) is only read. Fails when the
# fuzzer finds a crash, a sanitizer report or a broken invariant (its input is then saved under
# ARTIFACT_PREFIX), or when the run ends without its final statistics.
set -euo pipefail

bin=$1 seconds=$2 corpus=$3 seeds=$4 artifacts=$5
log=target/fuzz/last-run.log
mkdir -p "$(dirname "$log")" "$corpus" "$artifacts"

set +e
scripts/with-redis.sh "$bin" -max_total_time="$seconds" -print_final_stats=1 -max_len=4096 \
  -timeout=60 -rss_limit_mb=2048 -artifact_prefix="$artifacts" "$corpus" "$seeds" >"$log" 2>&1
code=$?
set -e

execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
if [ "$code" -ne 0 ] || [ -z "$execs" ]; then
  tail -n 80 "$log" >&2
  echo "fuzz: FAILED (exit code $code); full output in $log" >&2
  exit 1
fi
grep -E '^stat::' "$log"
last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
echo "fuzz: $execs executions in ${seconds} s ($rate exec/s), no crash, no sanitizer report," \
  "no broken invariant"
[ -n "$last" ] && echo "fuzz: last status: $last"
exit 0
