from __future__ import annotations

import numpy as np
import pytest

from forgebench.errors import NoFaceError
from forgebench.media.analyze import analyze_image, track_from_landmarks


def test_portrait_has_one_roughly_frontal_face(portrait_face):
    assert portrait_face.n_faces == 1
    assert portrait_face.landmarks.shape == (478, 3)
    assert np.all(np.abs(portrait_face.pose[:3]) < 15)
    assert 0.05 < portrait_face.pose[5] < 0.2  # IOD: a small face in a 512 px photo


def test_no_face_is_a_clear_error():
    blank = np.full((128, 128, 3), 127, np.uint8)
    with pytest.raises(NoFaceError, match="no face found"):
        analyze_image(blank, name="blank.png")


def test_several_faces_use_the_largest(portrait):
    import cv2

    face = portrait[20:280, 100:360]  # the astronaut's head, 260 px
    canvas = np.full((320, 640, 3), 200, np.uint8)
    canvas[10:310, 10:310] = cv2.resize(face, (300, 300))
    canvas[20:260, 330:570] = cv2.resize(face, (240, 240))
    found = analyze_image(canvas)
    assert found.n_faces == 2
    assert found.landmarks[:, 0].max() < 320  # the big face, on the left


def test_track_interpolates_frames_without_a_face(portrait_face):
    n = 6
    lm = np.repeat(portrait_face.landmarks[None], n, axis=0).astype(np.float64)
    lm[:, :, 0] += np.arange(n)[:, None] * 2.0  # move right 2 px per frame
    valid = np.array([True, True, False, False, True, True])
    track = track_from_landmarks(lm, valid, 25.0, portrait_face.width, portrait_face.height)
    tx = track.pose_of("tx") * portrait_face.width
    np.testing.assert_allclose(np.diff(tx), 2.0, atol=1e-4)  # filled linearly through the gap
    assert track.valid.tolist() == valid.tolist()
    assert track.meta["coverage"] == pytest.approx(4 / 6)
