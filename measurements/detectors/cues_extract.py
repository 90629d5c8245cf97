"""Per-frame signals of the probe clips (scratch/cues/src/<variant>/...): refined-mesh landmarks, mean RGB of the
skin and background regions (forgebench.media.face_regions), background motion in two fixed boxes beside the
face (phase correlation between consecutive frames) and audio band energies. One .npz per clip in
scratch/cues/feat/<variant>/.

    python measurements/detectors/cues_extract.py crf23 crf12
"""
import csv
import sys
from pathlib import Path

import cv2
import numpy as np

from forgebench.detectors.preprocess import audio_band_energies
from forgebench.media.face_mesh import FaceMeshTracker
from forgebench.media.face_regions import background_boxes, region_means
from forgebench.media.video import read_video

SRC, FEAT = Path("/work/scratch/cues/src"), Path("/work/scratch/cues/feat")


def background_motion(frames, boxes):
    """[T, B, 3]: (dx, dy, response) of each fixed box between frame t-1 and t (row 0 zero)."""
    out = np.zeros((len(frames), len(boxes), 3))
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float32) for f in frames]
    for b, (x0, y0, x1, y1) in enumerate(boxes):
        if x1 - x0 < 8 or y1 - y0 < 8:
            out[:, b] = np.nan
            continue
        win = cv2.createHanningWindow((x1 - x0, y1 - y0), cv2.CV_32F)
        for t in range(1, len(frames)):
            (dx, dy), r = cv2.phaseCorrelate(gray[t - 1][y0:y1, x0:x1], gray[t][y0:y1, x0:x1], win)
            out[t, b] = dx, dy, r
    return out


def main():
    for variant in sys.argv[1:]:
        rows = list(csv.DictReader(open(SRC / "index.csv")))
        for r in rows:
            out = FEAT / variant / (r["path"].replace("/", "__")[:-4] + ".npz")
            if out.is_file():
                continue
            clip = read_video(SRC / variant / r["path"])
            pts, valid = [], []
            with FaceMeshTracker(video=True, refine_landmarks=True) as tr:
                for f in clip.frames:
                    p = tr(f)
                    valid.append(p is not None)
                    pts.append(p if p is not None else np.zeros((478, 3), np.float32))
            pts, valid = np.stack(pts), np.array(valid)
            regions = np.full((len(pts), 7, 3), np.nan)
            for t in np.flatnonzero(valid):
                regions[t] = region_means(clip.frames[t], pts[t])
            h, w = clip.frames.shape[1:3]
            med = np.median(pts[valid], 0) if valid.any() else pts[0]
            boxes = background_boxes(med, w, h)
            bgm = background_motion(clip.frames, boxes)
            bands = audio_band_energies(clip.audio, 16000, clip.fps, len(pts))
            out.parent.mkdir(parents=True, exist_ok=True)
            np.savez(out, landmarks=pts, valid=valid, regions=regions, bgmotion=bgm, bands=bands, fps=clip.fps,
                     width=w, height=h, has_audio=clip.audio is not None)
            print(variant, r["path"], int(valid.sum()), len(valid), flush=True)


if __name__ == "__main__":
    main()
