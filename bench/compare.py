#!/usr/bin/env python3
"""Before/after throughput of two builds of the Rust bench driver (examples/bench_ops.rs) on the
same server, in the same run: for each operation and thread count, runs alternate between the
two drivers (A B, then B A, ...), and the ratio B/A of each pair is kept; the median ratio is
printed. Alternating pairs cancel most of the drift of a shared, noisy machine. Beside the
throughput, the client's CPU time (user + system) per call, which other load on the machine
disturbs much less than it disturbs throughput.

usage: scripts/with-redis.sh python3 bench/compare.py OLD_DRIVER NEW_DRIVER
Environment: REDIS_URL, BENCH_SECONDS (per run, default 1.0), BENCH_PAIRS (default 5),
BENCH_OPS (comma list), BENCH_THREADS (comma list, default 1,16).
"""
import json
import os
import resource
import statistics
import subprocess
import sys

OPS = ["get", "set", "set_if_absent", "try_set", "remove", "compute8", "service_state32",
       "batch1000", "batch10000", "workload100", "exec_batch16"]


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def rate(driver, op, threads, seconds):
    """Calls per second, and the driver's CPU microseconds per call."""
    before = cpu_seconds()
    out = subprocess.run([driver, op, str(threads), str(seconds)], check=True,
                         capture_output=True, text=True).stdout
    cpu = cpu_seconds() - before
    result = json.loads(out.strip().splitlines()[-1])
    if result["errors"]:
        sys.exit(f"{driver} {op}: {result['errors']} errors")
    return result["ops_per_sec"], cpu * 1e6 / max(result["calls"], 1)


def main():
    old, new = sys.argv[1], sys.argv[2]
    seconds = float(os.environ.get("BENCH_SECONDS", "1.0"))
    pairs = int(os.environ.get("BENCH_PAIRS", "5"))
    ops = os.environ.get("BENCH_OPS", ",".join(OPS)).split(",")
    threads_list = [int(t) for t in os.environ.get("BENCH_THREADS", "1,16").split(",")]
    subprocess.run([new, "setup"], check=True)
    print(f"{'operation':<16}{'thr':>4}{'old ops/s':>12}{'new ops/s':>12}{'new/old':>9}"
          f"{'old cpu us':>12}{'new cpu us':>12}{'new/old':>9}  throughput ratios of the pairs")
    rows = []
    for op in ops:
        for threads in threads_list:
            olds, news, ratios, old_cpu, new_cpu, cpu_ratios = [], [], [], [], [], []
            for i in range(pairs):
                if i % 2 == 0:
                    a = rate(old, op, threads, seconds)
                    b = rate(new, op, threads, seconds)
                else:
                    b = rate(new, op, threads, seconds)
                    a = rate(old, op, threads, seconds)
                olds.append(a[0])
                news.append(b[0])
                ratios.append(b[0] / a[0])
                old_cpu.append(a[1])
                new_cpu.append(b[1])
                cpu_ratios.append(b[1] / a[1])
            row = {"op": op, "threads": threads, "old": statistics.median(olds),
                   "new": statistics.median(news), "ratio": statistics.median(ratios),
                   "old_cpu": statistics.median(old_cpu), "new_cpu": statistics.median(new_cpu),
                   "cpu_ratio": statistics.median(cpu_ratios), "ratios": ratios}
            rows.append(row)
            print(f"{op:<16}{threads:>4}{row['old']:>12,.0f}{row['new']:>12,.0f}"
                  f"{row['ratio']:>9.3f}{row['old_cpu']:>12.1f}{row['new_cpu']:>12.1f}"
                  f"{row['cpu_ratio']:>9.3f}  " + " ".join(f"{r:.2f}" for r in ratios),
                  flush=True)
    for key, what in (("ratio", "throughput new/old"), ("cpu_ratio", "CPU per call new/old")):
        values = [r[key] for r in rows]
        print(f"{what}: median of the medians {statistics.median(values):.3f}; "
              f"lowest {min(values):.3f}, highest {max(values):.3f}")


if __name__ == "__main__":
    main()
