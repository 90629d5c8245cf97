"""``forgebench bench provenance``: robustness, invisibility and false positives of the watermark.

For each clip (``--videos`` folder, e.g. generated talking faces; default
synthetic static-camera clips made from ``skimage.data`` images with a smoothly
moving, rotating central region like a talking head), the mark is embedded with a
random payload, every attack in :data:`~forgebench.provenance.attacks.ATTACKS` is
applied and the detector is run. Per attack the table gives:

* ``raw_bit_acc``: coded-bit accuracy before error correction (sign of z vs the
  true codeword, up to the half-period order the detector cannot know),
* ``payload_bit_acc``: accuracy of the 72 payload bits after decoding (the hard
  decision's systematic bits where decoding failed),
* ``detect_rate`` (p < threshold) and ``decode_rate`` (payload exactly right),
* ``median_log10_p``.

Unmarked clips (the same synthetic clips before marking, attacked by ``none`` and
``h264_crf28``, plus every video in ``--unmarked``) give the false-positive count.
"""

from __future__ import annotations

import sys

import cv2
import numpy as np
import pandas as pd

from forgebench.errors import InputError
from forgebench.progress import tqdm
from forgebench.provenance.attacks import ATTACKS
from forgebench.provenance.check import iter_video_files
from forgebench.provenance.ecc import Payload
from forgebench.provenance.watermark import Watermarker


def synthetic_clip(index: int, size: int = 512, seconds: float = 4.0, fps: float = 25.0) -> np.ndarray:
    """A static-camera clip [T,size,size,3] from a skimage image with a moving 'head' region and sensor noise."""
    from skimage import data

    images = [data.astronaut, data.coffee, data.chelsea, data.rocket, data.camera, data.immunohistochemistry]
    img = images[index % len(images)]()
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    base = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)
    yy, xx = np.mgrid[:size, :size]
    region = (((xx - size / 2) / (size * 0.22)) ** 2 + ((yy - size * 0.45) / (size * 0.3)) ** 2 < 1)
    region = cv2.GaussianBlur(region.astype(np.float32), (0, 0), size / 100)[..., None]
    rng = np.random.default_rng(index)
    frames = []
    for t in range(int(round(seconds * fps))):
        ph = float(index)  # per-clip phase of the head motion
        dx = 0.02 * size * np.sin(2 * np.pi * t / 40 + ph)
        dy = 0.01 * size * np.sin(2 * np.pi * t / 27 + 1 + ph)
        m = cv2.getRotationMatrix2D((size / 2, size * 0.45), 3 * np.sin(2 * np.pi * t / 55 + ph), 1.0)
        m[:, 2] += (dx, dy)
        moved = cv2.warpAffine(base, m, (size, size), borderMode=cv2.BORDER_REFLECT)
        frame = base * (1 - region) + moved * region + rng.normal(0, 1.0, base.shape)
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    return np.stack(frames)


def _load_clips(videos: str | None, n_clips: int, size: int, seconds: float) -> list[tuple[str, np.ndarray, float]]:
    if videos is None:
        return [(f"synthetic_{i}", synthetic_clip(i, size, seconds), 25.0) for i in range(n_clips)]
    from forgebench.media.video import read_video

    clips = []
    for path in list(iter_video_files([videos]))[:n_clips] if n_clips else iter_video_files([videos]):
        clip = read_video(path, max_frames=None, with_audio=False)
        n = int(round(seconds * clip.fps))
        clips.append((path.name, clip.frames[:n], clip.fps))
    if not clips:
        raise InputError(f"no video files in {videos!r}: give a folder of clips to mark")
    return clips


