"""Detectors on frozen pretrained networks: pooled features + a light head (the UnivFD idea).

Ojha et al. (CVPR 2023) showed that a linear probe on a frozen general network generalises to
generators never seen in training far better than a network trained on the fakes, which learns
the one generator's traces. Here the frozen networks are the ones forgebench can load without the
web (:mod:`forgebench.detectors.backbones`), the features come from one cached extractor
(:mod:`forgebench.detectors.features`) and the head is

* ``logistic``: standardised L2 logistic regression, ``C`` chosen on val by log loss, stored as
  arrays (:class:`~forgebench.detectors.common.LogisticModel`);
* ``mlp``: one hidden ReLU layer, full-batch Adam, early stopping and the checkpoint chosen on
  val log loss; stored as arrays and evaluated in numpy.

A clip's features ``[W, L, D]`` (windows x frames x width) are pooled over its frames
(:func:`pool_features`): ``mean`` (what the frames show), ``std`` (how much they vary) and
``diff`` (the mean absolute change from one frame to the next, within a window: flicker and
temporal texture, the LipForensics intuition in feature space). Several layers can be read in
one pass, each with its own pooling (``layer="mixed_6a,mixed_7a", pooling="diff,std"``); their
pooled vectors are concatenated.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import numpy as np

from forgebench.detectors.backbones import get_backbone, load_backbone
from forgebench.detectors.base import ClipSet, register_detector
from forgebench.detectors.common import CROP_PARAMS, FeatureDetector, LogisticModel, sigmoid
from forgebench.detectors.features import ExtractorConfig, FeatureExtractor
from forgebench.errors import InputError

POOLINGS = ("mean", "std", "diff")
PROBE_C_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)  # standardised features of 100-6000 dims and a few hundred clips
PROBE_PARAMS: dict[str, Any] = {**CROP_PARAMS, "seed": 0, "layer": "", "crop": "face", "windows": 2, "window_len": 8,
                                "smooth": 5, "pooling": "mean", "head": "logistic", "hidden": 64, "weights": "",
                                "input_size": 0, "device": "cpu", "batch_size": 32}


def parse_pooling(text: str) -> tuple[str, ...]:
    """``"mean+std"`` -> ("mean", "std")."""
    parts = tuple(p.strip() for p in str(text).split("+") if p.strip())
    bad = [p for p in parts if p not in POOLINGS]
    if not parts or bad:
        raise InputError(f"pooling must be one or more of {', '.join(POOLINGS)} joined by '+', got {text!r}")
    return parts


def parse_layers(layer: str, pooling: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``layer="mixed_6a,mixed_7a", pooling="diff,std"`` -> (("mixed_6a", ("diff",)), ("mixed_7a", ("std",))).

    One pooling applies to every layer; otherwise give one per layer, comma-separated.
    """
    layers = [x.strip() for x in str(layer).split(",") if x.strip()]
    pools = [x.strip() for x in str(pooling).split(",")]
    if not layers:
        raise InputError("layer is empty: name one or more of the backbone's layers, comma-separated")
    if len(pools) == 1:
        pools = pools * len(layers)
    if len(pools) != len(layers):
        raise InputError(f"pooling {pooling!r} gives {len(pools)} poolings for {len(layers)} layers: give one, or "
                         "one per layer (comma-separated)")
    return tuple((lay, parse_pooling(pool)) for lay, pool in zip(layers, pools))


def pool_features(f: np.ndarray, pooling: tuple[str, ...]) -> np.ndarray:
    """One clip's features [W, L, D] (or [W, D] from a clip backbone) -> a vector of len(pooling) x D.

    ``mean`` and ``std`` run over all W x L frames; ``diff`` is the mean |f[t+1] - f[t]| over consecutive
    frames of each window (zero for windows of one frame; for a clip backbone, between consecutive windows).
    """
    f = np.asarray(f, np.float64)
    if f.ndim == 2:
        f = f[None]
    flat = f.reshape(-1, f.shape[-1])
    parts = []
    for p in pooling:
        if p == "mean":
            parts.append(flat.mean(0))
        elif p == "std":
            parts.append(flat.std(0))
        else:
            d = np.abs(np.diff(f, axis=1))
            parts.append(d.mean((0, 1)) if d.size else np.zeros(f.shape[-1]))
    return np.concatenate(parts)


