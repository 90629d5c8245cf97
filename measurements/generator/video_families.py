"""Evidence for the video-driven generator families (issue 14: reenactment and dubbing).

    python measurements/generator/video_families.py sheets   # contact sheets and mouth crops (look at them)
    python measurements/generator/video_families.py lipsync  # dub vs source mouth on the same new speech
    python measurements/generator/video_families.py speed    # bench reenact | dub at 256, 512 and real sizes

Reads the developers' validation set (DATA below; real people: outputs stay in OUT, never committed).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

DATA = Path("/work/shared/data")
OUT = Path("/work/scratch/reenact/measure")

DRIVERS = ["liveportrait_d6.mp4", "spectre_samples_MEAD_M003_level_1_happy_024.mp4"]
PORTRAITS = [None, "sadtalker_art_2.png"]  # None: the built-in public-domain portrait
SELF = "real3dportrait_May_5s.mp4"
DUB_SOURCES = [
    "sadtalker_test_examples_source_image_RD_Radio34_000.mp4",
    "mimictalk_data_raw_examples_Trump_10s.mp4",
    "real3dportrait_May_5s.mp4",
    "pcavs_Input_00098.mp4",
    "spectre_samples_MEAD_M024_level_2_surprised_010.mp4",
    "sadtalker_WDA_AlexandriaOcasioCortez_000.mp4",
]
SPEECHES = ["real3dportrait_Obama_5s.wav", "videoretalking_audio_1.wav", "sadtalker_RD_Radio31_000.wav"]
SPEECH_SECONDS = 6.0


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def picks(n: int, k: int = 8) -> np.ndarray:
    return np.linspace(0, n - 1, k).round().astype(int)


def tile(frames: list[np.ndarray], width: int = 192) -> np.ndarray:
    out = [cv2.resize(f, (width, round(f.shape[0] * width / f.shape[1])), interpolation=cv2.INTER_AREA)
           for f in frames]
    h = max(f.shape[0] for f in out)
    out = [np.pad(f, ((0, h - f.shape[0]), (0, 0), (0, 0))) for f in out]
    return np.concatenate(out, axis=1)


def sheets() -> None:
    from forgebench.generator.config import DubbingConfig, ReenactmentConfig
    from forgebench.generator.defaults import default_portrait
    from forgebench.generator.dub import DubbingPipeline
    from forgebench.generator.reenact import ReenactmentPipeline
    from forgebench.media.audio import load_audio
    from forgebench.media.image import load_image, save_image
    from forgebench.media.video import read_video

    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    for driver in DRIVERS:
        for portrait in PORTRAITS:
            image = default_portrait() if portrait is None else load_image(DATA / portrait)
            name = f"reenact_{Path(driver).stem[:20]}_{'builtin' if portrait is None else Path(portrait).stem}"
            log(f"reenact {name}")
            pipe = ReenactmentPipeline.from_config(ReenactmentConfig(size=512, max_seconds=8.0))
            res = pipe(image, DATA / driver, out=OUT / f"{name}.mp4")
            drv = read_video(DATA / driver, max_frames=res.n_frames, with_audio=False).frames
            fake = read_video(OUT / f"{name}.mp4", with_audio=False).frames
            idx = picks(len(fake))
            rows += [tile([drv[i] for i in idx]), tile([fake[i] for i in idx])]
            log(f"  {res.n_frames} frames; notes: {res.notes}")
    save_image(OUT / "sheet_reenactment.png", np.concatenate(rows, axis=0))

    log("self-reenactment (crop full, the first frame as the portrait)")
    real = read_video(DATA / SELF, with_audio=False).frames
    pipe = ReenactmentPipeline.from_config(ReenactmentConfig(crop="full"))
    pipe(real[0], DATA / SELF, out=OUT / "self_reenactment.mp4")
    fake = read_video(OUT / "self_reenactment.mp4", with_audio=False).frames
    idx = picks(len(fake))
    diff = [np.clip(4 * np.abs(real[i].astype(int) - fake[i].astype(int)), 0, 255).astype(np.uint8) for i in idx]
    save_image(OUT / "sheet_self_reenactment.png",
               np.concatenate([tile([real[i] for i in idx]), tile([fake[i] for i in idx]), tile(diff)], axis=0))
    l1 = [float(np.abs(real[i].astype(float) - fake[i]).mean() / 255) for i in range(len(fake))]
    log(f"  self-reenactment L1 (0-1 scale) mean {np.mean(l1):.4f}, max {np.max(l1):.4f}")

    for source, speech in (("mimictalk_data_raw_examples_Trump_10s.mp4", "real3dportrait_Obama_5s.wav"),
                           ("sadtalker_WDA_AlexandriaOcasioCortez_000.mp4", "videoretalking_audio_1.wav")):
        name = f"dub_{Path(source).stem[:24]}"
        log(f"dub {name}")
        audio = load_audio(DATA / speech)[: int(SPEECH_SECONDS * 16000)]
        res = DubbingPipeline.from_config(DubbingConfig())(DATA / source, audio, out=OUT / f"{name}.mp4")
        src = read_video(DATA / source, max_frames=int(res.frame_index.max()) + 1, with_audio=False).frames
        fake = read_video(OUT / f"{name}.mp4", with_audio=False).frames
        idx = picks(len(fake))
        save_image(OUT / f"sheet_{name}.png", np.concatenate(
            [tile([src[res.frame_index[i]] for i in idx]), tile([fake[i] for i in idx])], axis=0))
        save_image(OUT / f"mouths_{name}.png", mouth_crops(src, fake, res, idx))


def mouth_crops(src: np.ndarray, fake: np.ndarray, res, idx: np.ndarray) -> np.ndarray:
    """Original (top) and dubbed (bottom) mouth regions, cropped on the original frame's mesh."""
    tiles = []
    for k in idx:
        i = int(res.frame_index[k])
        lm = res.source.landmarks[i, :, :2]
        c = lm[[61, 291, 13, 14, 152]].mean(0)
        h = int(0.9 * np.linalg.norm(lm[33] - lm[263]))
        x0, y0 = max(int(c[0] - h), 0), max(int(c[1] - 0.8 * h), 0)

        box = (slice(y0, y0 + 2 * h), slice(x0, x0 + 2 * h))
        crops = [cv2.resize(f[box], (200, 200), interpolation=cv2.INTER_AREA) for f in (src[i], fake[k])]
        tiles.append(np.concatenate(crops, axis=0))
    return np.concatenate(tiles, axis=1)