def quality(original: np.ndarray, marked: np.ndarray, step: int = 10) -> tuple[float, float]:
    """Mean PSNR (dB) and SSIM of marked vs original frames (every ``step``-th frame)."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    idx = range(0, len(original), step)
    psnr = [peak_signal_noise_ratio(original[i], marked[i], data_range=255) for i in idx]
    ssim = [structural_similarity(original[i], marked[i], channel_axis=2, data_range=255) for i in idx]
    return float(np.mean(psnr)), float(np.mean(ssim))


def _score(wm: Watermarker, frames: np.ndarray, fps: float, payload: Payload) -> dict:
    rep = wm.detect(frames, fps=fps)
    truth = wm.code.encode(payload.to_bits())
    raw = float(np.mean((rep.soft > 0) == (truth > 0)))
    raw = max(raw, 1.0 - raw)
    if rep.payload is not None:
        pbits = float(np.mean(rep.payload.to_bits() == payload.to_bits()))
    else:
        hard = (rep.soft > 0).astype(np.uint8)[wm.code.n_parity:]
        pbits = max(float(np.mean(hard == payload.to_bits())), float(np.mean(hard != payload.to_bits())))
    return {"raw_bit_acc": raw, "payload_bit_acc": pbits, "detected": rep.present,
            "decoded": rep.payload == payload, "log10_p": np.log10(max(rep.p_value, 1e-300))}


def run_bench(videos: str | None = None, unmarked: str | None = None, n_clips: int = 4, size: int = 512,
              seconds: float = 4.0, key: str | None = None, attacks: list[str] | None = None,
              progress: bool = True) -> tuple[pd.DataFrame, dict]:
    """Run the robustness benchmark; returns (per-attack table, summary dict)."""
    names = attacks or list(ATTACKS)
    unknown = [a for a in names if a not in ATTACKS]
    if unknown:
        raise InputError(f"unknown attack(s) {unknown}: choose from {', '.join(ATTACKS)}")
    wm = Watermarker(key=key)
    clips = _load_clips(videos, n_clips, size, seconds)
    rng = np.random.default_rng(1234)
    results, psnrs, ssims, null_p = [], [], [], []
    bar = tqdm(total=len(clips) * (len(names) + 2), desc="bench provenance", file=sys.stderr, disable=not progress)
    for name, frames, fps in clips:
        payload = Payload(1, int(rng.integers(0, 256)), int(rng.integers(0, 2**32)), int(rng.integers(0, 2**24)))
        marked = wm.embed_frames(frames, payload, fps=fps)
        p, s = quality(frames, marked)
        psnrs.append(p)
        ssims.append(s)
        for attack in names:
            attacked, afps = ATTACKS[attack](marked, fps)
            results.append({"clip": name, "attack": attack, **_score(wm, attacked, afps, payload)})
            bar.update()
        for attack in ("none", "h264_crf28"):  # the same clip unmarked: false-positive check
            attacked, afps = ATTACKS[attack](frames, fps)
            null_p.append(("unmarked:" + name + ":" + attack, wm.detect(attacked, fps=afps).p_value))
            bar.update()
    bar.close()
    if unmarked:
        from forgebench.media.video import iter_frames, probe_video

        for path in tqdm(list(iter_video_files([unmarked])), desc="unmarked videos", file=sys.stderr,
                         disable=not progress):
            try:
                vfps = probe_video(path).fps or 25.0
                null_p.append((str(path), wm.detect(iter_frames(path), fps=vfps, max_frames=int(20 * vfps)).p_value))
            except InputError as exc:
                print(f"skipped {path}: {exc}", file=sys.stderr)
    df = pd.DataFrame(results)
    table = (df.groupby("attack", sort=False)
             .agg(clips=("clip", "count"), raw_bit_acc=("raw_bit_acc", "mean"),
                  payload_bit_acc=("payload_bit_acc", "mean"), detect_rate=("detected", "mean"),
                  decode_rate=("decoded", "mean"), median_log10_p=("log10_p", "median"))
             .reset_index())
    pvals = np.array([p for _, p in null_p])
    summary = {
        "psnr_db_mean": round(float(np.mean(psnrs)), 2), "psnr_db_min": round(float(np.min(psnrs)), 2),
        "ssim_mean": round(float(np.mean(ssims)), 4),
        "unmarked_videos": len(pvals), "false_positives": int((pvals < wm.threshold).sum()),
        "unmarked_min_p": float(pvals.min()) if len(pvals) else None,
        "threshold": wm.threshold,
    }
    return table, summary


