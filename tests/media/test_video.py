"""Video writing and reading: H.264 + AAC round trip, sync, metadata, atomicity, errors."""

from __future__ import annotations

import av
import numpy as np
import pytest

from forgebench.errors import InputError
from forgebench.media.video import VideoWriter, iter_frames, probe_video, read_metadata, read_video, write_video

FPS, T, H, W = 25, 50, 96, 128
RATE = 16000


def _frames() -> np.ndarray:
    """A smooth moving pattern (gradients + a drifting soft blob), like natural video content."""
    yy, xx = np.mgrid[:H, :W].astype(np.float32)
    out = np.empty((T, H, W, 3), np.uint8)
    for t in range(T):
        cx, cy = 30 + 1.2 * t, 40 + 10 * np.sin(t / 8)
        blob = 120 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * 12.0**2))
        out[t, ..., 0] = np.clip(60 + xx + blob, 0, 255)
        out[t, ..., 1] = np.clip(40 + yy + 0.5 * blob, 0, 255)
        out[t, ..., 2] = np.clip(200 - 0.5 * xx - 2 * t, 0, 255)
    return out


def _tone() -> np.ndarray:
    t = np.arange(2 * RATE) / RATE
    return (0.4 * np.sin(2 * np.pi * 440 * t) * (0.5 + 0.5 * t / 2)).astype(np.float32)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0**2 / mse)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    frames, tone = _frames(), _tone()
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    meta = {"forgebench_synthetic": "true", "comment": "made by a test", "forgebench_seed": 7}
    write_video(path, frames, FPS, audio=tone, audio_rate=RATE, metadata=meta)
    return path, frames, tone


def test_round_trip_frames(written):
    path, frames, _ = written
    clip = read_video(path)
    assert clip.frames.shape == frames.shape and clip.frames.dtype == np.uint8
    assert clip.fps == FPS
    assert _psnr(clip.frames, frames) > 35.0
    assert min(_psnr(a, b) for a, b in zip(clip.frames, frames)) > 33.0


def test_round_trip_audio_in_sync(written):
    path, _, tone = written
    clip = read_video(path)
    assert clip.audio is not None and clip.audio_rate == RATE and clip.audio.dtype == np.float32
    intended = T / FPS
    audio_seconds = clip.audio.size / RATE
    assert abs(audio_seconds - intended) <= 1 / FPS
    assert abs(audio_seconds - clip.duration) <= 1 / FPS
    # No shift: the best-correlating lag is within 1 ms, and the waveform survives AAC.
    n = min(clip.audio.size, tone.size)
    lags = range(-160, 161)
    corr = [np.dot(clip.audio[max(k, 0) : n + min(k, 0)], tone[max(-k, 0) : n - max(k, 0)]) for k in lags]
    assert abs(list(lags)[int(np.argmax(corr))]) <= 16
    assert np.corrcoef(clip.audio[:n], tone[:n])[0, 1] > 0.99


def test_probe(written):
    path, _, _ = written
    info = probe_video(path)
    assert (info.width, info.height, info.fps, info.n_frames) == (W, H, FPS, T)
    assert info.duration == pytest.approx(T / FPS, abs=1 / FPS)
    assert info.has_audio and info.codec == "h264"


def test_metadata_round_trip(written):
    path, _, _ = written
    meta = read_metadata(path)
    assert meta["forgebench_synthetic"] == "true"
    assert meta["comment"] == "made by a test"
    assert meta["forgebench_seed"] == "7"
    with av.open(str(path)) as container:  # PyAV's own view of the container tags
        assert container.metadata["forgebench_synthetic"] == "true"


def test_iter_frames_streams_and_resizes(written):
    path, frames, _ = written
    small = list(iter_frames(path, size=(64, 48)))
    assert len(small) == T and small[0].shape == (48, 64, 3) and small[0].dtype == np.uint8
    # Area-averaging by 2 in each direction: compare with the 2x2 block mean of the original.
    block = frames[10].astype(np.float64).reshape(48, 2, 64, 2, 3).mean(axis=(1, 3))
    assert np.mean(np.abs(small[10] - block)) < 3.0


def test_read_video_options(written):
    path, _, _ = written
    clip = read_video(path, max_frames=10, with_audio=False)
    assert clip.frames.shape[0] == 10 and clip.audio is None
    cut = read_video(path, max_frames=10)
    assert cut.audio.size == round(10 / FPS * RATE)


def test_batch_and_single_writes_agree(tmp_path):
    frames = _frames()[:8]
    with VideoWriter(tmp_path / "a.mp4", FPS, W, H) as w:
        w.write(frames)
    with VideoWriter(tmp_path / "b.mp4", FPS, W, H) as w:
        for f in frames:
            w.write(f)
    with pytest.raises(ValueError, match="already closed"):
        w.write(frames[0])
    a, b = read_video(tmp_path / "a.mp4"), read_video(tmp_path / "b.mp4")
    assert a.audio is None
    np.testing.assert_array_equal(a.frames, b.frames)


def test_exception_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError, match="boom"):
        with VideoWriter(tmp_path / "x.mp4", FPS, W, H, audio=_tone(), metadata={"a": "b"}) as w:
            w.write(_frames()[:5])
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_zero_frames_written_leaves_nothing(tmp_path):
    with pytest.raises(InputError, match="no frames"):
        with VideoWriter(tmp_path / "x.mp4", FPS, W, H):
            pass
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("width", "height"), [(127, 96), (128, 95)])
def test_odd_size_refused(tmp_path, width, height):
    with pytest.raises(InputError, match="even"):
        VideoWriter(tmp_path / "odd.mp4", FPS, width, height)
    assert list(tmp_path.iterdir()) == []


def test_wrong_frame_shape(tmp_path):
    with pytest.raises(ValueError, match="frames must be uint8"):
        with VideoWriter(tmp_path / "x.mp4", FPS, W, H) as w:
            w.write(np.zeros((H, W + 2, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_missing_and_not_a_video(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        probe_video(tmp_path / "nope.mp4")
    (tmp_path / "junk.mp4").write_bytes(b"\x00\x01junk" * 300)
    with pytest.raises(InputError, match="not a video"):
        read_video(tmp_path / "junk.mp4")


def test_audio_only_file_has_no_frames(tmp_path):
    from forgebench.media.audio import write_wav

    write_wav(tmp_path / "a.wav", _tone(), RATE)
    with pytest.raises(InputError, match="no video stream"):
        list(iter_frames(tmp_path / "a.wav"))


def test_load_audio_reads_a_video_sound_track(written):
    from forgebench.media.audio import load_audio, probe_audio

    path, _, tone = written
    info = probe_audio(path)
    assert (info.codec, info.channels, info.sample_rate) == ("aac", 1, 48000)
    got = load_audio(path, sample_rate=RATE)
    n = min(got.size, tone.size)
    assert abs(got.size - tone.size) <= RATE / FPS
    assert np.corrcoef(got[:n], tone[:n])[0, 1] > 0.99


def test_ntsc_frame_rate(tmp_path):
    write_video(tmp_path / "ntsc.mp4", _frames()[:6], fps=30000 / 1001)
    info = probe_video(tmp_path / "ntsc.mp4")
    assert info.fps == pytest.approx(30000 / 1001, rel=1e-6) and info.n_frames == 6
