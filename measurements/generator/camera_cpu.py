"""CPU ms per frame of the driver-camera estimate and of the render with and without it (self-reenactment at 256²).

    python measurements/generator/camera_cpu.py REAL_CLIP.mp4
"""

from __future__ import annotations

import sys
import time

import cv2
import numpy as np

from forgebench.generator.camera import estimate_camera
from forgebench.generator.config import ReenactmentConfig
from forgebench.generator.reenact import ReenactmentPipeline
from forgebench.generator.render.renderer import FaceRenderer
from forgebench.media.video import read_video


def main() -> None:
    cv2.setNumThreads(1)
    video = read_video(sys.argv[1], with_audio=False)
    frames = np.stack([cv2.resize(f, (256, 256), interpolation=cv2.INTER_AREA) for f in video.frames[:100]])
    pipe = ReenactmentPipeline.from_config(ReenactmentConfig(size=256, crop="full"))
    res = pipe(frames[0], frames, fps=video.fps)  # tracked and retargeted only
    drv = res.driver
    for _ in range(2):
        c0 = time.process_time()
        cam = estimate_camera(frames, (256, 256), drv.landmarks, drv.valid)
        print(f"estimate_camera: {(time.process_time() - c0) / len(frames) * 1000:.2f} ms CPU/frame")
    renderer = FaceRenderer(pipe.analyzer(frames[0]))
    track = res.track
    for _ in range(2):
        for use in (False, True):
            c0 = time.process_time()
            for t in range(track.n_frames):
                renderer.render(track.pose[t], track.expression[t], track.gaze[t], camera=cam[t] if use else None)
            print(f"render camera={use}: {(time.process_time() - c0) / track.n_frames * 1000:.2f} ms CPU/frame")
    scale = np.hypot(cam[:, 0, 0], cam[:, 1, 0])
    print(f"largest translation {np.abs(cam[:, :, 2]).max():.1f} px, scale {scale.min():.3f}-{scale.max():.3f}")


if __name__ == "__main__":
    main()
