"""The shared metric test harness (torchmetrics' ``MetricTester``, cut down).

:func:`check_metric` runs one metric class over a list of clips and asserts:

1. streaming: updating clip by clip equals the one-shot independent
   ``reference`` on all the clips (the reference package's own function);
2. merge: the clips split over ``n_batches`` instances and merged (the Dask
   reduce) give the same value;
3. functional: the module's plain function gives the same value as the class;
4. pickle and clone: a half-updated metric survives ``pickle`` and ``clone()``
   and finishes with the same value; ``reset()`` really resets.

Use it from a test file in tests/metrics/::

    import sys; from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from harness import check_metric  # noqa: E402

    def test_psnr_matches_skimage():
        clips = [...]
        check_metric(PSNRMetric, clips, reference=lambda cs: ..., functional=lambda cs: psnr_video(cs))
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from forgebench.metrics.base import Clip, Metric, MetricResult


def through_dask(obj):
    """``obj`` after the round trip a Dask worker would give it (distributed's own serialisation)."""
    from distributed.protocol import deserialize, serialize

    return deserialize(*serialize(obj))


def _value(result: MetricResult) -> float:
    assert result.status == "ok", f"{result.name} is {result.status}: {result.reason}"
    assert result.value is not None and math.isfinite(result.value), f"{result.name} gave {result.value}"
    return float(result.value)


def _close(a: float, b: float, rtol: float, atol: float, what: str) -> None:
    assert math.isclose(a, b, rel_tol=rtol, abs_tol=atol), f"{what}: {a!r} != {b!r} (rtol={rtol}, atol={atol})"


def _chunks(items: Sequence[Clip], n: int) -> list[list[Clip]]:
    n = max(1, min(n, len(items)))
    size = math.ceil(len(items) / n)
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def check_metric(
    make: Callable[[], Metric],
    clips: Sequence[Clip],
    reference: Callable[[Sequence[Clip]], float] | None,
    functional: Callable[[Sequence[Clip]], float] | None = None,
    *,
    n_batches: int = 3,
    rtol: float = 1e-6,
    atol: float = 1e-9,
) -> MetricResult:
    """Assert the four properties above for ``make()``; return the streaming result.

    Args:
        make: builds a fresh metric (a class or a ``functools.partial``).
        clips: test inputs, at least ``n_batches`` of them for a meaningful merge check.
        reference: independent one-shot computation on all clips (None only where a closed form is
            asserted by the caller on the returned value).
        functional: the metric module's plain function on all clips.
        n_batches: how many instances the merge check splits the clips over.
        rtol, atol: tolerance for every comparison (1e-4 relative for FID, exact-ish elsewhere).
    """
    assert len(clips) >= 2, "give the harness at least two clips"

    # 1. streaming, clip by clip, against the one-shot reference
    metric = make()
    for clip in clips:
        metric.update(clip)
    streamed = metric.compute()
    value = _value(streamed)
    if reference is not None:
        _close(value, float(reference(clips)), rtol, atol, "streaming vs reference")

    # 2. split over instances and merged
    parts = []
    for chunk in _chunks(clips, n_batches):
        m = make()
        for clip in chunk:
            m.update(clip)
        parts.append(m)
    merged = parts[0]
    for other in parts[1:]:
        merged.merge(other)
    _close(_value(merged.compute()), value, rtol, atol, "merged vs streaming")

    # 3. functional twin
    if functional is not None:
        _close(float(functional(clips)), value, rtol, atol, "functional vs class")

    # 4. half-way, send to a Dask worker (Dask's own serialisation) or clone, then finish; reset clears
    half = len(clips) // 2
    m = make()
    for clip in clips[:half]:
        m.update(clip)
    for copy in (through_dask(m), m.clone()):
        for clip in clips[half:]:
            copy.update(clip)
        _close(_value(copy.compute()), value, rtol, atol, f"{type(copy).__name__} after Dask round trip/clone")
    m.reset()
    for clip in clips:
        m.update(clip)
    _close(_value(m.compute()), value, rtol, atol, "after reset")
    return streamed
