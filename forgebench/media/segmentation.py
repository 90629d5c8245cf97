"""Person segmentation with MediaPipe's selfie-segmentation network, run by LiteRT (no graph).

The network (``modules/selfie_segmentation/selfie_segmentation.tflite``, the general 256x256 model)
ships inside the mediapipe wheel, as the face-landmark network does; it is loaded the same way as
:mod:`forgebench.media.face_mesh_lite` loads that one: a LiteRT interpreter on the wheel's file.
Pre- and post-processing follow MediaPipe's ``SelfieSegmentationCpu`` graph:

* ``ImageToTensorCalculator``: the whole image resized to 256x256 (``keep_aspect_ratio: false``),
  RGB scaled to [0, 1];
* the network's output is already a probability (``TensorsToSegmentationCalculator`` with
  ``activation: NONE``), resized back to the image size (bilinear).

The renderer segments each source portrait once, to keep the background still and move the
hair with the head.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from forgebench.errors import InputError

SELFIE_MODEL = "modules/selfie_segmentation/selfie_segmentation.tflite"
INPUT_SIZE = 256


def selfie_model_path() -> Path:
    """The general selfie-segmentation network shipped inside the mediapipe wheel."""
    import importlib.resources

    path = Path(str(importlib.resources.files("mediapipe") / SELFIE_MODEL))
    if not path.is_file():
        raise InputError(f"mediapipe's selfie segmentation model is missing ({path}): reinstall mediapipe==0.10.21")
    return path


class SelfieSegmenter:
    """``SelfieSegmenter()(rgb) -> [H, W] float32`` person probability of an RGB uint8 image."""

    def __init__(self, threads: int = 1) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise InputError("person segmentation needs ai-edge-litert, which is not installed: "
                             "pip install ai-edge-litert==2.3.0 (no wheel exists for Intel Macs)") from None
        if threads < 1:
            raise InputError(f"threads must be at least 1, got {threads}")
        self._net = Interpreter(model_path=str(selfie_model_path()), num_threads=threads)
        self._net.allocate_tensors()
        self._input = self._net.get_input_details()[0]["index"]
        self._output = self._net.get_output_details()[0]["index"]

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        import cv2

        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise InputError(f"segmentation needs an RGB image [H, W, 3], got shape {rgb.shape}")
        height, width = rgb.shape[:2]
        small = cv2.resize(rgb, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_LINEAR)
        self._net.set_tensor(self._input, (small[None].astype(np.float32) / 255.0))
        self._net.invoke()
        mask = self._net.get_tensor(self._output).reshape(INPUT_SIZE, INPUT_SIZE)
        return np.clip(cv2.resize(mask, (width, height), interpolation=cv2.INTER_LINEAR), 0.0, 1.0)


def segment_person(rgb: np.ndarray) -> np.ndarray:
    """[H, W] float32 person probability of one image (loads the network for this call)."""
    return SelfieSegmenter()(rgb)
