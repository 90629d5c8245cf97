"""``dynamics``: landmark-dynamics statistics of the MotionTrack + logistic regression.

Features per clip (all from the shared MediaPipe tracking, pose-normalised where it matters):

* blinks: rate per second, mean duration in seconds, closure spread (closure = mean of both
  eyes' blink coefficients; a blink is a run of frames with closure above 0.5);
* jitter: median over the 478 points of the mean absolute second difference of the
  landmarks in units of inter-ocular distance (trackers and frame-wise renderers jitter);
* pose dynamics: mean |velocity| and std of velocity of each of the six pose components;
* expression and gaze dynamics: the same for each expression coefficient and the gaze;
* (version 2) the signs of life of :mod:`forgebench.detectors.liveliness`: maximum and 90th percentile
  of the eye closure, blinks per minute, excess kurtosis of the closure velocity, of the gaze speed
  and of the mouth-opening velocity. On the unseen-generator harness (docs/detectors.md) they raised
  the pooled AUC from 0.789 to 0.830.

Classifier: a standardised logistic regression (C chosen on val). We chose it over gradient
boosting because it is stored as four arrays in safetensors, with nothing pickled; boosted
trees would need a hand-written tree serialiser for little gain on ~30 features.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from forgebench.detectors.base import register_detector
from forgebench.detectors.common import PREPROCESS_PARAMS, LogisticDetector
from forgebench.detectors.liveliness import blink_stats, liveliness_features
from forgebench.detectors.preprocess import ClipFeatures
from forgebench.errors import InputError
from forgebench.records import MotionTrack


def velocity_stats(x: np.ndarray, fps: float) -> np.ndarray:
    """[mean |v|, std v] per column of ``x`` [T, D] (v in units per second), flattened to [2 D]."""
    if len(x) < 2:
        return np.zeros(2 * x.shape[1])
    v = np.diff(x, axis=0) * fps
    return np.concatenate([np.abs(v).mean(0), v.std(0)])


def landmark_jitter(track: MotionTrack) -> float:
    """Median over points of mean |second difference| of the landmarks, in inter-ocular distances."""
    if track.landmarks is None or track.valid.sum() < 3:
        return 0.0
    width = float(track.meta.get("width", 1.0))
    iod = np.maximum(track.pose[track.valid, 5] * width, 1e-6)
    pts = track.landmarks[track.valid, :, :2] / iod[:, None, None]
    acc = np.abs(np.diff(pts, n=2, axis=0)).sum(-1)
    return float(np.median(acc.mean(0)))


def dynamics_features(track: MotionTrack) -> np.ndarray:
    """[3 + 1 + 12 + 14 + 4 + 7] = [41] features of one MotionTrack."""
    closure = 0.5 * (track.expr("blink_left") + track.expr("blink_right"))
    return np.concatenate([
        blink_stats(closure.astype(np.float64), track.fps),
        [landmark_jitter(track)],
        velocity_stats(track.pose.astype(np.float64), track.fps),
        velocity_stats(track.expression.astype(np.float64), track.fps),
        velocity_stats(track.gaze.astype(np.float64), track.fps),
        liveliness_features(track),
    ])


@register_detector("dynamics")
class DynamicsDetector(LogisticDetector):
    """Clip-level landmark-dynamics detector (no image pixels are used)."""

    version = 2  # 2: + the liveliness statistics
    param_defaults: ClassVar[dict[str, Any]] = {**PREPROCESS_PARAMS, "n_frames": 1, "seed": 0}

    def _validate(self) -> None:
        if not self.params["refine_landmarks"]:
            raise InputError("dynamics needs refine_landmarks=True: its gaze features read the iris points")

    def clip_rows(self, feat: ClipFeatures) -> np.ndarray:
        return dynamics_features(feat.track())[None]
