#!/usr/bin/env python3
"""Before/after of the Go package on a Redis Cluster (or one server): two builds of the Go bench
(bindings/go/bench, each linked with its own library) run alternately against the same
throwaway cluster of N primaries (default 3; 0: one throwaway server), measuring sfexec alone at one goroutine count
(default 16). Each run of a build measures every selected operation once (after a warm-up);
runs alternate A B, then B A, ...; the ratio B/A of each pair is kept, and the median ratio per
operation is printed, with the medians of the rates.

usage: python3 bench/go_cluster_compare.py OLD_BENCH_BINARY NEW_BENCH_BINARY
Build a binary with, for example:
  cd bindings/go/bench && CGO_CFLAGS=-I$PWD/../../../include \\
    CGO_LDFLAGS="-L$LIB -Wl,-rpath,$LIB" go build -o /tmp/gobench-new .
Environment: BENCH_PAIRS (default 5), BENCH_DURATION (one measurement, default 700ms),
BENCH_GOROUTINES (default 16), BENCH_PRIMARIES (default 3), BENCH_OPS (comma list of
substrings of the operations' names, default all).
"""
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def free_port():
    """A loopback port free a moment ago whose cluster bus port (+10000) is free too."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port >= 55000:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


def start_cluster(root, primaries):
    procs, ports = [], []
    for i in range(primaries):
        port = free_port()
        node_dir = os.path.join(root, f"node-{i}")
        os.makedirs(node_dir)
        procs.append(subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", node_dir,
             "--save", "", "--appendonly", "no", "--cluster-enabled", "yes",
             "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        ports.append(port)
    for port in ports:
        for _ in range(200):
            if subprocess.run(["redis-cli", "-p", str(port), "PING"], capture_output=True,
                              text=True).stdout.strip() == "PONG":
                break
            time.sleep(0.05)
    subprocess.run(["redis-cli", "--cluster", "create",
                    *[f"127.0.0.1:{p}" for p in ports], "--cluster-replicas", "0",
                    "--cluster-yes"], check=True, capture_output=True)
    for port in ports:
        for _ in range(600):
            info = subprocess.run(["redis-cli", "-p", str(port), "CLUSTER", "INFO"],
                                  capture_output=True, text=True).stdout
            if "cluster_state:ok" in info:
                break
            time.sleep(0.1)
        else:
            sys.exit(f"node {port}: the cluster did not become ready")
    return procs, [f"redis://127.0.0.1:{p}" for p in ports]


def target(urls):
    """The bench's flags for the servers started."""
    if len(urls) == 1:
        return ["-server-url", urls[0]]
    return ["-cluster-urls", ",".join(urls)]


def start_server(root):
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir",
                             root, "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        if subprocess.run(["redis-cli", "-p", str(port), "PING"], capture_output=True,
                          text=True).stdout.strip() == "PONG":
            break
        time.sleep(0.05)
    return [proc], [f"redis://127.0.0.1:{port}"]


def run(binary, urls, args, out):
    subprocess.run([binary, *target(urls), "-sides", "sfexec", "-pairs", "1",
                    "-json", out, *args], check=True, capture_output=True, text=True)
    with open(out) as f:
        return {row["op"]: row["ours_per_s"] for row in json.load(f)["rows"]}


def main():
    old, new = sys.argv[1], sys.argv[2]
    pairs = int(os.environ.get("BENCH_PAIRS", "5"))
    duration = os.environ.get("BENCH_DURATION", "700ms")
    goroutines = os.environ.get("BENCH_GOROUTINES", "16")
    primaries = int(os.environ.get("BENCH_PRIMARIES", "3"))
    ops = os.environ.get("BENCH_OPS", "")
    with tempfile.TemporaryDirectory(prefix="go-cluster-compare-") as root:
        procs, urls = start_cluster(root, primaries) if primaries else start_server(root)
        try:
            out = os.path.join(root, "run.json")
            # The data the reads expect, written once.
            subprocess.run([new, *target(urls), "-sides", "sfexec", "-pairs", "1", "-duration",
                            "10ms", "-goroutines", "1", "-ops",
                            "SetServiceState", "-json", out], check=True, capture_output=True)
            args = ["-seed=false", "-duration", duration, "-goroutines", goroutines]
            if ops:
                args += ["-ops", ops]
            olds, news = {}, {}
            for p in range(pairs):
                order = [(old, olds), (new, news)] if p % 2 == 0 else [(new, news), (old, olds)]
                for binary, rates in order:
                    for op, rate in run(binary, urls, args, out).items():
                        rates.setdefault(op, []).append(rate)
                print(f"pair {p + 1}/{pairs} done", file=sys.stderr, flush=True)
        finally:
            for proc in procs:
                proc.kill()
                proc.wait()
    where = f"a {primaries}-primary Redis Cluster" if primaries else "one server"
    print(f"Go package (sfexec) on {where}, {goroutines} goroutines: "
          f"{pairs} alternated pairs of runs, {duration} per measurement")
    print(f"| operation | before calls/s | after calls/s | after/before (median of pairs) | pairs |")
    print("| --- | ---: | ---: | ---: | --- |")
    ratios = []
    for op in olds:
        pair_ratios = [b / a for a, b in zip(olds[op], news[op])]
        ratio = statistics.median(pair_ratios)
        ratios.append(ratio)
        print(f"| {op} | {statistics.median(olds[op]):,.0f} | {statistics.median(news[op]):,.0f} "
              f"| **{ratio:.2f}** | {' '.join(f'{r:.2f}' for r in pair_ratios)} |")
    print(f"after/before: median {statistics.median(ratios):.2f}, lowest {min(ratios):.2f}, "
          f"highest {max(ratios):.2f}")


if __name__ == "__main__":
    main()
