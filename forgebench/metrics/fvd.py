"""Fréchet Video Distance with the original I3D network, StyleGAN-V protocol.

Protocol (StyleGAN-V ``src/metrics/frechet_video_distance.py``, ``fvd2048_16f`` / ``fvd2048_128f``):

* one clip of ``num_frames`` **consecutive** frames per video (16 for FVD16, 128 for FVD128);
  videos shorter than that are discarded (``discard_short_videos=True``);
* the real/reference set takes the clip at a random offset (``load_n_consecutive_random_offset``,
  True for the real dataset; seeded here), the generated set at offset 0;
* frames resized to 224x224 (bilinear, no aspect preservation: TF FVD's ``resize_bilinear``;
  like StyleGAN-V this matches TF "up to the upsampling operation") and scaled
  ``x / 127.5 - 1`` (``rescale=True``);
* features: the I3D's 400 **logits** (``return_features=True``, "raw features before the
  softmax layer", the TF-Hub module's output used by the original TF FVD);
* FVD = Fréchet distance of the two feature Gaussians (the same function as FID and FMD).

``clips_per_video > 1`` takes further non-overlapping clips per video (not the reference
protocol; for small development corpora, and recorded in the result).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from forgebench.errors import WeightsUnavailableError
from forgebench.metrics.base import Clip, Metric, MetricResult, register_metric
from forgebench.metrics.i3d import NETWORK, WEIGHTS_NAME, InceptionI3d, load_i3d

I3D_SIZE = 224
_MODELS: dict[str, InceptionI3d] = {}


def i3d_model() -> InceptionI3d:
    """The standard I3D from the weights registry, loaded once per process (WeightsUnavailableError if missing)."""
    from forgebench.weights.registry import require_weights

    path = str(require_weights(WEIGHTS_NAME))
    if path not in _MODELS:
        _MODELS[path] = load_i3d(path)
    return _MODELS[path]


def clip_starts(
    n_frames: int, num_frames: int, random_offset: bool, rng: np.random.Generator, clips_per_video: int = 1
) -> list[int]:
    """Start frames of the clips taken from a video of ``n_frames`` ([] if it is too short: discarded).

    The first clip starts at 0, or uniformly in ``[0, n_frames - num_frames]`` with ``random_offset``;
    further clips (``clips_per_video > 1``) follow it without overlap while they fit.
    """
    if n_frames < num_frames:
        return []
    first = int(rng.integers(0, n_frames - num_frames + 1)) if random_offset else 0
    starts = [first]
    while len(starts) < clips_per_video and starts[-1] + 2 * num_frames <= n_frames:
        starts.append(starts[-1] + num_frames)
    return starts


def preprocess(frames: np.ndarray) -> torch.Tensor:
    """uint8 RGB frames [T, H, W, 3] -> I3D input [3, T, 224, 224] in [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()  # [T, 3, H, W]
    if x.shape[-2:] != (I3D_SIZE, I3D_SIZE):
        x = F.interpolate(x, size=(I3D_SIZE, I3D_SIZE), mode="bilinear", align_corners=False)
    return (x / 127.5 - 1.0).permute(1, 0, 2, 3)


@torch.inference_mode()
def i3d_logits(model: torch.nn.Module, clips: list[np.ndarray], batch_size: int = 2) -> np.ndarray:
    """I3D logits [N, 400] of N clips, each uint8 [T, H, W, 3] (all with the same T)."""
    out = []
    for i in range(0, len(clips), batch_size):
        out.append(model(torch.stack([preprocess(c) for c in clips[i : i + batch_size]])).double().numpy())
    return np.concatenate(out) if out else np.zeros((0, 400))


def video_features(
    model: torch.nn.Module,
    frames: np.ndarray,
    num_frames: int,
    random_offset: bool,
    rng: np.random.Generator,
    clips_per_video: int = 1,
) -> np.ndarray:
    """I3D logits [n_clips, 400] of one video's clips under the protocol (0 rows if the video is too short)."""
    starts = clip_starts(len(frames), num_frames, random_offset, rng, clips_per_video)
    return i3d_logits(model, [frames[s : s + num_frames] for s in starts])


def fvd_from_features(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """Fréchet distance between two I3D logit sets [N, 400], [M, 400]."""
    from forgebench.metrics.frechet import frechet_distance, gaussian_stats

    return frechet_distance(*gaussian_stats(feats_a), *gaussian_stats(feats_b))


def fvd(
    videos: list[np.ndarray],
    reference_videos: list[np.ndarray],
    num_frames: int = 16,
    model: torch.nn.Module | None = None,
    seed: int = 0,
    clips_per_video: int = 1,
) -> float:
    """FVD between generated ``videos`` and ``reference_videos`` (lists of uint8 [T, H, W, 3])."""
    model = model if model is not None else i3d_model()
    gen_rng, ref_rng = np.random.default_rng(seed), np.random.default_rng(seed)
    a = [video_features(model, v, num_frames, False, gen_rng, clips_per_video) for v in videos]
    b = [video_features(model, v, num_frames, True, ref_rng, clips_per_video) for v in reference_videos]
    return fvd_from_features(np.concatenate(a), np.concatenate(b))


class FrechetVideoDistance(Metric):
    """FVD of the clips' videos against a reference set (``update_reference``, or ``reference_stats``)."""

    name = "fvd16"
    higher_is_better = False
    requires = frozenset({"frames", "reference_set", f"weights:{WEIGHTS_NAME}"})
    num_frames = 16

    def __init__(
        self,
        reference_stats: tuple[np.ndarray, np.ndarray] | None = None,
        seed: int = 0,
        clips_per_video: int = 1,
        model: torch.nn.Module | None = None,
    ) -> None:
        if clips_per_video < 1:
            raise ValueError(f"clips_per_video must be >= 1, got {clips_per_video}")
        self.reference_stats = reference_stats
        self.seed, self.clips_per_video = seed, clips_per_video
        # None: the standard I3D, shared per process and never pickled with the metric; a model given
        # here (tests, a custom network) travels with the metric.
        self._model = model
        self.reset()

    def _net(self) -> torch.nn.Module:
        return self._model if self._model is not None else i3d_model()

    def _features(self, frames: np.ndarray | None, reference: bool) -> np.ndarray | None:
        if frames is None:
            return None
        rng = self.ref_rng if reference else self.gen_rng
        try:
            return video_features(self._net(), frames, self.num_frames, reference, rng, self.clips_per_video)
        except WeightsUnavailableError as exc:
            self.missing_weights = str(exc)
            return None

    def update(self, clip: Clip) -> None:
        feats = self._features(clip.frames, reference=False)
        if feats is not None and len(feats):
            self.stats.update(feats)
        elif feats is not None:  # shorter than num_frames: discarded, as the reference does
            self.discarded.append(clip.clip_id)

    def update_reference(self, item: Clip | np.ndarray) -> None:
        """Add one reference video (a Clip or uint8 frames [T, H, W, 3])."""
        feats = self._features(item.frames if isinstance(item, Clip) else item, reference=True)
        if feats is not None and len(feats):
            self.ref_stats.update(feats)

    def compute(self) -> MetricResult:
        from forgebench.metrics.frechet import frechet_distance

        if self.missing_weights:
            return MetricResult.unavailable(
                self.name, False, self.missing_weights, f"forgebench weights fetch {WEIGHTS_NAME}"
            )
        ref = self.reference_stats
        if ref is None and self.ref_stats.n >= 2:
            ref = self.ref_stats.mean_cov()
        if ref is None or self.stats.n < 2:
            return MetricResult.unavailable(
                self.name, False,
                f"{self.name} needs >= 2 videos of >= {self.num_frames} frames in each set "
                f"(generated {self.stats.n}, reference {self.ref_stats.n}; {len(self.discarded)} too short)",
                fix="add a reference set (--reference DIR) and longer videos",
            )  # fmt: skip
        value = frechet_distance(*self.stats.mean_cov(), *ref)
        details = {"clips": self.stats.n, "reference_clips": self.ref_stats.n, "discarded": list(self.discarded),
                   "clips_per_video": self.clips_per_video, "features": "I3D logits [400]"}  # fmt: skip
        return MetricResult(self.name, value, False, n=self.stats.n, network=NETWORK, details=details)

    def reset(self) -> None:
        from forgebench.metrics.frechet import StreamingGaussianStats

        self.stats, self.ref_stats = StreamingGaussianStats(), StreamingGaussianStats()
        self.gen_rng, self.ref_rng = np.random.default_rng(self.seed), np.random.default_rng(self.seed)
        self.discarded: list[str] = []
        self.missing_weights = ""

    def merge(self, other: Metric) -> None:
        assert isinstance(other, FrechetVideoDistance) and other.num_frames == self.num_frames
        self.stats.merge(other.stats)
        self.ref_stats.merge(other.ref_stats)
        self.discarded += other.discarded
        self.missing_weights = self.missing_weights or other.missing_weights


@register_metric("fvd16")
class FVD16(FrechetVideoDistance):
    """FVD on 16-frame clips (StyleGAN-V ``fvd2048_16f``)."""

    name = "fvd16"
    num_frames = 16


@register_metric("fvd128")
class FVD128(FrechetVideoDistance):
    """FVD on 128-frame clips (StyleGAN-V ``fvd2048_128f``)."""

    name = "fvd128"
    num_frames = 128
