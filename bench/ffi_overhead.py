#!/usr/bin/env python3
"""Per-call cost of the C layer over the Rust API, counted rather than timed: the C driver runs
under callgrind, and for each operation the instructions spent inside `sf_*` are compared with
those spent inside the `Executor` method it calls. Instruction counts are repeatable whatever
else the machine does, unlike a latency difference of a few hundred nanoseconds on a ~30 us call.

Needs REDIS_URL (set by scripts/with-redis.sh) and target/bench/driver (make bench-build).
Appends its figures to target/bench/results.json.
"""
import json
import os
import re
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Where cargo builds, as the Makefile sees it.
TARGET = os.path.join(ROOT, os.environ.get("CARGO_TARGET_DIR") or "target")
DRIVER = os.path.join(TARGET, "bench/driver")
# op -> (C function, Rust method it wraps)
OPS = {
    "get": ("sf_get_linked_pod", "Executor::get_linked_pod"),
    "set": ("sf_set_linked_pod", "Executor::set_linked_pod"),
    "batch1000": ("sf_batch_get_linked_pods", "Executor::batch_get_linked_pods"),
}
# Assumed instructions per nanosecond to turn counts into time (about 1 IPC at 2.5-3 GHz);
# the counts are the measurement, the nanoseconds an estimate.
INSTRUCTIONS_PER_NS = 2.5


def function_total(tree, symbol):
    """Inclusive instructions of function `symbol` (its "*" line in callgrind's call tree)."""
    best = 0
    for line in tree.splitlines():
        m = re.match(r"\s*([\d,]+) \([^)]*\)\s+\*\s+[^:\s]*:(\S+)", line)
        if m and re.sub(r"<.*>$", "", m.group(2)).endswith(symbol):
            best = max(best, int(m.group(1).replace(",", "")))
    return best


def calls_into(tree, symbol):
    """Instructions spent in calls to `symbol`, summed over its callers' call edges (">" lines):
    robust against inlining, which splits a function's own lines over several names."""
    total = 0
    for line in tree.splitlines():
        m = re.match(r"\s*([\d,]+) \([^)]*\)\s+>\s+[^:\s]*:(\S+) \([\d,]+x\)", line)
        if m and re.sub(r"<.*>$", "", m.group(2)).endswith(symbol):
            total += int(m.group(1).replace(",", ""))
    return total


def main():
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for op, (c_fn, rust_fn) in OPS.items():
            out = os.path.join(tmp, f"{op}.callgrind")
            run = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                                  DRIVER, op, "1", "2"], check=True, capture_output=True, text=True)
            calls = json.loads(run.stdout.strip().splitlines()[-1])["calls"] + 1  # + warm-up
            tree = subprocess.run(["callgrind_annotate", "--tree=calling", "--inclusive=yes", out],
                                  check=True, capture_output=True, text=True).stdout
            c_total, rust_total = function_total(tree, c_fn), calls_into(tree, rust_fn)
            if rust_total == 0:
                # The Rust method was inlined into the C function (release builds do that since
                # the operations count themselves in a closure): no edge to split the total at.
                results[op] = {"calls": calls, "c_instructions_per_call": c_total / calls,
                               "rust_instructions_per_call": None}
                print(f"{op:<12} C call {c_total / calls:>10,.0f} instr; the Rust API was inlined "
                      f"into {c_fn}, so the C layer's share cannot be split off")
                continue
            per_call = (c_total - rust_total) / calls
            results[op] = {"calls": calls, "c_instructions_per_call": c_total / calls,
                           "rust_instructions_per_call": rust_total / calls,
                           "ffi_instructions_per_call": per_call,
                           "ffi_ns_per_call_estimate": per_call / INSTRUCTIONS_PER_NS}
            print(f"{op:<12} C call {c_total / calls:>10,.0f} instr, of which Rust API "
                  f"{rust_total / calls:>10,.0f}: C layer {per_call:>6,.0f} instr/call "
                  f"(~{per_call / INSTRUCTIONS_PER_NS:,.0f} ns at {INSTRUCTIONS_PER_NS} instr/ns)")
    path = os.path.join(TARGET, "bench/results.json")
    data = json.load(open(path)) if os.path.exists(path) else {}
    data["ffi_overhead_callgrind"] = results
    with open(path, "w") as f:
        json.dump(data, f, indent=2)


if __name__ == "__main__":
    main()
