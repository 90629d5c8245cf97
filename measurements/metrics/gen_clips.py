"""Generate 12 forgebench clips (256x256, 5-8 s) from shared portraits / real first frames and shared speech.

Run: .venv/bin/python measurements/metrics/gen_clips.py   (sequential, one process; skips clips already written)
"""
import subprocess, sys, time
from pathlib import Path
import numpy as np
from PIL import Image
D = Path("/work/shared/data")
OUT = Path(__file__).parent / "gen"
POR = Path(__file__).parent / "portraits"
OUT.mkdir(exist_ok=True); POR.mkdir(exist_ok=True)
sys.path.insert(0, "/work/main")
from forgebench.media.video import read_video

def first_frame(name: str) -> Path:
    p = POR / (Path(name).stem + "_f0.png")
    if not p.exists():
        Image.fromarray(read_video(D / name, max_frames=1, with_audio=False).frames[0]).save(p)
    return p

JOBS = [  # (portrait, audio, motion)
    (D / "sadtalker_art_2.png", D / "sadtalker_RD_Radio31_000.wav", "procedural"),
    (D / "sadtalker_happy.png", D / "real3dportrait_Obama_5s.wav", "diffusion"),
    (D / "sadtalker_full_body_2.png", D / "videoretalking_audio_1.wav", "procedural"),
    (first_frame("sadtalker_WDA_AlexandriaOcasioCortez_000.mp4"), D / "real3dportrait_Obama_5s.wav", "diffusion"),
    (first_frame("liveportrait_d6.mp4"), D / "sadtalker_RD_Radio31_000.wav", "procedural"),
    (first_frame("liveportrait_d20.mp4"), D / "videoretalking_audio_1.wav", "diffusion"),
    (first_frame("real3dportrait_May_5s.mp4"), D / "pcavs_Audio_Source_00015.mp4", "procedural"),
    (first_frame("pcavs_Audio_Source_00015.mp4"), D / "liveportrait_d20.mp4", "diffusion"),
    (first_frame("pcavs_Input_00098.mp4"), D / "real3dportrait_May_5s.mp4", "procedural"),
    (first_frame("videoretalking_face_2.mp4"), D / "sadtalker_WDA_AlexandriaOcasioCortez_000.mp4", "diffusion"),
    (first_frame("latentsync_demo1_video.mp4"), D / "videoretalking_face_2.mp4", "procedural"),
    (first_frame("vexpress_short_case_AOC_gt.mp4"), D / "sadtalker_RD_Radio31_000.wav", "diffusion"),
]
for k, (img, wav, motion) in enumerate(JOBS):
    out = OUT / f"g{k:02d}_{img.stem[:20]}__{wav.stem[:20]}_{motion[:4]}.mp4"
    if out.exists():
        continue
    t0 = time.perf_counter()
    r = subprocess.run(["/work/main/.venv/bin/forgebench", "generate", "--image", str(img), "--audio", str(wav),
                        "--motion", motion, "--size", "256", "--seed", str(k), "-q", "--threads", "1", "-o", str(out)],
                       capture_output=True, text=True)
    print(k, out.name, r.returncode, f"{time.perf_counter() - t0:.1f}s", (r.stdout.strip().splitlines() or [""])[-1],
          (r.stderr.strip().splitlines() or [""])[-1] if r.returncode else "", flush=True)
