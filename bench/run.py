#!/usr/bin/env python3
"""make bench: each operation through the C API and the Rust API beside redis-benchmark sending
the equivalent raw command (or EVALSHA of the same Lua script) to the same server, at the same
concurrency and key spread. Each figure is the median of several runs (the machine is noisy).
Prints a table and writes target/bench/results.json, plus the comparisons `make charts` draws:
target/bench/rust-vs-redis-benchmark.json and c-vs-redis-benchmark.json.

The Rust driver runs with pipelining on (adaptive, the library's default threshold;
SF_BENCH_MIN_IN_FLIGHT=1 in the environment: every call through the shared connection) and off,
the C driver with it on; every round runs each
contender once (order rotating), and ratios are medians of the per-round ratios. The server's
CPU per call comes from INFO cpu before and after each run.

Environment: REDIS_URL (set by scripts/with-redis.sh), BENCH_SECONDS (per run, default 1.0),
BENCH_RUNS (rounds, default 5), BENCH_OPS (comma list to run a subset), BENCH_THREADS (default
1,4,16).
"""
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
from urllib.parse import urlparse

from report import Report

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Where cargo builds, as the Makefile sees it.
TARGET = os.path.join(ROOT, os.environ.get("CARGO_TARGET_DIR") or "target")
RUST_DRIVER = os.path.join(TARGET, "release/examples/bench_ops")
C_DRIVER = os.path.join(TARGET, "bench/driver")
SECONDS = float(os.environ.get("BENCH_SECONDS", "1.0"))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))

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


def server_info(port, section):
    out = subprocess.run(["redis-cli", "-p", str(port), "INFO", section], check=True,
                         capture_output=True, text=True).stdout
    return dict(line.strip().split(":", 1) for line in out.splitlines() if ":" in line)


def server_cpu(port):
    """The server's CPU seconds so far (user + system), from INFO cpu."""
    fields = server_info(port, "cpu")
    return float(fields["used_cpu_user"]) + float(fields["used_cpu_sys"])


def error_replies(port):
    """Error replies the server has sent so far (INFO stats): redis-benchmark counts an error
    reply as a request served, so each of its runs must leave this unchanged."""
    return int(server_info(port, "stats")["total_error_replies"])


def run_driver(binary, op, threads, port, pipelining):
    """(calls per second, server CPU microseconds per call) of one driver run."""
    env = dict(os.environ, SF_BENCH_PIPELINING=pipelining)
    before = server_cpu(port)
    out = subprocess.run([binary, op, str(threads), str(SECONDS)], check=True,
                         capture_output=True, text=True, env=env).stdout
    cpu = server_cpu(port) - before
    result = json.loads(out.strip().splitlines()[-1])
    if result["errors"]:
        sys.exit(f"{binary} {op}: {result['errors']} errors")
    return result["ops_per_sec"], cpu * 1e6 / max(result["calls"], 1)


def run_redis_benchmark(port, op, threads, expected_rate):
    """(requests per second, server CPU microseconds per request), one command per round
    trip (no -P)."""
    command, _ = OPS[op]
    requests = max(threads * 50, int(expected_rate * SECONDS))
    before, errors_before = server_cpu(port), error_replies(port)
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-c", str(threads),
                          "-n", str(requests), "-r", "100000", "--csv", *command],
                         check=True, capture_output=True, text=True).stdout
    cpu = server_cpu(port) - before
    errors = error_replies(port) - errors_before
    if errors:
        sys.exit(f"redis-benchmark {op}: {errors} error replies (INFO errorstats)")
    # --csv: a header line, then "name","rps",...
    rows = [line for line in out.splitlines() if line and not line.startswith('"test"')]
    return float(rows[-1].split('","')[1].strip('"')), cpu * 1e6 / requests


