"""``meso4`` and ``mesoinception4``: Afchar et al., "MesoNet" (WIFS 2018), in PyTorch.

The layer plan follows the paper (and its reference Keras code): four conv blocks of 8, 8, 16,
16 channels (3x3 then 5x5 kernels, batch norm, max-pooling 2, 2, 2, 4), then dropout, a
16-unit dense layer with LeakyReLU(0.1), dropout and one logit. MesoInception4 replaces the
first two blocks by inception modules with dilated 3x3 branches. The paper uses 256x256 crops;
the flatten size is computed from ``crop_size`` so smaller crops work too.
"""

from __future__ import annotations

from typing import Any, ClassVar

from forgebench.detectors.base import register_detector
from forgebench.detectors.neural import TRAIN_PARAMS, TorchFrameDetector


def _conv_block(cin: int, cout: int, kernel: int, pool: int):
    import torch.nn as nn

    return nn.Sequential(nn.Conv2d(cin, cout, kernel, padding=kernel // 2), nn.ReLU(inplace=True),
                         nn.BatchNorm2d(cout), nn.MaxPool2d(pool, pool))


def _head(n_in: int):
    import torch.nn as nn

    return nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(n_in, 16), nn.LeakyReLU(0.1), nn.Dropout(0.5),
                         nn.Linear(16, 1))


def _flat_size(features, size: int) -> int:
    import torch

    with torch.no_grad():
        return int(features(torch.zeros(1, 3, size, size)).numel())


def build_meso4(size: int):
    import torch.nn as nn

    features = nn.Sequential(_conv_block(3, 8, 3, 2), _conv_block(8, 8, 5, 2), _conv_block(8, 16, 5, 2),
                             _conv_block(16, 16, 5, 4))
    return nn.Sequential(features, _head(_flat_size(features, size)))


def _inception(cin: int, a: int, b: int, c: int, d: int):
    import torch
    import torch.nn as nn

    class Inception(nn.Module):
        """Four branches: 1x1; 1x1 -> 3x3; 1x1 -> 3x3 dilation 2; 1x1 -> 3x3 dilation 3; concat, BN, pool 2."""

        def __init__(self) -> None:
            super().__init__()
            self.b1 = nn.Conv2d(cin, a, 1)
            self.b2 = nn.Sequential(nn.Conv2d(cin, b, 1), nn.ReLU(inplace=True), nn.Conv2d(b, b, 3, padding=1))
            self.b3 = nn.Sequential(nn.Conv2d(cin, c, 1), nn.ReLU(inplace=True),
                                    nn.Conv2d(c, c, 3, padding=2, dilation=2))
            self.b4 = nn.Sequential(nn.Conv2d(cin, d, 1), nn.ReLU(inplace=True),
                                    nn.Conv2d(d, d, 3, padding=3, dilation=3))
            self.post = nn.Sequential(nn.ReLU(inplace=True), nn.BatchNorm2d(a + b + c + d), nn.MaxPool2d(2, 2))

        def forward(self, x):
            return self.post(torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], dim=1))

    return Inception()


def build_mesoinception4(size: int):
    import torch.nn as nn

    features = nn.Sequential(_inception(3, 1, 4, 4, 2), _inception(11, 2, 4, 4, 2), _conv_block(12, 16, 5, 2),
                             _conv_block(16, 16, 5, 4))
    return nn.Sequential(features, _head(_flat_size(features, size)))


@register_detector("meso4")
class Meso4Detector(TorchFrameDetector):
    """Meso4 trained from scratch on aligned face crops."""

    param_defaults: ClassVar[dict[str, Any]] = dict(TRAIN_PARAMS)

    def build_model(self):
        return build_meso4(self.params["crop_size"])


@register_detector("mesoinception4")
class MesoInception4Detector(TorchFrameDetector):
    """MesoInception4 trained from scratch on aligned face crops."""

    param_defaults: ClassVar[dict[str, Any]] = dict(TRAIN_PARAMS)

    def build_model(self):
        return build_mesoinception4(self.params["crop_size"])
