"""`forgebench generate --driving` and `forgebench dub` on bad input that needs faces to see: one line,
non-zero exit, no output. (Unreadable, missing or silent files are in tests/cli/test_bad_inputs.py.)"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from forgebench.cli import main
from forgebench.generator.render.renderer import FaceRenderer
from forgebench.media.audio import write_wav
from forgebench.media.video import write_video
from tests.conftest import speech_like


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, portrait, source_face):
    d = tmp_path_factory.mktemp("video-inputs")
    Image.fromarray(portrait).save(d / "face.png")
    renderer = FaceRenderer(source_face)
    pose, expr, gaze = renderer.source_state
    frames = []
    for i in range(30):
        p = pose.copy()
        p[0] += 6 * np.sin(2 * np.pi * i / 30)
        frames.append(renderer.render(p, expr, gaze))
    frames = np.stack(frames)
    write_video(d / "talking.mp4", frames, fps=25.0, audio=speech_like(1.2))
    write_video(d / "short.mp4", frames[:15], fps=25.0)  # 0.6 s
    grey = np.full_like(frames, 128)
    grey[:8] = frames[:8]  # a face in 8 of 30 frames
    write_video(d / "noface.mp4", grey, fps=25.0)
    write_wav(d / "speech.wav", speech_like(1.5, seed=3), 16000)
    return d


def _run(capsys, *argv):
    code = main([*map(str, argv), "-q"])
    return code, capsys.readouterr().err.strip()


def _assert_one_line(code, err, expect, out_dir):
    assert code != 0
    assert len(err.splitlines()) == 1 and err.startswith("forgebench: error:"), err
    assert expect in err, err
    assert not list(out_dir.iterdir())


@pytest.mark.parametrize(
    "args, expect",
    [
        (["--driving", "noface.mp4"], "face in only 27%"),
        (["--driving", "talking.mp4", "--fps", "30"], "--fps does not apply"),
        (["--driving", "talking.mp4", "--pose-scale", "5"], "--pose-scale"),
    ],
)
def test_generate_driving_bad_input(inputs, tmp_path, capsys, args, expect):
    argv = [a if a.startswith("-") or a[0].isdigit() else inputs / a for a in args]
    code, err = _run(capsys, "generate", "--image", inputs / "face.png", *argv, "-o", tmp_path / "out.mp4",
                     "--size", "128")
    _assert_one_line(code, err, expect, tmp_path)


@pytest.mark.parametrize(
    "video, audio, expect",
    [
        ("noface.mp4", "speech.wav", "face in only 27%"),
        ("short.mp4", "speech.wav", "at least 1 s"),
    ],
)
def test_dub_bad_input(inputs, tmp_path, capsys, video, audio, expect):
    code, err = _run(capsys, "dub", "--video", inputs / video, "--audio", inputs / audio, "-o", tmp_path / "out.mp4")
    _assert_one_line(code, err, expect, tmp_path)