def main():
    url = os.environ["REDIS_URL"]
    port = urlparse(url).port
    ops = os.environ.get("BENCH_OPS", ",".join(OPS)).split(",")
    threads_list = [int(t) for t in os.environ.get("BENCH_THREADS", "1,4,16").split(",")]
    subprocess.run([RUST_DRIVER, "setup"], check=True)
    have_c = os.path.exists(C_DRIVER)
    command = "make bench" + "".join(f" {k}={os.environ[k]}" for k in
                                     ("BENCH_SECONDS", "BENCH_RUNS", "BENCH_OPS", "BENCH_THREADS")
                                     if k in os.environ)
    rust = Report(ROOT, "Rust API (default settings) against redis-benchmark", "Rust API",
                  "redis-benchmark", command)
    c = Report(ROOT, "C API (default settings) against redis-benchmark", "C API",
               "redis-benchmark", command)
    results = []
    for op in ops:
        _, items = OPS[op]
        for threads in threads_list:
            # Alternated runs: each round runs every contender once, in a rotating order, and
            # the ratios are taken within the round (cancelling most of the machine's drift).
            runs = {"on": [], "off": [], "c": [], "rb": []}
            cpu = {"on": [], "off": [], "c": [], "rb": []}
            expected = 1000.0
            for round_ in range(RUNS):
                order = ["on", "off", "rb"] + (["c"] if have_c else [])
                order = order[round_ % len(order):] + order[:round_ % len(order)]
                for who in order:
                    if who == "rb":
                        rate, per_op = run_redis_benchmark(port, op, threads, expected)
                    elif who == "c":
                        rate, per_op = run_driver(C_DRIVER, op, threads, port, "on")
                    else:
                        rate, per_op = run_driver(RUST_DRIVER, op, threads, port, who)
                        expected = max(expected, rate)
                    runs[who].append(rate)
                    cpu[who].append(per_op)
            ratio = lambda a, b: statistics.median(x / y for x, y in zip(runs[a], runs[b]))
            row = {
                "op": op, "threads": threads, "items_per_call": items,
                "on_ops": statistics.median(runs["on"]),
                "off_ops": statistics.median(runs["off"]),
                "c_ops": statistics.median(runs["c"]) if have_c else None,
                "redis_benchmark_ops": statistics.median(runs["rb"]),
                "on_ratio": ratio("on", "rb"),
                "off_ratio": ratio("off", "rb"),
                "c_ratio": ratio("c", "rb") if have_c else None,
                "on_vs_off": ratio("on", "off"),
                "cpu_us_per_op": {k: statistics.median(v) for k, v in cpu.items() if v},
                "runs": runs,
            }
            results.append(row)
            print_row(row, header=len(results) == 1)
            rust.row(op, threads, row["on_ratio"], pairs=RUNS, ours_per_s=row["on_ops"],
                     peer_per_s=row["redis_benchmark_ops"])
            if have_c:
                c.row(op, threads, row["c_ratio"], pairs=RUNS, ours_per_s=row["c_ops"],
                      peer_per_s=row["redis_benchmark_ops"])
    os.makedirs(os.path.join(TARGET, "bench"), exist_ok=True)
    with open(os.path.join(TARGET, "bench/results.json"), "w") as f:
        json.dump({"seconds_per_run": SECONDS, "runs": RUNS, "results": results}, f, indent=2)
    print("ratios: median of the per-round ratios; rb = redis-benchmark, one command per round")
    print("trip; CPU = the server's CPU (INFO cpu) per call, microseconds")
    rust.write(os.path.join(TARGET, "bench/rust-vs-redis-benchmark.json"))
    if have_c:
        c.write(os.path.join(TARGET, "bench/c-vs-redis-benchmark.json"))
    print("written: target/bench/results.json, target/bench/*-vs-redis-benchmark.json")


def fmt_rate(ops, items):
    if ops is None:
        return "-"
    return f"{ops:,.0f}" if items == 1 else f"{ops:,.0f} ({ops * items / 1e6:.2f}M/s)"


def print_row(r, header):
    if header:
        print(f"{'operation':<16}{'thr':>4}{'Rust on':>22}{'Rust off':>22}{'redis-benchmark':>22}"
              f"{'on/rb':>7}{'off/rb':>7}{'C/rb':>6}{'on/off':>7}"
              f"{'CPU on':>9}{'off':>8}{'rb':>8}")
    items = r["items_per_call"]
    c_ratio = f"{r['c_ratio']:.2f}" if r["c_ratio"] else "-"
    cpu = r["cpu_us_per_op"]
    print(f"{r['op']:<16}{r['threads']:>4}{fmt_rate(r['on_ops'], items):>22}"
          f"{fmt_rate(r['off_ops'], items):>22}{fmt_rate(r['redis_benchmark_ops'], items):>22}"
          f"{r['on_ratio']:>7.2f}{r['off_ratio']:>7.2f}{c_ratio:>6}{r['on_vs_off']:>7.2f}"
          f"{cpu['on']:>9.1f}{cpu['off']:>8.1f}{cpu['rb']:>8.1f}", flush=True)


if __name__ == "__main__":
    main()
