"""Landmarks of LiteFaceMeshTracker vs MediaPipe's graph (video mode, plain mesh) on the same frames.

Usage: lite_vs_graph.py [SIZE] VIDEO...   Prints per clip: frames, faces found by each, mean / p99 / max
point distance in pixels, as a fraction of the inter-ocular distance, and the aligned-crop difference."""
import sys
import numpy as np, cv2
from forgebench.media.video import iter_frames
from forgebench.media.face_mesh import FaceMeshTracker
from forgebench.media.face_mesh_lite import LiteFaceMeshTracker
from forgebench.detectors.preprocess import align_face
args = sys.argv[1:]
size = int(args.pop(0)) if args[0].isdigit() else 512
for video in args:
    frames = [np.ascontiguousarray(cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA)) if size else f
              for f, _ in zip(iter_frames(video), range(250))]
    with FaceMeshTracker(video=True, max_faces=1, refine_landmarks=False) as g, LiteFaceMeshTracker() as l:
        a = [g(f) for f in frames]; b = [l(f) for f in frames]
    both = [(x, y, f) for x, y, f in zip(a, b, frames) if x is not None and y is not None]
    d = np.concatenate([np.linalg.norm(x[:, :2] - y[:, :2], axis=1) for x, y, _ in both])
    iod = np.mean([np.linalg.norm(x[33, :2] - x[263, :2]) for x, _, _ in both])
    crop = np.mean([np.abs(align_face(f, x, 256).astype(float) - align_face(f, y, 256)).mean() for x, y, f in both])
    print(f"{video.split('/')[-1]}: {len(frames)} frames, faces graph {sum(x is not None for x in a)} lite "
          f"{sum(y is not None for y in b)}; point distance px mean {d.mean():.3f} p99 {np.percentile(d, 99):.3f} "
          f"max {d.max():.3f}; eye-corner distance {iod:.1f} px (mean {d.mean() / iod:.4f} of it); "
          f"crop |diff| {crop:.3f} / 255", flush=True)
