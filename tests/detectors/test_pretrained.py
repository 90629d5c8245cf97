"""Pretrained-feature detectors: backbones against their reference packages, the extractor, the cache, missing weights.

Registry networks (Inception, I3D) run here with random weights written in their published file formats, so
the tests pass on a machine that has never fetched the real files; dlib and MediaPipe networks ship in wheels.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from forgebench.detectors.backbones import DLIB_RECT, DlibFaceBackbone, FaceMeshBackbone, I3DBackbone, InceptionBackbone
from forgebench.detectors.base import ClipSet
from forgebench.detectors.features import (
    CROP_BOXES,
    ExtractorConfig,
    FeatureExtractor,
    crop_matrix,
    nearest_valid,
    window_frames,
)
from forgebench.detectors.preprocess import TEMPLATE, PreprocessConfig
from forgebench.detectors.probe import InceptionProbe, MLPHead, pool_features
from forgebench.errors import InputError, WeightsUnavailableError
from forgebench.metrics.i3d import InceptionI3d


def random_inception() -> torch.nn.Module:
    """pytorch-fid's InceptionV3 (all four blocks, no resize), random weights with non-trivial eval BN."""
    import pytorch_fid.inception as pfi

    from forgebench.metrics.inception import _pytorch_fid_network

    torch.manual_seed(0)
    net = _pytorch_fid_network([0, 1, 2, 3], None, resize_input=False)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 2.0)
    assert isinstance(net, pfi.InceptionV3)
    return net.eval()


