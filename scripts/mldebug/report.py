"""Rendering a report: terminal lines, report.md, report.json and plots."""
from __future__ import annotations

import csv
import json
import os
from collections import Counter
from typing import Any, Dict, List

from .registry import Plot
from .runner import public

_LABEL = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "skip": "skip", "error": "ERROR"}


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)) and len(v) > 8:
        return "[" + ", ".join(_fmt(x) for x in v[:8]) + f", ... ({len(v)} values)]"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_fmt(x)}" for k, x in list(v.items())[:12]) + \
            (", ..." if len(v) > 12 else "") + "}"
    return str(v)


def total_line(report: Dict[str, Any]) -> str:
    counts = Counter(c["status"] for c in report["checks"])
    parts = [f"{counts[s]} {s}" for s in ("fail", "warn", "error", "pass", "skip") if counts[s]]
    return f"{report['status'].upper()}: " + ", ".join(parts) + f"  ({report['seconds']:.1f}s, {report['target']})"


def text(report: Dict[str, Any], verbose: bool = False) -> str:
    checks = report["checks"]
    width = max([len(c["id"]) for c in checks] + [8])
    lines = []
    for c in checks:
        lines.append(f"{_LABEL[c['status']]:<5}  {c['id']:<{width}}  {c['summary']}")
        if verbose:
            for d in c.get("_details", []):
                lines.append(f"{'':<5}  {'':<{width}}    {d}")
            for k, v in c["metrics"].items():
                lines.append(f"{'':<5}  {'':<{width}}    {k} = {_fmt(v)}")
            lines.append(f"{'':<5}  {'':<{width}}    ({c['seconds']:.2f}s, see {c['ref']})")
    lines.append(total_line(report))
    if not verbose and any(c["status"] in ("fail", "warn", "error") for c in checks):
        lines.append("Details: add -v; what each id means: refs/diagnostics.md#<id>")
    return "\n".join(lines)


def markdown(report: Dict[str, Any]) -> str:
    out = [f"# ml-debug report: `{report['target']}`", "",
           f"**{report['status'].upper()}** · seed {report['seed']} · {report['device']} · "
           f"torch {report['torch']} · {report['seconds']:.1f}s", "",
           "| status | check | summary |", "|---|---|---|"]
    for c in report["checks"]:
        summary = c["summary"].replace("|", "\\|")
        out.append(f"| {_LABEL[c['status']]} | [{c['id']}]({c['ref']}) | {summary} |")
    for c in report["checks"]:
        out += ["", f"## {c['id']}", "", f"{_LABEL[c['status']]}: {c['summary']}", ""]
        for d in c.get("_details", []):
            out.append(f"- {d}")
        if c["metrics"]:
            out += ["", "| metric | value |", "|---|---|"]
            out += [f"| {k} | {_fmt(v)} |".replace("\n", " ") for k, v in c["metrics"].items()]
        for p in c.get("_plots", []):
            out += ["", f"![{p.title}]({p.name}.png)"]
    return "\n".join(out) + "\n"


def write_plot(plot: Plot, out_dir: str) -> List[str]:
    """Draw a plot as PNG with matplotlib when installed; always also write its data as CSV."""
    written = []
    csv_path = os.path.join(out_dir, plot.name + ".csv")
    labels = list(plot.series)
    n = max((len(v) for v in plot.series.values()), default=0)
    xs = plot.x if plot.x is not None else list(range(n))
    with open(csv_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["x"] + labels)
        for i in range(n):
            w.writerow([xs[i] if i < len(xs) else i] +
                       [plot.series[k][i] if i < len(plot.series[k]) else "" for k in labels])
    written.append(csv_path)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return written
    fig, ax = plt.subplots(figsize=(7, 4))
    try:
        for label, ys in plot.series.items():
            if plot.kind == "hist":
                ax.hist(ys, bins=50, alpha=0.5, label=label)
            elif plot.kind == "bar":
                ax.bar(range(len(ys)), ys, label=label)
            else:
                ax.plot(xs[:len(ys)], ys, label=label)
        if plot.logy:
            ax.set_yscale("log")
        ax.set_title(plot.title)
        ax.set_xlabel(plot.xlabel)
        ax.set_ylabel(plot.ylabel)
        if 1 < len(plot.series) <= 12:
            ax.legend(fontsize=7)
        png = os.path.join(out_dir, plot.name + ".png")
        fig.tight_layout()
        fig.savefig(png, dpi=90)
        written.append(png)
    finally:
        plt.close(fig)
    return written


def write_out(report: Dict[str, Any], out_dir: str) -> List[str]:
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    p = os.path.join(out_dir, "report.json")
    with open(p, "w") as f:
        json.dump(public(report), f, indent=2)
    paths.append(p)
    p = os.path.join(out_dir, "report.md")
    with open(p, "w") as f:
        f.write(markdown(report))
    paths.append(p)
    for c in report["checks"]:
        for plot in c.get("_plots", []):
            paths += write_plot(plot, out_dir)
    return paths
