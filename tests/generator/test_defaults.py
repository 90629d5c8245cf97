"""Embedded quickstart inputs: portrait framing, default speech and its cache, the sung signal."""

from __future__ import annotations

import re

import numpy as np
import pytest

from forgebench.generator import defaults


def test_default_portrait_is_a_framed_face() -> None:
    mp = pytest.importorskip("mediapipe")
    img = defaults.default_portrait()
    assert img.shape == (512, 512, 3) and img.dtype == np.uint8
    assert np.array_equal(img, defaults.default_portrait())
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=3) as mesh:
        faces = mesh.process(img).multi_face_landmarks
    assert faces is not None and len(faces) == 1
    xy = np.array([(p.x, p.y) for p in faces[0].landmark])
    width = xy[:, 0].max() - xy[:, 0].min()
    assert 0.30 <= width <= 0.50  # talking-head framing
    centre = (xy.min(0) + xy.max(0)) / 2
    assert abs(centre[0] - 0.5) < 0.08 and 0.3 < centre[1] < 0.6


def test_default_script_is_a_short_paragraph() -> None:
    words = re.findall(r"[A-Za-z']+", defaults.DEFAULT_SCRIPT)
    assert 25 <= len(words) <= 45
    assert defaults.DEFAULT_SCRIPT.count(",") >= 2 and defaults.DEFAULT_SCRIPT.count(".") >= 2


def test_default_speech_is_cached(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("piper")
    monkeypatch.setenv("FORGEBENCH_HOME", str(tmp_path))
    first = defaults.default_speech()
    files = sorted(p.suffix for p in (tmp_path / "defaults").iterdir())
    assert files == [".json", ".wav"]  # no .partial leftovers
    assert first.sample_rate == 16000 and 9.0 < first.duration_s < 14.0

    def no_synthesis(*args, **kwargs):
        raise AssertionError("cache miss: synthesize() was called")

    monkeypatch.setattr(defaults, "synthesize", no_synthesis)
    hit = defaults.default_speech()
    assert np.array_equal(hit.audio, first.audio) and hit.audio.dtype == np.float32
    assert hit.phonemes == first.phonemes and hit.seed == first.seed and hit.params == first.params
    with pytest.raises(AssertionError, match="cache miss"):
        defaults.default_speech(cache=False)


def test_cache_key_changes_with_parameters(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("piper")
    monkeypatch.setenv("FORGEBENCH_HOME", str(tmp_path))
    defaults.cached_speech("One.", seed=1)
    defaults.cached_speech("One.", seed=2)
    defaults.cached_speech("One.", seed=1, length_scale=1.2)
    defaults.cached_speech("One.", seed=1)
    assert len(list((tmp_path / "defaults").glob("*.wav"))) == 3


def test_sung_demo_follows_its_melody() -> None:
    s = defaults.sung_demo_audio()
    sr = s.sample_rate
    assert sr == 16000 and s.audio.dtype == np.float32 and np.max(np.abs(s.audio)) == pytest.approx(0.9)
    assert s.duration_s == pytest.approx(sum(d for _, d, _ in defaults._MELODY), abs=1e-3)
    assert [p for p, _, _ in s.phonemes] == [v for _, _, v in defaults._MELODY]
    # Pitch in the middle of each note (autocorrelation peak) matches the note within a semitone.
    for (midi, _, _), (_, start, end) in zip(defaults._MELODY, s.phonemes):
        mid = int((start + end) / 2 * sr)
        x = s.audio[mid - 640:mid + 640].astype(np.float64)
        r = np.correlate(x, x, mode="full")[len(x) - 1:]
        lo, hi = sr // 500, sr // 80
        f0 = sr / (lo + np.argmax(r[lo:hi]))
        assert abs(12 * np.log2(f0 / (440 * 2 ** ((midi - 69) / 12)))) < 1.0
