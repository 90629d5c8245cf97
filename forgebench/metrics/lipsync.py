"""LSE-C / LSE-D: SyncNet lip-sync confidence and distance, batched.

The computation is syncnet-python's ``SyncNetInstance.evaluate`` (joonson/syncnet_python),
kept number for number on the same crops and audio:

* video: 224x224 face crops at 25 fps, BGR, float 0..255, windows of 5 frames
  ``[i, i+5)`` for ``i < min_len - 5``, ``min_len = min(T, floor(n_samples / 640))``;
* audio: MFCC (``python_speech_features.mfcc``, defaults: 13 coefficients, 100 Hz) of the
  int16 16 kHz waveform; the window of video window ``i`` is MFCC columns ``[4i, 4i+20)``;
* distances: for each video window and each offset ``k in [-15, 15]`` the Euclidean
  distance (``pairwise_distance``, eps 1e-6) to the audio window ``i + k`` (zero
  embedding outside), averaged over time -> ``mdist`` [31];
  **LSE-D** = ``min(mdist)``, **LSE-C** = ``median(mdist) - min(mdist)``, AV offset =
  ``15 - argmin``.

What is faster than the reference (the numbers are the same): the lip stream's 3D
convolutions all have a temporal extent of 1 after the first layer, and the first one
spans exactly the 5 input frames, so the stream is run as an equivalent 2D network on
``[N, 15, 224, 224]`` windows with BatchNorm folded into the convolutions (oneDNN's 2D
kernels are much faster than its 3D ones on CPU); both streams run channels-last with each
max-pool moved before the ReLU it follows (exactly equal, and the ReLU touches a 4x smaller
map); windows are gathered in uint8; and all offsets' distances come from one tensor
expression instead of a Python loop. Published real talking-head videos
score roughly LSE-C 7-8 and LSE-D 6.5-7.5 with the standard ``syncnet_v2`` weights.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from forgebench.errors import InputError, WeightsUnavailableError
from forgebench.metrics.base import Clip, register_metric
from forgebench.metrics.perclip import PerClipMean

SYNCNET_FPS = 25
AUDIO_RATE = 16000
VSHIFT = 15
WEIGHTS_NAME = "syncnet_v2"
NETWORK = "syncnet_python.SyncNetModel.S + syncnet_v2.model (joonson/syncnet_python)"


@dataclass
class SyncScores:
    """One clip's SyncNet result: LSE-C, LSE-D, AV offset (frames) and the per-offset mean distances [31]."""

    lse_c: float
    lse_d: float
    offset: int
    mdist: np.ndarray
    n_windows: int


# -- network --------------------------------------------------------------------------------------------------------


def _fold_bn(conv: nn.Module, bn: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight and bias of ``bn(conv(x))`` as one layer (eval-mode BatchNorm)."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    w = conv.weight * scale.reshape(-1, *([1] * (conv.weight.dim() - 1)))
    b = (conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)) - bn.running_mean
    return w, b * scale + bn.bias


def _hw(v: int | tuple[int, ...]) -> int | tuple[int, ...]:
    """The spatial part of a 3D layer's size argument."""
    return v[1:] if isinstance(v, tuple) else v


