"""How much of a skin pulse survives the corpus encoding (256x256, 25 fps, libx264 CRF 23)?

A pulse p(t) = a * sin(2 pi f t) with the blood-volume colour signature (relative amplitudes R, G, B =
0.33, 0.77, 0.53; de Haan & van Leest 2014) is multiplied into the facial skin (face oval minus eyes, brows and
mouth, soft edges) of probe clips decoded from their CRF 12 encodes, re-encoded at CRF 23 (and CRF 12, and kept
uncompressed), and read back with the rPPG pipeline (face_regions -> POS -> SNR / peak / cross-region
correlation). Frequencies 1.0-1.6 Hz, amplitudes a (fraction of the pixel value) as given.

    python measurements/detectors/cues_pulse_survival.py
"""
import csv
import itertools
from pathlib import Path

import cv2
import numpy as np

from forgebench.detectors.pulse import band_correlation, peak_snr, pos_signal
from forgebench.media import face_geometry as fg
from forgebench.media.face_mesh import FaceMeshTracker
from forgebench.media.face_regions import region_means
from forgebench.media.video import read_video, write_video

SRC, FEAT, TMP = Path("/work/scratch/cues/src"), Path("/work/scratch/cues/feat"), Path("/work/scratch/cues/tmp")
PBV = np.array([0.33, 0.77, 0.53])
PBV = PBV / PBV[1]  # green amplitude = a
AMPS = (0.0, 0.0025, 0.005, 0.01, 0.02)
EYES = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
EYES_L = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)


def skin_mask(points, shape):
    m = np.zeros(shape[:2], np.float32)
    cv2.fillConvexPoly(m, cv2.convexHull(points[list(fg.FACE_OVAL), :2].astype(np.int32)), 1.0)
    for idx in (EYES, EYES_L, fg.OUTER_LIP_UPPER + fg.OUTER_LIP_LOWER, fg.RIGHT_BROW, fg.LEFT_BROW):
        hull = cv2.convexHull(points[list(idx), :2].astype(np.int32))
        cv2.fillConvexPoly(m, hull, 0.0)
    return cv2.GaussianBlur(m, (0, 0), 2.0)


def read_back(frames, fps):
    regs = []
    with FaceMeshTracker(video=True, refine_landmarks=True) as tr:
        for f in frames:
            p = tr(f)
            regs.append(region_means(f, p)[:5] if p is not None else np.full((5, 3), np.nan))
    regs = np.array(regs)
    ok = np.isfinite(regs).all((1, 2))
    regs = regs[ok] if ok.sum() > 10 else np.nan_to_num(regs)
    sig = [pos_signal(regs[:, r], fps) for r in range(5)]
    allskin = pos_signal(regs.mean(1), fps)
    snr, f0 = peak_snr(allskin, fps)
    corr = np.mean([band_correlation(sig[a], sig[b], fps) for a, b in itertools.combinations(range(5), 2)])
    return snr, f0, corr


def main():
    rows = [r for r in csv.DictReader(open(SRC / "index.csv"))]
    pick = [r for r in rows if r["path"].endswith("_0.mp4")][::4][:10]
    rng = np.random.default_rng(0)
    TMP.mkdir(parents=True, exist_ok=True)
    out = []
    for r in pick:
        clip = read_video(SRC / "crf12" / r["path"])
        z = np.load(FEAT / "crf12" / (r["path"].replace("/", "__")[:-4] + ".npz"))
        lm, valid = z["landmarks"], z["valid"]
        fps = clip.fps
        masks = [skin_mask(lm[t], clip.frames[t].shape) if valid[t] else None for t in range(len(lm))]
        f_hz = float(rng.uniform(1.0, 1.6))
        t = np.arange(len(clip.frames)) / fps
        for a in AMPS:
            mod = a * np.sin(2 * np.pi * f_hz * t)
            frames = []
            for k, f in enumerate(clip.frames):
                g = f.astype(np.float32)
                if masks[k] is not None:
                    g = g * (1 + masks[k][..., None] * mod[k] * PBV[None, None])
                frames.append(np.clip(np.round(g), 0, 255).astype(np.uint8))
            frames = np.stack(frames)
            for enc in ("raw", 12, 23):
                if enc == "raw":
                    dec = frames
                else:
                    p = TMP / f"inj_{enc}.mp4"
                    write_video(p, frames, fps, crf=enc, preset="veryfast")
                    dec = read_video(p, with_audio=False).frames
                snr, f0, corr = read_back(dec, fps)
                hit = abs(f0 - f_hz) <= 0.1
                out.append((r["label"], r["path"][:40], f_hz, a, enc, snr, f0, hit, corr))
                print(f"{r['label']} {r['path'][:40]:40s} f={f_hz:.2f} a={a:.4f} {str(enc):>3s} snr={snr:6.2f} "
                      f"f0={f0:.2f} hit={int(hit)} corr={corr:.2f}", flush=True)
    print("\nsummary: amplitude, encoding -> median SNR dB, peak within 0.1 Hz (fraction), median cross-region corr")
    for a in AMPS:
        for enc in ("raw", 12, 23):
            sel = [o for o in out if o[3] == a and o[4] == enc]
            print(f"a={a:.4f} {str(enc):>3s}: snr={np.median([o[5] for o in sel]):6.2f} "
                  f"hit={np.mean([o[7] for o in sel]):.2f} corr={np.median([o[8] for o in sel]):.2f} (n={len(sel)})")


if __name__ == "__main__":
    main()
