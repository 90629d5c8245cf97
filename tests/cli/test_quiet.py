"""Native libraries keep quiet: a command that loads MediaPipe's graph and the LiteRT tracker leaves only
forgebench's own lines on stderr, and ``--verbose`` brings the libraries' lines back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
NATIVE = ("XNNPACK", "absl::InitializeLog", "inference_feedback_manager", "W0000", "I0000")


@pytest.fixture(scope="module")
def face_video(tmp_path_factory, portrait):
    import cv2

    from forgebench.media.video import write_video

    face = cv2.resize(portrait, (256, 256), interpolation=cv2.INTER_AREA)
    return write_video(tmp_path_factory.mktemp("quiet") / "face.mp4",
                       np.stack([np.roll(face, k, axis=1) for k in range(8)]), 25.0)


def _bench_preprocess(video: Path, *flags: str) -> subprocess.CompletedProcess:
    """``forgebench bench preprocess``: MediaPipe's graph (video and static mode), the LiteRT tracker, dlib."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("GLOG_minloglevel", "TF_CPP_MIN_LOG_LEVEL", "PYTHONWARNINGS", "FORGEBENCH_VERBOSE")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "forgebench", *flags, "bench", "preprocess", str(video),
                           "--frames", "6", "--frame-size", "0"], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)


def test_stderr_holds_only_forgebench_lines_and_verbose_brings_the_rest_back(face_video):
    quiet = _bench_preprocess(face_video)
    assert quiet.returncode == 0, quiet.stderr[-2000:]
    assert '"forgebench_faces": 6' in quiet.stdout
    lines = [line for line in quiet.stderr.splitlines() if line.strip()]
    assert all(line.startswith("forgebench") for line in lines), lines
    loud = _bench_preprocess(face_video, "--verbose")
    assert loud.returncode == 0, loud.stderr[-2000:]
    assert any(marker in loud.stderr for marker in NATIVE), loud.stderr[-2000:]


def test_a_hold_drops_descriptor_2_only_and_is_given_back(capfd):
    from forgebench.quiet import held_stderr

    with held_stderr():
        os.write(2, b"native line\n")
        with held_stderr():  # nested: one redirection
            os.write(2, b"nested native line\n")
        os.write(2, b"still held\n")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"


def test_progress_bars_show_on_a_terminal_only():
    import io

    from forgebench.progress import tqdm

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    for stream, shown in ((io.StringIO(), False), (Terminal(), True)):
        for _ in tqdm(range(3), file=stream, desc="work"):
            pass
        assert ("work" in stream.getvalue()) is shown
    muted = Terminal()
    list(tqdm(range(3), file=muted, disable=True))
    assert muted.getvalue() == ""
