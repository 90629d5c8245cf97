"""FID and KID of generated frames against a reference set (pytorch-fid's InceptionV3).

FID is the Fréchet distance between Gaussian statistics of pool3 features
(:mod:`.frechet`); KID the unbiased MMD^2 with the cubic polynomial kernel
``k(x, y) = (x.y / d + 1)^3`` averaged over random subsets (Binkowski et al.
2018; clean-fid's ``kernel_distance``). Both are set-level: ``update(clip)``
adds a clip's frames to the generated side, ``compute()`` compares with the
reference set — a folder of videos or images, a features ``.npz`` or (FID only)
a ``mu``/``sigma`` ``.npz`` such as pytorch-fid's ``--save-stats`` output.
Reference features are cached under ``$FORGEBENCH_HOME/stats``.

Functional twins: :func:`fid` and :func:`kid` on lists of frame arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from forgebench.errors import ForgebenchError, InputError
from forgebench.metrics.base import Clip, Metric, MetricResult, register_metric
from forgebench.metrics.frechet import StreamingGaussianStats, frechet_distance, load_stats, save_stats
from forgebench.metrics.inception import InceptionFeatures, shared_extractor

Reference = str | Path | np.ndarray | tuple[np.ndarray, np.ndarray] | None


# --------------------------------------------------------------------------- maths


def fid_from_stats(stats_a: StreamingGaussianStats, stats_b: StreamingGaussianStats) -> float:
    mu1, s1 = stats_a.mean_cov()
    mu2, s2 = stats_b.mean_cov()
    return frechet_distance(mu1, s1, mu2, s2)


def kid_from_features(
    feats_a: np.ndarray, feats_b: np.ndarray, num_subsets: int = 100, max_subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """KID (mean, std over subsets) between feature sets [N, D] and [M, D].

    Each subset draws ``m = min(N, M, max_subset_size)`` rows of each set without replacement and
    takes the unbiased MMD^2: off-diagonal means of k(x, x') and k(y, y') minus twice the mean k(x, y).
    """
    x_all, y_all = np.asarray(feats_a, np.float64), np.asarray(feats_b, np.float64)
    d = x_all.shape[1]
    m = min(len(x_all), len(y_all), max_subset_size)
    if m < 2:
        raise InputError(f"KID needs at least 2 frames on each side, have {len(x_all)} and {len(y_all)}")
    rng = np.random.default_rng(seed)
    vals = np.empty(num_subsets)
    for s in range(num_subsets):
        x = x_all[rng.choice(len(x_all), m, replace=False)]
        y = y_all[rng.choice(len(y_all), m, replace=False)]
        kxx, kyy, kxy = (x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3
        within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        vals[s] = within - 2 * kxy.mean()
    return float(vals.mean()), float(vals.std())


def _frames_of(clip: Clip, max_frames: int | None, stride: int) -> np.ndarray:
    if clip.frames is None or len(clip.frames) == 0:
        raise InputError(f"clip {clip.clip_id} has no frames")
    frames = clip.frames[::stride]
    return frames if max_frames is None else frames[:max_frames]


def reference_features(
    reference: Reference, extractor: InceptionFeatures, network: str, max_frames: int | None = None, stride: int = 1
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Features [N, 2048] of the reference set, or ``(mu, sigma)`` when only statistics are given.

    A folder is read once and its features cached (key: files, sizes, mtimes, network, sampling).
    """
    if reference is None:
        raise InputError("FID/KID need a reference set: pass --reference DIR (videos or images) or a stats .npz")
    if isinstance(reference, tuple):
        return reference
    if isinstance(reference, np.ndarray):
        return reference
    path = Path(reference)
    if path.is_file():
        with np.load(path, allow_pickle=False) as data:
            if "features" in data.files:
                return data["features"]
        mu, sigma, _ = load_stats(path)
        return mu, sigma
    from forgebench.metrics.inputs import fingerprint, iter_reference_frames, reference_files
    from forgebench.paths import forgebench_home

    key = fingerprint(reference_files(path), network, max_frames, stride)
    cache = forgebench_home() / "stats" / f"inception-{key}.npz"
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as data:
            return data["features"]
    feats = np.concatenate([extractor(b[:max_frames]) for b in iter_reference_frames(path, max_frames, stride)])
    save_stats(cache, *_mean_cov(feats), features=feats.astype(np.float32), network=network, source=str(path))
    return feats


