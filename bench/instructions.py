#!/usr/bin/env python3
"""Before/after cost of a call, counted rather than timed (a shared machine makes throughput
ratios noisy; counts are repeatable): for two builds of the Rust bench driver
(examples/bench_ops.rs), the instructions spent inside each `Executor` method per call, under
callgrind, and the system calls per call of the whole driver, under `perf stat` (when the
kernel allows the tracepoint).

usage: scripts/with-redis.sh python3 bench/instructions.py OLD_DRIVER NEW_DRIVER
"""
import json
import os
import re
import subprocess
import sys
import tempfile

# op -> the Executor method it calls
OPS = {
    "get": "Executor::get_linked_pod",
    "set": "Executor::set_linked_pod",
    "service_state32": "Executor::get_service_state",
    "batch1000": "Executor::batch_get_linked_pods",
    # get_workload_states is inlined whole into the driver: its connection's batch read.
    "workload100": "::get_each",
}


def name_of(symbol):
    """A symbol without its generic arguments."""
    return re.sub(r"<.*>$", "", symbol)


def calls_into(tree, symbol):
    """Instructions spent in calls to `symbol`, summed over its callers' call edges."""
    total = 0
    for line in tree.splitlines():
        m = re.match(r"\s*([\d,]+) \([^)]*\)\s+>\s+[^:\s]*:(.+?) \([\d,]+x\)", line)
        if m and name_of(m.group(2)).endswith(symbol):
            total += int(m.group(1).replace(",", ""))
    return total


def function_total(tree, symbol):
    """Inclusive instructions of `symbol` (its "*" line in callgrind's call tree)."""
    best = 0
    for line in tree.splitlines():
        m = re.match(r"\s*([\d,]+) \([^)]*\)\s+\*\s+[^:\s]*:(.+?)( \[[^\]]*\])?$", line)
        if m and name_of(m.group(2)).endswith(symbol):
            best = max(best, int(m.group(1).replace(",", "")))
    return best


def instructions(driver, op, symbol, tmp):
    out = os.path.join(tmp, "callgrind.out")
    run = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                          driver, op, "1", "2"], check=True, capture_output=True, text=True)
    calls = json.loads(run.stdout.strip().splitlines()[-1])["calls"] + 1  # + warm-up
    tree = subprocess.run(["callgrind_annotate", "--tree=calling", "--inclusive=yes", out],
                          check=True, capture_output=True, text=True).stdout
    # Call edges survive inlining best; then the operation's body closure (the statistics
    # wrapper runs each operation as one); then the function's own total.
    closure = symbol + "::{{closure}}"
    total = (calls_into(tree, symbol) or calls_into(tree, closure)
             or function_total(tree, symbol) or function_total(tree, closure))
    return total / calls


def syscalls(driver, op):
    run = subprocess.run(["perf", "stat", "-x", ",", "-e", "raw_syscalls:sys_enter",
                          driver, op, "1", "1"], capture_output=True, text=True)
    if run.returncode != 0:
        return None
    calls = json.loads(run.stdout.strip().splitlines()[-1])["calls"]
    for line in run.stderr.splitlines():
        fields = line.split(",")
        if len(fields) > 2 and "raw_syscalls" in fields[2] and fields[0].isdigit():
            return int(fields[0]) / calls
    return None


def main():
    old, new = sys.argv[1], sys.argv[2]
    subprocess.run([new, "setup"], check=True)
    print(f"{'operation':<16}{'old instr/call':>15}{'new instr/call':>15}{'new/old':>9}"
          f"{'old syscalls':>13}{'new syscalls':>13}")
    with tempfile.TemporaryDirectory() as tmp:
        for op, symbol in OPS.items():
            a, b = instructions(old, op, symbol, tmp), instructions(new, op, symbol, tmp)
            sa, sb = syscalls(old, op), syscalls(new, op)
            fmt = lambda s: "-" if s is None else f"{s:.2f}"
            print(f"{op:<16}{a:>15,.0f}{b:>15,.0f}{b / a:>9.3f}{fmt(sa):>13}{fmt(sb):>13}",
                  flush=True)


if __name__ == "__main__":
    main()
