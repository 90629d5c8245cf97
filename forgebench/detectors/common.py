"""Building blocks shared by the baselines: preprocessed inputs and an array-only logistic model.

:class:`FeatureDetector` loads the shared preprocessing for a :class:`ClipSet`, drops clips
that fail (reporting them in ``skipped_``) and returns NaN for them at prediction time.
:class:`LogisticDetector` turns per-frame or per-clip feature rows into P(fake) with a
standardised L2 logistic regression whose strength ``C`` is chosen on the val split by log
loss; it is stored as four arrays (mean, scale, coef, intercept), so nothing is pickled.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from forgebench.detectors.base import ClipSet, Detector
from forgebench.detectors.preprocess import ClipFeatures, PreprocessConfig, default_cache_dir, load_features
from forgebench.errors import InputError

C_GRID = (0.01, 0.1, 1.0, 10.0)
PREPROCESS_PARAMS: dict[str, Any] = {"crop_size": 128, "n_frames": 8, "max_frames": 125, "refine_landmarks": True}
# Crop detectors read only the aligned crops: the plain 468-point mesh (no irises) is enough to align them, and
# it can be tracked without MediaPipe's graph (forgebench.media.face_mesh_lite), about 2x faster per frame.
CROP_PARAMS: dict[str, Any] = {**PREPROCESS_PARAMS, "refine_landmarks": False}


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))


class FeatureDetector(Detector):
    """A detector that reads the shared preprocessing; ``cache_dir`` is a runtime setting, not a parameter."""

    param_defaults: ClassVar[dict[str, Any]] = {**PREPROCESS_PARAMS, "seed": 0}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        env = os.environ.get("FORGEBENCH_DETECTOR_CACHE")
        self.cache_dir: Path | None = Path(env) if env else default_cache_dir()
        self.progress = False
        self.preprocess = PreprocessConfig(crop_size=self.params["crop_size"], n_frames=self.params["n_frames"],
                                           max_frames=self.params["max_frames"],
                                           refine_landmarks=self.params["refine_landmarks"])

    def preprocessing_config(self) -> dict[str, Any]:
        return self.preprocess.as_dict()

    def features(self, clips: ClipSet) -> tuple[list[ClipFeatures | None], list[tuple[str, str]]]:
        feats, failed = load_features(clips, self.preprocess, self.cache_dir, progress=self.progress)
        return feats, failed

    def usable(self, clips: ClipSet) -> tuple[ClipSet, list[ClipFeatures]]:
        """For fit: the clips that preprocessed, with their features; failures go to ``skipped_``."""
        feats, failed = self.features(clips)
        self.fit_skipped_ = getattr(self, "fit_skipped_", []) + failed
        keep = np.array([f is not None for f in feats], bool)
        kept = clips.subset(np.flatnonzero(keep))
        if len(np.unique(kept.labels)) < 2:
            reason = failed[0][1] if failed else "no usable clips"
            raise InputError(f"after skipping {len(failed)} unusable {clips.split} clips, the {clips.split} split "
                             f"lacks one class (first failure: {reason})")
        return kept, [f for f in feats if f is not None]


class LogisticModel:
    """Standardised L2 logistic regression stored as arrays (``mean``, ``scale``, ``coef``, ``intercept``)."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def fit(self, x: np.ndarray, y: np.ndarray, xv: np.ndarray, yv: np.ndarray, seed: int = 0,
            c_grid: tuple[float, ...] = C_GRID) -> dict[str, float]:
        """Fit on (x, y); choose C in ``c_grid`` on (xv, yv) by log loss. Returns {C, val_log_loss} of the choice."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import log_loss

        mean = x.mean(0)
        scale = x.std(0)
        scale[scale < 1e-8] = 1.0
        zx, zv = (x - mean) / scale, (xv - mean) / scale
        best: tuple[float, float, Any] | None = None
        for c in c_grid:
            model = LogisticRegression(C=c, max_iter=2000, random_state=seed).fit(zx, y)
            loss = log_loss(yv, model.predict_proba(zv)[:, 1], labels=[0, 1])
            if best is None or loss < best[0] - 1e-12:
                best = (loss, c, model)
        loss, c, model = best  # type: ignore[misc]
        self.arrays = {"mean": mean.astype(np.float64), "scale": scale.astype(np.float64),
                       "coef": model.coef_[0].astype(np.float64), "intercept": model.intercept_.astype(np.float64)}
        return {"C": c, "val_log_loss": float(loss)}

    def predict(self, x: np.ndarray) -> np.ndarray:
        a = self.arrays
        return sigmoid(((x - a["mean"]) / a["scale"]) @ a["coef"] + a["intercept"][0])


class LogisticDetector(FeatureDetector):
    """Feature rows per frame (or one per clip) -> logistic regression -> mean over the clip's rows."""

    def clip_rows(self, feat: ClipFeatures) -> np.ndarray:
        """[R, D] feature rows of one clip (R = frames for frame detectors, 1 for clip detectors)."""
        raise NotImplementedError

    def _rows(self, feats: list[ClipFeatures]) -> tuple[np.ndarray, np.ndarray]:
        rows = [np.atleast_2d(self.clip_rows(f)) for f in feats]
        owner = np.concatenate([np.full(len(r), i) for i, r in enumerate(rows)])
        return np.concatenate(rows).astype(np.float64), owner

    def _fit(self, train: ClipSet, val: ClipSet) -> None:
        from forgebench.metrics.detection import choose_threshold

        self.fit_skipped_ = []
        train, ftr = self.usable(train)
        val, fva = self.usable(val)
        xt, ot = self._rows(ftr)
        xv, ov = self._rows(fva)
        self.model_ = LogisticModel()
        info = self.model_.fit(xt, train.labels[ot], xv, val.labels[ov], seed=self.params["seed"])
        val_scores = self._aggregate(self.model_.predict(xv), ov, len(fva))
        self.threshold_ = choose_threshold(val.labels, val_scores)
        self.log_.append({"epoch": 0, **info, "threshold": self.threshold_})

    @staticmethod
    def _aggregate(p: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
        return np.array([p[owner == i].mean() for i in range(n)])

    def _frame_scores(self, clips: ClipSet) -> list[np.ndarray | None]:
        feats, failed = self.features(clips)
        self.skipped_ = failed
        return [None if f is None else self.model_.predict(np.atleast_2d(self.clip_rows(f)).astype(np.float64))
                for f in feats]

    def _predict(self, clips: ClipSet) -> np.ndarray:
        return np.array([np.nan if s is None else float(s.mean()) for s in self._frame_scores(clips)])

    def predict_frames(self, clips: ClipSet) -> list[np.ndarray]:
        if not self.frame_based:
            return super().predict_frames(clips)
        self._check_fitted()
        return [np.full(1, np.nan) if s is None else s for s in self._frame_scores(clips.without_labels())]

    def get_arrays(self) -> dict[str, np.ndarray]:
        return dict(self.model_.arrays)

    def set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.model_ = LogisticModel()
        self.model_.arrays = {k: arrays[k] for k in ("mean", "scale", "coef", "intercept")}