def _mean_cov(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = StreamingGaussianStats()
    s.update(feats)
    return s.mean_cov()


def fid(frames: Sequence[np.ndarray], reference: Reference, extractor: InceptionFeatures | None = None) -> float:
    """FID of uint8 frame arrays [T, H, W, 3] against ``reference`` (see :func:`reference_features`)."""
    ex, network = (extractor, "custom") if extractor is not None else shared_extractor()
    gen = StreamingGaussianStats()
    for f in frames:
        gen.update(ex(f))
    ref = reference_features(reference, ex, network)
    mu2, s2 = ref if isinstance(ref, tuple) else _mean_cov(ref)
    mu1, s1 = gen.mean_cov()
    return frechet_distance(mu1, s1, mu2, s2)


def kid(
    frames: Sequence[np.ndarray], reference: Reference, extractor: InceptionFeatures | None = None, **kw: Any
) -> float:
    """KID (mean over subsets) of uint8 frame arrays against a reference folder or features."""
    ex, network = (extractor, "custom") if extractor is not None else shared_extractor()
    ref = reference_features(reference, ex, network)
    if isinstance(ref, tuple):
        raise InputError("KID needs reference features, not only mu/sigma: give a folder or a features .npz")
    return kid_from_features(np.concatenate([ex(f) for f in frames]), ref, **kw)[0]


# --------------------------------------------------------------------------- metric classes


class _InceptionSetMetric(Metric):
    """Shared bookkeeping: the extractor (shared per process, never pickled), the reference and sampling."""

    requires: ClassVar[frozenset[str]] = frozenset({"frames", "reference_set", "weights:fid_inception"})
    higher_is_better: ClassVar[bool] = False
    per_clip: ClassVar[bool] = False

    def __init__(
        self,
        reference: Reference = None,
        *,
        extractor: InceptionFeatures | None = None,
        weights: str | None = None,
        device: str = "cpu",
        max_frames_per_clip: int | None = None,
        frame_stride: int = 1,
    ) -> None:
        if frame_stride < 1:
            raise InputError(f"frame_stride must be >= 1, got {frame_stride}")
        self.reference = reference
        self.weights, self.device = weights, device
        self.max_frames_per_clip, self.frame_stride = max_frames_per_clip, frame_stride
        self._extractor = extractor
        self._injected = extractor is not None
        self.network = "custom extractor" if self._injected else None
        self.reset()

    def _ex(self) -> InceptionFeatures:
        if self._extractor is None:
            self._extractor, self.network = shared_extractor(self.weights, self.device)
        return self._extractor

    def _clip_features(self, clip: Clip) -> np.ndarray:
        return self._ex()(_frames_of(clip, self.max_frames_per_clip, self.frame_stride))

    def _reference(self) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        return reference_features(
            self.reference, self._ex(), str(self.network), self.max_frames_per_clip, self.frame_stride
        )

    def _unavailable(self, exc: ForgebenchError) -> MetricResult:
        fix = str(exc).split("run '")[-1].rstrip("'") if "run '" in str(exc) else ""
        return MetricResult.unavailable(self.name, self.higher_is_better, str(exc), fix)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if not self._injected:  # the shared network is reloaded lazily, not pickled
            state["_extractor"] = None
        return state


@register_metric("fid")
class FrechetInceptionDistance(_InceptionSetMetric):
    """FID of all generated frames seen against the reference set (lower is better)."""

    name: ClassVar[str] = "fid"

    def reset(self) -> None:
        self.stats = StreamingGaussianStats()

    def update(self, clip: Clip) -> None:
        self.stats.update(self._clip_features(clip))

    def merge(self, other: Metric) -> None:
        assert isinstance(other, FrechetInceptionDistance)
        self.stats.merge(other.stats)

    def compute(self) -> MetricResult:
        try:
            ref = self._reference()
            mu2, s2 = ref if isinstance(ref, tuple) else _mean_cov(ref)
            mu1, s1 = self.stats.mean_cov()
        except ForgebenchError as exc:
            return self._unavailable(exc)
        value = frechet_distance(mu1, s1, mu2, s2)
        return MetricResult(
            self.name,
            value,
            False,
            n=self.stats.n,
            network=self.network,
            details={"frames": self.stats.n, "reference_frames": None if isinstance(ref, tuple) else len(ref)},
        )


@register_metric("kid")
class KernelInceptionDistance(_InceptionSetMetric):
    """KID (unbiased polynomial-kernel MMD^2, mean over subsets) against the reference set."""

    name: ClassVar[str] = "kid"

    def __init__(
        self,
        reference: Reference = None,
        *,
        num_subsets: int = 100,
        max_subset_size: int = 1000,
        seed: int = 0,
        **kw: Any,
    ) -> None:
        self.num_subsets, self.max_subset_size, self.seed = num_subsets, max_subset_size, seed
        super().__init__(reference, **kw)

    def reset(self) -> None:
        self.features: list[np.ndarray] = []

    def update(self, clip: Clip) -> None:
        self.features.append(self._clip_features(clip).astype(np.float32))

    def merge(self, other: Metric) -> None:
        assert isinstance(other, KernelInceptionDistance)
        self.features.extend(other.features)

    def compute(self) -> MetricResult:
        try:
            ref = self._reference()
            if isinstance(ref, tuple):
                raise InputError("KID needs reference features, not only mu/sigma: give a folder or a features .npz")
            if not self.features:
                raise InputError("KID has no generated frames")
            gen = np.concatenate(self.features)
            mean, std = kid_from_features(gen, ref, self.num_subsets, self.max_subset_size, self.seed)
        except ForgebenchError as exc:
            return self._unavailable(exc)
        return MetricResult(
            self.name,
            mean,
            False,
            n=len(gen),
            network=self.network,
            details={"std": std, "num_subsets": self.num_subsets, "reference_frames": len(ref)},
        )
