"""Shared preprocessing: alignment geometry, sampling, audio bands, the per-clip cache, failures."""

from __future__ import annotations

import numpy as np
import pytest

from forgebench.detectors import preprocess as pp
from forgebench.detectors.base import ClipSet
from forgebench.errors import InputError


def test_similarity_transform_recovers_a_known_similarity():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, (5, 2))
    angle, scale, shift = 0.3, 1.7, np.array([4.0, -2.0])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = scale * src @ rot.T + shift
    m = pp.similarity_transform(src, dst)
    np.testing.assert_allclose(m[:, :2], scale * rot, atol=1e-10)
    np.testing.assert_allclose(m[:, 2], shift, atol=1e-9)


def test_align_face_puts_the_anchors_on_the_template():
    # a synthetic mesh whose eye corners and mouth points sit at chosen pixels; a bright dot at each anchor
    points = np.zeros((478, 3), np.float32)
    eye_r, eye_l, mouth = np.array([70.0, 90.0]), np.array([130.0, 80.0]), np.array([105.0, 150.0])
    for (a, b), centre in ((pp.fg.RIGHT_EYE_CORNERS, eye_r), (pp.fg.LEFT_EYE_CORNERS, eye_l)):
        points[a, :2], points[b, :2] = centre - [5, 0], centre + [5, 0]
    points[list(pp.MOUTH_POINTS), :2] = mouth
    np.testing.assert_allclose(pp.anchor_points(points), [eye_r, eye_l, mouth], atol=1e-5)
    frame = np.zeros((200, 200, 3), np.uint8)
    for x, y in (eye_r, eye_l, mouth):
        frame[int(y) - 1:int(y) + 2, int(x) - 1:int(x) + 2] = 255
    crop = pp.align_face(frame, points, 64)
    expected = pp.similarity_transform(pp.anchor_points(points), pp.TEMPLATE * 64)
    mapped = np.c_[pp.anchor_points(points), np.ones(3)] @ expected.T
    residual = np.linalg.norm(mapped - pp.TEMPLATE * 64, axis=1)
    assert residual.max() < 3.0  # three points, four dof: a least-squares fit, nearly exact for a face
    for x, y in mapped:
        assert crop[int(round(y)), int(round(x))].max() > 40


def test_sample_indices_are_spread_over_valid_frames():
    valid = np.zeros(20, bool)
    valid[5:15] = True
    idx = pp.sample_indices(valid, 4)
    assert idx[0] == 5 and idx[-1] == 14 and valid[idx].all()
    assert len(pp.sample_indices(np.zeros(3, bool), 4)) == 0


def test_audio_bands_follow_a_tone():
    rate, fps = 16000, 25.0
    t = np.arange(rate) / rate
    tone = np.sin(2 * np.pi * 2000 * t) * (t > 0.5)  # silence, then a 2 kHz tone
    bands = pp.audio_band_energies(tone, rate, fps, 25)
    assert bands.shape == (25, 5)
    assert bands[20, 3] > bands[20, 1] + 5  # the 1-3 kHz band dominates once the tone plays
    assert bands[20, 0] > bands[2, 0] + 10


def test_config_validation():
    with pytest.raises(InputError, match="crop_size"):
        pp.PreprocessConfig(crop_size=8)
    assert pp.PreprocessConfig().key() != pp.PreprocessConfig(crop_size=256).key()


def test_cache_and_failures(corpus, tmp_path):
    cfg = pp.PreprocessConfig(crop_size=32, n_frames=3, max_frames=10)
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video at all")
    clips = ClipSet.from_paths([corpus / "test_fake_0.mp4", bad])
    feats, failed = pp.load_features(clips, cfg, tmp_path / "cache")
    assert feats[1] is None and failed[0][0] == "broken" and failed[0][1]
    f = feats[0]
    assert f.crops.shape == (3, 32, 32, 3) and f.crops.dtype == np.uint8
    assert f.landmarks.shape == (10, 478, 3) and f.valid.all() and f.has_audio
    cached = list((tmp_path / "cache").rglob("*.npz"))
    assert len(cached) == 1 and not list((tmp_path / "cache").rglob("*.partial*"))
    again, _ = pp.load_features(clips.subset(np.array([0])), cfg, tmp_path / "cache")
    np.testing.assert_array_equal(again[0].crops, f.crops)
    assert again[0].track().n_frames == 10


def _umeyama_svd(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Independent reference: Umeyama (1991) with the SVD and the reflection fix."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    u, sig, vt = np.linalg.svd(d.T @ s / len(src))
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1
    rot = u @ np.diag(sign) @ vt
    scale = (sig * sign).sum() / ((s**2).sum() / len(src))
    return np.hstack([scale * rot, (mu_d - scale * rot @ mu_s)[:, None]])


@pytest.mark.parametrize("seed", range(5))
def test_similarity_transform_equals_umeyama_on_noisy_and_mirrored_points(seed):
    rng = np.random.default_rng(seed)
    src = rng.uniform(0, 100, (3 + seed, 2))
    dst = src @ rng.normal(size=(2, 2)) + rng.normal(0, 5, src.shape)  # arbitrary affine + noise, some mirrored
    np.testing.assert_allclose(pp.similarity_transform(src, dst), _umeyama_svd(src, dst), atol=1e-8)


def test_unrefined_features_have_468_points_and_refuse_a_motion_track(corpus):
    cfg = pp.PreprocessConfig(crop_size=32, n_frames=2, max_frames=6, refine_landmarks=False)
    assert cfg.key() != pp.PreprocessConfig(crop_size=32, n_frames=2, max_frames=6).key()
    feats = pp.preprocess_clip(corpus / "test_fake_0.mp4", cfg)
    assert feats.landmarks.shape[1:] == (468, 3) and feats.crops.shape == (2, 32, 32, 3)
    with pytest.raises(InputError, match="refine_landmarks=True"):
        feats.track()


def test_dynamics_refuses_the_unrefined_mesh():
    from forgebench.detectors.base import detector_registry

    with pytest.raises(InputError, match="refine_landmarks=True"):
        detector_registry.get("dynamics")(refine_landmarks=False)


def test_the_tracker_follows_the_mesh_and_is_part_of_the_key(corpus):
    from forgebench.media.face_mesh import FaceMeshTracker
    from forgebench.media.face_mesh_lite import LiteFaceMeshTracker

    plain = pp.PreprocessConfig(crop_size=32, n_frames=2, max_frames=6, refine_landmarks=False)
    refined = pp.PreprocessConfig(crop_size=32, n_frames=2, max_frames=6)
    assert plain.as_dict()["tracker"] == "litert-468" and refined.as_dict()["tracker"] == "mediapipe-graph-478"
    with plain.open_tracker() as a, refined.open_tracker() as b:
        assert isinstance(a, LiteFaceMeshTracker) and isinstance(b, FaceMeshTracker) and b.refine_landmarks
    # the crop detectors save which tracker made their inputs
    from forgebench.detectors.base import detector_registry

    assert detector_registry.get("meso4")().preprocessing_config()["tracker"] == "litert-468"
