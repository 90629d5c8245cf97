"""Frozen pretrained networks that turn face crops (or clips of them) into feature vectors.

Each backbone names its exact network and weights (``network``), the layers it can return
(``layers``: name -> width) and the crop side it reads (``input_size``). Frame backbones map
``uint8 [N, S, S, 3]`` RGB crops to ``{layer: float32 [N, D]}``; the clip backbone (I3D) maps
``uint8 [B, T, S, S, 3]`` windows to ``{layer: float32 [B, D]}``. Spatial (and, for I3D,
temporal) maps are averaged, as pytorch-fid averages the Inception blocks it returns.

* ``inception``: pytorch-fid's FID InceptionV3 (TF 2015-12-05 ImageNet weights), loaded from the
  weights registry exactly as the FID metric loads it (:mod:`forgebench.metrics.inception`), with
  pytorch-fid's preprocessing; any block from ``maxpool2`` (192) to ``pool3`` (2048, FID's features).
* ``i3d``: Inception-I3D, Kinetics-400 RGB (:mod:`forgebench.metrics.i3d`, the FVD network), input in
  [-1, 1]; ``mixed_3c`` (480), ``mixed_4f`` (832), ``mixed_5c`` (1024).
* ``dlib_face``: dlib's ResNet face recogniser (128-d, ``face-recognition-models`` wheel) on the
  5-point face chip dlib itself makes (``get_face_chip``, 150 px, padding 0.25), as
  ``compute_face_descriptor(image, shape)`` does.
* ``facemesh``, ``face_detector``, ``selfie``: MediaPipe's own TFLite networks from the mediapipe
  wheel (the 468-point face-landmark network the crop detectors' tracker runs, BlazeFace short range,
  the selfie segmenter), run by LiteRT with ``experimental_preserve_all_tensors`` so that any
  intermediate tensor can be read; layers are the TFLite tensor names.

Weights come only from the weights registry (Inception, I3D) or from installed wheels; a missing
file is a one-line :class:`~forgebench.errors.WeightsUnavailableError` naming the fetch command,
never a substituted network.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import ClassVar

import numpy as np

from forgebench.errors import InputError


class Backbone:
    """A frozen network; subclasses set the class attributes and implement :meth:`forward`."""

    name: ClassVar[str] = ""
    temporal: ClassVar[bool] = False  # True: input [B, T, S, S, 3] windows (I3D)
    layers: ClassVar[dict[str, int]] = {}  # layer -> feature width
    input_size: ClassVar[int] = 224
    uses_registry_weights: ClassVar[bool] = False

    fixed_size: ClassVar[bool] = False  # True: the graph accepts only ``input_size`` (the TFLite networks)

    def __init__(self, weights: str = "", device: str = "cpu", batch_size: int = 32, input_size: int = 0) -> None:
        self.weights, self.device, self.batch_size = weights, device, batch_size
        cls = type(self)
        if input_size and input_size != cls.input_size and cls.fixed_size:
            raise InputError(f"the {cls.name} network takes {cls.input_size}x{cls.input_size} inputs only, "
                             f"not {input_size}")
        if input_size and not 32 <= input_size <= 1024:
            raise InputError(f"input_size must be between 32 and 1024, got {input_size}")
        self.input_size = input_size or cls.input_size  # the side crops are made at (and resized to)
        self.network = ""  # set by load(): the exact network and weights version

    def check_layers(self, layers: tuple[str, ...]) -> None:
        bad = [x for x in layers if x not in self.layers]
        if bad:
            raise InputError(f"backbone {self.name} has no layer {bad[0]!r} (known: {', '.join(self.layers)})")

    def __call__(self, x: np.ndarray, layers: tuple[str, ...]) -> dict[str, np.ndarray]:
        """uint8 crops [N, S, S, 3] (or windows [B, T, S, S, 3]) -> {layer: float32 [N, D]}, in batches."""
        self.check_layers(layers)
        x = np.asarray(x)
        want = 5 if self.temporal else 4
        if x.ndim != want or x.shape[-1] != 3:
            shape = "windows [B, T, S, S, 3]" if self.temporal else "crops [N, S, S, 3]"
            raise InputError(f"{self.name} needs uint8 RGB {shape}, got shape {x.shape}")
        if len(x) == 0:
            return {k: np.zeros((0, self.layers[k]), np.float32) for k in layers}
        parts = [self.forward(x[i:i + self.batch_size], layers) for i in range(0, len(x), self.batch_size)]
        return {k: np.concatenate([p[k] for p in parts]).astype(np.float32) for k in layers}

    def forward(self, x: np.ndarray, layers: tuple[str, ...]) -> dict[str, np.ndarray]:
        raise NotImplementedError


def _torch_device(device: str):
    import torch

    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise InputError("--device cuda was asked for but no CUDA GPU is available: use --device cpu")
    return torch.device(device)


def _weights_digest(name: str) -> str:
    from forgebench.weights.registry import cached_sha256, require_weights

    return cached_sha256(require_weights(name))[:16]


# --------------------------------------------------------------------------- Inception-v3 (FID)

# pytorch-fid's InceptionV3 blocks, flattened: the names of torchvision's Inception3 attributes.
INCEPTION_MODULES = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
                     "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
                     "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c", "avgpool")


class InceptionBackbone(Backbone):
    """pytorch-fid's FID InceptionV3; a layer's feature is its activation map averaged over space.

    Crops are resized to ``input_size`` (pytorch-fid's 299 by default); a smaller ``input_size`` (at least 75)
    runs the same fully convolutional network on smaller crops.
    """

    name = "inception"
    layers = {"maxpool2": 192, "mixed_5d": 288, "mixed_6a": 768, "mixed_6e": 768, "mixed_7a": 1280, "pool3": 2048}
    input_size = 299
    uses_registry_weights = True
    _OUTPUT = {"maxpool2": "maxpool2", "mixed_5d": "Mixed_5d", "mixed_6a": "Mixed_6a", "mixed_6e": "Mixed_6e",
               "mixed_7a": "Mixed_7a", "pool3": "avgpool"}

    def load(self, model=None) -> InceptionBackbone:
        """Load the registry weights (``model``: an already built pytorch-fid InceptionV3, for tests)."""
        import torch

        from forgebench.metrics.inception import fold_batchnorm, load_fid_inception

        if model is None:
            model, network = load_fid_inception(self.weights or "fid_inception")
            self.network = f"{network}; sha256 {_weights_digest(self.weights or 'fid_inception')}"
        else:
            self.network = "pytorch-fid InceptionV3 (weights given by the caller)"
        net = fold_batchnorm(model)  # same maths as conv -> eval BN, float32 rounding only
        modules = [m for block in net.blocks for m in block]
        if len(modules) != len(INCEPTION_MODULES):
            raise InputError(f"unexpected pytorch-fid InceptionV3 layout ({len(modules)} modules)")
        self.modules = list(zip(INCEPTION_MODULES, modules))
        self.dev = _torch_device(self.device)
        for _, m in self.modules:
            m.to(self.dev).to(memory_format=torch.channels_last)  # 20-25% faster convolutions on CPU
        return self

    def preprocess(self, crops: np.ndarray):
        """pytorch-fid's steps: uint8 -> [0, 1] -> bilinear resize to 299 (align_corners False) -> 2x - 1."""
        import torch

        x = torch.from_numpy(np.ascontiguousarray(crops)).to(self.dev).permute(0, 3, 1, 2).float().div_(255.0)
        if x.shape[-2:] != (self.input_size, self.input_size):
            x = torch.nn.functional.interpolate(x, size=(self.input_size,) * 2, mode="bilinear", align_corners=False)
        return (2 * x - 1).contiguous(memory_format=torch.channels_last)

    def forward(self, x: np.ndarray, layers: tuple[str, ...]) -> dict[str, np.ndarray]:
        import torch

        wanted = {self._OUTPUT[k]: k for k in layers}
        out: dict[str, np.ndarray] = {}
        with torch.inference_mode():
            h = self.preprocess(x)
            for mname, module in self.modules:
                h = module(h)
                if mname in wanted:
                    out[wanted[mname]] = h.mean(dim=(2, 3)).float().cpu().numpy()
                if len(out) == len(wanted):
                    break
        return out


# --------------------------------------------------------------------------- I3D (FVD)


class I3DBackbone(Backbone):
    """Inception-I3D Kinetics-400; a layer's feature is its activation averaged over time and space."""

    name = "i3d"
    temporal = True
    layers = {"mixed_3c": 480, "mixed_4f": 832, "mixed_5c": 1024}
    input_size = 224
    uses_registry_weights = True

    def load(self, model=None) -> I3DBackbone:
        from forgebench.metrics.i3d import NETWORK, WEIGHTS_NAME, load_i3d
        from forgebench.weights.registry import require_weights

        name = self.weights or WEIGHTS_NAME
        if model is None:
            model = load_i3d(require_weights(name))
            self.network = f"{NETWORK}; sha256 {_weights_digest(name)}"
        else:
            self.network = "InceptionI3d (weights given by the caller)"
        self.dev = _torch_device(self.device)
        self.model = model.eval().to(self.dev)
        return self

    def forward(self, x: np.ndarray, layers: tuple[str, ...]) -> dict[str, np.ndarray]:
        import torch

        wanted = {k.capitalize(): k for k in layers}  # mixed_3c -> Mixed_3c
        out: dict[str, np.ndarray] = {}
        with torch.inference_mode():
            v = torch.from_numpy(np.ascontiguousarray(x)).to(self.dev).permute(0, 4, 1, 2, 3).float()
            v = v / 127.5 - 1.0  # [B, 3, T, S, S] in [-1, 1]
            for mname, h in self.model.stages(v):
                if mname in wanted:
                    out[wanted[mname]] = h.mean(dim=(2, 3, 4)).float().cpu().numpy()
                if len(out) == len(wanted):
                    break
        return out


# --------------------------------------------------------------------------- dlib face recogniser

# dlib's face box in a crop aligned to forgebench's template (preprocess.TEMPLATE), as fractions of the crop
# side: the median over 510 frames (every 5th tracked frame of the first 4 s of the 26 real clips of
# /work/shared/data) of identity.rect_from_landmarks, which imitates dlib's HOG box, on the landmarks mapped
# into the aligned crop (10th-90th percentiles: left 0.13-0.25, top 0.21-0.25). dlib's 5-point shape predictor
# then places the points itself, so the box only has to be close.
DLIB_RECT = (0.176, 0.23, 0.82, 0.883)  # left, top, right, bottom


class DlibFaceBackbone(Backbone):
    """dlib_face_recognition_resnet_model_v1 on dlib's own 150 px chip of the aligned crop (128-d, unit norm)."""

    name = "dlib_face"
    layers = {"embedding": 128}
    input_size = 256

    def load(self, model=None) -> DlibFaceBackbone:
        from forgebench.metrics.identity import NETWORK, dlib_models

        if self.device != "cpu":
            raise InputError("the dlib face backbone runs on the CPU only: use --device cpu")
        _, self.predictor, self.facerec = dlib_models()
        self.network = NETWORK
        return self

    def shapes(self, crops: np.ndarray) -> list:
        """dlib's 5-point shape of each crop, placed by its predictor inside :data:`DLIB_RECT`."""
        import dlib

        s = crops.shape[1]
        rect = dlib.rectangle(*(int(round(f * s)) for f in DLIB_RECT))
        return [self.predictor(np.ascontiguousarray(c), rect) for c in crops]

    def forward(self, x: np.ndarray, layers: tuple[str, ...]) -> dict[str, np.ndarray]:
        import dlib

        imgs = [np.ascontiguousarray(c, dtype=np.uint8) for c in x]
        chips = [dlib.get_face_chip(im, sh, size=150, padding=0.25) for im, sh in zip(imgs, self.shapes(x))]
        desc = self.facerec.compute_face_descriptor(chips)  # batched over chips: the same network call
        return {"embedding": np.asarray([np.asarray(d) for d in desc], np.float32)}


# --------------------------------------------------------------------------- MediaPipe TFLite networks


def mediapipe_model(member: str) -> Path:
    path = Path(str(importlib.resources.files("mediapipe") / member))
    if not path.is_file():
        raise InputError(f"mediapipe's {member} is missing ({path}): reinstall mediapipe==0.10.21")
    return path


class TFLiteBackbone(Backbone):
    """A MediaPipe TFLite network read with every intermediate tensor preserved; layers are tensor names."""

    model_member: ClassVar[str] = ""
    fixed_size = True
    input_range: ClassVar[tuple[float, float]] = (0.0, 1.0)

    def load(self, model=None) -> TFLiteBackbone:
        import warnings

        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise InputError("MediaPipe's networks need ai-edge-litert: pip install ai-edge-litert==2.3.0") from None
        if self.device != "cpu":
            raise InputError(f"the {self.name} backbone (LiteRT) runs on the CPU only: use --device cpu")
        path = mediapipe_model(self.model_member)
        with warnings.catch_warnings():  # LiteRT warns that preserving tensors costs memory: a few MB here
            warnings.simplefilter("ignore", UserWarning)
            self.net = Interpreter(model_path=str(path), num_threads=1, experimental_preserve_all_tensors=True)
        self.net.allocate_tensors()
        self.input_index = self.net.get_input_details()[0]["index"]
        self.tensor_index = {d["name"]: d["index"] for d in self.net.get_tensor_details()}
        import mediapipe

        self.network = f"mediapipe {mediapipe.__version__} {self.model_member}"
        return self

    def forward(self, x: np.ndarray, layers: tuple[str, ...]) -> dict[str, np.ndarray]:
        lo, hi = self.input_range
        out: dict[str, list[np.ndarray]] = {k: [] for k in layers}
        for crop in x:  # the TFLite graphs have batch size 1
            t = crop[None].astype(np.float32) * np.float32((hi - lo) / 255.0) + np.float32(lo)
            self.net.set_tensor(self.input_index, t)
            self.net.invoke()
            for k in layers:
                out[k].append(self.net.get_tensor(self.tensor_index[k]).mean(axis=(0, 1, 2)))
        return {k: np.stack(v) for k, v in out.items()}


class FaceMeshBackbone(TFLiteBackbone):
    """MediaPipe's 468-point face-landmark network (the crop detectors' tracker): residual stages 24 -> 3 px."""

    name = "facemesh"
    model_member = "modules/face_landmark/face_landmark.tflite"
    layers = {"p_re_lu_9": 64, "p_re_lu_12": 128, "p_re_lu_15": 128, "p_re_lu_17": 128}
    input_size = 192


class FaceDetectorBackbone(TFLiteBackbone):
    """MediaPipe's BlazeFace short-range face detector; input in [-1, 1]."""

    name = "face_detector"
    model_member = "modules/face_detection/face_detection_short_range.tflite"
    layers = {"activation_11": 88, "activation_16": 96}
    input_size = 128
    input_range = (-1.0, 1.0)


class SelfieBackbone(TFLiteBackbone):
    """MediaPipe's selfie (person) segmenter: encoder bottleneck and decoder stage."""

    name = "selfie"
    model_member = "modules/selfie_segmentation/selfie_segmentation.tflite"
    layers = {"re_lu_12": 128, "add_6__xeno_compat__1": 24}
    input_size = 256


BACKBONES: dict[str, type[Backbone]] = {b.name: b for b in (InceptionBackbone, I3DBackbone, DlibFaceBackbone,
                                                             FaceMeshBackbone, FaceDetectorBackbone, SelfieBackbone)}


def get_backbone(name: str) -> type[Backbone]:
    if name not in BACKBONES:
        raise InputError(f"unknown backbone {name!r} (known: {', '.join(BACKBONES)})")
    return BACKBONES[name]


_LOADED: dict[tuple[str, str, str, int, int, str], Backbone] = {}


def load_backbone(name: str, weights: str = "", device: str = "cpu", batch_size: int = 32, input_size: int = 0
                  ) -> Backbone:
    """A loaded backbone, shared per process (a detector's clones and folds do not reload 90 MB).

    A missing or corrupt registry file raises WeightsUnavailableError naming the command that fixes it.
    """
    from forgebench.paths import forgebench_home

    key = (name, weights, device, batch_size, input_size, str(forgebench_home()))
    if key not in _LOADED:
        _LOADED[key] = get_backbone(name)(weights=weights, device=device, batch_size=batch_size,
                                          input_size=input_size).load()
    return _LOADED[key]


__all__ = ["BACKBONES", "Backbone", "get_backbone", "load_backbone"]
