"""Where a self-reenactment's L1 lies: face, hair, body and background of each real clip's first frame.

    python measurements/generator/l1_regions.py RUN_DIR [--cache DIR]

``RUN_DIR`` is a ``forgebench eval fidelity`` output (its ``clips/<clip>/self-reenact.mp4``); the real crops
come from the cache of ``fidelity_renderer.py``. Regions of the first real frame: the face oval's hull; the
person (MediaPipe selfie segmentation) below the chin (body) and elsewhere (hair); the rest (background).
Each region's share is its summed per-pixel error over the frame's pixel count, so the four add up to the L1.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np


def main() -> None:
    import pandas as pd

    from forgebench.media import face_geometry as fg
    from forgebench.media.segmentation import SelfieSegmenter
    from forgebench.media.video import read_video
    from forgebench.records import MotionTrack

    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path)
    ap.add_argument("--cache", type=Path, default=Path("/work/scratch/fidelity/realcache"))
    args = ap.parse_args()
    seg, rows = SelfieSegmenter(), []
    for clip in sorted((args.run / "clips").iterdir()):
        cached = args.cache / f"{clip.name}_256_4.npz"
        if not cached.is_file():
            continue
        real = np.load(cached)["frames"]
        track = MotionTrack.load(cached.with_suffix(".track.npz"))
        gen = read_video(clip / "self-reenact.mp4", with_audio=False).frames
        t = min(len(gen), len(real))
        err = (np.abs(gen[:t].astype(np.int16) - real[:t]).mean(-1) / 255).mean(0)
        h, w = err.shape
        pts = track.landmarks[0][:, :2]
        face = np.zeros((h, w), np.uint8)
        cv2.fillConvexPoly(face, cv2.convexHull(np.round(pts[list(fg.FACE_OVAL)]).astype(np.int32)), 1)
        face = face > 0
        person = seg(real[0]) > 0.5
        below = np.mgrid[0:h, 0:w][0] > pts[152, 1]
        regions = {"face": face, "hair": person & ~face & ~below, "body": person & ~face & below,
                   "background": ~person & ~face}
        rows.append({"clip": clip.name, "l1": err.mean(), **{k: err[m].sum() / err.size for k, m in regions.items()}})
    table = pd.DataFrame(rows)
    print(table.round(4).to_string(index=False))
    print(table.mean(numeric_only=True).round(4).to_string())


if __name__ == "__main__":
    main()
