#!/usr/bin/env python3
"""Before/after cost of a call of every `make bench` operation, counted rather than timed: for
two builds of the Rust bench driver (examples/bench_ops.rs), the user-space instructions of the
whole driver process per call, under callgrind, at one thread. Each driver runs each operation
twice, for a short and a longer time; the difference of the two counts over the difference of
the two call counts is the marginal cost of one call (opening the executor, loading the scripts
and the warm-up cancel out), whatever the library inlines where. The driver's own loop is the
same code in both builds, so the ratio compares the libraries. Kernel time (the system calls'
own work) is not counted; bench/instructions.py counts the system calls per call.

usage: scripts/with-redis.sh python3 bench/instructions_per_call.py OLD_DRIVER NEW_DRIVER
Environment: BENCH_OPS (comma list; default every operation of bench/compare.py).
"""
import json
import os
import re
import subprocess
import sys
import tempfile

from compare import OPS


def run(driver, op, seconds, tmp):
    """(instructions, calls) of one callgrind run."""
    out = os.path.join(tmp, "callgrind.out")
    proc = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                           driver, op, "1", str(seconds)],
                          check=True, capture_output=True, text=True)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if result["errors"]:
        sys.exit(f"{driver} {op}: {result['errors']} errors")
    with open(out) as f:
        text = f.read()
    total = re.search(r"^summary:\s+(\d+)", text, re.M) or re.search(r"^totals:\s+(\d+)", text, re.M)
    return int(total.group(1)), result["calls"]


def per_call(driver, op, tmp):
    short_ir, short_calls = run(driver, op, 1, tmp)
    long_ir, long_calls = run(driver, op, 4, tmp)
    return (long_ir - short_ir) / max(long_calls - short_calls, 1)


def main():
    old, new = sys.argv[1], sys.argv[2]
    ops = os.environ.get("BENCH_OPS", ",".join(OPS)).split(",")
    subprocess.run([new, "setup"], check=True)
    print(f"{'operation':<16}{'old instr/call':>15}{'new instr/call':>15}{'new/old':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for op in ops:
            a, b = per_call(old, op, tmp), per_call(new, op, tmp)
            print(f"{op:<16}{a:>15,.0f}{b:>15,.0f}{b / a:>9.3f}", flush=True)


if __name__ == "__main__":
    main()
