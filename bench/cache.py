#!/usr/bin/env python3
"""make bench, the client cache's part: get_linked_pod through the Rust API with the cache on
(SF_BENCH_CACHE), with it off, and redis-benchmark GET, at 1 and 16 threads, alternated in the
same run (each round runs every contender once, in a rotating order; ratios are medians of the
per-round ratios). Two workloads (examples/bench_ops.rs):

  get90   9 reads in 10 of a hot set of 1,000 uids (cached), 1 in 10 of all 100,000 (mostly
          misses): about 90 % hits;
  get100  only the hot set: every read a hit once warm (the cache's own cost).

Beside the rates, the hit ratio the driver measured and the server's CPU per read (INFO cpu
before and after each run, divided by the reads). Writes target/bench/cache-vs-uncached.json and
cache-vs-redis-benchmark.json (drawn by make charts).

Environment: REDIS_URL (scripts/with-redis.sh sets it), BENCH_SECONDS (per run, default 1.0),
BENCH_RUNS (rounds, default 5), BENCH_THREADS (default 1,16).
"""
import json
import os
import statistics
import subprocess
import sys
from urllib.parse import urlparse

from report import Report
from run import RUST_DRIVER, ROOT, TARGET, run_redis_benchmark, server_cpu

SECONDS = float(os.environ.get("BENCH_SECONDS", "1.0"))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
CACHE = "10000:60000"  # entries : max age in ms


def run_driver(op, threads, port, cache):
    """(reads per second, server CPU microseconds per read, hit ratio) of one driver run."""
    env = dict(os.environ)
    env.pop("SF_BENCH_CACHE", None)
    if cache:
        env["SF_BENCH_CACHE"] = CACHE
    before = server_cpu(port)
    out = subprocess.run([RUST_DRIVER, op, str(threads), str(SECONDS)], check=True,
                         capture_output=True, text=True, env=env).stdout
    cpu = server_cpu(port) - before
    result = json.loads(out.strip().splitlines()[-1])
    if result["errors"]:
        sys.exit(f"{RUST_DRIVER} {op}: {result['errors']} errors")
    looked_up = result["cache_hits"] + result["cache_misses"]
    hits = result["cache_hits"] / looked_up if looked_up else None
    return result["ops_per_sec"], cpu * 1e6 / max(result["calls"], 1), hits


def main():
    port = urlparse(os.environ["REDIS_URL"]).port
    threads_list = [int(t) for t in os.environ.get("BENCH_THREADS", "1,16").split(",")]
    subprocess.run([RUST_DRIVER, "setup"], check=True)
    command = "make bench" + "".join(f" {k}={os.environ[k]}" for k in
                                     ("BENCH_SECONDS", "BENCH_RUNS", "BENCH_THREADS")
                                     if k in os.environ)
    vs_uncached = Report(ROOT, "get_linked_pod with the client cache against without it",
                         "cache on", "cache off", command)
    vs_rb = Report(ROOT, "get_linked_pod with the client cache against redis-benchmark GET",
                   "cache on", "redis-benchmark GET", command)
    print(f"{'workload':<9}{'thr':>4}{'cached':>12}{'hits':>7}{'uncached':>11}{'rb GET':>10}"
          f"{'x uncached':>11}{'x rb':>7}{'CPU/read cached':>17}{'uncached':>10}{'rb':>7}")
    rows = []
    for op in ("get90", "get100"):
        for threads in threads_list:
            runs = {"on": [], "off": [], "rb": []}
            cpu = {"on": [], "off": [], "rb": []}
            hit_ratios = []
            expected = 1000.0
            for round_ in range(RUNS):
                order = ["on", "off", "rb"]
                order = order[round_ % 3:] + order[:round_ % 3]
                for who in order:
                    if who == "rb":
                        rate, per_read = run_redis_benchmark(port, "get", threads, expected)
                    else:
                        rate, per_read, hits = run_driver(op, threads, port, who == "on")
                        if who == "on":
                            hit_ratios.append(hits)
                        else:
                            expected = max(expected, rate)
                    runs[who].append(rate)
                    cpu[who].append(per_read)
            ratio = lambda a, b: statistics.median(x / y for x, y in zip(runs[a], runs[b]))
            row = {
                "op": op, "threads": threads,
                "cached_per_s": statistics.median(runs["on"]),
                "uncached_per_s": statistics.median(runs["off"]),
                "redis_benchmark_per_s": statistics.median(runs["rb"]),
                "hit_ratio": statistics.median(hit_ratios),
                "vs_uncached": ratio("on", "off"),
                "vs_redis_benchmark": ratio("on", "rb"),
                "server_cpu_us_per_read": {k: statistics.median(v) for k, v in cpu.items()},
                "runs": runs,
            }
            rows.append(row)
            c = row["server_cpu_us_per_read"]
            print(f"{op:<9}{threads:>4}{row['cached_per_s']:>12,.0f}{row['hit_ratio']:>7.1%}"
                  f"{row['uncached_per_s']:>11,.0f}{row['redis_benchmark_per_s']:>10,.0f}"
                  f"{row['vs_uncached']:>11.1f}{row['vs_redis_benchmark']:>7.1f}"
                  f"{c['on']:>17.2f}{c['off']:>10.2f}{c['rb']:>7.2f}", flush=True)
            vs_uncached.row(op, threads, row["vs_uncached"], pairs=RUNS,
                            ours_per_s=row["cached_per_s"], peer_per_s=row["uncached_per_s"],
                            hit_ratio=row["hit_ratio"],
                            server_cpu_us_per_read=row["server_cpu_us_per_read"])
            vs_rb.row(op, threads, row["vs_redis_benchmark"], pairs=RUNS,
                      ours_per_s=row["cached_per_s"], peer_per_s=row["redis_benchmark_per_s"],
                      hit_ratio=row["hit_ratio"])
    print("rates: reads per second (medians); x: median of the per-round ratios; CPU/read: the")
    print("server's CPU (INFO cpu) per read, microseconds; hits: the cached driver's hit ratio")
    os.makedirs(os.path.join(TARGET, "bench"), exist_ok=True)
    with open(os.path.join(TARGET, "bench/cache.json"), "w") as f:
        json.dump({"seconds_per_run": SECONDS, "runs": RUNS, "cache": CACHE, "rows": rows}, f,
                  indent=2)
    vs_uncached.write(os.path.join(TARGET, "bench/cache-vs-uncached.json"))
    vs_rb.write(os.path.join(TARGET, "bench/cache-vs-redis-benchmark.json"))
    print("written: target/bench/cache.json, target/bench/cache-vs-*.json")


if __name__ == "__main__":
    main()
