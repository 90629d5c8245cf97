"""Paired fidelity of self-reenactment with parts of the driver's camera turned off (issue 14).

Runs the product's reenactment pipeline (watermarked H.264, scored from the file, as ``forgebench eval
fidelity``) with a :class:`~forgebench.generator.camera.CameraConfig` changed, so each part of the camera
stage is measured by leaving it out:

    python measurements/generator/camera_ablation.py --out scratch/abl/no_exposure --set exposure=false
    python measurements/generator/camera_ablation.py --out scratch/abl/no_trust --set trust=false
    python measurements/generator/fidelity_table.py camera=P no_exposure=scratch/abl/no_exposure

``trust=false`` follows the measured motion everywhere. Real crops are cached like
``fidelity_renderer.py``'s (``--cache``).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from fidelity_renderer import SAME_PERSON, cached_prepare, real_clips


def _value(text: str) -> object:
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    return float(text) if "." in text or "-" in text else int(text)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--cache", type=Path, default=Path("/work/scratch/fidelity/realcache"))
    ap.add_argument("--max-seconds", type=float, default=4.0)
    ap.add_argument("--set", action="append", default=[], help="CameraConfig field=value (repeatable)")
    ap.add_argument("--metrics", default="l1,psnr,akd,aed")
    args = ap.parse_args()

    from forgebench.benchmarks.fidelity import FidelityConfig
    from forgebench.benchmarks.fidelity_run import run_fidelity
    from forgebench.generator.camera import CameraConfig
    from forgebench.generator.config import ReenactmentConfig
    from forgebench.generator.reenact import ReenactmentPipeline
    from forgebench.media.video import read_video

    changes = dict(kv.split("=", 1) for kv in args.set)
    camera = dataclasses.replace(CameraConfig(), **{k: _value(v) for k, v in changes.items()})

    def regenerate(real, out, config):
        pipe = ReenactmentPipeline.from_config(ReenactmentConfig(size=config.size, crop="full", crf=config.crf))
        pipe.camera_config = camera
        pipe(real.frames[0], real.frames, fps=real.fps, audio=real.audio, out=out,
             image_name=f"the first frame of {real.path.name}", driving_name=real.path.name)
        return read_video(out, with_audio=False).frames

    clips = real_clips()
    config = FidelityConfig(size=256, modes=("self-reenact",), max_seconds=args.max_seconds,
                            metrics=tuple(args.metrics.split(",")), set_metrics=())
    t0 = time.time()
    run_fidelity(clips, args.out, config, identities={c.name: SAME_PERSON.get(c.name, c.stem) for c in clips},
                 generators={"self-reenact": regenerate}, prepare=cached_prepare(args.cache))
    print(f"{camera}: {len(clips)} clips in {time.time() - t0:.0f} s; tables in {args.out}")


if __name__ == "__main__":
    main()
