"""MediaPipe's plain face-landmark network, tracked frame to frame without the MediaPipe graph.

Why: in video mode the legacy MediaPipe graph costs 5.5-6.7 ms per 512x512 frame here, while the
landmark network inside it runs in under 2 ms; the rest is the graph's scheduling, image and
tensor conversions and protobuf output. This tracker runs the same network
(``modules/face_landmark/face_landmark.tflite`` from the mediapipe wheel) with Google's LiteRT
interpreter (``ai-edge-litert``) and follows the graph's own tracking rules, read from
MediaPipe's ``FaceLandmarkCpu`` and ``FaceLandmarkLandmarksToRoi`` subgraphs:

* the region of interest for frame t comes from the landmarks of frame t-1: their bounding box,
  rotated so that the line from point 33 to point 263 (the outer eye corners) is level, squared
  on its long side and scaled by 1.5;
* the network's input is that rotated square, warped to 192x192 (bilinear, border
  replicated) and scaled to [0, 1] (``ImageToTensorCalculator``);
* landmarks are the network's output / 192, rotated and scaled back into the region
  (``TensorsToLandmarksCalculator`` + ``LandmarkProjectionCalculator``; z scales like x);
* the face is present while the sigmoid of the network's second output is at least
  ``min_confidence``; when it drops, that frame has no face and the next one re-acquires.

Acquisition (the first frame, and after a loss) runs MediaPipe's graph itself in static-image
mode: its face detector, then the same landmark network. Only the 468-point model is supported:
the attention model (irises, ``refine_landmarks=True``) needs a custom operator that only
MediaPipe's runtime has, so that one stays on :class:`~forgebench.media.face_mesh.FaceMeshTracker`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from forgebench.errors import InputError
from forgebench.media.face_mesh import N_POINTS_PLAIN, FaceMeshTracker
from forgebench.quiet import held_stderr

LANDMARK_MODEL = "modules/face_landmark/face_landmark.tflite"
INPUT_SIZE = 192
ROI_SCALE = 1.5
EYE_OUTER_LEFT, EYE_OUTER_RIGHT = 33, 263


def wheel_model_path(relative: str, what: str) -> Path:
    """A network shipped inside the mediapipe wheel (``relative`` to its package), or one line naming the fix."""
    import importlib.util

    spec = importlib.util.find_spec("mediapipe")  # finds the wheel without importing it
    folders = list(spec.submodule_search_locations or []) if spec else []
    path = Path(folders[0] if folders else ".") / relative
    if not path.is_file():
        raise InputError(f"mediapipe's {what} model is missing ({path}): reinstall mediapipe==0.10.21")
    return path


def litert_interpreter(path: Path, threads: int, who: str):
    """A LiteRT interpreter on ``path`` with its tensors allocated; a missing runtime is one line naming ``who``."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise InputError(f"{who} needs ai-edge-litert, which is not installed: "
                         "pip install ai-edge-litert==2.3.0 (no wheel exists for Intel Macs)") from None
    if threads < 1:
        raise InputError(f"threads must be at least 1, got {threads}")
    with held_stderr():  # LiteRT prints "INFO: Created TensorFlow Lite XNNPACK delegate" to descriptor 2
        net = Interpreter(model_path=str(path), num_threads=threads)
        net.allocate_tensors()
    return net


def landmark_model_path() -> Path:
    """The plain face-landmark network shipped inside the mediapipe wheel."""
    return wheel_model_path(LANDMARK_MODEL, "face landmark")


@dataclass(frozen=True)
class Roi:
    """A rotated rectangle in normalised image coordinates (MediaPipe's ``NormalizedRect``)."""

    x_center: float
    y_center: float
    width: float
    height: float
    rotation: float  # radians


def normalize_radians(angle: float) -> float:
    """``angle`` wrapped into [-pi, pi), as MediaPipe's ``NormalizeRadians``."""
    return angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))


def roi_from_landmarks(norm_points: np.ndarray, width: int, height: int) -> Roi:
    """The next frame's region from this frame's normalised landmarks [N, >=2]."""
    lo = norm_points[:, :2].min(0)
    hi = norm_points[:, :2].max(0)
    x0, y0 = norm_points[EYE_OUTER_LEFT, 0] * width, norm_points[EYE_OUTER_LEFT, 1] * height
    x1, y1 = norm_points[EYE_OUTER_RIGHT, 0] * width, norm_points[EYE_OUTER_RIGHT, 1] * height
    rotation = normalize_radians(-math.atan2(-(y1 - y0), x1 - x0))
    long_side = max((hi[0] - lo[0]) * width, (hi[1] - lo[1]) * height)
    return Roi(float(lo[0] + hi[0]) / 2, float(lo[1] + hi[1]) / 2,
               long_side / width * ROI_SCALE, long_side / height * ROI_SCALE, rotation)


