"""The `/stats` picture: stacked bars per day by final state and the day's median time to
result, drawn with matplotlib's object API on the Agg canvas (no pyplot state, no display, safe
in a worker thread)."""

from __future__ import annotations

import io

from core.domain.stats import FINAL_STATES, Summary

WIDTH_INCHES, HEIGHT_INCHES, DPI = 8.0, 5.0, 100
WIDTH, HEIGHT = int(WIDTH_INCHES * DPI), int(HEIGHT_INCHES * DPI)  # 800 × 500 pixels
COLORS = {"completed": "#2e7d32", "failed": "#c62828", "cancelled": "#9e9e9e"}


def render_png(summary: Summary, title: str) -> bytes:
    """Stacked bars per day by final state (left axis) and the day's median time to result
    (line, right axis)."""
    # matplotlib is imported on the first chart, not when a process starts: it adds about a
    # second to every start-up (workers, the CLI) that never draws.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(WIDTH_INCHES, HEIGHT_INCHES), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = list(range(len(summary.days)))
    bottom = [0] * len(positions)
    for state in FINAL_STATES:
        heights = [d.counts[state] for d in summary.days]
        axes.bar(positions, heights, bottom=bottom, color=COLORS[state], label=state, width=0.8)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    step = max(1, len(positions) // 10)
    axes.set_xticks(positions[::step], [d.day.strftime("%b %d") for d in summary.days][::step])
    axes.set_ylabel("jobs (by final state)")
    axes.set_ylim(0, max([*bottom, 1]) * 1.1)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_title(title, fontsize=11)
    medians = [d.median_latency for d in summary.days]
    if any(m is not None for m in medians):
        right = axes.twinx()
        xs = [p for p, m in zip(positions, medians, strict=True) if m is not None]
        ys = [m for m in medians if m is not None]
        right.plot(xs, ys, color="#1565c0", marker="o", label="median time to result")
        right.set_ylabel("median seconds from start to result told")
        right.set_ylim(0, max(ys) * 1.3 or 1)
    figure.legend(loc="outside lower center", ncols=4, fontsize=9, frameon=False)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