def test_inception_layers_equal_pytorch_fid():
    """Each layer equals pytorch-fid's own InceptionV3 block output, spatially averaged as its get_activations does."""
    net = random_inception()
    bb = InceptionBackbone(input_size=80).load(model=net)
    x = np.random.default_rng(0).integers(0, 256, (3, 80, 80, 3), dtype=np.uint8)
    ours = bb(x, ("maxpool2", "mixed_6e", "pool3"))
    with torch.no_grad():
        ref = net(torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255.0)  # normalize_input: 2x - 1 inside
    for (layer, block) in (("maxpool2", 1), ("mixed_6e", 2), ("pool3", 3)):
        want = ref[block].mean(dim=(2, 3)).numpy()
        np.testing.assert_allclose(ours[layer], want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
    assert ours["pool3"].shape == (3, 2048) and ours["mixed_6e"].shape == (3, 768)


def test_i3d_layers_equal_the_network():
    torch.manual_seed(3)
    model = InceptionI3d().eval()
    bb = I3DBackbone(input_size=32).load(model=model)
    x = np.random.default_rng(1).integers(0, 256, (2, 8, 32, 32, 3), dtype=np.uint8)
    ours = bb(x, ("mixed_5c",))["mixed_5c"]
    with torch.no_grad():
        v = torch.from_numpy(x).permute(0, 4, 1, 2, 3).float() / 127.5 - 1.0
        want = model.features(v).mean(dim=(2, 3, 4)).numpy()
    np.testing.assert_allclose(ours, want, rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def aligned_faces(portrait):
    """Two aligned 256 px crops of the NASA portrait (and a mirrored copy), as the extractor makes them."""
    from forgebench.detectors.preprocess import align_face
    from forgebench.media.face_mesh import FaceMeshTracker

    out = []
    with FaceMeshTracker(video=False, refine_landmarks=False) as t:
        for img in (portrait, np.ascontiguousarray(portrait[:, ::-1])):
            out.append(align_face(img, t(img), 256))
    return np.stack(out)


def test_dlib_backbone_equals_compute_face_descriptor(aligned_faces):
    from forgebench.metrics.identity import detect_face, dlib_models

    _, predictor, facerec = dlib_models()
    bb = DlibFaceBackbone().load()
    ours = bb(aligned_faces, ("embedding",))["embedding"]
    import dlib

    s = aligned_faces.shape[1]
    box = dlib.rectangle(*(int(round(f * s)) for f in DLIB_RECT))
    for crop, emb in zip(aligned_faces, ours):
        want = np.asarray(facerec.compute_face_descriptor(crop, predictor(crop, box)))  # dlib's own path
        np.testing.assert_allclose(emb, want, atol=1e-5)
        # the fixed box stands in for dlib's HOG detector: the 5 points it yields are within 2% of the crop
        hog = detect_face(crop)
        assert hog is not None
        a = np.array([[p.x, p.y] for p in predictor(crop, box).parts()])
        b = np.array([[p.x, p.y] for p in predictor(crop, hog).parts()])
        assert np.abs(a - b).max() < 0.02 * s
    assert np.linalg.norm(ours[0] - ours[1]) < 0.6  # a face and its mirror image: the same person (dlib's 0.6)


def test_facemesh_backbone_runs_the_trackers_network(aligned_faces):
    """Preserving every tensor changes nothing: the landmark output equals the tracker's plain interpreter's."""
    import cv2
    from ai_edge_litert.interpreter import Interpreter

    from forgebench.media.face_mesh_lite import landmark_model_path

    bb = FaceMeshBackbone().load()
    crops = np.stack([cv2.resize(c, (192, 192), interpolation=cv2.INTER_AREA) for c in aligned_faces])
    feats = bb(crops[:1], ("p_re_lu_17", "p_re_lu_9"))
    assert feats["p_re_lu_17"].shape == (1, 128) and feats["p_re_lu_9"].shape == (1, 64)
    plain = Interpreter(model_path=str(landmark_model_path()), num_threads=1)
    plain.allocate_tensors()
    plain.set_tensor(plain.get_input_details()[0]["index"], crops[:1].astype(np.float32) / 255.0)
    plain.invoke()
    out = {int(np.prod(d["shape"])): d["index"] for d in plain.get_output_details()}
    np.testing.assert_allclose(bb.net.get_tensor(bb.tensor_index["conv2d_21"]).reshape(-1),
                               plain.get_tensor(out[1404]).reshape(-1), atol=1e-3)
    with pytest.raises(InputError, match="192x192 inputs only"):
        FaceMeshBackbone(input_size=128)


def test_window_frames_nearest_valid_and_crop_geometry():
    valid = np.array([0, 1, 1, 0, 1, 1, 1, 1, 1, 0], bool)
    w = window_frames(valid, 2, 3)
    np.testing.assert_array_equal(w, [[1, 2, 3], [6, 7, 8]])  # the span of tracked frames is 1..8
    np.testing.assert_array_equal(window_frames(valid[:3], 2, 5), [[1, 2, 2, 2, 2]] * 2)  # short: last repeats
    np.testing.assert_array_equal(nearest_valid(valid), [1, 1, 2, 2, 4, 5, 6, 7, 8, 8])
    with pytest.raises(InputError, match="no frame"):
        window_frames(np.zeros(4, bool), 1, 2)
    a = np.deg2rad(12)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    anchors = TEMPLATE * 180 @ rot.T + [40.0, 25.0]  # a face: the template rotated, scaled and moved
    for crop, (x0, y0, side) in CROP_BOXES.items():
        m = crop_matrix(anchors, crop, 64)
        mapped = np.c_[anchors, np.ones(3)] @ m.T
        np.testing.assert_allclose(mapped, (TEMPLATE - [x0, y0]) / side * 64, atol=1e-9)


def test_pool_features_definitions():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(2, 4, 3))
    v = pool_features(f, ("mean", "std", "diff"))
    flat = f.reshape(8, 3)
    diffs = np.concatenate([np.abs(f[w, 1:] - f[w, :-1]) for w in range(2)])
    np.testing.assert_allclose(v, np.r_[flat.mean(0), flat.std(0), diffs.mean(0)])
    np.testing.assert_allclose(pool_features(f[:, :1], ("diff",)), np.zeros(3))
    np.testing.assert_allclose(pool_features(f[0], ("mean",)), f[0].mean(0))  # a clip backbone's [W, D]


def test_feature_cache_is_keyed_by_content_and_config(corpus, cache_dir, tmp_path):
    from forgebench.manifest import read_manifest

    df = read_manifest(corpus / "manifest.parquet")
    clips = ClipSet.from_manifest(df, corpus, "train").subset(np.array([0]))
    pre = PreprocessConfig(crop_size=64, n_frames=2, max_frames=30, refine_landmarks=False)
    bb = FaceMeshBackbone().load()
    cfg = ExtractorConfig(backbone="facemesh", layer="p_re_lu_17", windows=1, window_len=3)
    ext = FeatureExtractor(bb, cfg, pre, tmp_path / "cache")
    feats, failed = ext(clips, ("p_re_lu_17",), base_cache=cache_dir)
    assert not failed and feats[0]["p_re_lu_17"].shape == (1, 3, 128)
    files = list((tmp_path / "cache" / "features").rglob("*.npz"))
    assert len(files) == 1
    np.savez(files[0], features=np.full((1, 3, 128), 7.0, np.float32))  # the cache is read, not recomputed
    assert (ext(clips, ("p_re_lu_17",), base_cache=cache_dir)[0][0]["p_re_lu_17"] == 7.0).all()
    copy = tmp_path / "same_bytes.mp4"  # same content elsewhere: the same entry
    shutil.copy(clips.path(0), copy)
    same = ClipSet.from_paths([copy])
    assert (ext(same, ("p_re_lu_17",), base_cache=cache_dir)[0][0]["p_re_lu_17"] == 7.0).all()
    other = FeatureExtractor(bb, ExtractorConfig(backbone="facemesh", layer="p_re_lu_17", crop="mouth", windows=1,
                                                 window_len=3), pre, tmp_path / "cache")
    fresh = other(clips, ("p_re_lu_17", "p_re_lu_9"), base_cache=cache_dir)[0][0]
    assert not (fresh["p_re_lu_17"] == 7.0).all() and fresh["p_re_lu_9"].shape == (1, 3, 64)
    assert len(list((tmp_path / "cache" / "features").rglob("*.npz"))) == 3  # one file per (config, layer)
    files[0].write_bytes(b"not an npz")  # a broken entry is recomputed
    direct = ext.compute(clips.path(0), ext_base(clips, pre, cache_dir), ("p_re_lu_17",))["p_re_lu_17"]
    np.testing.assert_allclose(ext(clips, ("p_re_lu_17",), base_cache=cache_dir)[0][0]["p_re_lu_17"], direct)


def ext_base(clips, pre, cache_dir):
    from forgebench.detectors.preprocess import load_features

    return load_features(clips, pre, cache_dir)[0][0]


def test_missing_weights_is_one_line_naming_the_fetch(corpus, cache_dir, tmp_path, monkeypatch):
    from forgebench.manifest import read_manifest

    monkeypatch.setenv("FORGEBENCH_HOME", str(tmp_path / "empty-home"))
    df = read_manifest(corpus / "manifest.parquet")
    train, val = (ClipSet.from_manifest(df, corpus, s) for s in ("train", "val"))
    for name, fix in (("inception_probe", "forgebench weights fetch fid_inception"),
                      ("i3d_probe", "forgebench weights fetch i3d_kinetics400")):
        from forgebench.detectors import detector_registry

        det = detector_registry.get(name)(crop_size=64, n_frames=2, max_frames=30)
        det.cache_dir = cache_dir
        with pytest.raises(WeightsUnavailableError, match=fix) as err:
            det.fit(train, val)
        assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="no layer"):
        InceptionProbe(layer="fc", pooling="mean")
    with pytest.raises(InputError, match="pooling"):
        InceptionProbe(pooling="mean+max")
    with pytest.raises(InputError, match="2 poolings for 3 layers"):
        InceptionProbe(layer="mixed_5d,mixed_6e,pool3", pooling="std,diff")
    with pytest.raises(InputError, match="no layer 'fc'"):
        InceptionProbe(layer="pool3,fc")


