#!/usr/bin/env python3
"""make charts: draws docs/perf/*.svg from the benches' JSON comparisons.

Every peer bench writes one JSON file in the same shape (make bench, make go-bench,
make java-bench write target/bench/*-vs-*.json):

    {"title": ..., "ours": ..., "peer": ..., "date": ..., "commit": ..., "machine": ...,
     "command": ..., "rows": [{"op": ..., "threads": 1, "ratio": 1.23, ...}, ...]}

where ratio is the median of the per-pair ratios ours / peer (above 1: ours is faster).

    scripts/charts.py [SOURCE_DIR] [OUT_DIR]

copies each SOURCE_DIR/*-vs-*.json (default target/bench) into OUT_DIR (default docs/perf), so the
data behind a committed chart is committed beside it, then draws OUT_DIR/NAME.svg from every
OUT_DIR/NAME.json: per operation, one bar per concurrency (a row with "virtual": true is one of virtual
threads), with the line at 1.0 (parity). With
SOURCE_DIR equal to OUT_DIR it only redraws. No dependency beyond Python's standard library.
"""
import glob
import html
import json
import os
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Layout, in SVG user units (pixels).
WIDTH = 760
LEFT = 230          # room for the operation names
RIGHT = 40
TOP = 92            # title, provenance lines and legend
ROW = 14            # one bar
GAP = 8             # between operations
COLORS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2"]


def text(x, y, s, size=12, anchor="start", weight="normal", fill="#222"):
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'font-weight="{weight}" fill="{fill}">{html.escape(str(s))}</text>')


def tick_step(top):
    """A round grid step giving at most about eight lines up to `top`: 0.5, 1, 2, 5, 10, 20, ..."""
    step = 0.5
    while top / step > 8:
        step *= 2 if str(step).lstrip("0.").startswith(("1", "5")) else 2.5
    return step


def chart(report):
    rows = report["rows"]
    ops = []
    for row in rows:
        if row["op"] not in ops:
            ops.append(row["op"])
    # A concurrency: its thread count, and whether the threads are virtual (Java's rows).
    level_of = lambda row: (bool(row.get("virtual")), row["threads"])
    levels = sorted({level_of(row) for row in rows})
    ratio = {(row["op"], level_of(row)): row["ratio"] for row in rows}
    top = max([1.0] + [r for r in ratio.values() if r is not None])
    step = tick_step(top)
    scale_max = max(1.5, step * (int(top / step) + 1))  # a whole step above the best ratio
    plot = WIDTH - LEFT - RIGHT
    x_of = lambda value: LEFT + plot * value / scale_max
    group = ROW * len(levels) + GAP
    height = TOP + group * len(ops) + 40

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
           f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif">',
           f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
           text(10, 22, report["title"], size=16, weight="bold"),
           text(10, 42, f'{report["ours"]} / {report["peer"]}: median of alternated pairs; '
                        f'above 1.0, {report["ours"]} is faster', size=11),
           text(10, 58, f'{report["date"]}, commit {report["commit"]}, {report["machine"]}',
                size=10, fill="#555"),
           text(10, 72, f'{report["command"]}', size=10, fill="#555")]
    for i, (virtual, threads) in enumerate(levels):
        x = LEFT + i * 150
        out.append(f'<rect x="{x}" y="{TOP - 14}" width="10" height="10" '
                   f'fill="{COLORS[i % len(COLORS)]}"/>')
        kind = "virtual thread" if virtual else "thread"
        out.append(text(x + 14, TOP - 5, f"{threads} {kind}{'s' if threads != 1 else ''}", size=11))
    bottom = TOP + group * len(ops)
    # A grid line every step, and the parity line at 1.0, stronger.
    ticks = [i * step for i in range(int(scale_max / step + 1e-9) + 1)]
    for tick in sorted(set(ticks + [1.0])):
        x = x_of(tick)
        stroke = "#333" if abs(tick - 1.0) < 1e-9 else "#ddd"
        out.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{bottom}" stroke="{stroke}"/>')
        label = f"{tick:.1f}" if step < 1 else f"{tick:.0f}"
        out.append(text(x, bottom + 14, label, size=10, anchor="middle"))
    for g, op in enumerate(ops):
        y0 = TOP + g * group + GAP / 2
        out.append(text(LEFT - 8, y0 + ROW * len(levels) / 2 + 4, op, size=11, anchor="end"))
        for i, level in enumerate(levels):
            value = ratio.get((op, level))
            if value is None:
                continue
            y = y0 + i * ROW
            out.append(f'<rect x="{LEFT}" y="{y:.1f}" width="{x_of(value) - LEFT:.1f}" '
                       f'height="{ROW - 2}" fill="{COLORS[i % len(COLORS)]}"/>')
            out.append(text(x_of(value) + 4, y + ROW - 4, f"{value:.2f}", size=10))
    out.append(text(LEFT + plot / 2, bottom + 30, "throughput ratio", size=11, anchor="middle"))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    source = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/bench")
    out_dir = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "docs/perf")
    os.makedirs(out_dir, exist_ok=True)
    if os.path.abspath(source) != os.path.abspath(out_dir):
        for path in sorted(glob.glob(os.path.join(source, "*-vs-*.json"))):
            shutil.copy(path, out_dir)
            print(f"copied {path}")
    drawn = 0
    for path in sorted(glob.glob(os.path.join(out_dir, "*-vs-*.json"))):
        with open(path) as f:
            report = json.load(f)
        svg = os.path.splitext(path)[0] + ".svg"
        with open(svg, "w") as f:
            f.write(chart(report))
        drawn += 1
        print(f"drew {svg} ({len(report['rows'])} rows)")
    if drawn == 0:
        sys.exit(f"no *-vs-*.json in {out_dir}: run make bench, make go-bench or make java-bench first")


if __name__ == "__main__":
    main()
