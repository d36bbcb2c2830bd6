#!/usr/bin/env python3
"""plot_chains.py — SVG line chart of `huginn eval-chains --csv` results (no plotting library).

usage: plot_chains.py OUT.svg RECURRENT.csv [BASELINE.csv] [--title TEXT]

One line per hop count: accuracy (%) against test-time iterations r (log2 axis) for the recurrent
model; the fixed-depth baseline (evaluated at r = 1, its training depth) is drawn as a marker per hop
count at the left edge, in the same colour, and listed in the legend.
"""
import csv
import math
import sys
from collections import defaultdict

COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
          "#bcbd22", "#17becf", "#393b79", "#637939", "#843c39", "#7b4173", "#3182bd"]


def load(path):
    acc = defaultdict(dict)
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            acc[int(row["hops"])][int(row["steps"])] = 100.0 * float(row["accuracy"])
    return acc


def main():
    args = [a for a in sys.argv[1:]]
    title = "Variable chains: accuracy vs test-time iterations"
    if "--title" in args:
        i = args.index("--title")
        title = args[i + 1]
        del args[i:i + 2]
    if len(args) < 2:
        sys.exit(__doc__)
    out, rec = args[0], load(args[1])
    base = load(args[2]) if len(args) > 2 else {}
    steps = sorted({s for h in rec.values() for s in h})
    W, H, L, R, T, B = 760, 440, 70, 190, 50, 60
    pw, ph = W - L - R, H - T - B
    lo, hi = math.log2(steps[0]), math.log2(steps[-1])

    def x(s):
        return L + (math.log2(s) - lo) / ((hi - lo) or 1) * pw

    def y(a):
        return T + (1 - a / 100.0) * ph

    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{W / 2 - R / 2}" y="24" text-anchor="middle" font-size="15">{title}</text>']
    for a in range(0, 101, 20):
        o.append(f'<line x1="{L}" y1="{y(a):.1f}" x2="{L + pw}" y2="{y(a):.1f}" stroke="#ddd"/>')
        o.append(f'<text x="{L - 8}" y="{y(a) + 4:.1f}" text-anchor="end">{a}</text>')
    for s in steps:
        o.append(f'<line x1="{x(s):.1f}" y1="{T}" x2="{x(s):.1f}" y2="{T + ph}" stroke="#eee"/>')
        o.append(f'<text x="{x(s):.1f}" y="{T + ph + 18}" text-anchor="middle">{s}</text>')
    o.append(f'<rect x="{L}" y="{T}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>')
    o.append(f'<text x="{L + pw / 2}" y="{H - 18}" text-anchor="middle">test-time iterations r (log scale)</text>')
    o.append(f'<text transform="translate(20,{T + ph / 2}) rotate(-90)" text-anchor="middle">accuracy (%)</text>')
    ly = T + 8
    for i, hops in enumerate(sorted(rec)):
        c = COLORS[i % len(COLORS)]
        pts = " ".join(f"{x(s):.1f},{y(rec[hops][s]):.1f}" for s in steps if s in rec[hops])
        o.append(f'<polyline points="{pts}" fill="none" stroke="{c}" stroke-width="2"/>')
        for s in steps:
            if s in rec[hops]:
                o.append(f'<circle cx="{x(s):.1f}" cy="{y(rec[hops][s]):.1f}" r="2.5" fill="{c}"/>')
        label = f"{hops} hops"
        if hops in base and base[hops]:
            b = base[hops][min(base[hops])]
            o.append(f'<rect x="{L - 5}" y="{y(b) - 5:.1f}" width="10" height="10" fill="none" stroke="{c}" '
                     f'stroke-width="2"/>')
            label += f" (fixed-depth: {b:.0f}%)"
        o.append(f'<line x1="{L + pw + 12}" y1="{ly}" x2="{L + pw + 32}" y2="{ly}" stroke="{c}" stroke-width="2"/>')
        o.append(f'<text x="{L + pw + 36}" y="{ly + 4}">{label}</text>')
        ly += 18
    if base:
        o.append(f'<rect x="{L + pw + 17}" y="{ly - 5}" width="10" height="10" fill="none" stroke="#333" '
                 f'stroke-width="2"/>')
        o.append(f'<text x="{L + pw + 36}" y="{ly + 4}">fixed-depth model</text>')
    o.append("</svg>")
    with open(out, "w") as f:
        f.write("\n".join(o) + "\n")


if __name__ == "__main__":
    main()