class MLPHead:
    """Standardise -> Linear(D, hidden) -> ReLU -> Linear(hidden, 1); trained full-batch, selected on val."""

    def __init__(self, hidden: int = 64) -> None:
        self.hidden = hidden
        self.arrays: dict[str, np.ndarray] = {}

    def fit(self, x: np.ndarray, y: np.ndarray, xv: np.ndarray, yv: np.ndarray, seed: int = 0,
            epochs: int = 400, patience: int = 40) -> dict[str, float]:
        import torch

        from forgebench.metrics.detection import log_loss

        mean, scale = x.mean(0), x.std(0)
        scale[scale < 1e-8] = 1.0
        torch.manual_seed(seed)
        xt = torch.tensor((x - mean) / scale, dtype=torch.float32)
        yt = torch.tensor(y, dtype=torch.float32)
        zv = (xv - mean) / scale
        net = torch.nn.Sequential(torch.nn.Dropout(0.2), torch.nn.Linear(x.shape[1], self.hidden), torch.nn.ReLU(),
                                  torch.nn.Linear(self.hidden, 1))
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-2)
        loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor((len(y) - y.sum()) / max(y.sum(), 1)))
        best, stale, best_epoch = np.inf, 0, -1
        for epoch in range(epochs):
            net.train()
            opt.zero_grad()
            loss_fn(net(xt).reshape(-1), yt).backward()
            opt.step()
            self.arrays = self._arrays(net, mean, scale)
            vloss = log_loss(yv, self.predict_standardised(zv))
            if vloss < best - 1e-6:
                best, stale, best_epoch, kept = vloss, 0, epoch, dict(self.arrays)
            else:
                stale += 1
                if stale >= patience:
                    break
        self.arrays = kept
        return {"best_epoch": best_epoch, "val_log_loss": float(best)}

    @staticmethod
    def _arrays(net, mean: np.ndarray, scale: np.ndarray) -> dict[str, np.ndarray]:
        lin1, lin2 = net[1], net[3]
        return {"mean": mean.astype(np.float64), "scale": scale.astype(np.float64),
                "w1": lin1.weight.detach().double().numpy().T.copy(), "b1": lin1.bias.detach().double().numpy().copy(),
                "w2": lin2.weight.detach().double().numpy()[0].copy(), "b2": lin2.bias.detach().double().numpy().copy()}

    def predict_standardised(self, z: np.ndarray) -> np.ndarray:
        a = self.arrays
        return sigmoid(np.maximum(z @ a["w1"] + a["b1"], 0.0) @ a["w2"] + a["b2"][0])

    def predict(self, x: np.ndarray) -> np.ndarray:
        a = self.arrays
        return self.predict_standardised((x - a["mean"]) / a["scale"])


HEADS = {"logistic": ("mean", "scale", "coef", "intercept"), "mlp": ("mean", "scale", "w1", "b1", "w2", "b2")}


