"""Face-centred framing (``normalize: {crop: face}``): the square rule in closed form, and on tracked clips."""

from __future__ import annotations

import numpy as np
import pytest

from forgebench.benchmarks.framing import Square, crop_square, square_from_boxes
from forgebench.errors import InputError


def test_square_is_scale_times_median_width_centred_on_the_median_face():
    # faces at (100 +- 4, 80 +- 2), widths 40 +- 6 (one outlier the median ignores)
    boxes = np.array([[96, 78, 34], [100, 80, 40], [104, 82, 46], [100, 80, 40], [300, 10, 400]], float)
    sq = square_from_boxes(boxes, 5, 640, 480, face_scale=1.8)
    assert sq.side == round(1.8 * 40)
    assert (sq.x0 + sq.side / 2, sq.y0 + sq.side / 2) == pytest.approx((100, 80), abs=0.5)
    assert sq.found == 1.0


def test_square_is_shifted_inside_when_it_fits_and_kept_centred_when_it_does_not():
    near_corner = np.array([[10.0, 15.0, 40.0]])
    sq = square_from_boxes(near_corner, 1, 200, 100, face_scale=2.0)
    assert (sq.x0, sq.y0, sq.side) == (0, 0, 80)  # moved inside, not shrunk
    big = np.array([[50.0, 50.0, 80.0]])
    sq = square_from_boxes(big, 1, 100, 100, face_scale=2.0)  # 160 px square in a 100 px frame
    assert sq.side == 160 and (sq.x0, sq.y0) == (-30, -30)  # centred on the face; padded when cropped


def test_too_few_faces_is_one_line():
    with pytest.raises(InputError, match=r"no face in 3 of 4 tracked frames of clip\.mp4"):
        square_from_boxes(np.array([[1.0, 1.0, 1.0]]), 4, 100, 100, what="clip.mp4")


def test_crop_square_inside_is_slice_and_outside_is_reflected():
    frame = np.random.default_rng(0).integers(0, 255, (40, 60, 3), dtype=np.uint8)
    inside = crop_square(frame, Square(10, 5, 20), 20)
    np.testing.assert_array_equal(inside, frame[5:25, 10:30])
    out = crop_square(frame, Square(-4, -4, 48), 48)  # 4 px past the top and left, 4 below the bottom
    np.testing.assert_array_equal(out[4:44, 4:48], frame[:, :44])
    np.testing.assert_array_equal(out[0, 4:48], frame[4, :44])  # BORDER_REFLECT_101: row -4 mirrors row 4
    np.testing.assert_array_equal(out[44, 4:48], frame[38, :44])


def test_face_crop_centres_the_face_and_is_deterministic(tmp_path, face_clip_factory):
    from forgebench.benchmarks.framing import face_boxes
    from forgebench.benchmarks.perturb import normalize_video
    from forgebench.media.video import probe_video, read_video
    from forgebench.paths import sha256_file

    # the face sits in the top-left of a wide frame: a centre crop would cut it, the face crop centres it
    src = face_clip_factory(tmp_path / "src.mp4", frames=15, canvas=(200, 120), face=96, at=(4, 10))
    a = normalize_video(src, tmp_path / "a.mp4", size=64, fps=25, crf=23, crop="face", face_scale=1.8)
    b = normalize_video(src, tmp_path / "b.mp4", size=64, fps=25, crf=23, crop="face", face_scale=1.8)
    assert sha256_file(a) == sha256_file(b)
    info = probe_video(a)
    assert (info.width, info.height, info.n_frames) == (64, 64, 15)
    boxes, n = face_boxes(read_video(a).frames)
    assert len(boxes) == n == 15
    cx, cy, w = np.median(boxes, axis=0)
    assert (cx, cy) == pytest.approx((32, 32), abs=3)  # centred
    assert w == pytest.approx(64 / 1.8, rel=0.12)  # the face is 1/1.8 of the frame wide
    centre = normalize_video(src, tmp_path / "c.mp4", size=64, fps=25, crf=23)  # the old rule, for contrast
    cb, _ = face_boxes(read_video(centre).frames)
    assert abs(np.median(cb[:, 0]) - 32) > 10 if len(cb) else True


def test_segments_cut_clips_and_audio(tmp_path, face_clip_factory):
    from forgebench.benchmarks.perturb import normalize_video
    from forgebench.benchmarks.spec import Normalize
    from forgebench.media.video import probe_video, read_video

    norm = Normalize(size=64, segment_seconds=2.0, max_segments=3)
    assert norm.segments(10.0) == [(0.0, 2.0), (4.0, 2.0), (8.0, 2.0)]  # spread over the clip, no overlap
    assert norm.segments(4.5) == [(0.0, 2.0), (2.5, 2.0)]
    assert norm.segments(2.0) == [(0.0, 2.0)]
    assert norm.segments(1.2) == [(0.0, None)]  # shorter than a segment: the whole clip
    assert Normalize(size=64).segments(9.0) == [(0.0, None)]
    src = face_clip_factory(tmp_path / "src.mp4", frames=25, canvas=(120, 120), face=96, at=(12, 12))
    seg = normalize_video(src, tmp_path / "s.mp4", size=64, fps=25, crf=23, crop="face", start=0.4, seconds=0.4)
    clip = read_video(seg)
    assert len(clip.frames) == 10 and probe_video(seg).has_audio
    assert abs(len(clip.audio) / 16000 - 0.4) < 0.05


def test_faceless_clip_fails_its_row_not_the_build(tmp_path, video_factory, face_clip_factory):
    from forgebench.benchmarks.build import build_corpus
    from forgebench.benchmarks.spec import load_spec
    from forgebench.manifest import read_manifest

    data = tmp_path / "data"
    video_factory(data / "real" / "noise.mp4", seed=1, frames=8, size=64, audio=True)
    face_clip_factory(data / "real" / "face.mp4", frames=8, canvas=(120, 120), face=96, at=(12, 12))
    spec = tmp_path / "s.yaml"
    spec.write_text("name: f\nreal: [{adapter: generic, path: data}]\n"
                    "normalize: {crop: face, size: 64, fps: 25, crf: 23}\nsplits: {train: 1.0, val: 0.0, test: 0.0}\n")
    res = build_corpus(load_spec(spec), tmp_path / "run", progress=False)
    m = read_manifest(tmp_path / "run").set_index("origin")
    assert m.loc[str(data / "real" / "face.mp4"), "status"] == "ok"
    bad = m.loc[str(data / "real" / "noise.mp4")]
    assert bad["status"] == "failed" and "no face in" in bad["reason"] and res.n_failed == 1