def _inference_stack(mods: list[nn.Module], temporal: bool) -> nn.Sequential:
    """Conv/BN/ReLU/MaxPool ``mods`` as an equivalent 2D inference stack (channels-last memory).

    BatchNorm is folded into the convolution before it; a ReLU followed by a max-pool becomes
    pool-then-ReLU (``max(relu(x)) == relu(max(x))`` exactly, and the ReLU then touches a 4x smaller
    map: ~5x cheaper on the lip stream's 96x109x109 activations); 1x1 identity pools are dropped.
    ``temporal``: the modules are 3D with a temporal extent that the first convolution consumes
    whole (the lip stream), so that dimension is folded into the input channels, ``c * T + t``.
    """

    def sp(v: Any) -> Any:  # the spatial part of a layer's size argument
        return _hw(v) if temporal else v

    layers: list[nn.Module] = []
    for i, m in enumerate(mods):
        if isinstance(m, (nn.Conv2d, nn.Conv3d)):
            w, b = _fold_bn(m, mods[i + 1])
            if temporal:
                w = w.reshape(w.shape[0], -1, *w.shape[3:])  # [O, C, T, kh, kw] -> [O, C*T, kh, kw]
            conv = nn.Conv2d(w.shape[1], w.shape[0], tuple(w.shape[2:]), stride=sp(m.stride), padding=sp(m.padding))
            conv.weight.data.copy_(w)
            conv.bias.data.copy_(b)
            layers.append(conv)
        elif isinstance(m, (nn.MaxPool2d, nn.MaxPool3d)):
            if sp(m.kernel_size) in (1, (1, 1)):
                continue  # the audio stream's MaxPool2d((1, 1)) is the identity
            pool = nn.MaxPool2d(sp(m.kernel_size), sp(m.stride), sp(m.padding))
            layers.insert(len(layers) - 1 if layers and isinstance(layers[-1], nn.ReLU) else len(layers), pool)
        elif isinstance(m, nn.ReLU):
            layers.append(nn.ReLU(inplace=True))
    # channels-last 2D convolutions are oneDNN's fastest CPU path (~15% over NCHW / the 3D network here)
    return nn.Sequential(*layers).to(memory_format=torch.channels_last)


class FastSyncNet(nn.Module):
    """syncnet-python's ``S`` rewritten for inference: same outputs, 2D lip stream, folded BatchNorm.

    ``forward_lip(x)``: x [N, 15, 224, 224] BGR float 0..255 (channel ``c * 5 + t``) -> [N, 1024];
    ``forward_aud(x)``: x [N, 1, 13, 20] MFCC windows -> [N, 1024].
    """

    def __init__(self, ref: nn.Module) -> None:
        super().__init__()
        ref = ref.eval()
        self.lip = _inference_stack(list(ref.netcnnlip), temporal=True)
        self.cnnaud = _inference_stack(list(ref.netcnnaud), temporal=False)
        self.fclip = ref.netfclip
        self.fcaud = ref.netfcaud
        self.eval()

    def forward_lip(self, x: torch.Tensor) -> torch.Tensor:
        return self.fclip(self.lip(x.contiguous(memory_format=torch.channels_last)).flatten(1))

    def forward_aud(self, x: torch.Tensor) -> torch.Tensor:
        return self.fcaud(self.cnnaud(x.contiguous(memory_format=torch.channels_last)).flatten(1))


def load_syncnet(path: str | Path) -> nn.Module:
    """syncnet-python's ``S`` with the state dict at ``path``, loaded with ``weights_only=True``.

    The 2017 file predates BatchNorm's ``num_batches_tracked``; every other key must match.
    """
    from syncnet_python.SyncNetModel import S

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means the file is not usable
        raise InputError(f"{str(path)!r} is not a SyncNet state dict ({type(exc).__name__}: {exc})") from None
    if not isinstance(state, dict):
        raise InputError(f"{str(path)!r} holds a {type(state).__name__}, not a SyncNet state dict")
    state = {k.removeprefix("__S__."): v for k, v in state.items()}
    model = S()
    own = model.state_dict()
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        raise InputError(f"{str(path)!r} does not match SyncNet: missing {missing[:3]}, unexpected {unexpected[:3]}")
    with torch.no_grad():
        for k, v in state.items():
            own[k].copy_(v)
    return model.eval()


# -- inputs ---------------------------------------------------------------------------------------------------------


def syncnet_mfcc(audio: np.ndarray) -> np.ndarray:
    """MFCC [13, N] of float audio in [-1, 1] at 16 kHz, computed on its int16 values as the reference does."""
    import python_speech_features

    pcm = np.clip(np.round(np.asarray(audio, np.float64) * 32768.0), -32768, 32767).astype(np.int16)
    return python_speech_features.mfcc(pcm, AUDIO_RATE).T