def test_mlp_head_selects_on_val_and_predicts_like_torch():
    """The numpy forward of the stored arrays equals the torch network it was read from; selection reads val."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 6))
    y = (x[:, 0] - x[:, 1] > 0).astype(int)
    xv = rng.normal(size=(60, 6))
    yv = (xv[:, 0] - xv[:, 1] > 0).astype(int)
    head = MLPHead(hidden=8)
    info = head.fit(x, y, xv, yv, seed=0, epochs=300, patience=300)
    a = head.arrays
    net = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1)).double()
    with torch.no_grad():
        net[0].weight.copy_(torch.from_numpy(a["w1"].T))
        net[0].bias.copy_(torch.from_numpy(a["b1"]))
        net[2].weight.copy_(torch.from_numpy(a["w2"][None]))
        net[2].bias.copy_(torch.from_numpy(a["b2"]))
        want = torch.sigmoid(net(torch.from_numpy((xv - a["mean"]) / a["scale"]))).numpy()[:, 0]
    np.testing.assert_allclose(head.predict(xv), want, rtol=1e-10)
    from forgebench.metrics.detection import log_loss, roc_auc

    assert info["val_log_loss"] == pytest.approx(log_loss(yv, head.predict(xv)))  # the kept epoch is the best one
    assert roc_auc(yv, head.predict(xv)) > 0.9
