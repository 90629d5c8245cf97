"""Break down per-frame preprocessing time: mesh graph, landmark extraction, align. Decode excluded."""
import time, sys, numpy as np, cv2, mediapipe as mp
from forgebench.media.video import iter_frames
from forgebench.detectors.preprocess import align_face
N = int(sys.argv[1]) if len(sys.argv) > 1 else 60
frames = []
for f in iter_frames('/work/shared/data/liveportrait_d6.mp4'):
    frames.append(np.ascontiguousarray(cv2.resize(f, (512, 512), interpolation=cv2.INTER_AREA)))
    if len(frames) >= N: break
def lm_list(face, w, h):
    pts = np.array([(p.x, p.y, p.z) for p in face.landmark], dtype=np.float32)
    return pts * np.array([w, h, w], np.float32)
def lm_bytes(face, w, h):
    b = face.SerializeToString()
    n = len(face.landmark)
    a = np.frombuffer(b, np.uint8)
    assert len(b) == 17 * n, (len(b), n)
    # each record: 0a 0f 0d xxxx 15 yyyy 1d zzzz
    v = a.reshape(n, 17)[:, [3,4,5,6,8,9,10,11,13,14,15,16]].copy().view('<f4')
    return v * np.array([w, h, w], np.float32)
def run(refine, extract):
    mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=1, refine_landmarks=refine,
                                           min_detection_confidence=0.5, min_tracking_confidence=0.5)
    mesh.process(frames[0])
    t = np.zeros(3)
    for f in frames:
        t0 = time.perf_counter(); r = mesh.process(f); t1 = time.perf_counter()
        pts = extract(r.multi_face_landmarks[0], 512, 512); t2 = time.perf_counter()
        align_face(f, pts, 256); t3 = time.perf_counter()
        t += [t1 - t0, t2 - t1, t3 - t2]
    mesh.close()
    t = t / len(frames) * 1e3
    print(f"refine={refine} extract={extract.__name__}: mesh {t[0]:.2f} ms, landmarks {t[1]:.3f} ms, align {t[2]:.3f} ms, total {t.sum():.2f} ms", flush=True)
    return pts
import subprocess; print(subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip())
a = run(True, lm_list); b = run(True, lm_bytes); print('bytes==list', np.allclose(a, b))
run(False, lm_list); c = run(False, lm_bytes)
run(True, lm_list); run(False, lm_bytes)
print(subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip())