def _windows(vid: torch.Tensor, start: int, stop: int) -> torch.Tensor:
    """Video windows ``[stop - start, 15, H, W]`` (channels-last memory, channel c*5+t) from vid [T, H, W, 3]."""
    x = vid[start : stop + 4].unfold(0, 5, 1)  # [n, H, W, 3, 5]
    return x.reshape(stop - start, *vid.shape[1:3], 15).permute(0, 3, 1, 2)


# Windows per forward pass: 16 runs the lip stream at about 29 ms per window here against 33 ms at 32 or 64
# (oneDNN's blocking of the 96x109x109 first-layer output); results do not depend on it.
BATCH_SIZE = 16


@torch.inference_mode()
def syncnet_embeddings(
    model: nn.Module, crops: np.ndarray, audio: np.ndarray, batch_size: int = BATCH_SIZE
) -> tuple[torch.Tensor, torch.Tensor]:
    """Video and audio embeddings [W, 1024] each, window for window as the reference pairs them.

    ``crops`` [T, 224, 224, 3] uint8 **RGB** at 25 fps; ``audio`` float [-1, 1] at 16 kHz.
    """
    net = model if isinstance(model, FastSyncNet) else FastSyncNet(model)
    mfcc = torch.from_numpy(syncnet_mfcc(audio).astype(np.float32))
    min_len = min(len(crops), math.floor(len(audio) / 640))
    n_win = min_len - 5
    if n_win < 1:
        raise InputError(f"clip too short for SyncNet: {min_len} frames of audio+video at 25 fps, need at least 6")
    # BGR, float 0..255: the reference reads its crops with cv2.imread and does not normalise. Windows are
    # gathered in uint8 (a quarter of the memory traffic) and converted per batch.
    vid = torch.from_numpy(np.ascontiguousarray(crops[:min_len, :, :, ::-1]))  # [T, H, W, 3] uint8
    im_feat, cc_feat = [], []
    for i in range(0, n_win, batch_size):
        j = min(n_win, i + batch_size)
        im_feat.append(net.forward_lip(_windows(vid, i, j).float()))
        cc = torch.stack([mfcc[:, 4 * v : 4 * v + 20] for v in range(i, j)])[:, None]
        cc_feat.append(net.forward_aud(cc))
    return torch.cat(im_feat), torch.cat(cc_feat)


def sync_scores_from_embeddings(im_feat: torch.Tensor, cc_feat: torch.Tensor, vshift: int = VSHIFT) -> SyncScores:
    """LSE-C, LSE-D and offset from paired embeddings [W, D] (the reference's ``calc_pdist`` + statistics)."""
    win = 2 * vshift + 1
    padded = nn.functional.pad(cc_feat, (0, 0, vshift, vshift))
    total = torch.zeros(win, dtype=torch.float64)
    for i in range(0, len(im_feat), 256):  # chunks bound the [n, D, 31] temporary
        a = im_feat[i : i + 256]
        b = padded[i : i + len(a) + win - 1].unfold(0, win, 1)  # [n, D, win]
        d = torch.linalg.vector_norm(a[:, :, None] - b + 1e-6, dim=1)  # pairwise_distance's eps
        total += d.double().sum(0)
    mdist = (total / len(im_feat)).float()
    minval, minidx = torch.min(mdist, 0)
    conf = torch.median(mdist) - minval
    return SyncScores(float(conf), float(minval), int(vshift - minidx), mdist.numpy(), len(im_feat))


def sync_scores(model: nn.Module, crops: np.ndarray, audio: np.ndarray, batch_size: int = BATCH_SIZE) -> SyncScores:
    """SyncNet scores of 25 fps RGB face crops [T, 224, 224, 3] against 16 kHz audio."""
    return sync_scores_from_embeddings(*syncnet_embeddings(model, crops, audio, batch_size))


# -- weights and clips ----------------------------------------------------------------------------------------------

_MODEL_CACHE: dict[str, FastSyncNet] = {}
_CLIP_CACHE: OrderedDict[tuple[Any, ...], SyncScores] = OrderedDict()


