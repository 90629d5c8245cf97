"""The paired-fidelity benchmark: the face square, the results table, and a tiny end-to-end run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forgebench.benchmarks.fidelity import FidelityConfig, face_square, results_table
from forgebench.errors import InputError
from forgebench.media import face_geometry as fg
from forgebench.metrics.bootstrap import bootstrap_ci


def _face(centre: tuple[float, float], iod: float) -> np.ndarray:
    """Landmarks [478, 3] with the eyes ``iod`` apart around ``centre`` and a face oval 2 IOD across."""
    lm = np.zeros((478, 3))
    cx, cy = centre
    lm[list(fg.RIGHT_EYE_CORNERS), :2] = (cx - iod / 2, cy)
    lm[list(fg.LEFT_EYE_CORNERS), :2] = (cx + iod / 2, cy)
    angles = np.linspace(0, 2 * np.pi, len(fg.FACE_OVAL), endpoint=False)
    lm[list(fg.FACE_OVAL), 0] = cx + iod * np.cos(angles)
    lm[list(fg.FACE_OVAL), 1] = cy + 0.6 * iod + 1.2 * iod * np.sin(angles)
    return lm


def test_face_square_is_the_talking_head_framing_and_stays_in_the_frame():
    lm = np.stack([_face((500.0, 300.0), 40.0)] * 3)
    x0, y0, side = face_square(lm, np.ones(3, bool), 1280, 720)
    assert side == 200  # five inter-ocular distances (the oval needs less)
    assert (x0 + side / 2, y0 + side / 2) == (500.0, 324.0)  # centred 0.6 IOD below the eyes
    # a face that moves: the square widens to hold every frame's oval, and is clamped to the frame
    moving = np.stack([_face((30.0 + 60 * t, 300.0), 40.0) for t in range(3)])
    x0, y0, side = face_square(moving, np.ones(3, bool), 1280, 720)
    assert side > 200 and x0 == 0 and y0 >= 0
    with pytest.raises(InputError, match="no frame has a face"):
        face_square(moving, np.zeros(3, bool), 1280, 720)


def test_results_table_means_intervals_by_identity_and_notes():
    rng = np.random.default_rng(0)
    ids = ["a", "a", "b", "c", "c", "d"]
    rows = []
    for mode in ("self-reenact", "audio"):
        for i, ident in enumerate(ids):
            rows += [{"clip_id": f"c{i}", "identity": ident, "mode": mode, "metric": "l1", "status": "ok",
                      "value": float(rng.uniform(0.02, 0.1)), "reason": ""},
                     {"clip_id": f"c{i}", "identity": ident, "mode": mode, "metric": "aed", "status": "ok",
                      "value": float(rng.uniform(0.2, 0.4)), "reason": ""}]
    per_clip = pd.DataFrame(rows)
    config = FidelityConfig(metrics=("l1", "aed"), set_metrics=())
    res = results_table(per_clip, {}, config)
    row = res[(res.subject == "self-reenact") & (res.metric == "l1")].iloc[0]
    sub = per_clip[(per_clip["mode"] == "self-reenact") & (per_clip.metric == "l1")]
    lo, hi = bootstrap_ci(sub.value.to_numpy(), groups=sub.identity.to_numpy())
    assert row.value == pytest.approx(sub.value.mean()) and (row.ci_low, row.ci_high) == (lo, hi) and row.n == 6
    assert not row.higher_is_better
    audio = res[res.subject == "audio"].set_index("metric")
    assert "not aligned" in audio.loc["l1", "note"] and audio.loc["aed", "note"] == ""
    anchor = res[res.subject.str.startswith("FOMM")].set_index("metric")
    assert anchor.loc["l1", "value"] == 0.043 and anchor.loc["aed", "status"] == "unavailable"


@pytest.fixture(scope="module")
def talking_clip(tmp_path_factory, source_face):
    """A 1.2 s clip of the test portrait turning and opening its mouth, with speech-like audio."""
    from forgebench.generator.render.renderer import FaceRenderer
    from forgebench.media.synthetic import speech_like
    from forgebench.media.video import write_video

    renderer = FaceRenderer(source_face)
    pose0, expr0, gaze0 = renderer.source_state
    frames = []
    for t in range(30):
        pose, expr = pose0.copy(), expr0.copy()
        pose[0] += 6 * np.sin(t / 5)
        pose[3] += 0.02 * np.sin(t / 7)
        expr[0] = 0.05 + 0.1 * (1 + np.sin(t / 2))
        frames.append(renderer.render(pose, expr, gaze0))
    path = tmp_path_factory.mktemp("fidelity") / "talk.mp4"
    return write_video(path, np.stack(frames), fps=25, audio=speech_like(1.2))


def test_self_reenactment_beats_the_still_frame_and_a_rerun_resumes(talking_clip, tmp_path):
    from forgebench.benchmarks.fidelity_run import run_fidelity
    from forgebench.metrics.paired import l1_frames

    config = FidelityConfig(size=128, modes=("self-reenact", "still"), max_seconds=2, metrics=("l1", "akd"),
                            set_metrics=())
    out = tmp_path / "fid"
    per_clip, results = run_fidelity([talking_clip], out, config, progress=False)
    ok = per_clip[per_clip.status == "ok"].set_index(["mode", "metric"]).value
    assert ok["self-reenact", "l1"] < ok["still", "l1"] and ok["self-reenact", "akd"] < ok["still", "akd"]
    # the still baseline, computed directly on the benchmark's own crop (frame 0 is the input: not scored)
    from forgebench.benchmarks.fidelity import prepare_real

    real = prepare_real(talking_clip, "talk", "talk", 128, 2)
    assert ok["still", "l1"] == pytest.approx(l1_frames(np.repeat(real.frames[:1], len(real.frames) - 1, 0),
                                                        real.frames[1:]).mean(), rel=1e-9)
    for name in ("results.csv", "per_clip.csv", "fidelity.md", "clips/talk/self-reenact.mp4"):
        assert (out / name).is_file(), name
    video = out / "clips/talk/self-reenact.mp4"
    stamp = video.stat().st_mtime_ns
    again, _ = run_fidelity([talking_clip], out, config, progress=False)
    assert video.stat().st_mtime_ns == stamp  # not regenerated
    pd.testing.assert_frame_equal(again, per_clip)


def test_eval_fidelity_bad_input_is_one_line(tmp_path, capsys):
    from forgebench.cli import main

    assert main(["eval", "fidelity", str(tmp_path / "nope.mp4"), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing half-written
    (tmp_path / "file").write_text("x")
    assert main(["eval", "fidelity", str(tmp_path), "-o", str(tmp_path / "file")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a file" in err
