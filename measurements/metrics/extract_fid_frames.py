"""1,000 real and 1,000 generated frames as 256x256 PNG for the FID speed run (centre square crop, area resize).

real: 100 evenly spaced frames from each of the 10 real clips in /work/shared/data;
generated: evenly spaced frames from the clips in scratch/metrics4/gen (1,000 in total).
Run: .venv/bin/python measurements/metrics/extract_fid_frames.py
"""
import csv
from pathlib import Path
import numpy as np
import cv2
from forgebench.media.video import read_video

D = Path("/work/shared/data")
HERE = Path(__file__).parent
N, SIZE = 1000, 256

def square(f: np.ndarray) -> np.ndarray:
    h, w = f.shape[:2]
    s = min(h, w)
    f = f[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    return cv2.resize(f, (SIZE, SIZE), interpolation=cv2.INTER_AREA if s > SIZE else cv2.INTER_CUBIC)

def dump(videos: list[Path], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    per = [N // len(videos) + (i < N % len(videos)) for i in range(len(videos))]
    k = 0
    for v, n in zip(videos, per):
        frames = read_video(v, with_audio=False).frames
        for i in np.linspace(0, len(frames) - 1, n).round().astype(int):
            cv2.imwrite(str(out / f"{k:05d}.png"), square(frames[i])[:, :, ::-1])
            k += 1
    print(out, k)

real = [D / r["file"] for r in csv.DictReader(open(D / "index.csv")) if r["kind"] == "real_video"]
dump(real, HERE / "fid_frames" / "real")
dump(sorted((HERE / "gen").glob("*.mp4")), HERE / "fid_frames" / "gen")