def syncnet_model() -> FastSyncNet:
    """The standard SyncNet from the weights registry (raises WeightsUnavailableError if not imported)."""
    try:
        from forgebench.weights.registry import require_weights
    except ImportError:  # the registry module is part of the same package; guard for partial checkouts
        raise WeightsUnavailableError(
            f"SyncNet weights are not available: run `forgebench weights import {WEIGHTS_NAME} FILE`"
        ) from None
    path = str(require_weights(WEIGHTS_NAME))
    if path not in _MODEL_CACHE:
        _MODEL_CACHE[path] = FastSyncNet(load_syncnet(path))
    return _MODEL_CACHE[path]


def clip_sync_scores(clip: Clip, model: nn.Module, top_trim: float = 0.0) -> tuple[SyncScores, float]:
    """SyncNet scores and face coverage for a :class:`~forgebench.metrics.base.Clip` with frames, audio and a track.

    Cached by clip identity so that ``lse_c`` and ``lse_d`` on the same clip run the network once.
    """
    from forgebench.metrics.syncnet_crops import resample_to_fps, syncnet_crops

    # identity of the arrays plus their sizes: cheap, and a recycled id() with other content is caught by the sizes
    key = (clip.clip_id, id(clip.frames), id(clip.audio), id(model), top_trim, getattr(clip.frames, "shape", None),
           None if clip.audio is None else len(clip.audio))  # fmt: skip
    if key in _CLIP_CACHE:
        return _CLIP_CACHE[key]
    if clip.frames is None or clip.audio is None:
        raise InputError(f"clip {clip.clip_id!r} needs frames and audio for LSE")
    if clip.track is None or clip.track.landmarks is None:
        raise InputError(f"clip {clip.clip_id!r} has no face track with landmarks for LSE crops")
    if clip.audio_rate != AUDIO_RATE:
        raise InputError(f"clip {clip.clip_id!r} audio is {clip.audio_rate} Hz; SyncNet needs {AUDIO_RATE} Hz")
    idx = resample_to_fps(len(clip.frames), clip.fps, SYNCNET_FPS)
    valid = clip.track.valid[idx]
    if not valid.any():
        raise InputError(f"clip {clip.clip_id!r}: no frame has a face")
    crops, coverage = syncnet_crops(clip.frames[idx], clip.track.landmarks[idx], valid, top_trim=top_trim)
    result = (sync_scores(model, crops, clip.audio), coverage)
    _CLIP_CACHE[key] = result
    while len(_CLIP_CACHE) > 4:
        _CLIP_CACHE.popitem(last=False)
    return result


# -- weights-free landmark lip sync ---------------------------------------------------------------------------------

MAX_LAG = 5  # frames
N_NULL = 100


def mouth_opening(landmarks: np.ndarray) -> np.ndarray:
    """[T] inner-lip gap (MediaPipe 13-14) over inter-ocular distance (iris centres 468-473), 2D."""
    lm = np.asarray(landmarks, np.float64)[..., :2]
    iod = np.linalg.norm(lm[:, 468] - lm[:, 473], axis=1)
    return np.linalg.norm(lm[:, 13] - lm[:, 14], axis=1) / np.maximum(iod, 1e-6)


def speech_envelope(audio: np.ndarray, rate: int, fps: float, n_frames: int) -> np.ndarray:
    """[n_frames] log RMS of the audio under each video frame (frame k covers [k/fps, (k+1)/fps))."""
    x = np.asarray(audio, np.float64)
    edges = np.round(np.arange(n_frames + 1) * rate / fps).astype(np.int64)
    sq = np.concatenate([[0.0], np.cumsum(x * x)])
    edges = np.minimum(edges, len(x))
    counts = np.maximum(np.diff(edges), 1)
    return 0.5 * np.log((sq[edges[1:]] - sq[edges[:-1]]) / counts + 1e-10)


