"""``forgebench bench lipsync``: LSE-C/D speed, ours vs syncnet-python's evaluation, side by side.

Both sides get the same MediaPipe face track and the same crop geometry; the clock covers
what each does after tracking, end to end:

* **reference**: the crops (the reference geometry, :func:`syncnet_crops`), written as image
  files (lossless PNG data, so both sides see the same pixels; the real pipeline uses JPEG)
  plus a 16 kHz int16 WAV (what syncnet-python's pipeline hands ``SyncNetInstance.evaluate``
  after its ffmpeg steps), then ``evaluate`` itself (reads the images, MFCC, windows in
  batches of 20, Python distance loop). The pipeline's XVID round trip and ffmpeg calls are
  left out, so the reference time is a lower bound and the ratio is conservative;
* **ours**: :func:`forgebench.metrics.lipsync.clip_sync_scores` uncached (crops in memory,
  MFCC, the 2D channels-last network with folded BatchNorm, vectorised distances).

The two sides run alternately ``--repeats`` times after one untimed warm-up each (first
calls build oneDNN kernels); the report gives the median time of each side, their ratio and
the 1-minute load average before and after (the machine may be shared).

Without imported ``syncnet_v2`` weights both use the same random weights (speed does not
depend on their values; the report says which). Tracking (MediaPipe) is timed separately:
it is shared with every face metric, so it is not part of LSE's own cost.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

import numpy as np
import torch

from forgebench.errors import WeightsUnavailableError
from forgebench.metrics.base import Clip
from forgebench.records import MotionTrack


def _synthetic_clip(seconds: float, fps: float = 25.0, size: int = 256) -> Clip:
    """Random frames with a fixed face box (timing only: the numbers do not depend on content)."""
    from forgebench.metrics.syncnet_crops import FACE_OVAL

    rng = np.random.default_rng(0)
    n = round(seconds * fps)
    track = MotionTrack.zeros(n, fps)
    lm = np.zeros((n, 478, 3), np.float32)
    lm[..., :2] = size / 2
    lm[:, FACE_OVAL[0], :2], lm[:, FACE_OVAL[1], :2] = (size * 0.3, size * 0.2), (size * 0.7, size * 0.75)
    track.landmarks = lm
    frames = rng.integers(0, 255, (n, size, size, 3), dtype=np.uint8)
    return Clip("synthetic", frames=frames, fps=fps, audio=rng.normal(0, 0.1, n * 640).astype(np.float32), track=track)


def _video_clip(path: Path, seconds: float) -> tuple[Clip, float]:
    """A real clip with its MediaPipe track, and the tracking time."""
    from forgebench.media.analyze import analyze_video
    from forgebench.media.video import read_video

    fps_probe = read_video(path, max_frames=1, with_audio=False).fps
    video = read_video(path, max_frames=max(6, round(seconds * fps_probe)))
    if video.audio is None:
        raise SystemExit(f"{path} has no audio track")
    t0 = time.perf_counter()
    track = analyze_video(video.frames, fps=video.fps)
    return Clip(path.stem, frames=video.frames, fps=video.fps, audio=video.audio, track=track), time.perf_counter() - t0


def _reference(model: torch.nn.Module, crops: np.ndarray, audio: np.ndarray) -> tuple[float, tuple[int, float, float]]:
    """syncnet-python's own evaluation on the crops as files; returns (seconds, (offset, conf, dist))."""
    import cv2
    from scipy.io import wavfile
    from syncnet_python.SyncNetInstance import SyncNetInstance

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        for i, crop in enumerate(crops):
            # PNG bytes under the .jpg names evaluate() globs (cv2.imread decodes by content): lossless, so both
            # sides score the very same pixels and the numbers must agree to 1e-3; level 1 is as fast as JPEG
            ok, png = cv2.imencode(".png", np.ascontiguousarray(crop[:, :, ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 1])
            (Path(tmp) / f"{i + 1:06d}.jpg").write_bytes(png.tobytes())
        pcm = np.clip(np.round(audio * 32768.0), -32768, 32767).astype(np.int16)
        wavfile.write(Path(tmp) / "audio.wav", 16000, pcm)
        opt = types.SimpleNamespace(tmp_dir=tmp, batch_size=20, vshift=15)
        with contextlib.redirect_stdout(io.StringIO()):
            result = SyncNetInstance(model, device="cpu").evaluate(opt)
        return time.perf_counter() - t0, result


def bench_lipsync(
    video: Path | None = None, seconds: float = 10.0, threads: int = 2, repeats: int = 3
) -> dict[str, Any]:
    """Time LSE-C/D (ours and the reference, alternately) on ``seconds`` of ``video`` (or a synthetic clip)."""
    import os

    from syncnet_python.SyncNetModel import S

    from forgebench.metrics import lipsync
    from forgebench.metrics.syncnet_crops import resample_to_fps, syncnet_crops

    torch.set_num_threads(threads)
    clip, t_track = (_synthetic_clip(seconds), 0.0) if video is None else _video_clip(Path(video), seconds)
    try:
        fast, ref_net, weights = lipsync.syncnet_model(), _reference_net(), "syncnet_v2"
    except WeightsUnavailableError:  # no imported weights: random ones, said in the report
        torch.manual_seed(0)
        ref_net = S().eval()
        fast, weights = lipsync.FastSyncNet(ref_net), "random (syncnet_v2 not imported)"
    dur = len(clip.frames) / clip.fps

    def ours() -> tuple[float, lipsync.SyncScores, float]:
        lipsync._CLIP_CACHE.clear()  # time the computation, not the cache
        t0 = time.perf_counter()
        scores, coverage = lipsync.clip_sync_scores(clip, fast)
        return time.perf_counter() - t0, scores, coverage

    def reference() -> tuple[float, tuple[int, float, float]]:
        t0 = time.perf_counter()
        idx = resample_to_fps(len(clip.frames), clip.fps, 25.0)
        crops, _ = syncnet_crops(clip.frames[idx], clip.track.landmarks[idx], clip.track.valid[idx])
        t_eval, result = _reference(ref_net, crops, clip.audio)
        return time.perf_counter() - t0, result

    load_before = os.getloadavg()[0]
    ours(), reference()  # warm-up: oneDNN builds its kernels on first use, on both sides
    t_ours, t_ref = [], []
    for _ in range(max(1, repeats)):
        dt, scores, coverage = ours()
        t_ours.append(dt)
        dt, (offset, conf, dist) = reference()
        t_ref.append(dt)
    med_ours, med_ref = float(np.median(t_ours)), float(np.median(t_ref))
    return {
        "video": str(video) if video else "synthetic",
        "seconds_of_video": round(dur, 3),
        "weights": weights,
        "threads": threads,
        "repeats": len(t_ours),
        "load_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "tracking_s_per_s": round(t_track / dur, 3),
        "ours_s_per_s": round(med_ours / dur, 3),
        "reference_s_per_s": round(med_ref / dur, 3),
        "ours_runs_s_per_s": [round(t / dur, 3) for t in t_ours],
        "reference_runs_s_per_s": [round(t / dur, 3) for t in t_ref],
        "speedup": round(med_ref / med_ours, 2),
        "ours": {"lse_c": scores.lse_c, "lse_d": scores.lse_d, "offset": scores.offset, "coverage": coverage},
        "reference_same_crops": {"lse_c": conf, "lse_d": dist, "offset": offset},
    }


def _reference_net() -> torch.nn.Module:
    """The syncnet-python ``S`` behind a loaded standard model (for the reference side)."""
    from forgebench.metrics.lipsync import WEIGHTS_NAME, load_syncnet
    from forgebench.weights.registry import require_weights

    return load_syncnet(require_weights(WEIGHTS_NAME))


def cmd_bench_lipsync(args: argparse.Namespace) -> int:
    report = bench_lipsync(args.video, args.seconds, args.threads, args.repeats)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for k, v in report.items():
            print(f"{k:>24}: {v}")
    print(
        f"LSE-C/D: ours {report['ours_s_per_s']} s/s vs reference {report['reference_s_per_s']} s/s "
        f"({report['speedup']}x, medians of {report['repeats']}; load {report['load_1min_before_after']}; "
        f"tracking {report['tracking_s_per_s']} s/s extra, shared by all face metrics)",
        file=sys.stderr,
    )
    return 0
