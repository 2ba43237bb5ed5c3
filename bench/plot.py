"""`--plot FILE.png`: the latency distributions (ours beside the floor) and each ratio
against its goal, in one picture (matplotlib: a bench-only dependency)."""

from __future__ import annotations

import re
from pathlib import Path

from bench.figure import Figure

_GOAL = re.compile(r"^(<=|>=) ([0-9.]+) (?:x|x floor|F|L|X)$")


def goal_of(figure: Figure) -> tuple[str, float] | None:
    """A ratio goal as (operator, limit), or None for any other goal."""
    found = _GOAL.match(figure.goal)
    return (found[1], float(found[2])) if found else None


def write(figures: list[Figure], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    spread = [f for f in figures if f.samples]
    rated = [(f, g) for f in figures if f.ratio is not None and (g := goal_of(f)) is not None]
    fig, (left, right) = plt.subplots(1, 2, figsize=(15, 0.5 * len(rated) + 3))
    data, labels = [], []
    for figure in spread:
        for who, values in (figure.samples or {}).items():
            data.append([v * 1000 for v in values])
            name = re.sub(r" p\d\d", "", figure.name.split(" ", 1)[1])
            labels.append(f"{name}: {who}")
    left.boxplot(data, vert=False, whis=(1, 99))
    left.set_yticks(range(1, len(labels) + 1), labels, fontsize=8)
    left.set_xscale("log")
    left.set_xlabel("ms (box: quartiles; whiskers: p1-p99)")
    left.set_title("latency: ours beside the floor")
    names = [f.name for f, _ in rated]
    ratios = [f.ratio or 0.0 for f, _ in rated]
    passed = [f.passed for f, _ in rated]
    right.barh(names, ratios, color=["tab:green" if p else "tab:red" for p in passed])
    for n, (_, (op, limit)) in enumerate(rated):
        right.plot([limit, limit], [n - 0.4, n + 0.4], color="black")
        right.annotate(op, (limit, n), xytext=(3, 0), textcoords="offset points", fontsize=7)
    right.set_xscale("log")
    right.xaxis.set_major_formatter(ticker.ScalarFormatter())
    right.xaxis.set_minor_formatter(ticker.NullFormatter())
    right.tick_params(axis="y", labelsize=8)
    right.invert_yaxis()
    right.set_xlabel("ratio (black: the goal)")
    right.set_title("each ratio against its goal")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
