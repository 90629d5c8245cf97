"""LPIPS equals ``lpips.LPIPS`` forward, pair by pair, with a random backbone loaded through the registry."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import check_metric  # noqa: E402

import forgebench.metrics.lpips_metric as lm  # noqa: E402
from forgebench.metrics.base import Clip  # noqa: E402
from forgebench.weights import registry as reg  # noqa: E402


@pytest.fixture()
def squeeze_weights(tmp_path, monkeypatch):
    """A random torchvision SqueezeNet 1.1 file registered as lpips_squeeze (digest unchecked), cache in tmp."""
    monkeypatch.setenv("FORGEBENCH_HOME", str(tmp_path / "home"))
    torch.manual_seed(0)
    state = torchvision.models.squeezenet1_1(weights=None).state_dict()
    src = tmp_path / "squeeze.pth"
    torch.save(state, src)
    entry = reg.get_entry("lpips_squeeze")
    reg.register_weights(reg.WeightsEntry(**{**entry.__dict__, "sha256": None}), replace=True)
    reg.import_file("lpips_squeeze", src)
    monkeypatch.setattr(lm, "_SHARED", {})
    yield state
    reg.register_weights(entry, replace=True)


def _clips(n: int = 3) -> list[Clip]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        gt = rng.integers(0, 256, size=(3, 48, 48, 3), dtype=np.uint8)
        gen = np.clip(gt + rng.normal(0, 10 + 10 * i, gt.shape), 0, 255).astype(np.uint8)
        out.append(Clip(f"c{i}", frames=gen, reference=Clip(f"g{i}", frames=gt)))
    return out


def _reference_lpips(model, clips):
    """lpips' own forward, one frame pair at a time, inputs in [0, 1] with normalize=True."""
    per_clip = []
    for c in clips:
        vals = []
        for g, r in zip(c.frames, c.reference.frames):
            a = torch.from_numpy(g).permute(2, 0, 1)[None].float() / 255
            b = torch.from_numpy(r).permute(2, 0, 1)[None].float() / 255
            with torch.no_grad():
                vals.append(float(model(a, b, normalize=True)))
        per_clip.append(np.mean(vals))
    return float(np.mean(per_clip))


def test_lpips_matches_lpips_forward_with_registry_backbone(squeeze_weights):
    import lpips

    # The reference: lpips' own network with the same backbone weights put into its slices by hand.
    ref_model = lpips.LPIPS(net="squeeze", version="0.1", pnet_rand=True, verbose=False).eval()
    tv = torchvision.models.squeezenet1_1(weights=None)
    tv.load_state_dict(squeeze_weights)
    for block in ref_model.net.children():
        for idx, module in block.named_children():
            module.load_state_dict(tv.features[int(idx)].state_dict())
    clips = _clips()
    expected = _reference_lpips(ref_model, clips)
    result = check_metric(
        lm.LPIPSSqueeze,
        clips,
        lambda cs: expected,
        functional=lambda cs: np.mean([lm.LPIPSSqueeze().clip_value(c)[0] for c in cs]),
        rtol=1e-5,
    )
    assert result.value > 0 and "squeeze" in result.network


def test_missing_backbone_is_unavailable_with_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("FORGEBENCH_HOME", str(tmp_path))
    monkeypatch.setattr(lm, "_SHARED", {})
    m = lm.LPIPSAlex()
    for c in _clips(2):
        m.update(c)
    r = m.compute()
    assert r.status == "unavailable" and r.value is None
    assert r.fix == "forgebench weights import lpips_alex FILE"


def test_wrong_backbone_file_is_refused_strictly():
    bad = torchvision.models.squeezenet1_0(weights=None).state_dict()  # 1.0, not 1.1
    with pytest.raises(RuntimeError):
        lm.build_lpips("squeeze", bad)