def lipsync() -> None:
    """Mouth opening (analyzer) vs the new speech's log-RMS envelope: the dub and the source video's own mouth."""
    from forgebench.generator.config import DubbingConfig
    from forgebench.generator.dub import DubbingPipeline
    from forgebench.media.analyze import analyze_video
    from forgebench.media.audio import load_audio
    from forgebench.media.video import read_video
    from forgebench.metrics.lipsync import landmark_sync, speech_envelope

    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    for motion in ("procedural", "diffusion"):
        pipe = DubbingPipeline.from_config(DubbingConfig(motion=motion))
        for j, source in enumerate(DUB_SOURCES):
            speech_file = SPEECHES[j % len(SPEECHES)]
            audio = load_audio(DATA / speech_file)[: int(SPEECH_SECONDS * 16000)]
            out = OUT / f"lipsync_{motion}_{Path(source).stem[:24]}.mp4"
            log(f"{motion}: dub {source} with {speech_file}")
            res = pipe(DATA / source, audio, out=out)
            fps = res.fps
            dub = analyze_video(out)
            src_lm = res.source.landmarks[res.frame_index]
            own = read_video(DATA / source, max_frames=int(res.frame_index.max()) + 1)
            own_env_audio = own.audio if own.audio is not None else np.zeros(16000, np.float32)
            row = {"motion": motion, "source": source, "speech": speech_file, "fps": fps, "frames": res.n_frames,
                   "size": f"{res.size[0]}x{res.size[1]}", "pingpong": bool(res.frame_index.max() < res.n_frames - 1)}
            for who, lm, valid in (("dub", dub.landmarks, dub.valid),
                                   ("source", src_lm, res.source.valid[res.frame_index])):
                s = landmark_sync(lm, audio, 16000, fps, valid)
                row[f"{who}_r"], row[f"{who}_p"], row[f"{who}_lag"] = s["r"], s["p"], s["lag"]
            # The dub against the video's own (original) speech, under the frames it shows.
            env = speech_envelope(own_env_audio, 16000, fps, int(res.frame_index.max()) + 1)[res.frame_index]
            from forgebench.metrics.lipsync import lagged_pearson, mouth_opening

            row["dub_vs_original_r"] = float(lagged_pearson(mouth_opening(dub.landmarks), env).max())
            rows.append(row)
            log("  " + ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
    (OUT / "lipsync.json").write_text(json.dumps(rows, indent=1))
    print("| motion | source | new speech | dub r (p) | source r (p) | dub r vs its original speech |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['motion']} | {r['source'][:34]} ({r['size']}) | {r['speech'][:22]} | {r['dub_r']:.2f} "
              f"({r['dub_p']:.3f}) | {r['source_r']:.2f} ({r['source_p']:.2f}) | {r['dub_vs_original_r']:.2f} |")


def speed() -> None:
    from forgebench.generator.bench_video import run_video_bench

    OUT.mkdir(parents=True, exist_ok=True)
    runs = [("reenact", 256, None), ("reenact", 512, None), ("dub", 256, None), ("dub", 512, None),
            ("dub", 0, "sadtalker_test_examples_source_image_RD_Radio34_000.mp4"),
            ("dub", 0, "spectre_samples_MEAD_M024_level_2_surprised_010.mp4"),
            ("reenact", 256, "liveportrait_d6.mp4"), ("reenact", 512, "liveportrait_d6.mp4")]
    results = []
    for family, size, video in runs:
        log(f"bench {family} size={size} video={video}")
        res = run_video_bench(family, size or 256, 8.0, video=None if video is None else DATA / video)
        res.update(family=family, video=video or "built-in")
        results.append(res)
        log("  " + json.dumps({k: round(v, 1) if isinstance(v, float) else v for k, v in res.items()}))
    (OUT / "speed.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    {"sheets": sheets, "lipsync": lipsync, "speed": speed}[sys.argv[1]]()
