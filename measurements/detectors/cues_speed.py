"""Scoring speed of the cue detectors: frames per second end to end (decode + refined-mesh tracking + region colours
+ audio bands = the shared preprocessing, then each detector's features and model) on probe clips, one process.

    python measurements/detectors/cues_speed.py [N_CLIPS]
"""
import glob
import os
import sys
import time

import numpy as np

from forgebench.detectors.liveliness import liveliness_features
from forgebench.detectors.preprocess import PreprocessConfig, preprocess_clip
from forgebench.detectors.rppg import rppg_features
from forgebench.detectors.avsync import sync_features
from forgebench.detectors.dynamics import dynamics_features

n = int(sys.argv[1]) if len(sys.argv) > 1 else 8
clips = sorted(glob.glob("/work/scratch/cues/src/crf23/*/*.mp4"))[:: max(1, 70 // n)][:n]
cfg = PreprocessConfig(crop_size=128, n_frames=1, max_frames=125)
pre, pre_cpu, feats = [], [], {"liveliness": [], "rppg": [], "dynamics": [], "avsync": []}
frames = 0
load0 = os.getloadavg()[0]
for p in clips:
    t, c = time.perf_counter(), time.process_time()
    f = preprocess_clip(p, cfg)
    pre.append(time.perf_counter() - t)
    pre_cpu.append(time.process_time() - c)
    frames += len(f.valid)
    t = time.perf_counter(); tr = f.track(); track_s = time.perf_counter() - t
    t = time.perf_counter(); liveliness_features(tr); feats["liveliness"].append(time.perf_counter() - t + track_s)
    t = time.perf_counter(); rppg_features(f.regions, f.fps); feats["rppg"].append(time.perf_counter() - t)
    t = time.perf_counter(); dynamics_features(tr); feats["dynamics"].append(time.perf_counter() - t + track_s)
    t = time.perf_counter(); sync_features(tr.expr("jaw_open").astype(float), f.audio_bands.astype(float), 5)
    feats["avsync"].append(time.perf_counter() - t + track_s)
print(f"{len(clips)} clips, {frames} frames; load average {load0:.1f} -> {os.getloadavg()[0]:.1f} (2 cores)")
print(f"shared preprocessing: {frames / sum(pre):.0f} frames/s wall ({1000 * sum(pre) / frames:.1f} ms/frame), "
      f"{frames / sum(pre_cpu):.0f} frames/s of CPU time ({1000 * sum(pre_cpu) / frames:.1f} ms/frame)")
for k, v in feats.items():
    print(f"{k}: features {frames / sum(v):.0f} frames/s; end to end {frames / (sum(pre) + sum(v)):.0f} frames/s wall, "
          f"{frames / (sum(pre_cpu) + sum(v)):.0f} frames/s by CPU time")
