#!/usr/bin/env python3
"""The C++ API's cost per call against the C call, counted rather than timed: target/bench/
cxx_overhead runs each loop of bench/cxx_overhead.cpp once under callgrind, and a loop's
inclusive instructions divided by its calls are that side's instructions per call (the caller's
work, the library's, and the system calls' user-space part; the server and the kernel are not
counted). Repeatable whatever else the machine does, unlike the timed pairs.

Needs REDIS_URL (set by scripts/with-redis.sh); `make bench-cpp` runs it after the timed pairs.
"""
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.path.join(ROOT, os.environ.get("CARGO_TARGET_DIR") or "target")
PROGRAM = os.path.join(TARGET, "bench/cxx_overhead")
CALLS = int(os.environ.get("CXX_INSTRUCTION_CALLS", "2000"))
# row -> (C loop, C++ loop) in namespace cxx_bench
ROWS = [
    ("get_linked_pod", "c_get", "cxx_get"),
    ("get_linked_pod (Status& form)", "c_get", "cxx_get_status"),
    ("set_linked_pod (script)", "c_set", "cxx_set"),
    ("get_service_state (8 pods, map)", "c_states", "cxx_states"),
    ("stats (no round trip)", "c_stats", "cxx_stats"),
]


def inclusive(annotated, loop):
    """Inclusive instructions of cxx_bench::<loop>(...) in callgrind_annotate's output."""
    for line in annotated.splitlines():
        m = re.match(r"\s*([\d,]+) .*cxx_bench::" + re.escape(loop) + r"\(", line)
        if m:
            return int(m.group(1).replace(",", ""))
    sys.exit(f"cxx_instructions: no count for cxx_bench::{loop}")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cxx.callgrind")
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", PROGRAM,
                        "--instructions", str(CALLS)], check=True, capture_output=True, text=True)
        annotated = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", out],
                                   check=True, capture_output=True, text=True).stdout
    print(f"instructions per call under callgrind ({CALLS} calls per loop)")
    print(f"{'operation':32} {'C':>10} {'C++':>10} {'C++ - C':>9} {'ratio':>8}")
    for name, c_loop, cxx_loop in ROWS:
        c = inclusive(annotated, c_loop) / CALLS
        cxx = inclusive(annotated, cxx_loop) / CALLS
        print(f"{name:32} {c:10.0f} {cxx:10.0f} {cxx - c:9.0f} {cxx / c:8.4f}")


if __name__ == "__main__":
    main()
