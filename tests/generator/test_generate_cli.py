"""`forgebench generate` on bad input: one line on stderr, non-zero exit, no traceback, no output file."""

from __future__ import annotations

import wave

import numpy as np
import pytest
from PIL import Image

from forgebench.cli import main
from tests.conftest import speech_like


def _wav(path, samples, rate=16000, width=2):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(width)
        w.setframerate(rate)
        if width == 2:
            w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
        else:
            w.writeframes(samples.tobytes())
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, portrait):
    d = tmp_path_factory.mktemp("inputs")
    Image.fromarray(portrait).save(d / "face.png")
    Image.fromarray(np.full((200, 200, 3), 120, np.uint8)).save(d / "noface.png")
    Image.fromarray(portrait[:40, :40]).save(d / "tiny.png")
    (d / "notes.txt").write_text("not an image and not audio")
    _wav(d / "speech.wav", speech_like(1.2))
    _wav(d / "silent.wav", np.zeros(16000, np.float32))
    _wav(d / "empty.wav", np.zeros(0, np.float32))
    # 3601 s at 8 kHz, 8-bit: the smallest WAV that is over an hour (29 MB).
    _wav(d / "long.wav", np.full(8000 * 3601, 128, np.uint8), rate=8000, width=1)
    return d


def _run(capsys, *argv):
    code = main(["generate", *map(str, argv), "-q"])
    err = capsys.readouterr().err.strip()
    return code, err


@pytest.mark.parametrize(
    "image, audio, expect",
    [
        ("notes.txt", "speech.wav", "not an image"),
        ("tiny.png", "speech.wav", "at least 64 px"),
        ("noface.png", "speech.wav", "no face found"),
        ("missing.png", "speech.wav", "does not exist"),
        ("face.png", "notes.txt", "audio"),
        ("face.png", "silent.wav", "silent"),
        ("face.png", "empty.wav", "empty"),
        ("face.png", "long.wav", "3600"),
    ],
)
def test_bad_input_is_one_clear_line(inputs, tmp_path, capsys, image, audio, expect):
    out = tmp_path / "out.mp4"
    code, err = _run(capsys, "--image", inputs / image, "--audio", inputs / audio, "-o", out, "--size", "128")
    assert code != 0
    assert len(err.splitlines()) == 1 and err.startswith("forgebench: error:"), err
    assert expect in err, err
    assert "Traceback" not in err
    assert not out.exists() and not list(tmp_path.iterdir())


def test_unwritable_output(inputs, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, err = _run(capsys, "--image", inputs / "face.png", "--audio", inputs / "speech.wav",
                     "-o", blocker / "out.mp4")
    assert code != 0 and len(err.splitlines()) == 1 and "output" in err


def test_generate_writes_a_video_and_track(inputs, tmp_path, capsys):
    out, track = tmp_path / "out.mp4", tmp_path / "track.parquet"
    code = main(["generate", "--image", str(inputs / "face.png"), "--audio", str(inputs / "speech.wav"),
                 "-o", str(out), "--track", str(track), "--size", "128", "-q"])
    assert code == 0
    assert out.stat().st_size > 1000 and track.exists()
    assert "wrote" in capsys.readouterr().out
