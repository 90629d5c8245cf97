"""Frame-level CNN detectors: one training loop with early stopping and selection on val only.

A subclass builds an ``nn.Module`` mapping crops [B, 3, S, S] (float, ImageNet-normalised)
to logits [B, 1]. Training (binary cross-entropy, Adam, random horizontal flips):

* every epoch, the clip-level val log loss (mean of frame probabilities per clip) is measured;
* the weights of the epoch with the lowest val loss are kept (checkpoint selection on val);
* training stops after ``patience`` epochs without improvement (early stopping on val);
* the decision threshold is chosen on val with those weights.

The test split is never seen. ``log_`` has one row per epoch (train loss, val loss, val AUC).
"""

from __future__ import annotations

import sys
import time
from typing import Any, ClassVar

import numpy as np

from forgebench.detectors.base import ClipSet
from forgebench.detectors.common import CROP_PARAMS, FeatureDetector
from forgebench.detectors.preprocess import ClipFeatures
from forgebench.errors import InputError

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
TRAIN_PARAMS: dict[str, Any] = {**CROP_PARAMS, "seed": 0, "epochs": 10, "batch_size": 32, "lr": 1e-3,
                                "weight_decay": 1e-4, "patience": 3, "device": "cpu"}


def to_tensor(crops: np.ndarray):
    """uint8 [N, S, S, 3] -> float32 tensor [N, 3, S, S], ImageNet-normalised."""
    import torch

    x = (crops.astype(np.float32) / 255.0 - MEAN) / STD
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


class TorchFrameDetector(FeatureDetector):
    """Base of the CNN detectors: subclasses implement :meth:`build_model`."""

    frame_based = True
    version: ClassVar[int] = 3  # 2: crops aligned from the plain 468-point mesh; 3: tracked by LiteRT
    param_defaults: ClassVar[dict[str, Any]] = dict(TRAIN_PARAMS)

    def _validate(self) -> None:
        p = self.params
        if p["epochs"] < 1 or p["batch_size"] < 1 or p["patience"] < 1:
            raise InputError("epochs, batch_size and patience must be at least 1")
        if not p["lr"] > 0:
            raise InputError(f"lr must be positive, got {p['lr']}")
        if p["device"] not in ("cpu", "cuda") and not str(p["device"]).startswith("cuda:"):
            raise InputError(f"device must be cpu or cuda, got {p['device']!r}")

    def build_model(self):
        raise NotImplementedError

    def _device(self):
        import torch

        if str(self.params["device"]).startswith("cuda") and not torch.cuda.is_available():
            raise InputError("--device cuda was asked for but no CUDA GPU is available: use --device cpu")
        return torch.device(self.params["device"])

    @staticmethod
    def _stack(feats: list[ClipFeatures]) -> tuple[np.ndarray, np.ndarray]:
        crops = np.concatenate([f.crops for f in feats])
        owner = np.concatenate([np.full(len(f.crops), i) for i, f in enumerate(feats)])
        return crops, owner

    def _frame_probs(self, crops: np.ndarray) -> np.ndarray:
        import torch

        model, dev = self.model_, self._device()
        model.eval()
        out = []
        with torch.no_grad():
            for s in range(0, len(crops), self.params["batch_size"]):
                logits = model(to_tensor(crops[s:s + self.params["batch_size"]]).to(dev))
                out.append(torch.sigmoid(logits.float()).reshape(-1).cpu().numpy())
        return np.concatenate(out).astype(np.float64) if out else np.zeros(0)

    def _fit(self, train: ClipSet, val: ClipSet) -> None:
        import torch

        from forgebench.metrics.detection import choose_threshold, log_loss, roc_auc
        from forgebench.progress import tqdm

        p = self.params
        torch.manual_seed(p["seed"])
        rng = np.random.default_rng(p["seed"])
        self.fit_skipped_ = []
        train, ftr = self.usable(train)
        val, fva = self.usable(val)
        xt, ot = self._stack(ftr)
        yt = train.labels[ot].astype(np.float32)
        xv, ov = self._stack(fva)
        dev = self._device()
        self.model_ = self.build_model().to(dev)
        opt = torch.optim.Adam(self.model_.parameters(), lr=p["lr"], weight_decay=p["weight_decay"])
        loss_fn = torch.nn.BCEWithLogitsLoss()
        best_loss, best_state, stale = np.inf, None, 0
        bar = tqdm(range(p["epochs"]), desc=f"train {self.registry_name}", unit="epoch", file=sys.stderr,
                   disable=not self.progress)
        for epoch in bar:
            t0 = time.perf_counter()
            self.model_.train()
            order = rng.permutation(len(xt))
            total, count = 0.0, 0
            for s in range(0, len(order), p["batch_size"]):
                idx = order[s:s + p["batch_size"]]
                batch = xt[idx]
                flip = rng.random(len(idx)) < 0.5
                batch = np.where(flip[:, None, None, None], batch[:, :, ::-1], batch)
                x = to_tensor(batch).to(dev)
                y = torch.from_numpy(yt[idx]).to(dev)
                opt.zero_grad()
                loss = loss_fn(self.model_(x).reshape(-1), y)
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)
                count += len(idx)
            vclip = self._clip_scores(self._frame_probs(xv), ov, len(fva))
            vloss = log_loss(val.labels, vclip)
            vauc = roc_auc(val.labels, vclip)
            self.log_.append({"epoch": epoch, "train_loss": total / max(count, 1), "val_loss": vloss, "val_auc": vauc,
                              "seconds": time.perf_counter() - t0})
            bar.set_postfix(train=f"{total / max(count, 1):.3f}", val=f"{vloss:.3f}")
            if vloss < best_loss - 1e-6:
                best_loss, stale = vloss, 0
                best_state = {k: v.detach().cpu().clone() for k, v in self.model_.state_dict().items()}
                self.best_epoch_ = epoch
            else:
                stale += 1
                if stale >= p["patience"]:
                    break
        if best_state is not None:
            self.model_.load_state_dict(best_state)
        self.threshold_ = choose_threshold(val.labels, self._clip_scores(self._frame_probs(xv), ov, len(fva)))

    @staticmethod
    def _clip_scores(p: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
        return np.array([p[owner == i].mean() for i in range(n)])

    def _frame_scores(self, clips: ClipSet) -> list[np.ndarray | None]:
        feats, failed = self.features(clips)
        self.skipped_ = failed
        return [None if f is None else self._frame_probs(f.crops) for f in feats]

    def _predict(self, clips: ClipSet) -> np.ndarray:
        return np.array([np.nan if s is None else float(s.mean()) for s in self._frame_scores(clips)])

    def predict_frames(self, clips: ClipSet) -> list[np.ndarray]:
        self._check_fitted()
        return [np.full(1, np.nan) if s is None else s for s in self._frame_scores(clips.without_labels())]

    def get_arrays(self) -> dict[str, np.ndarray]:
        return {k: v.detach().cpu().numpy() for k, v in self.model_.state_dict().items()}

    def set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        import torch

        self.model_ = self.build_model()
        state = {k: torch.from_numpy(np.array(v)) for k, v in arrays.items()}
        # strict: a missing or extra tensor is an error, never a silently half-loaded network
        try:
            self.model_.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            first = str(exc).splitlines()[0]
            raise InputError(f"saved weights do not match the {self.registry_name} architecture ({first})") from None
        self.model_.to(self._device())

    def fitted_config(self) -> dict[str, Any]:
        return {**super().fitted_config(), "best_epoch_": int(getattr(self, "best_epoch_", -1))}
