"""CSIM with dlib's face recogniser: self-similarity, different faces, the dlib reference computation."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from forgebench.errors import NoFaceError
from forgebench.metrics.base import Clip
from forgebench.metrics.identity import (
    CSIM,
    cosine,
    csim,
    dlib_models,
    face_embedding,
    model_dir,
    rect_from_landmarks,
)
from forgebench.metrics.syncnet_crops import FACE_OVAL

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import check_metric  # noqa: E402

dlib = pytest.importorskip("dlib")
skdata = pytest.importorskip("skimage.data")


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return skdata.astronaut()


@pytest.fixture(scope="module")
def other_face() -> np.ndarray:
    """A different person: the first LFW face bundled with scikit-image, upscaled to 150 px."""
    import cv2

    face = (np.clip(skdata.lfw_subset()[0], 0, 1) * 255).astype(np.uint8)
    return np.repeat(cv2.resize(face, (150, 150), interpolation=cv2.INTER_CUBIC)[..., None], 3, axis=2)


def test_embedding_is_dlibs_face_recognition_computation(astronaut):
    # the face_recognition package's face_encodings(model="small"), written with dlib's API directly
    detector = dlib.get_frontal_face_detector()
    sp = dlib.shape_predictor(str(model_dir() / "shape_predictor_5_face_landmarks.dat"))
    rec = dlib.face_recognition_model_v1(str(model_dir() / "dlib_face_recognition_resnet_model_v1.dat"))
    rect = detector(astronaut, 1)[0]
    expected = np.array(rec.compute_face_descriptor(astronaut, sp(astronaut, rect), 1))
    np.testing.assert_allclose(face_embedding(astronaut), expected, rtol=0, atol=1e-7)
    assert expected.shape == (128,)


def test_same_image_is_one_and_other_faces_are_lower(astronaut, other_face):
    frames = np.stack([astronaut] * 2)
    value, coverage = csim(astronaut, frames)
    assert value == pytest.approx(1.0, abs=1e-6) and coverage == 1.0
    flipped, _ = csim(astronaut, np.ascontiguousarray(frames[:, :, ::-1]))
    other = cosine(face_embedding(astronaut), face_embedding(other_face))
    assert other < 0.9 < flipped < 1.0  # the mirrored same person stays close, another person does not


def test_landmark_boxes_give_the_detector_embedding(astronaut):
    # landmarks whose face oval spans the detector box as measured (oval a bit taller than the HOG box)
    rect = dlib_models()[0](astronaut, 1)[0]
    w = rect.right() - rect.left()
    lm = np.zeros((478, 3))
    lm[:, 0], lm[:, 1] = rect.left() + w / 2, rect.top() + w / 2
    oval_h = w / 0.92
    lm[FACE_OVAL[0], :2] = (rect.left(), rect.top() - 0.08 * oval_h)
    lm[FACE_OVAL[1], :2] = (rect.right(), rect.top() - 0.08 * oval_h + oval_h)
    r = rect_from_landmarks(lm)
    assert abs(r.left() - rect.left()) <= 1 and abs(r.top() - rect.top()) <= 1
    emb = face_embedding(astronaut, r)
    assert cosine(emb, face_embedding(astronaut)) > 0.99


def test_faceless_frames_lower_coverage_and_no_face_raises(astronaut):
    blank = np.full_like(astronaut, 127)
    value, coverage = csim(astronaut, np.stack([astronaut, blank]))
    assert value == pytest.approx(1.0, abs=1e-6) and coverage == 0.5
    with pytest.raises(NoFaceError, match="source image"):
        csim(blank, np.stack([astronaut]))
    with pytest.raises(NoFaceError, match="sampled frames"):
        csim(astronaut, np.stack([blank]))


def test_csim_metric_with_harness(astronaut, other_face):
    import cv2

    other = cv2.resize(other_face, (200, 200))
    small = cv2.resize(astronaut, (200, 200))
    clips = [
        Clip("mirrored", frames=np.ascontiguousarray(small[None, :, ::-1]), source_image=small),
        Clip("other", frames=np.stack([other]), source_image=small),
    ]
    sims = {c.clip_id: csim(c.source_image, c.frames)[0] for c in clips}
    res = check_metric(CSIM, clips, reference=lambda cs: float(np.mean([sims[c.clip_id] for c in cs])))
    assert res.network and "dlib" in res.network
    m = CSIM()
    m.update(Clip("no-source", frames=np.stack([small])))
    assert m.compute().status == "unavailable"
