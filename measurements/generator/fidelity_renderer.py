"""Paired fidelity of the renderer on the real clips of /work/shared/data (issue 14, items 3-4).

Runs the fidelity benchmark (``forgebench.benchmarks.fidelity_run``) with the self-reenact mode
rendered *in memory* by the renderer of whatever checkout is on PYTHONPATH, so that the renderer's
own fidelity is measured before and after a change (no H.264, no watermark: the product command
``forgebench eval fidelity`` scores the written files). Self-reenactment here: the crop's first frame
as the portrait, the crop's own track as the motion, transferred relative to frame 0 (for a
self-reenactment the reenact pipeline's retargeting reduces to this); ``--dense`` adds the tracked
mesh's per-vertex change that the seven expression coefficients do not explain.

    PYTHONPATH=/work/main python measurements/generator/fidelity_renderer.py --out scratch/fid/before
    PYTHONPATH=$PWD python measurements/generator/fidelity_renderer.py --out scratch/fid/after [--dense]

Options: ``--clips N`` (first N real clips), ``--max-seconds S``, ``--modes self-reenact,audio,still``,
``--no-layers``, ``--sets`` (also FID/FVD16). Real crops are cached under ``--cache`` (npz).
"""

from __future__ import annotations

import argparse
import csv
import inspect
import time
from pathlib import Path

import numpy as np

DATA = Path("/work/shared/data")
# People who appear in more than one clip (index.csv notes): bootstrap intervals resample people.
SAME_PERSON = {
    "sadtalker_WDA_AlexandriaOcasioCortez_000.mp4": "AOC", "vexpress_short_case_AOC_gt.mp4": "AOC",
    "videoretalking_face_3.mp4": "AOC",
    "spectre_samples_MEAD_M003_level_1_happy_024.mp4": "MEAD_M003",
    "spectre_samples_MEAD_M003_level_1_disgusted_015.mp4": "MEAD_M003",
}


def real_clips() -> list[Path]:
    with (DATA / "index.csv").open(newline="") as f:
        return [DATA / r["file"] for r in csv.DictReader(f) if r["kind"] == "real_video"]


def cached_prepare(cache: Path):
    from forgebench.benchmarks.fidelity import RealClip, prepare_real
    from forgebench.records import MotionTrack

    def prepare(path, clip_id, identity, size, max_seconds):
        f = cache / f"{clip_id}_{size}_{max_seconds:g}.npz"
        if f.is_file():
            d = np.load(f, allow_pickle=False)
            track = MotionTrack.load(f.with_suffix(".track.npz"))
            audio = d["audio"] if d["audio"].size else None
            return RealClip(clip_id, Path(path), identity, d["frames"], float(d["fps"]), audio,
                            tuple(int(v) for v in d["box"]), track)
        real = prepare_real(path, clip_id, identity, size, max_seconds)
        cache.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(f, frames=real.frames, fps=real.fps, box=np.array(real.box),
                            audio=real.audio if real.audio is not None else np.zeros(0, np.float32))
        real.track.save(f.with_suffix(".track.npz"))
        return real

    return prepare


def self_reenact_in_memory(dense: bool, layers: bool):
    """A generator for the benchmark: renderer-level self-reenactment, frames in memory."""
    from forgebench.generator.analyze import AnalyzerConfig, SourceAnalyzer
    from forgebench.generator.render.renderer import FaceRenderer, RendererConfig
    from forgebench.media import face_geometry as fg

    has_layers = "layers" in inspect.signature(RendererConfig).parameters

    def generate(real, out, config):
        source = SourceAnalyzer(AnalyzerConfig(size=config.size, crop="full"))(real.frames[0])
        renderer = FaceRenderer(source, RendererConfig(layers=layers) if has_layers else RendererConfig())
        p0, e0, g0 = renderer.source_state
        tr = real.track
        blinks = [4, 5]
        canon = fg.canonicalize(tr.landmarks, config.size, config.size)[0] if dense else None
        frames = []
        for t in range(tr.n_frames):
            pose = p0 + (tr.pose[t] - tr.pose[0])
            expr = e0 + (tr.expression[t] - tr.expression[0])
            # blinks: closure beyond frame 0's, from where the source's eye is (as the reenact retargeting)
            b0 = np.clip(tr.expression[0, blinks], 0, 0.99)
            expr[blinks] = e0[blinks] + (1 - e0[blinks]) * np.clip((tr.expression[t, blinks] - b0) / (1 - b0), 0, 1)
            gaze = g0 + (tr.gaze[t] - tr.gaze[0])
            if dense:
                from forgebench.generator.render.rig import dense_offsets

                offsets = dense_offsets(renderer.rig, canon[t] - canon[0], expr, gaze)
                frames.append(renderer.render(pose, expr, gaze, offsets=offsets))
            else:
                frames.append(renderer.render(pose, expr, gaze))
        return np.stack(frames)

    return generate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--cache", type=Path, default=Path("/work/scratch/fidelity/realcache"))
    ap.add_argument("--clips", type=int, default=0)
    ap.add_argument("--only", default="", help="comma-separated substrings of clip names")
    ap.add_argument("--max-seconds", type=float, default=10.0)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--modes", default="self-reenact,still")
    ap.add_argument("--dense", action="store_true")
    ap.add_argument("--no-layers", action="store_true")
    ap.add_argument("--sets", action="store_true", help="also FID and FVD16")
    ap.add_argument("--set-metrics", default="", help="set-level metrics to compute instead (e.g. fid)")
    ap.add_argument("--metrics", default="")
    args = ap.parse_args()

    from forgebench.benchmarks.fidelity import PAIRED, FidelityConfig
    from forgebench.benchmarks.fidelity_run import run_fidelity

    clips = real_clips()
    if args.only:
        clips = [c for c in clips if any(s in c.name for s in args.only.split(","))]
    if args.clips:
        clips = clips[: args.clips]
    metrics = tuple(args.metrics.split(",")) if args.metrics else tuple(m for m in PAIRED if m != "lpips")
    config = FidelityConfig(size=args.size, modes=tuple(args.modes.split(",")), max_seconds=args.max_seconds,
                            metrics=metrics, set_metrics=tuple(args.set_metrics.split(",")) if args.set_metrics
                            else ("fid", "fvd16") if args.sets else ())
    identities = {c.name: SAME_PERSON.get(c.name, c.stem) for c in clips}
    t0 = time.time()
    gens = {"self-reenact": self_reenact_in_memory(args.dense, not args.no_layers)}
    per_clip, results = run_fidelity(clips, args.out, config, identities=identities, generators=gens,
                                     prepare=cached_prepare(args.cache))
    print((args.out / "fidelity.md").read_text().split("**Per clip**")[0])
    print(f"{len(clips)} clips in {time.time() - t0:.0f} s; tables in {args.out}")


if __name__ == "__main__":
    main()
