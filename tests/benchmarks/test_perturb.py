"""Perturbations: every level changes the clip, severity grows, results are deterministic."""

from __future__ import annotations

import numpy as np
import pytest

from forgebench.benchmarks.perturb import perturb_frames, perturb_video, perturbation_registry
from forgebench.media.video import probe_video, read_video
from forgebench.paths import sha256_file as file_sha256

PIXEL = [n for n in perturbation_registry.names() if n != "h264"]


def frames():
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:48, 0:48]
    smooth = np.stack([xx * 5, yy * 5, (xx + yy) * 2], -1).astype(np.uint8)
    return [np.clip(smooth + rng.integers(0, 40, smooth.shape), 0, 255).astype(np.uint8) for _ in range(2)]


@pytest.mark.parametrize("name", PIXEL)
def test_each_level_changes_frames_and_is_deterministic(name):
    src = frames()
    errors = []
    for level in range(1, 6):
        a = perturb_frames(src, name, level, seed=3)
        b = perturb_frames(src, name, level, seed=3)
        assert all(np.array_equal(x, y) for x, y in zip(a, b))
        assert a[0].shape == src[0].shape and a[0].dtype == np.uint8
        err = np.mean([np.abs(x.astype(float) - s).mean() for x, s in zip(a, src)])
        assert err > 0.1, (name, level)
        errors.append(err)
    assert errors[-1] > errors[0], (name, errors)  # level 5 is more severe than level 1


def test_noise_depends_on_seed_and_closed_form_std():
    src = [np.full((64, 64, 3), 128, np.uint8)]
    a, b = perturb_frames(src, "noise", 3, seed=0)[0], perturb_frames(src, "noise", 3, seed=1)[0]
    assert not np.array_equal(a, b)
    assert abs((a.astype(float) - 128).std() - np.sqrt(0.005) * 255) < 1.0


def test_saturation_level5_is_grey():
    out = perturb_frames(frames(), "saturation", 5, seed=0)[0].astype(int)
    assert np.abs(out[..., 0] - out[..., 1]).max() <= 2 and np.abs(out[..., 1] - out[..., 2]).max() <= 2


def test_perturb_video_deterministic_and_h264_crf(tmp_path, video_factory):
    src = video_factory(tmp_path / "src.mp4", audio=True)
    out1, out2 = tmp_path / "a.mp4", tmp_path / "b.mp4"
    perturb_video(src, out1, "jpeg+h264", 5, seed=7)
    perturb_video(src, out2, "jpeg+h264", 5, seed=7)
    assert file_sha256(out1) == file_sha256(out2)
    info = probe_video(out1)
    assert info.has_audio and info.n_frames == probe_video(src).n_frames
    clip = read_video(out1)
    assert clip.metadata["forgebench_perturbation"] == "jpeg+h264:5:7"
    assert not np.array_equal(clip.frames, read_video(src).frames)
    assert not list(tmp_path.glob("*.partial*"))


def test_normalize_video_crops_resizes_and_resamples(tmp_path, video_factory):
    from forgebench.benchmarks.perturb import normalize_video
    from forgebench.media.video import probe_video, read_video

    src = video_factory(tmp_path / "src.mp4", seed=3, frames=20, size=96, audio=True)  # 25 fps, 0.8 s
    out = normalize_video(src, tmp_path / "n.mp4", size=64, fps=12.5, crf=23)
    info = probe_video(out)
    assert (info.width, info.height) == (64, 64) and info.has_audio
    assert abs(info.fps - 12.5) < 1e-6
    frames = read_video(out)
    frames = getattr(frames, "frames", frames)
    assert len(frames) == 10  # every second frame of 20: the duration is kept
    same = normalize_video(src, tmp_path / "same.mp4", size=None, fps=None, crf=23)
    assert probe_video(same).width == 96 and len(getattr(read_video(same), "frames", read_video(same))) == 20
    assert not list(tmp_path.glob("*.partial*"))


def test_normalize_at_a_bitrate_narrows_the_rate_gap_between_still_and_moving_clips(tmp_path, video_factory):
    """``normalize: {bitrate}``: one-pass ABR instead of CRF, deterministic; a still clip and a moving one land
    much closer in bitrate than at constant quality (a still background is no longer a file-size cue)."""
    import av

    from forgebench.benchmarks.perturb import normalize_video
    from forgebench.media.video import read_video, write_video
    from forgebench.paths import sha256_file

    def kbps(p):
        with av.open(str(p)) as c:
            s = c.streams.video[0]
            return sum(q.size for q in c.demux(s) if q.size) * 8 / float(s.duration * s.time_base) / 1000

    moving = video_factory(tmp_path / "moving.mp4", seed=1, frames=50, size=96)
    still = write_video(tmp_path / "still.mp4", np.repeat(read_video(moving).frames[:1], 50, 0), fps=25)
    crf = [kbps(normalize_video(v, tmp_path / f"{v.stem}.crf.mp4", crf=23)) for v in (moving, still)]
    abr = [kbps(normalize_video(v, tmp_path / f"{v.stem}.abr.mp4", crf=23, bitrate=40)) for v in (moving, still)]
    again = normalize_video(moving, tmp_path / "again.mp4", crf=23, bitrate=40)
    assert sha256_file(again) == sha256_file(tmp_path / "moving.abr.mp4")
    assert crf[0] / crf[1] > 1.5 * (abr[0] / abr[1]), (crf, abr)
    assert read_video(again).metadata["forgebench_normalize"].endswith("bitrate=40k")
