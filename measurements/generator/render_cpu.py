"""Renderer cost in CPU time per frame (one thread), for before/after comparisons on a shared machine.

Wall-clock figures from ``forgebench bench generate`` swing by 2x on the shared 2-core VM when other jobs
run; the CPU time a single-threaded render takes moves much less. The built-in portrait, procedural
motion from 10 s of speech-like audio, rendered at each size; prints ms of CPU per frame (median of
``--repeats``), with the load average.

    PYTHONPATH=BEFORE_CHECKOUT python measurements/generator/render_cpu.py
    PYTHONPATH=$PWD python measurements/generator/render_cpu.py
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="256,512")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    import cv2

    from forgebench.generator.analyze import AnalyzerConfig, SourceAnalyzer
    from forgebench.generator.audio_features import extract_audio_features
    from forgebench.generator.defaults import default_portrait
    from forgebench.generator.motion import motion_registry
    from forgebench.generator.motion.base import SourceState
    from forgebench.generator.render.renderer import FaceRenderer
    from forgebench.media.synthetic import speech_like

    cv2.setNumThreads(1)
    for size in (int(s) for s in args.sizes.split(",")):
        source = SourceAnalyzer(AnalyzerConfig(size=size))(default_portrait())
        t0 = time.process_time()
        renderer = FaceRenderer(source)
        setup = time.process_time() - t0
        state = SourceState(pose=source.face.pose, expression=source.face.expression, gaze=source.face.gaze)
        track = motion_registry.build("procedural").generate(extract_audio_features(speech_like(args.seconds), 25.0),
                                                              state, 0)
        runs = []
        for _ in range(args.repeats):
            c0 = time.process_time()
            for t in range(track.n_frames):
                renderer.render(track.pose[t], track.expression[t], track.gaze[t])
            runs.append((time.process_time() - c0) / track.n_frames * 1000)
        print(f"{size}x{size}: render {np.median(runs):.2f} ms CPU/frame (runs {', '.join(f'{r:.2f}' for r in runs)}), "
              f"setup {setup * 1000:.0f} ms CPU, load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
