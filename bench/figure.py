"""A figure of the benchmark (ours beside its floor or peer, a ratio, a goal) and the table
that shows them."""

from __future__ import annotations

import statistics
from dataclasses import dataclass


@dataclass
class Figure:
    name: str
    ours: float
    reference: float | None
    unit: str
    goal: str
    passed: bool | None
    note: str = ""
    paired: float | None = None  # median of the ratios of pairs run alternately
    samples: dict[str, list[float]] | None = None  # a latency's samples, ours and the floor's

    @property
    def ratio(self) -> float | None:
        if self.paired is not None:
            return self.paired
        return None if not self.reference else self.ours / self.reference


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def rounds_note(values: list[float], fmt: str = "{:.2f}") -> str:
    return "rounds " + " ".join(fmt.format(v) for v in values)


def paired(ours: list[float], floor: list[float]) -> tuple[float, list[float]]:
    """The median of the ratios of pairs run back to back, and the ratios."""
    ratios = [a / b for a, b in zip(ours, floor, strict=True)]
    return statistics.median(ratios), ratios


def render(figures: list[Figure]) -> str:
    def fmt(value: float | None, unit: str) -> str:
        if value is None or value != value:
            return "-"
        if unit == "s":
            return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"
        return f"{value:.1f}{unit}" if unit else f"{value:.0f}"

    rows = [("figure", "ours", "floor/peer", "ratio", "goal", "result")]
    for fig in figures:
        verdict = "-" if fig.passed is None else ("pass" if fig.passed else "FAIL")
        rows.append(
            (
                fig.name,
                fmt(fig.ours, fig.unit),
                fmt(fig.reference, fig.unit),
                "-" if fig.ratio is None else f"{fig.ratio:.2f}",
                fig.goal,
                verdict + (f"  ({fig.note})" if fig.note else ""),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[5] for r in rows
    )
