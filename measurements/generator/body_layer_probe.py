"""What a body layer could gain: each output's body replaced by the first frame's, moved by the driver's body motion.

    python measurements/generator/body_layer_probe.py RUN_DIR [--cache DIR]

An offline probe, not a renderer: per clip of a ``forgebench eval fidelity`` run (self-reenactment), the body
(the selfie-segmented person below the chin, plus 0.3 inter-ocular distances) of the real first frame is
tracked through the real clip as the camera stage tracks the background (LK corners inside the moved body
mask, a similarity per step, smoothed, chained; :func:`forgebench.generator.camera.track_step`), and the
first frame's body, moved so, is pasted over the output. The L1 before and after is printed per clip. The
driving clip is the real clip here: only its motion is used, as a reenactment would.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np


def body_chain(greys: list[np.ndarray], body: np.ndarray) -> list[np.ndarray]:
    """[T] 3x3 similarities taking the first frame's body to each frame's."""
    from forgebench.generator import camera as cam

    cfg = cam.CameraConfig()
    steps, chain, corners = [], np.eye(3), None
    for t in range(1, len(greys)):
        mask = cv2.erode(cv2.warpAffine(body * 255, chain[:2], body.shape[::-1], flags=cv2.INTER_NEAREST),
                         np.ones((5, 5), np.uint8))
        step, corners = cam.track_step(greys[t - 1], greys[t], mask, corners, cfg)
        steps.append(np.eye(2, 3) if step is None else step)
        chain = cam._hom(steps[-1]) @ chain
    chains, chain = [np.eye(3)], np.eye(3)
    if steps:
        for p in cam._smooth(np.stack([cam._params(m) for m in steps]), cfg.smooth_frames):
            chain = cam._hom(cam._matrix(p)) @ chain
            chains.append(chain)
    return chains


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
        real, gen = real[:t], gen[:t]
        h, w = real.shape[1:3]
        pts = track.landmarks[0][:, :2]
        eyes = fg.eye_centres(pts)
        iod = float(np.linalg.norm(eyes[1] - eyes[0]))
        down = (pts[152] - (eyes[0] + eyes[1]) / 2) / np.linalg.norm(pts[152] - (eyes[0] + eyes[1]) / 2)
        ys, xs = np.mgrid[0:h, 0:w]
        below = np.stack([xs, ys], -1) @ down > pts[152] @ down + 0.3 * iod
        body = ((seg(real[0]) > 0.5) & below).astype(np.uint8)
        base = float(np.abs(gen.astype(np.int16) - real).mean() / 255)
        if body.sum() < 500:
            rows.append({"clip": clip.name, "l1": base, "with_body": base})
            continue
        chains = body_chain([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in real], body)
        rgba = np.dstack([real[0], body * 255])
        pasted = []
        for k in range(t):
            moved = cv2.warpAffine(rgba, chains[k][:2], (w, h), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0, 0))
            a = moved[..., 3:].astype(np.float32) / 255
            pasted.append(np.round(a * moved[..., :3] + (1 - a) * gen[k]).astype(np.uint8))
        rows.append({"clip": clip.name, "l1": base,
                     "with_body": float(np.abs(np.stack(pasted).astype(np.int16) - real).mean() / 255)})
    table = pd.DataFrame(rows)
    print(table.round(4).to_string(index=False))
    print(table.mean(numeric_only=True).round(4).to_string())


if __name__ == "__main__":
    main()
