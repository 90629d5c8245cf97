import time, sys, numpy as np, cv2
from forgebench.media.video import read_video
from forgebench.media.face_mesh import FaceMeshTracker
frames = read_video(sys.argv[1])
frames = [np.ascontiguousarray(f) for f in (frames.frames if hasattr(frames, "frames") else frames)][:150]
print(frames[0].shape)
res = {}
for side in (None, 320, 256):
    tr = FaceMeshTracker(video=True, refine_landmarks=False)
    pts, ts = [], []
    for f in frames:
        t = time.perf_counter()
        g = f if side is None else cv2.resize(f, (side, side), interpolation=cv2.INTER_AREA)
        p = tr(g)
        ts.append(time.perf_counter() - t)
        pts.append(p[:, :2] * (f.shape[1] / g.shape[1]) if p is not None else None)
    tr.close()
    res[side] = pts
    print(side, "median ms", np.median(ts[10:]) * 1e3)
for side in (320, 256):
    d = [np.linalg.norm(a - b, axis=1).mean() for a, b in zip(res[None], res[side]) if a is not None and b is not None]
    iod = np.median([np.linalg.norm(a[33] - a[263]) for a in res[None] if a is not None])
    print(side, "mean landmark shift px", np.mean(d), "IOD", iod)