class PretrainedProbe(FeatureDetector):
    """Frozen backbone features, pooled per clip, and a light head; subclasses set ``backbone`` and defaults."""

    backbone: ClassVar[str] = ""
    param_defaults: ClassVar[dict[str, Any]] = dict(PROBE_PARAMS)

    def _validate(self) -> None:
        p = self.params
        self.layers = parse_layers(p["layer"], p["pooling"])
        if p["head"] not in HEADS:
            raise InputError(f"head must be one of {', '.join(HEADS)}, got {p['head']!r}")
        if p["hidden"] < 1 or p["batch_size"] < 1:
            raise InputError("hidden and batch_size must be at least 1")
        if p["device"] not in ("cpu", "cuda") and not str(p["device"]).startswith("cuda:"):
            raise InputError(f"device must be cpu or cuda, got {p['device']!r}")
        for lay, _ in self.layers[1:]:  # the config checks the first; the others here
            ExtractorConfig(backbone=self.backbone, layer=lay)
        self.extractor_config = ExtractorConfig(backbone=self.backbone, layer=self.layers[0][0], crop=p["crop"],
                                                windows=p["windows"], window_len=p["window_len"], smooth=p["smooth"],
                                                weights=p["weights"], input_size=p["input_size"])
        if p["window_len"] > p["max_frames"]:
            raise InputError(f"window_len {p['window_len']} exceeds max_frames {p['max_frames']}")

    def extractor(self) -> FeatureExtractor:
        """The feature extractor, with the backbone loaded (a missing weights file is one line naming the fix)."""
        p = self.params
        net = load_backbone(self.backbone, p["weights"], p["device"], p["batch_size"], p["input_size"])
        return FeatureExtractor(net, self.extractor_config, self.preprocess,
                                None if self.cache_dir is None else self.cache_dir, progress=self.progress)

    def clip_vectors(self, clips: ClipSet) -> tuple[list[np.ndarray | None], list[tuple[str, str]]]:
        ext = self.extractor()
        trained = getattr(self, "trained_network_", "")
        if trained and trained != ext.backbone.network:
            raise InputError(f"this {self.registry_name} was trained on features of {trained!r}, but the weights here "
                             f"give {ext.backbone.network!r}: retrain it on this machine's weights")
        self.network_ = ext.backbone.network
        feats, failed = ext(clips, tuple(lay for lay, _ in self.layers), base_cache=self.cache_dir)
        vecs = [None if f is None else np.concatenate([pool_features(f[lay], pools) for lay, pools in self.layers])
                for f in feats]
        return vecs, failed

    def _usable_vectors(self, clips: ClipSet) -> tuple[ClipSet, np.ndarray]:
        vecs, failed = self.clip_vectors(clips)
        self.fit_skipped_ += failed
        keep = np.flatnonzero([v is not None for v in vecs])
        kept = clips.subset(keep)
        if len(np.unique(kept.labels)) < 2:
            reason = failed[0][1] if failed else "no usable clips"
            raise InputError(f"after skipping {len(failed)} unusable {clips.split} clips, the {clips.split} split "
                             f"lacks one class (first failure: {reason})")
        return kept, np.stack([vecs[i] for i in keep])

    def _fit(self, train: ClipSet, val: ClipSet) -> None:
        from forgebench.metrics.detection import choose_threshold

        self.fit_skipped_: list[tuple[str, str]] = []
        t0 = time.perf_counter()
        train, xt = self._usable_vectors(train)
        val, xv = self._usable_vectors(val)
        t1 = time.perf_counter()
        if self.params["head"] == "logistic":
            self.head_ = LogisticModel()
            info = self.head_.fit(xt, train.labels, xv, val.labels, seed=self.params["seed"], c_grid=PROBE_C_GRID)
        else:
            self.head_ = MLPHead(self.params["hidden"])
            info = self.head_.fit(xt, train.labels, xv, val.labels, seed=self.params["seed"])
        self.threshold_ = choose_threshold(val.labels, self.head_.predict(xv))
        self.log_.append({"epoch": 0, **info, "threshold": self.threshold_, "feature_seconds": t1 - t0,
                          "head_seconds": time.perf_counter() - t1, "dims": int(xt.shape[1])})

    def _predict(self, clips: ClipSet) -> np.ndarray:
        vecs, failed = self.clip_vectors(clips)
        self.skipped_ = failed
        return np.array([np.nan if v is None else float(self.head_.predict(v[None])[0]) for v in vecs])

    def preprocessing_config(self) -> dict[str, Any]:
        ext = {**self.extractor_config.__dict__,
               "input_size": self.params["input_size"] or get_backbone(self.backbone).input_size}
        return {**super().preprocessing_config(), "extractor": ext}

    def fitted_config(self) -> dict[str, Any]:
        return {**super().fitted_config(), "network": getattr(self, "network_", "")}

    def set_fitted_config(self, cfg: dict[str, Any]) -> None:
        super().set_fitted_config(cfg)
        self.trained_network_ = str(cfg.get("network", ""))

    def get_arrays(self) -> dict[str, np.ndarray]:
        return dict(self.head_.arrays)

    def set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        keys = HEADS[self.params["head"]]
        if set(arrays) != set(keys):
            raise InputError(f"saved {self.registry_name} head has arrays {sorted(arrays)}, expected {sorted(keys)}")
        self.head_ = LogisticModel() if self.params["head"] == "logistic" else MLPHead(self.params["hidden"])
        self.head_.arrays = {k: arrays[k] for k in keys}


@register_detector("inception_probe")
class InceptionProbe(PretrainedProbe):
    """ImageNet Inception-v3 (the FID network) on aligned faces: mid-level frame-to-frame change + deep temporal
    spread, logistic probe.

    Defaults (measured in docs/detectors.md): ``mixed_5d`` (35x35 texture stage) pooled by ``diff`` and ``pool3``
    (FID's 2048-d features) pooled by ``std`` over 2 windows of 8 consecutive frames at 299 px. The mean of the
    features (what a frame shows) does not transfer to unseen generators; how they change over time does.
    """

    backbone = "inception"
    param_defaults: ClassVar[dict[str, Any]] = {**PROBE_PARAMS, "layer": "mixed_5d,pool3", "pooling": "diff,std",
                                                "weights": "fid_inception"}


@register_detector("i3d_probe")
class I3DProbe(PretrainedProbe):
    """Kinetics-400 I3D (the FVD network) on windows of aligned faces: how the clip's motion features differ from
    one window to the other, logistic probe.

    Defaults (measured in docs/detectors.md): ``mixed_4f`` pooled by ``std`` over 2 windows of 16 consecutive
    frames at 224 px (with two windows, the std is half their absolute difference).
    """

    backbone = "i3d"
    param_defaults: ClassVar[dict[str, Any]] = {**PROBE_PARAMS, "layer": "mixed_4f", "window_len": 16,
                                                "pooling": "std", "weights": "i3d_kinetics400", "batch_size": 4}