def lagged_pearson(mouth: np.ndarray, env: np.ndarray, max_lag: int = MAX_LAG) -> np.ndarray:
    """[2 max_lag + 1] Pearson r of ``mouth[t + k]`` with ``env[t]``, k = -max_lag..max_lag (k > 0: mouth follows)."""
    out = np.empty(2 * max_lag + 1)
    n = len(mouth)
    for i, k in enumerate(range(-max_lag, max_lag + 1)):
        a, b = (mouth[k:], env[: n - k]) if k >= 0 else (mouth[: n + k], env[-k:])
        a, b = a - a.mean(), b - b.mean()
        den = np.sqrt((a * a).sum() * (b * b).sum())
        out[i] = (a * b).sum() / den if den > 0 else 0.0
    return out


def landmark_sync(
    landmarks: np.ndarray, audio: np.ndarray, rate: int, fps: float, valid: np.ndarray | None = None
) -> dict[str, float]:
    """Best lagged Pearson r between mouth opening and speech log-RMS, with a circular-shift null.

    The null shifts the envelope circularly by ``N_NULL`` offsets spread over the clip (all at
    least ``2 max_lag + 1`` frames from 0) and takes the best-lag r of each; ``p`` is the share of
    null values at or above the observed one (with the +1 correction). Missing faces are
    interpolated from neighbouring frames.
    """
    t = len(landmarks)
    if t < 4 * MAX_LAG + 5:
        raise InputError(f"clip too short for the landmark sync score: {t} frames, need {4 * MAX_LAG + 5}")
    valid = np.ones(t, bool) if valid is None else np.asarray(valid, bool)
    if not valid.any():
        raise InputError("no frame has a face")
    mouth = mouth_opening(landmarks)
    mouth = np.interp(np.arange(t), np.flatnonzero(valid), mouth[valid])
    env = speech_envelope(audio, rate, fps, t)
    r = lagged_pearson(mouth, env)
    best = int(np.argmax(r))
    lo = 2 * MAX_LAG + 1
    shifts = np.unique(np.linspace(lo, t - lo, N_NULL).astype(np.int64))
    null = np.array([lagged_pearson(mouth, np.roll(env, int(s))).max() for s in shifts])
    return {
        "r": float(r[best]),
        "lag": best - MAX_LAG,
        "null_mean": float(null.mean()),
        "null_max": float(null.max()),
        "p": float((1 + (null >= r[best]).sum()) / (1 + len(null))),
        "coverage": float(valid.mean()),
    }


# -- metric classes: bookkeeping only --------------------------------------------------------------------------------


class _LSE(PerClipMean):
    requires = frozenset({"frames", "audio", "track", f"weights:{WEIGHTS_NAME}"})
    network = NETWORK
    weights = WEIGHTS_NAME
    field: str = ""

    def clip_value(self, clip: Clip) -> tuple[float, dict[str, Any]]:
        scores, coverage = clip_sync_scores(clip, syncnet_model())
        other = "lse_d" if self.field == "lse_c" else "lse_c"
        return getattr(scores, self.field), {other: getattr(scores, other), "offset": scores.offset,
                                             "coverage": coverage}  # fmt: skip


@register_metric("lse_c")
class LSEConfidence(_LSE):
    """LSE-C: SyncNet confidence (median - min of the mean distance over offsets)."""

    name = "lse_c"
    higher_is_better = True
    field = "lse_c"


@register_metric("lse_d")
class LSEDistance(_LSE):
    """LSE-D: SyncNet minimum mean distance over offsets."""

    name = "lse_d"
    higher_is_better = False
    field = "lse_d"


@register_metric("lipsync_landmark")
class LandmarkLipSync(PerClipMean):
    """Weights-free lip sync: best lagged r of mouth opening vs speech envelope (details: lag, null, p)."""

    name = "lipsync_landmark"
    higher_is_better = True
    requires = frozenset({"track", "audio"})

    def clip_value(self, clip: Clip) -> tuple[float, dict[str, Any]]:
        if clip.audio is None or clip.track is None or clip.track.landmarks is None:
            raise InputError(f"clip {clip.clip_id!r} needs audio and a face track with landmarks")
        d = landmark_sync(clip.track.landmarks, clip.audio, clip.audio_rate, clip.track.fps, clip.track.valid)
        return d.pop("r"), d
