"""``xception`` and ``efficientnet_b0``: timm architectures with one logit.

Weights start random (``pretrained=False``): timm never downloads anything here. A user who
has imported ImageNet weights into forgebench's weights registry can start from them with
``--param init_weights=NAME``; the file is read with safetensors (or ``torch.load`` with
``weights_only=True``) and loaded non-strictly only for the classifier head, which is
replaced. ``config.json`` records which start was used (``init_weights`` = "" means scratch).
"""

from __future__ import annotations

from typing import Any, ClassVar

from forgebench.detectors.base import register_detector
from forgebench.detectors.neural import TRAIN_PARAMS, TorchFrameDetector
from forgebench.errors import InputError

TIMM_PARAMS: dict[str, Any] = {**TRAIN_PARAMS, "lr": 3e-4, "init_weights": ""}


class TimmDetector(TorchFrameDetector):
    """A timm classifier with ``num_classes=1``; subclasses set ``timm_name``."""

    timm_name: ClassVar[str] = ""
    param_defaults: ClassVar[dict[str, Any]] = dict(TIMM_PARAMS)

    def build_model(self):
        import timm

        model = timm.create_model(self.timm_name, pretrained=False, num_classes=1)
        if self.params["init_weights"] and not getattr(self, "_loading", False):
            self._load_init(model)
        return model

    def _load_init(self, model) -> None:
        import torch

        from forgebench.weights.registry import require_weights

        path = require_weights(self.params["init_weights"])  # one-line error naming the fix when absent
        if str(path).endswith(".safetensors"):
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
        head = str(model.pretrained_cfg.get("classifier", "fc"))
        own = model.state_dict()
        body = {k: v for k, v in state.items() if k in own and not k.startswith(head + ".") and v.shape == own[k].shape}
        missing = [k for k in own if k not in body and not k.startswith(head + ".")]
        if missing:
            raise InputError(f"weights {self.params['init_weights']!r} do not fit {self.timm_name} "
                             f"({len(missing)} tensors missing, e.g. {missing[0]})")
        model.load_state_dict(body, strict=False)  # only the replaced one-logit head stays random

    def set_arrays(self, arrays):
        self._loading = True  # saved weights replace any initialisation; do not read init_weights again
        try:
            super().set_arrays(arrays)
        finally:
            self._loading = False


@register_detector("xception")
class XceptionDetector(TimmDetector):
    """Xception (Chollet 2017; timm ``legacy_xception``), the FaceForensics++ baseline architecture."""

    timm_name = "legacy_xception"


@register_detector("efficientnet_b0")
class EfficientNetB0Detector(TimmDetector):
    """EfficientNet-B0 (Tan and Le 2019; timm ``efficientnet_b0``)."""

    timm_name = "efficientnet_b0"
