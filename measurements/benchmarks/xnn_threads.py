import sys, time, numpy as np
import mediapipe.python.solution_base as sb
from mediapipe.python.solutions import face_mesh
from mediapipe.calculators.tensor import inference_calculator_pb2 as icp
from forgebench.media.video import iter_frames
import cv2
THREADS = int(sys.argv[2])
orig = sb.SolutionBase._modify_calculator_options
def patched(self, cfg, params):
    for n in cfg.node:
        if n.calculator.startswith("InferenceCalculator") and n.HasField("options"):
            n.options.Extensions[icp.InferenceCalculatorOptions.ext].delegate.xnnpack.num_threads = THREADS
    return orig(self, cfg, params)
sb.SolutionBase._modify_calculator_options = patched
frames = []
for f in iter_frames(sys.argv[1]):
    frames.append(cv2.resize(f, (512, 512), interpolation=cv2.INTER_AREA))
    if len(frames) >= 150: break
fm = face_mesh.FaceMesh(static_image_mode=False, refine_landmarks=False)
ts = []
for f in frames:
    t = time.perf_counter(); r = fm.process(f); ts.append(time.perf_counter() - t)
print(THREADS, "threads: mean %.2f ms, median %.2f ms" % (np.mean(ts[10:]) * 1e3, np.median(ts[10:]) * 1e3))
