"""The JSON comparison every peer bench writes (target/bench/NAME.json), from which
`make charts` (scripts/charts.py) draws docs/perf/NAME.svg: when, where and how it ran, and one
row per operation and concurrency with the median of the per-pair ratios ours / peer."""
import datetime
import json
import os
import subprocess


def _load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def _commit(root):
    try:
        commit = subprocess.run(["git", "-C", root, "rev-parse", "--short=12", "HEAD"], check=True,
                                capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    dirty = subprocess.run(["git", "-C", root, "diff", "--quiet", "HEAD"]).returncode != 0
    return commit + ("+changes" if dirty else "")


class Report:
    def __init__(self, root, title, ours, peer, command):
        self.root = root
        self.data = {
            "title": title, "ours": ours, "peer": peer,
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "commit": _commit(root),
            "machine": f"{os.cpu_count()} cores, load average at start {_load()}",
            "command": command, "rows": [],
        }

    def row(self, op, threads, ratio, **figures):
        self.data["rows"].append({"op": op, "threads": threads, "ratio": ratio, **figures})

    def write(self, path):
        self.data["machine"] += f", at end {_load()}"
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            json.dump(self.data, f, indent=2)
            f.write("\n")
