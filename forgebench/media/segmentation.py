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
    from forgebench.media.face_mesh_lite import wheel_model_path

    return wheel_model_path(SELFIE_MODEL, "selfie segmentation")


class SelfieSegmenter:
    """``SelfieSegmenter()(rgb) -> [H, W] float32`` person probability of an RGB uint8 image."""

    def __init__(self, threads: int = 1) -> None:
        from forgebench.media.face_mesh_lite import litert_interpreter

        self._net = litert_interpreter(selfie_model_path(), threads, "person segmentation")
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
