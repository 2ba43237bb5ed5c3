"""The text of /metrics' large families (one sample per entry: 40,000 samples with
10,000 entries), formatted by prometheus_client a slice of samples at a time and kept:
after a change only the slices whose samples changed are formatted again, formatting
being most of a scrape's time."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from prometheus_client import generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

SLICE = 512
Samples = Sequence[tuple[tuple[str, ...], float]]
"""A family's samples: their label values (in the family's order of labels), value."""


class _One(Collector):
    def __init__(self, metric: Metric) -> None:
        self.metric = metric

    def collect(self) -> Iterator[Metric]:
        yield self.metric


class Sliced:
    """The text of labelled families, each kept a slice of samples at a time."""

    def __init__(self) -> None:
        self._kept: dict[str, list[tuple[Samples, bytes]]] = {}

    def text(self, family: Callable[[], Metric], samples: Samples) -> bytes:
        """The text format of the family `family()` makes (empty: its name, help and
        labels) with these samples, in this order."""
        head = generate_latest(_One(family()))
        kept = self._kept.setdefault(head.decode(), [])
        slices = -(-len(samples) // SLICE)
        del kept[slices:]
        parts = [head]
        for n, at in enumerate(range(0, len(samples), SLICE)):
            part = samples[at : at + SLICE]
            if n == len(kept):
                kept.append((part, _body(family, part)))
            elif kept[n][0] != part:
                kept[n] = (part, _body(family, part))
            parts.append(kept[n][1])
        return b"".join(parts)


def _body(family: Callable[[], Metric], samples: Samples) -> bytes:
    metric = family()
    for labels, value in samples:
        metric.add_metric(list(labels), value)  # type: ignore[attr-defined]
    return generate_latest(_One(metric)).split(b"\n", 2)[2]  # without its HELP, TYPE
