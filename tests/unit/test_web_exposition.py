"""/metrics' families of a sample per entry, formatted a slice at a time: the text is
the one prometheus_client gives the whole family, before and after changes."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from jobrunner.web import exposition


def _family() -> GaugeMetricFamily:
    return GaugeMetricFamily("jobrunner_next", 'When "each" runs.\nNext.', labels=["entry_id"])


def _whole(samples: exposition.Samples) -> bytes:
    class Whole:
        def collect(self):
            family = _family()
            for labels, value in samples:
                family.add_metric(list(labels), value)
            yield family

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Whole())  # type: ignore[arg-type]
    return generate_latest(registry)


def _samples(count: int, changed: int = -1) -> list[tuple[tuple[str, ...], float]]:
    return [((f'e{n:05d}"\\',), n + (0.5 if n == changed else 0.0)) for n in range(count)]


def test_sliced_text_is_the_whole_familys_text_as_it_changes():
    sliced = exposition.Sliced()
    count = exposition.SLICE * 3 + 7
    for samples in (
        _samples(count),
        _samples(count, changed=exposition.SLICE + 1),
        _samples(count - exposition.SLICE),  # fewer: the slices beyond go
        _samples(0),
        _samples(5),
    ):
        assert sliced.text(_family, samples) == _whole(samples)


def test_only_the_slice_that_changed_is_formatted_again():
    sliced = exposition.Sliced()
    count = exposition.SLICE * 3
    sliced.text(_family, _samples(count))
    (before,) = sliced._kept.values()
    bodies = [body for _, body in before]
    sliced.text(_family, _samples(count, changed=exposition.SLICE + 1))
    (after,) = sliced._kept.values()
    assert [a is b for (_, a), b in zip(after, bodies, strict=True)] == [True, False, True]
