"""Real sources for the det8 corpus: the 10 real videos of /work/shared/data cut into 4 s segments,
re-encoded like the fakes (256x256, 25 fps, libx264 CRF 23), one folder per identity (GenericFolder layout:
real/<identity>/<segment>.mp4). Segments of one person share an identity (the three AOC clips are one)."""
from pathlib import Path
import numpy as np, cv2
from forgebench.media.video import read_video, write_video
from forgebench.media.face_mesh import FaceMeshTracker
D = Path("/work/shared/data"); OUT = Path("scratch/det8/src/real")
S, FPS, SEC, CRF = 256, 25.0, 4.0, 23
IDS = {"aoc": ["sadtalker_WDA_AlexandriaOcasioCortez_000.mp4", "vexpress_short_case_AOC_gt.mp4", "videoretalking_face_3.mp4"],
       "lp_d6": ["liveportrait_d6.mp4"], "lp_d20": ["liveportrait_d20.mp4"], "may": ["real3dportrait_May_5s.mp4"],
       "pcavs_a": ["pcavs_Audio_Source_00015.mp4"], "pcavs_i": ["pcavs_Input_00098.mp4"],
       "vr_face2": ["videoretalking_face_2.mp4"], "latentsync": ["latentsync_demo1_video.mp4"]}
def square_box(frame):
    h, w = frame.shape[:2]; m = min(h, w)
    if abs(h - w) < 0.1 * m:
        return (h - m) // 2, (w - m) // 2, m
    with FaceMeshTracker(video=False) as t:  # tall/wide frames: a square around the face
        pts = t(frame)
    cy, cx = (pts[:, 1].mean(), pts[:, 0].mean()) if pts is not None else (h / 2, w / 2)
    side = int(min(m, 3.0 * (pts[:, 0].max() - pts[:, 0].min()))) if pts is not None else m
    y = int(np.clip(cy - side / 2, 0, h - side)); x = int(np.clip(cx - side / 2, 0, w - side))
    return y, x, side
def write_segments(video, out_dir, stem_len):
    """``video`` as 4 s segments like the fakes (face square -> 256x256, 25 fps, CRF 23) in ``out_dir``; their paths."""
    clip = read_video(video)
    t = np.arange(0, len(clip.frames) / clip.fps, 1 / FPS)  # resample to 25 fps by nearest earlier frame
    idx = np.minimum((t * clip.fps + 1e-6).astype(int), len(clip.frames) - 1)
    y, x, side = square_box(clip.frames[0])
    frames = np.stack([cv2.resize(clip.frames[i][y:y+side, x:x+side], (S, S), interpolation=cv2.INTER_AREA) for i in idx])
    per, paths = int(SEC * FPS), []
    for j in range(len(frames) // per):
        a = None if clip.audio is None else clip.audio[int(j * SEC * 16000):int((j + 1) * SEC * 16000)]
        p = Path(out_dir) / f"{Path(video).stem[:stem_len]}_{j}.mp4"; p.parent.mkdir(parents=True, exist_ok=True)
        write_video(p, frames[j*per:(j+1)*per], FPS, audio=a, audio_rate=16000, crf=CRF, preset="veryfast")
        paths.append(p)
    return paths
if __name__ == "__main__":
    n = 0
    for ident, vids in IDS.items():
        for v in vids:
            for p in write_segments(D / v, OUT / ident, 24):
                n += 1; print(ident, p.name, flush=True)
    print("segments", n)
