"""Probe clips for the cue measurements (issue 13, item 4): every real and fake video of /work/shared/data,
face-centred (one fixed square per clip, 1.8x the tracked face width, centred on the median face centre),
resized to 256x256, resampled to 25 fps, cut into segments of SEC seconds (at most MAX_SEG per video), encoded
with libx264 at CRF 23 (the training/test setting) and, for the compression measurement, at CRF 12 ("hq").

Writes scratch/cues/src/{crf23,crf12}/<label>/<stem>_<k>.mp4 and scratch/cues/src/index.csv
(path, label, generator, identity, source). These clips are for measuring cues only, never for training.

    python measurements/detectors/cues_sources.py [OUT]
"""
import csv
import sys
from pathlib import Path

import cv2
import numpy as np

from forgebench.media.face_mesh_lite import LiteFaceMeshTracker
from forgebench.media.video import read_video, write_video

D = Path("/work/shared/data")
OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/scratch/cues/src")
S, FPS, SEC, MAX_SEG, FACE_SCALE = 256, 25.0, 5.0, 3, 1.8
# people who appear in more than one file (same identity for grouped statistics)
SAME = {"vexpress_short_case_AOC_gt": "aoc", "videoretalking_face_3": "aoc",
        "sadtalker_WDA_AlexandriaOcasioCortez_000": "aoc",
        "spectre_samples_MEAD_M003_level_1_happy_024": "mead_m003",
        "spectre_samples_MEAD_M003_level_1_disgusted_015": "mead_m003"}


def face_square(frames: list[np.ndarray]) -> tuple[int, int, int]:
    """(top, left, side) of one fixed square: 1.8x the median face width around the median face centre."""
    centres, widths = [], []
    with LiteFaceMeshTracker() as tracker:
        for f in frames[:: max(1, len(frames) // 50)]:
            pts = tracker(f)
            if pts is not None:
                centres.append(pts[:, :2].mean(0))
                widths.append(pts[:, 0].max() - pts[:, 0].min())
    h, w = frames[0].shape[:2]
    if not centres:
        side = min(h, w)
        return (h - side) // 2, (w - side) // 2, side
    cx, cy = np.median(centres, 0)
    side = int(min(min(h, w), FACE_SCALE * np.median(widths)))
    top = int(np.clip(cy - side / 2, 0, h - side))
    left = int(np.clip(cx - side / 2, 0, w - side))
    return top, left, side


def main() -> None:
    rows = []
    index = list(csv.DictReader(open(D / "index.csv")))
    for r in index:
        if r["kind"] not in ("real_video", "fake_video"):
            continue
        stem = Path(r["file"]).stem
        label = "fake" if r["kind"] == "fake_video" else "real"
        clip = read_video(D / r["file"], max_frames=int(float(r["fps"]) * SEC * MAX_SEG) + 2)
        top, left, side = face_square(list(clip.frames))
        t = np.arange(0, len(clip.frames) / clip.fps, 1 / FPS)
        idx = np.minimum((t * clip.fps + 1e-6).astype(int), len(clip.frames) - 1)
        frames = np.stack([cv2.resize(clip.frames[i][top:top + side, left:left + side], (S, S),
                                      interpolation=cv2.INTER_AREA if side > S else cv2.INTER_LINEAR) for i in idx])
        per = int(SEC * FPS)
        n_seg = max(1, min(MAX_SEG, len(frames) // per))
        for k in range(n_seg):
            seg = frames[k * per:(k + 1) * per]
            if len(seg) < 4 * FPS:
                continue
            audio = None if clip.audio is None else clip.audio[int(k * SEC * 16000):int((k + 1) * SEC * 16000)]
            for crf, name in ((23, "crf23"), (12, "crf12")):
                p = OUT / name / label / f"{stem[:60]}_{k}.mp4"
                p.parent.mkdir(parents=True, exist_ok=True)
                write_video(p, seg, FPS, audio=audio, audio_rate=16000, crf=crf, preset="veryfast")
            rows.append({"path": f"{label}/{stem[:60]}_{k}.mp4", "label": label, "generator": r["generator"],
                         "identity": SAME.get(stem, stem), "source": r["file"], "seconds": len(seg) / FPS})
            print(label, r["generator"] or "-", stem[:60], k, f"side={side}", flush=True)
    with open(OUT / "index.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print("segments", len(rows))


if __name__ == "__main__":
    main()
