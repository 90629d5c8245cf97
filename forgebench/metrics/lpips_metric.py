"""LPIPS of a generated clip against its ground-truth video, through the ``lpips`` package.

The network is ``lpips.LPIPS(net=..., version="0.1")``: its linear heads ship in
the lpips wheel; its backbone (torchvision AlexNet / VGG16 / SqueezeNet 1.1
ImageNet weights) comes from the weights registry (``lpips_alex``,
``lpips_vgg``, ``lpips_squeeze``). We build LPIPS with ``pnet_rand=True`` so
nothing is downloaded, load the registry file with ``weights_only=True`` into a
torchvision model *strictly*, and copy its feature layers into lpips' slices
(strictly again). lpips itself loads its heads with ``strict=False``; we check
that nothing but the backbone was missing.

Per clip: mean over frame pairs of LPIPS (inputs scaled to [-1, 1]); corpus:
mean over clips with a bootstrap CI. Lower is better.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

import numpy as np
import torch

from forgebench.errors import InputError
from forgebench.metrics.base import Clip, register_metric
from forgebench.metrics.image_quality import paired_frames
from forgebench.metrics.perclip import PerClipMean

_TV_BUILDERS = {"alex": "alexnet", "vgg": "vgg16", "squeeze": "squeezenet1_1"}


def build_lpips(net: str = "alex", backbone_state: dict[str, torch.Tensor] | None = None) -> torch.nn.Module:
    """``lpips.LPIPS(net, version="0.1")`` with its heads from the wheel and ``backbone_state`` as backbone.

    ``backbone_state`` is a torchvision state dict of the whole classifier network (as in
    ``alexnet-owt-7be5be79.pth``); None leaves the backbone random (tests).
    """
    import lpips
    import torchvision

    if net not in _TV_BUILDERS:
        raise InputError(f"LPIPS net must be one of {', '.join(_TV_BUILDERS)}, got {net!r}")
    model = lpips.LPIPS(pretrained=True, net=net, version="0.1", pnet_rand=True, verbose=False)
    heads = torch.load(_heads_path(net), map_location="cpu", weights_only=True)
    # lpips loads its heads with strict=False; check them ourselves: exactly the lin{i} layers
    # (``lins.*`` aliases the same tensors, ``scaling_layer`` holds constants, ``net.*`` is the backbone).
    expected = {k for k in model.state_dict() if k.startswith("lin") and not k.startswith("lins.")}
    if set(heads) != expected:
        raise InputError(f"the lpips {net} heads file does not fit lpips.LPIPS(net={net!r}): reinstall lpips")
    model.load_state_dict(heads, strict=False)
    if backbone_state is not None:
        tv = getattr(torchvision.models, _TV_BUILDERS[net])(weights=None)
        tv.load_state_dict(backbone_state, strict=True)
        features = tv.features.state_dict()
        mapped = {}
        for slice_name, block in model.net.named_children():
            for idx, _ in block.named_children():
                for pname in block.get_submodule(idx).state_dict():
                    mapped[f"{slice_name}.{idx}.{pname}"] = features[f"{idx}.{pname}"]
        model.net.load_state_dict(mapped, strict=True)
    return model.eval()


def _heads_path(net: str) -> str:
    import os

    import lpips

    return os.path.join(os.path.dirname(lpips.__file__), "weights", "v0.1", f"{net}.pth")


def lpips_frames(
    model: torch.nn.Module, gen: np.ndarray, ref: np.ndarray, batch_size: int = 16, device: str = "cpu"
) -> np.ndarray:
    """Per-frame LPIPS [T] of uint8 [T, H, W, 3] pairs, batched."""
    out = []
    with torch.inference_mode():
        for i in range(0, len(gen), batch_size):
            a = torch.from_numpy(np.array(gen[i : i + batch_size])).to(device).permute(0, 3, 1, 2).float() / 127.5 - 1
            b = torch.from_numpy(np.array(ref[i : i + batch_size])).to(device).permute(0, 3, 1, 2).float() / 127.5 - 1
            out.append(model(a, b).flatten().double().cpu().numpy())
    return np.concatenate(out)


_SHARED: dict[tuple[str, str], torch.nn.Module] = {}
_LOCK = threading.Lock()


def shared_lpips(net: str = "alex", device: str = "cpu") -> torch.nn.Module:
    """The standard LPIPS network from the registry (once per process); WeightsUnavailableError names the fix."""
    from forgebench.weights import require_weights

    with _LOCK:
        if (net, device) not in _SHARED:
            state = torch.load(require_weights(f"lpips_{net}"), map_location="cpu", weights_only=True)
            _SHARED[(net, device)] = build_lpips(net, state).to(device)
        return _SHARED[(net, device)]


class _LPIPS(PerClipMean):
    higher_is_better: ClassVar[bool] = False
    net: ClassVar[str] = "alex"
    weights: ClassVar[str | None] = "lpips_alex"
    network: ClassVar[str | None] = "lpips 0.1 alex (torchvision backbone from registry lpips_alex)"

    def __init__(self, *, model: torch.nn.Module | None = None, device: str = "cpu", batch_size: int = 16) -> None:
        self.model, self.device, self.batch_size = model, device, batch_size
        super().__init__()

    def clip_value(self, clip: Clip) -> tuple[float, dict[str, Any]]:
        gen, ref = paired_frames(clip)
        model = self.model if self.model is not None else shared_lpips(self.net, self.device)
        per_frame = lpips_frames(model, gen, ref, self.batch_size, self.device)
        return float(per_frame.mean()), {"frames": len(per_frame)}


@register_metric("lpips")
class LPIPSAlex(_LPIPS):
    """LPIPS v0.1 with the AlexNet backbone (the common choice in talking-face papers)."""

    name: ClassVar[str] = "lpips"
    requires: ClassVar[frozenset[str]] = frozenset({"frames", "reference", "weights:lpips_alex"})
    net: ClassVar[str] = "alex"
    weights: ClassVar[str | None] = "lpips_alex"
    network: ClassVar[str | None] = "lpips 0.1 alex (torchvision backbone from registry lpips_alex)"


@register_metric("lpips_vgg")
class LPIPSVgg(_LPIPS):
    """LPIPS v0.1 with the VGG16 backbone."""

    name: ClassVar[str] = "lpips_vgg"
    requires: ClassVar[frozenset[str]] = frozenset({"frames", "reference", "weights:lpips_vgg"})
    net: ClassVar[str] = "vgg"
    weights: ClassVar[str | None] = "lpips_vgg"
    network: ClassVar[str | None] = "lpips 0.1 vgg (torchvision backbone from registry lpips_vgg)"


@register_metric("lpips_squeeze")
class LPIPSSqueeze(_LPIPS):
    """LPIPS v0.1 with the SqueezeNet 1.1 backbone."""

    name: ClassVar[str] = "lpips_squeeze"
    requires: ClassVar[frozenset[str]] = frozenset({"frames", "reference", "weights:lpips_squeeze"})
    net: ClassVar[str] = "squeeze"
    weights: ClassVar[str | None] = "lpips_squeeze"
    network: ClassVar[str | None] = "lpips 0.1 squeeze (torchvision backbone from registry lpips_squeeze)"
