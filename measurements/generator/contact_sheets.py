"""Contact sheets (8 frames) of self-reenactment and audio-driven regeneration of real clips.

For each clip: the real crop, its self-reenactment and its audio-driven regeneration from the first
frame, 8 evenly spaced frames each, rendered in memory by the renderer of whatever checkout is on
PYTHONPATH (run it once per checkout and compare). Frames of real people: the sheets stay in
/work/scratch, never in the repository.

    PYTHONPATH=BEFORE_CHECKOUT python measurements/generator/contact_sheets.py --out DIR/before CLIP...
    PYTHONPATH=$PWD python measurements/generator/contact_sheets.py --out DIR/after CLIP...
"""

from __future__ import annotations

import argparse
import inspect
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fidelity_renderer import cached_prepare, self_reenact_in_memory  # noqa: E402


def audio_in_memory(real, size: int, seed: int = 0) -> np.ndarray:
    """The audio-driven generator's motion and renderer, frames in memory (first frame + the clip's speech)."""
    from forgebench.generator.analyze import AnalyzerConfig, SourceAnalyzer
    from forgebench.generator.audio_features import extract_audio_features
    from forgebench.generator.motion import motion_registry
    from forgebench.generator.motion.base import SourceState
    from forgebench.generator.render.renderer import FaceRenderer

    source = SourceAnalyzer(AnalyzerConfig(size=size, crop="full"))(real.frames[0])
    renderer = FaceRenderer(source)
    state = SourceState(pose=source.face.pose, expression=source.face.expression, gaze=source.face.gaze)
    track = motion_registry.build("procedural").generate(extract_audio_features(real.audio, real.fps), state, seed)
    return np.stack([renderer.render(track.pose[t], track.expression[t], track.gaze[t])
                     for t in range(min(track.n_frames, len(real.frames)))])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("clips", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--cache", type=Path, default=Path("/work/scratch/fidelity/realcache"))
    ap.add_argument("--max-seconds", type=float, default=5.0)
    args = ap.parse_args()

    from forgebench.benchmarks.fidelity import FidelityConfig
    from forgebench.generator.render.renderer import FaceRenderer, contact_sheet
    from forgebench.media.image import save_image

    dense = "offsets" in inspect.signature(FaceRenderer.render).parameters
    prepare = cached_prepare(args.cache)
    config = FidelityConfig(size=256, modes=("self-reenact",), max_seconds=args.max_seconds)
    args.out.mkdir(parents=True, exist_ok=True)
    for clip in args.clips:
        real = prepare(clip, clip.stem, clip.stem, 256, args.max_seconds)
        gen = self_reenact_in_memory(dense, True)(real, None, config)
        rows = [real.frames, gen]
        if real.audio is not None:
            rows.append(audio_in_memory(real, 256))
        n = min(len(r) for r in rows)
        idx = np.linspace(1, n - 1, 8).round().astype(int)
        sheet = np.concatenate([contact_sheet([r[i] for i in idx], columns=8, width=160) for r in rows])
        save_image(args.out / f"{clip.stem}.png", sheet)
        print(args.out / f"{clip.stem}.png")


if __name__ == "__main__":
    main()