def roi_to_input_matrix(roi: Roi, width: int, height: int) -> np.ndarray:
    """2x3 affine matrix taking the region (in pixels) onto the 192x192 network input.

    MediaPipe builds it from the rotated rectangle's four corners (``cv2.boxPoints``) with a
    perspective fit; a rotated rectangle onto a square is affine, so in closed form it is
    ``q = 192 * (diag(1/w, 1/h) R(-rotation) (p - centre) + 1/2)`` with w, h the region's sides in pixels.
    (``warpAffine`` is also 3-4x faster than ``warpPerspective`` here: 1.2 ms for 192x192.)
    """
    c, s = math.cos(roi.rotation), math.sin(roi.rotation)
    sx, sy = INPUT_SIZE / (roi.width * width), INPUT_SIZE / (roi.height * height)
    a = np.array([[c * sx, s * sx], [-s * sy, c * sy]])
    centre = np.array([roi.x_center * width, roi.y_center * height])
    return np.concatenate([a, (INPUT_SIZE / 2 - a @ centre)[:, None]], 1)


def projection_matrix(roi: Roi, width: int, height: int) -> np.ndarray:
    """4x3 matrix taking network output rows (x, y, z, 1) in 192-pixel units to image pixels (x, y, z).

    MediaPipe's ``TensorsToLandmarks`` (divide by 192) then ``LandmarkProjection`` (centre, rotate,
    scale by the region's normalised size, z like x), folded into one product and scaled to pixels.
    """
    c, s = math.cos(roi.rotation), math.sin(roi.rotation)
    w, h = roi.width * width, roi.height * height  # the region's sides in pixels
    k = 1.0 / INPUT_SIZE
    lin = np.array([[c * w * k, -s * w * k, 0.0],
                    [s * h * k, c * h * k, 0.0],
                    [0.0, 0.0, w * k]])
    offset = np.array([roi.x_center * width - 0.5 * (c * w - s * w),
                       roi.y_center * height - 0.5 * (s * h + c * h), 0.0])
    return np.concatenate([lin.T, offset[None]], 0)


def project_landmarks(raw: np.ndarray, roi: Roi, width: int, height: int) -> np.ndarray:
    """Network output [N*3] (192-pixel units) -> landmarks [N, 3] in image pixels (z scaled like x)."""
    m = projection_matrix(roi, width, height)
    pts = raw.reshape(-1, 3).astype(np.float32) @ m[:3].astype(np.float32)
    pts += m[3].astype(np.float32)
    return pts


class LiteFaceMeshTracker:
    """468 face landmarks per video frame, in pixels, from MediaPipe's network run by LiteRT.

    The same interface as ``FaceMeshTracker(video=True, max_faces=1, refine_landmarks=False)``:
    call it on consecutive RGB frames; it returns [468, 3] points (x, y, depth scaled like x) of
    the tracked face, or None. ``threads`` is the interpreter's thread count (1: one core per
    worker, as the corpus and preprocessing workers run).
    """

    n_points = N_POINTS_PLAIN
    refine_landmarks = False

    def __init__(self, min_confidence: float = 0.5, threads: int = 1) -> None:
        self._net = litert_interpreter(landmark_model_path(), threads, "the crop detectors' face tracker")
        self.min_confidence = min_confidence
        self._input = self._net.get_input_details()[0]["index"]
        self._tensor = np.zeros((1, INPUT_SIZE, INPUT_SIZE, 3), np.float32)
        outputs = {int(np.prod(d["shape"])): d["index"] for d in self._net.get_output_details()}
        self._landmarks_out, self._presence_out = outputs[N_POINTS_PLAIN * 3], outputs[1]
        self._acquire = FaceMeshTracker(video=False, max_faces=1, min_confidence=min_confidence,
                                        refine_landmarks=False)
        self._previous: np.ndarray | None = None  # normalised landmarks of the last frame with a face
        self._first_invoke = True

    def reset(self) -> None:
        """Forget the tracked face (the next frame is acquired by detection)."""
        self._previous = None

    def __call__(self, rgb: np.ndarray) -> np.ndarray | None:
        import cv2

        height, width = rgb.shape[:2]
        scale = np.array([width, height, width], np.float32)
        if self._previous is None:
            points = self._acquire(rgb)
            if points is not None:
                self._previous = points / scale
            return points
        roi = roi_from_landmarks(self._previous, width, height)
        crop = cv2.warpAffine(rgb, roi_to_input_matrix(roi, width, height), (INPUT_SIZE, INPUT_SIZE),
                              flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        np.multiply(crop, np.float32(1.0 / 255.0), out=self._tensor[0])
        self._net.set_tensor(self._input, self._tensor)
        if self._first_invoke:
            with held_stderr():
                self._net.invoke()
            self._first_invoke = False
        else:
            self._net.invoke()
        logit = float(self._net.get_tensor(self._presence_out).reshape(-1)[0])
        if 0.5 * (1.0 + math.tanh(logit / 2)) < self.min_confidence:  # the sigmoid, without overflow
            self._previous = None  # as the graph: no face on this frame, detection on the next
            return None
        points = project_landmarks(self._net.get_tensor(self._landmarks_out), roi, width, height)
        self._previous = points / scale
        return points

    def close(self) -> None:
        self._acquire.close()

    def __enter__(self) -> LiteFaceMeshTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
