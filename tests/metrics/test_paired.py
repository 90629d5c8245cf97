"""Paired fidelity (L1, AKD, AED) against closed forms and direct dlib / MediaPipe computations."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from forgebench.errors import NoFaceError
from forgebench.metrics.base import Clip
from forgebench.metrics.paired import (
    MP_TO_68,
    AverageEmbeddingDistance,
    AverageKeypointDistance,
    AverageKeypointDistanceDlib,
    MeanAbsoluteError,
    aed_clip,
    akd_clip,
    dlib_68,
    keypoint_distance,
    l1_clip,
    mediapipe_68,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import check_metric  # noqa: E402

dlib = pytest.importorskip("dlib")
skdata = pytest.importorskip("skimage.data")


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    """The astronaut's face, 256x256 (the size AKD is measured at)."""
    return np.ascontiguousarray(skdata.astronaut()[0:256, 110:366])


def _shift(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    import cv2

    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(image, m, image.shape[1::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def test_l1_is_the_mean_absolute_difference_on_the_unit_scale():
    rng = np.random.default_rng(0)
    clips = []
    for i, k in enumerate((3, 10, 25)):
        ref = rng.integers(40, 200, size=(2, 16, 16, 3), dtype=np.uint8)
        gen = ref + np.uint8(k)  # no overflow: values stay below 225
        clips.append(Clip(f"c{i}", frames=gen, reference=Clip(f"r{i}", frames=ref)))
    # closed form: a constant offset k has L1 = k / 255 on every frame
    res = check_metric(MeanAbsoluteError, clips, lambda cs: np.mean([3, 10, 25]) / 255,
                       functional=lambda cs: np.mean([l1_clip(c)[0] for c in cs]), rtol=1e-12)
    assert not res.higher_is_better
    noisy = rng.integers(0, 256, size=(3, 8, 8, 3), dtype=np.uint8)
    other = rng.integers(0, 256, size=(3, 8, 8, 3), dtype=np.uint8)
    expected = np.mean(np.abs(noisy / 255.0 - other / 255.0))
    value, _ = l1_clip(Clip("n", frames=noisy, reference=Clip("o", frames=other)))
    assert value == pytest.approx(expected, rel=1e-12)


def test_keypoint_distance_closed_form_and_missing_frames():
    rng = np.random.default_rng(1)
    ref = rng.uniform(0, 256, size=(5, 68, 2))
    gen = ref + np.array([3.0, -4.0])
    valid = np.ones(5, bool)
    akd, d = keypoint_distance(gen, ref, valid, valid)
    assert akd == pytest.approx(3.5)  # FOMM: mean |dx|, |dy| over points and axes
    assert d["l2_px"] == pytest.approx(5.0) and d["missing"] == 0.0
    gen_valid = np.array([True, False, True, True, True])
    ref_valid = np.array([True, True, True, True, False])
    gen2 = gen.copy()
    gen2[1] += 100.0  # a frame without a generated face must not count
    akd, d = keypoint_distance(gen2, ref, gen_valid, ref_valid)
    assert akd == pytest.approx(3.5) and d["frames"] == 3 and d["missing"] == pytest.approx(1 / 4)
    with pytest.raises(NoFaceError, match="generated"):
        keypoint_distance(gen, ref, np.zeros(5, bool), valid)


def test_mediapipe_68_points_sit_on_dlibs_68_points(face):
    # The index map is right if the MediaPipe points land where dlib puts the same iBUG points
    # (eyes, nose and mouth; the jaw contours of the two models differ by design).
    mp, mv = mediapipe_68(face[None])
    dl, dv = dlib_68(face[None])
    assert mv[0] and dv[0] and len(MP_TO_68) == 68
    dist = np.linalg.norm(mp[0] - dl[0], axis=1)
    assert np.median(dist[27:68]) < 2.0 and dist[27:68].max() < 6.0
    assert np.median(dist[:17]) < 8.0


def test_akd_of_a_shifted_face_is_half_the_shift(face):
    shifted = _shift(face, 4.0, 0.0)
    clip = Clip("s", frames=np.stack([shifted] * 2), reference=Clip("r", frames=np.stack([face] * 2)))
    for detector in ("mediapipe", "dlib"):
        akd, d = akd_clip(clip, detector=detector)
        assert akd == pytest.approx(2.0, abs=0.4), detector  # (|4| + |0|) / 2
        assert d["l2_px"] == pytest.approx(4.0, abs=0.6), detector
    # at 128² the same frames measure half as many pixels
    assert akd_clip(clip, size=128)[0] == pytest.approx(1.0, abs=0.25)


def test_akd_dlib_equals_a_direct_dlib_computation(face):
    from forgebench.metrics.identity import model_dir

    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(model_dir() / "shape_predictor_68_face_landmarks.dat"))

    def points(img):
        rect = max(detector(img, 0), key=lambda r: r.area())
        return np.array([(p.x, p.y) for p in predictor(img, rect).parts()], float)

    clips = [Clip(f"c{k}", frames=np.stack([_shift(face, k, -k)]), reference=Clip(f"r{k}", frames=face[None]))
             for k in (1, 3)]
    expected = {c.clip_id: np.abs(points(c.frames[0]) - points(face)).mean() for c in clips}
    check_metric(AverageKeypointDistanceDlib, clips, lambda cs: np.mean([expected[c.clip_id] for c in cs]),
                 functional=lambda cs: np.mean([akd_clip(c, detector="dlib")[0] for c in cs]), n_batches=2)


def test_akd_metric_with_harness_and_precomputed_tracks(face):
    from forgebench.media.analyze import analyze_frames

    real = np.stack([face] * 2)
    clips = [Clip(f"c{k}", frames=np.stack([_shift(face, k, 0), face]), reference=Clip(f"r{k}", frames=real))
             for k in (2, 6)]
    values = {c.clip_id: akd_clip(c)[0] for c in clips}
    check_metric(AverageKeypointDistance, clips, lambda cs: np.mean([values[c.clip_id] for c in cs]), n_batches=2)
    # tracks handed in (the fidelity benchmark has them already) give the same landmarks
    c = clips[1]
    c.track, c.reference.track = analyze_frames(c.frames, 25.0), analyze_frames(c.reference.frames, 25.0)
    assert akd_clip(c)[0] == pytest.approx(values[c.clip_id], abs=1e-4)
    assert values["c6"] > values["c2"] > 0.0


def test_aed_is_the_dlib_embedding_distance(face):
    from forgebench.metrics.identity import model_dir

    detector = dlib.get_frontal_face_detector()
    sp = dlib.shape_predictor(str(model_dir() / "shape_predictor_5_face_landmarks.dat"))
    rec = dlib.face_recognition_model_v1(str(model_dir() / "dlib_face_recognition_resnet_model_v1.dat"))

    def emb(img):
        img = np.ascontiguousarray(img)
        return np.array(rec.compute_face_descriptor(img, sp(img, detector(img, 1)[0]), 1))

    mirrored = np.ascontiguousarray(face[:, ::-1])
    darker = (face * 0.7).astype(np.uint8)
    clips = [Clip("mirror", frames=mirrored[None], reference=Clip("r1", frames=face[None])),
             Clip("dark", frames=darker[None], reference=Clip("r2", frames=face[None]))]
    reference = emb(face)
    expected = {"mirror": np.linalg.norm(emb(mirrored) - reference), "dark": np.linalg.norm(emb(darker) - reference)}
    res = check_metric(AverageEmbeddingDistance, clips, lambda cs: np.mean([expected[c.clip_id] for c in cs]),
                       functional=lambda cs: np.mean([aed_clip(c)[0] for c in cs]), atol=1e-6, n_batches=2)
    assert "dlib" in res.network and 0.0 < expected["mirror"] < 0.6  # the same person stays under dlib's 0.6
    assert aed_clip(Clip("same", frames=face[None], reference=Clip("r0", frames=face[None])))[0] == 0.0
    blank = np.full_like(face, 128)
    m = AverageEmbeddingDistance()
    m.update(Clip("blank", frames=blank[None], reference=Clip("r", frames=face[None])))
    assert m.compute().status == "unavailable"
