#!/usr/bin/env python3
"""make bench: each operation through the C API and the Rust API beside redis-benchmark sending
the equivalent raw command (or EVALSHA of the same Lua script) to the same server, at the same
concurrency and key spread. Each figure is the median of several runs (the machine is noisy).
Prints a table and writes target/bench/results.json.

Environment: REDIS_URL (set by scripts/with-redis.sh), BENCH_SECONDS (per run, default 1.5),
BENCH_RUNS (default 3), BENCH_OPS (comma list to run a subset).
"""
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
from urllib.parse import urlparse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Where cargo builds, as the Makefile sees it.
TARGET = os.path.join(ROOT, os.environ.get("CARGO_TARGET_DIR") or "target")
RUST_DRIVER = os.path.join(TARGET, "release/examples/bench_ops")
C_DRIVER = os.path.join(TARGET, "bench/driver")
SECONDS = float(os.environ.get("BENCH_SECONDS", "1.5"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
THREADS = [1, 16]

LINK = "sf:{bench:lk:u__rand_int__}"


def script_sha(name):
    with open(os.path.join(ROOT, "lua/prelude.lua"), "rb") as f:
        prelude = f.read()
    with open(os.path.join(ROOT, "lua", name + ".lua"), "rb") as f:
        body = f.read()
    return hashlib.sha1(prelude + body).hexdigest()


def evalsha(script, *args):
    return ["EVALSHA", script_sha(script), "2", LINK, LINK + "chat", "chat", *args]


# op -> (redis-benchmark command, items per call)
OPS = {
    "get": (["GET", LINK + "chat"], 1),
    "set": (evalsha("set_linked_pod", "3", "-1"), 1),
    "set_if_absent": (evalsha("set_linked_pod_if_absent", "3", "-1"), 1),
    "try_set": (evalsha("try_set_linked_pod", "3", "-1"), 1),
    "remove": (evalsha("remove_linked_pod", "0"), 1),
    "compute8": (evalsha("set_linked_pod_if_absent", "7", "-1"), 1),
    "service_state32": (["HGETALL", "sf:{bench:state:chat}"], 32),
    "batch1000": (["MGET"] + [LINK + "chat"] * 1000, 1000),
    "batch10000": (["MGET"] + [LINK + "chat"] * 10000, 10000),
    "workload100": (["MGET"] + ["sf:{bench:workload:svc-%d}" % i for i in range(100)], 100),
}


def run_driver(binary, op, threads):
    out = subprocess.run([binary, op, str(threads), str(SECONDS)], check=True,
                         capture_output=True, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    if result["errors"]:
        sys.exit(f"{binary} {op}: {result['errors']} errors")
    return result["ops_per_sec"]


def run_redis_benchmark(port, op, threads, expected_rate):
    command, _ = OPS[op]
    requests = max(threads * 50, int(expected_rate * SECONDS))
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-c", str(threads),
                          "-n", str(requests), "-r", "100000", "--csv", *command],
                         check=True, capture_output=True, text=True).stdout
    # --csv: a header line, then "name","rps",...
    rows = [line for line in out.splitlines() if line and not line.startswith('"test"')]
    return float(rows[-1].split('","')[1].strip('"'))


def main():
    url = os.environ["REDIS_URL"]
    port = urlparse(url).port
    ops = os.environ.get("BENCH_OPS", ",".join(OPS)).split(",")
    subprocess.run([RUST_DRIVER, "setup"], check=True)
    have_c = os.path.exists(C_DRIVER)
    results = []
    for op in ops:
        _, items = OPS[op]
        for threads in THREADS:
            rust, c, rb = [], [], []
            for _ in range(RUNS):
                rust.append(run_driver(RUST_DRIVER, op, threads))
                if have_c:
                    c.append(run_driver(C_DRIVER, op, threads))
                rb.append(run_redis_benchmark(port, op, threads, statistics.median(rust)))
            row = {
                "op": op, "threads": threads, "items_per_call": items,
                "c_ops": statistics.median(c) if c else None,
                "rust_ops": statistics.median(rust),
                "redis_benchmark_ops": statistics.median(rb),
                "runs": {"c": c, "rust": rust, "redis_benchmark": rb},
            }
            row["c_ratio"] = row["c_ops"] / row["redis_benchmark_ops"] if c else None
            row["rust_ratio"] = row["rust_ops"] / row["redis_benchmark_ops"]
            results.append(row)
            print_row(row, header=len(results) == 1)
    os.makedirs(os.path.join(TARGET, "bench"), exist_ok=True)
    with open(os.path.join(TARGET, "bench/results.json"), "w") as f:
        json.dump({"seconds_per_run": SECONDS, "runs": RUNS, "results": results}, f, indent=2)
    print("written: target/bench/results.json")


def fmt_rate(ops, items):
    if ops is None:
        return "-"
    return f"{ops:,.0f}" if items == 1 else f"{ops:,.0f} ({ops * items / 1e6:.2f}M items/s)"


def print_row(r, header):
    if header:
        print(f"{'operation':<16}{'thr':>4}{'C API ops/s':>28}{'Rust ops/s':>28}"
              f"{'redis-benchmark':>28}{'C/rb':>7}{'Rust/rb':>8}")
    items = r["items_per_call"]
    c_ratio = f"{r['c_ratio']:.2f}" if r["c_ratio"] else "-"
    print(f"{r['op']:<16}{r['threads']:>4}{fmt_rate(r['c_ops'], items):>28}"
          f"{fmt_rate(r['rust_ops'], items):>28}{fmt_rate(r['redis_benchmark_ops'], items):>28}"
          f"{c_ratio:>7}{r['rust_ratio']:>8.2f}", flush=True)


if __name__ == "__main__":
    main()
