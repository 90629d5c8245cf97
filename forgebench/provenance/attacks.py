"""Attacks on watermarked clips: what platforms and adversaries do to a video.

Every attack maps ``(frames [T,H,W,3] uint8 RGB, fps) -> (frames, fps)``; frame
sizes may change. :data:`ATTACKS` names the standard set used by
``forgebench bench provenance`` (strengths in the names), including compositions.
H.264 re-encoding goes through PyAV in memory.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import av
import cv2
import numpy as np

from forgebench.media.video import x264_cpu_options

Attack = Callable[[np.ndarray, float], tuple[np.ndarray, float]]


def h264(frames: np.ndarray, fps: float, crf: int = 28, preset: str = "veryfast") -> tuple[np.ndarray, float]:
    """Re-encode with libx264 yuv420p at ``crf`` and decode back (sizes made even by cropping 1 px)."""
    t, h, w = frames.shape[:3]
    frames = frames[:, : h - h % 2, : w - w % 2]
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=int(round(fps)) if float(fps).is_integer() else round(fps))
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.options = {"crf": str(crf), "preset": preset, **x264_cpu_options()}
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    buf.seek(0)
    with av.open(buf) as inp:
        decoded = np.stack([f.to_ndarray(format="rgb24") for f in inp.decode(video=0)])
    return decoded, fps


def resize(frames: np.ndarray, fps: float, factor: float = 0.5) -> tuple[np.ndarray, float]:
    """Downscale by ``factor`` with area averaging (what players and platforms do)."""
    h, w = frames.shape[1:3]
    size = (max(2, int(round(w * factor))), max(2, int(round(h * factor))))
    return np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]), fps


def center_crop(frames: np.ndarray, fps: float, keep: float = 0.9) -> tuple[np.ndarray, float]:
    """Keep the central ``keep`` fraction of width and height."""
    h, w = frames.shape[1:3]
    ch, cw = int(round(h * keep)), int(round(w * keep))
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    return np.ascontiguousarray(frames[:, y0 : y0 + ch, x0 : x0 + cw]), fps


def change_fps(frames: np.ndarray, fps: float, new_fps: float = 15.0) -> tuple[np.ndarray, float]:
    """Resample in time by nearest frame (drop/duplicate), e.g. 25 -> 15 fps."""
    n_out = max(1, int(np.floor(len(frames) * new_fps / fps)))
    idx = np.minimum(np.round(np.arange(n_out) * fps / new_fps).astype(int), len(frames) - 1)
    return frames[idx], new_fps


def gaussian_blur(frames: np.ndarray, fps: float, sigma: float = 1.0) -> tuple[np.ndarray, float]:
    return np.stack([cv2.GaussianBlur(f, (0, 0), sigma) for f in frames]), fps


def gaussian_noise(frames: np.ndarray, fps: float, std: float = 5.0, seed: int = 0) -> tuple[np.ndarray, float]:
    rng = np.random.default_rng(seed)
    noisy = frames.astype(np.float32) + rng.normal(0.0, std, frames.shape).astype(np.float32)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8), fps


def jpeg(frames: np.ndarray, fps: float, quality: int = 60) -> tuple[np.ndarray, float]:
    """Per-frame JPEG at ``quality`` (OpenCV's libjpeg, 4:2:0)."""
    out = []
    for f in frames:
        ok, enc = cv2.imencode(".jpg", cv2.cvtColor(f, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
        out.append(cv2.cvtColor(cv2.imdecode(enc, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB))
    return np.stack(out), fps


def brightness_contrast(frames: np.ndarray, fps: float, gain: float = 1.2, offset: float = -20.0
                        ) -> tuple[np.ndarray, float]:
    return np.clip(frames.astype(np.float32) * gain + offset, 0, 255).astype(np.uint8), fps


def trim(frames: np.ndarray, fps: float, seconds: float = 2.0) -> tuple[np.ndarray, float]:
    """Keep the middle ``seconds`` of the clip (at an arbitrary phase of the mark)."""
    n = min(len(frames), max(1, int(round(seconds * fps))))
    start = (len(frames) - n) // 2
    return frames[start : start + n], fps


def compose(*attacks: Attack) -> Attack:
    """Apply attacks left to right."""

    def run(frames: np.ndarray, fps: float) -> tuple[np.ndarray, float]:
        for attack in attacks:
            frames, fps = attack(frames, fps)
        return frames, fps

    return run


def _p(fn: Callable, **kw) -> Attack:
    return lambda frames, fps: fn(frames, fps, **kw)


ATTACKS: dict[str, Attack] = {
    "none": lambda frames, fps: (frames, fps),
    "h264_crf23": _p(h264, crf=23),
    "h264_crf28": _p(h264, crf=28),
    "h264_crf35": _p(h264, crf=35),
    "resize_0.75": _p(resize, factor=0.75),
    "resize_0.5": _p(resize, factor=0.5),
    "resize_0.25": _p(resize, factor=0.25),
    "crop_90": _p(center_crop, keep=0.9),
    "crop_75": _p(center_crop, keep=0.75),
    "fps_15": _p(change_fps, new_fps=15.0),
    "blur_1.0": _p(gaussian_blur, sigma=1.0),
    "blur_2.0": _p(gaussian_blur, sigma=2.0),
    "noise_5": _p(gaussian_noise, std=5.0),
    "noise_10": _p(gaussian_noise, std=10.0),
    "jpeg_75": _p(jpeg, quality=75),
    "jpeg_50": _p(jpeg, quality=50),
    "bright_contrast": _p(brightness_contrast, gain=1.2, offset=-20.0),
    "trim_2s": _p(trim, seconds=2.0),
    "resize_0.5+crf28": compose(_p(resize, factor=0.5), _p(h264, crf=28)),
    "crop_90+crf28": compose(_p(center_crop, keep=0.9), _p(h264, crf=28)),
    "fps_15+resize_0.5+crf28": compose(_p(change_fps, new_fps=15.0), _p(resize, factor=0.5), _p(h264, crf=28)),
    "trim_2s+crf28": compose(_p(trim, seconds=2.0), _p(h264, crf=28)),
}
