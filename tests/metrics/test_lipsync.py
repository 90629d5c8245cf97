"""LSE-C/LSE-D equal syncnet-python's own evaluation (random weights); crops; the landmark sync score."""

from __future__ import annotations

import contextlib
import io
import pickle
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from forgebench.errors import InputError
from forgebench.metrics import lipsync
from forgebench.metrics.base import Clip
from forgebench.metrics.lipsync import (
    FastSyncNet,
    LandmarkLipSync,
    LSEConfidence,
    LSEDistance,
    landmark_sync,
    load_syncnet,
    sync_scores,
    sync_scores_from_embeddings,
    syncnet_embeddings,
)
from forgebench.metrics.syncnet_crops import crop_faces, face_boxes_from_landmarks, resample_to_fps, smooth_boxes
from forgebench.records import MotionTrack

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import check_metric  # noqa: E402

cv2 = pytest.importorskip("cv2")
SyncNetModel = pytest.importorskip("syncnet_python.SyncNetModel")


def random_syncnet(seed: int = 0) -> torch.nn.Module:
    """syncnet-python's own ``S`` with random weights and random BatchNorm statistics (so folding is exercised)."""
    torch.manual_seed(seed)
    net = SyncNetModel.S().eval()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
    return net


def synthetic_crops(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (224, 224, 3)).astype(np.float32)
    return np.clip(base + rng.normal(0, 30, (n, 224, 224, 3)), 0, 255).astype(np.uint8)


def test_lse_equals_syncnet_python_evaluate(tmp_path):
    from scipy.io import wavfile
    from syncnet_python.SyncNetInstance import SyncNetInstance, calc_pdist

    n = 32  # 1.28 s at 25 fps: 27 windows, enough for all 31 offsets to overlap real windows
    net = random_syncnet()
    for i, crop in enumerate(synthetic_crops(n)):
        cv2.imwrite(str(tmp_path / f"{i:06d}.jpg"), crop)
    pcm = (np.random.default_rng(1).normal(0, 0.1, n * 640) * 32767).astype(np.int16)
    wavfile.write(tmp_path / "audio.wav", 16000, pcm)
    opt = types.SimpleNamespace(tmp_dir=str(tmp_path), batch_size=20, vshift=15)
    with contextlib.redirect_stdout(io.StringIO()):
        offset, conf, dist = SyncNetInstance(net, device="cpu").evaluate(opt)

    # the same crops as the reference reads them (cv2 BGR -> our RGB), the same audio as float
    crops = np.stack([cv2.imread(str(tmp_path / f"{i:06d}.jpg"))[:, :, ::-1] for i in range(n)])
    audio = pcm.astype(np.float32) / 32768.0
    im, cc = syncnet_embeddings(net, crops, audio)
    ours = sync_scores_from_embeddings(im, cc)
    assert ours.offset == offset
    assert ours.lse_c == pytest.approx(conf, abs=1e-3)
    assert ours.lse_d == pytest.approx(dist, abs=1e-3)
    assert ours.n_windows == n - 5
    # the whole per-offset curve, from the reference's calc_pdist on our embeddings
    mdist = torch.mean(torch.stack(calc_pdist(im, cc, vshift=15), 1), 1).numpy()
    np.testing.assert_allclose(ours.mdist, mdist, rtol=1e-5)


def test_fast_network_equals_reference_network():
    net = random_syncnet(3)
    fast = FastSyncNet(net)
    x = torch.rand(1, 3, 5, 224, 224) * 255
    a = torch.randn(2, 1, 13, 20)
    with torch.inference_mode():
        ref_lip, ref_aud = net.forward_lip(x), net.forward_aud(a)
        ours_lip, ours_aud = fast.forward_lip(x.reshape(1, 15, 224, 224)), fast.forward_aud(a)
    torch.testing.assert_close(ours_lip, ref_lip, rtol=1e-4, atol=1e-4 * ref_lip.abs().max().item())
    torch.testing.assert_close(ours_aud, ref_aud)


def test_fast_network_folds_batchnorm_and_pools_before_relu():
    fast = FastSyncNet(random_syncnet(4))
    for stack in (fast.lip, fast.cnnaud):
        kinds = [type(m) for m in stack]
        assert not any(issubclass(k, torch.nn.modules.batchnorm._BatchNorm) for k in kinds)
        assert all(k in (torch.nn.Conv2d, torch.nn.MaxPool2d, torch.nn.ReLU) for k in kinds)
        # every pool sits before the ReLU of its block (relu(max) == max(relu), on a 4x smaller map)
        assert not any(a is torch.nn.ReLU and b is torch.nn.MaxPool2d for a, b in zip(kinds, kinds[1:]))
    assert sum(isinstance(m, torch.nn.MaxPool2d) for m in fast.cnnaud) == 2  # the 1x1 identity pool is dropped


@pytest.fixture(autouse=True)
def one_thread():
    """SyncNet forwards dominate this file; one thread is faster than two on a shared 2-core machine."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def test_load_syncnet_is_weights_only(tmp_path):
    net = random_syncnet(1)
    state = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}  # the 2017 file
    torch.save(state, tmp_path / "syncnet_v2.model")
    # the 2017 file predates the zip container: the legacy format must load with weights_only too
    torch.save(state, tmp_path / "legacy.model", _use_new_zipfile_serialization=False)
    for name in ("syncnet_v2.model", "legacy.model"):
        loaded = load_syncnet(tmp_path / name)
        for k, v in state.items():
            assert torch.equal(loaded.state_dict()[k], v), (name, k)

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    (tmp_path / "evil.model").write_bytes(pickle.dumps({"x": Evil()}))
    with pytest.raises(InputError, match="not a SyncNet state dict"):
        load_syncnet(tmp_path / "evil.model")
    torch.save({"bogus": torch.zeros(1)}, tmp_path / "wrong.model")
    with pytest.raises(InputError, match="does not match SyncNet"):
        load_syncnet(tmp_path / "wrong.model")


def test_too_short_clip_is_an_input_error():
    with pytest.raises(InputError, match="too short"):
        syncnet_embeddings(random_syncnet(), synthetic_crops(5), np.zeros(16000, np.float32))


# -- crops --------------------------------------------------------------------------------------------------------


def face_landmarks(n: int, box=(100.0, 80.0, 180.0, 200.0), jitter: float = 0.0, seed: int = 0) -> np.ndarray:
    """Landmarks whose face-oval bbox is ``box`` (x1, y1, x2, y2), other points inside it."""
    rng = np.random.default_rng(seed)
    x1, y1, x2, y2 = box
    lm = np.zeros((n, 478, 3))
    lm[..., 0] = rng.uniform(x1 + 5, x2 - 5, (n, 478))
    lm[..., 1] = rng.uniform(y1 + 5, y2 - 5, (n, 478))
    from forgebench.metrics.syncnet_crops import FACE_OVAL

    corners = [(x1, y1), (x2, y2), (x1, y2), (x2, y1)]
    for i, (cx, cy) in enumerate(corners):
        lm[:, FACE_OVAL[i], :2] = (cx, cy)
    lm[..., :2] += rng.normal(0, jitter, (n, 1, 2))
    return lm


def test_crop_geometry_is_the_reference_formula():
    frames = np.random.default_rng(0).integers(0, 255, (15, 240, 320, 3), dtype=np.uint8)
    boxes = face_boxes_from_landmarks(face_landmarks(15))
    np.testing.assert_allclose(boxes, np.tile([100, 80, 180, 200], (15, 1)))
    crops = crop_faces(frames, boxes)
    # reference (syncnet_python SyncNetPipeline._crop), written out: s = max(w, h) / 2 = 60, centre (140, 140)
    bs, cs, mx, my = 60.0, 0.4, 140.0, 140.0
    pad = int(bs * (1 + 2 * cs))
    img = cv2.copyMakeBorder(frames[7], pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(110, 110, 110))
    y1, y2 = int(my + pad - bs), int(my + pad + bs * (1 + 2 * cs))
    x1, x2 = int(mx + pad - bs * (1 + cs)), int(mx + pad + bs * (1 + cs))
    np.testing.assert_array_equal(crops[7], cv2.resize(img[y1:y2, x1:x2], (224, 224)))


def test_boxes_interpolate_over_missing_faces_and_are_median_filtered():
    from scipy.signal import medfilt

    lm = face_landmarks(30, jitter=3.0)
    valid = np.ones(30, bool)
    valid[10:14] = False
    lm[10:14] = 0.0  # what an analyzer leaves where it found nothing
    boxes = face_boxes_from_landmarks(lm, valid)
    np.testing.assert_allclose(boxes[11], boxes[9] + (boxes[14] - boxes[9]) * 2 / 5)
    s, x, y = smooth_boxes(boxes)
    np.testing.assert_allclose(x, medfilt((boxes[:, 0] + boxes[:, 2]) / 2, 13))
    with pytest.raises(ValueError, match="no frame"):
        face_boxes_from_landmarks(lm, np.zeros(30, bool))


def test_resample_to_25_fps():
    assert resample_to_fps(10, 25.0).tolist() == list(range(10))
    assert resample_to_fps(60, 50.0).tolist() == list(range(0, 60, 2))


# -- metric classes -------------------------------------------------------------------------------------------------


def lse_clip(i: int, n: int = 10) -> Clip:
    rng = np.random.default_rng(i)
    track = MotionTrack.zeros(n, 25.0)
    track.landmarks = face_landmarks(n, box=(60, 40, 140, 150), jitter=1.0, seed=i)
    frames = rng.integers(0, 255, (n, 200, 200, 3), dtype=np.uint8)
    return Clip(f"c{i}", frames=frames, audio=rng.normal(0, 0.1, n * 640).astype(np.float32), track=track)


def test_lse_metrics_stream_and_match_the_function(monkeypatch):
    from forgebench.metrics.syncnet_crops import syncnet_crops

    fast = FastSyncNet(random_syncnet(2))
    monkeypatch.setattr(lipsync, "syncnet_model", lambda: fast)
    clips = [lse_clip(0), lse_clip(1)]

    def ref(cs, field):
        return float(np.mean([getattr(sync_scores(fast, syncnet_crops(c.frames, c.track.landmarks)[0], c.audio),
                                      field) for c in cs]))  # fmt: skip

    check_metric(LSEConfidence, clips, reference=lambda cs: ref(cs, "lse_c"), rtol=1e-5)
    res = check_metric(LSEDistance, clips, reference=lambda cs: ref(cs, "lse_d"), rtol=1e-5)
    assert res.network and "syncnet" in res.network


def test_lse_unavailable_without_weights_names_the_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("FORGEBENCH_HOME", str(tmp_path))
    m = LSEConfidence()
    m.update(lse_clip(0))
    res = m.compute()
    assert res.status == "unavailable" and res.value is None
    assert res.fix == "forgebench weights import syncnet_v2 FILE"


# -- landmark lip sync ----------------------------------------------------------------------------------------------


def talking(n: int, lag: int, seed: int = 0, fps: float = 25.0) -> tuple[np.ndarray, np.ndarray]:
    """Audio with a random syllable envelope and landmarks whose mouth follows it ``lag`` frames later."""
    rng = np.random.default_rng(seed)
    per = 640
    amp = np.exp(rng.normal(0, 1.0, n))
    audio = (np.repeat(amp, per) * rng.normal(0, 0.05, n * per)).astype(np.float32)
    env = np.log(amp)
    lm = face_landmarks(n, seed=seed)
    lm[:, 468, :2], lm[:, 473, :2] = (120, 120), (160, 120)  # IOD 40 px
    opening = np.roll(env - env.min(), lag)
    lm[:, 13, :2] = np.stack([np.full(n, 140), 170 - opening], 1)
    lm[:, 14, :2] = np.stack([np.full(n, 140), 170 + opening], 1)
    return lm, audio


def test_landmark_sync_finds_the_lag_and_beats_the_null():
    lm, audio = talking(150, lag=2)
    d = landmark_sync(lm, audio, 16000, 25.0)
    assert d["lag"] == 2
    assert d["r"] > 0.95 and d["null_max"] < 0.6 and d["p"] < 0.02


def test_landmark_sync_null_is_calibrated_on_unrelated_pairs():
    ps = []
    for k in range(10):
        lm, _ = talking(150, lag=0, seed=100 + k)
        _, audio = talking(150, lag=0, seed=200 + k)
        ps.append(landmark_sync(lm, audio, 16000, 25.0)["p"])
    # under the null p is ~uniform: few small values, a spread-out median
    assert sum(p < 0.05 for p in ps) <= 2 and 0.2 < np.median(ps) < 0.8


def test_landmark_sync_metric_with_harness():
    clips = []
    for i in range(3):
        lm, audio = talking(100, lag=i, seed=i)
        t = MotionTrack.zeros(100, 25.0)
        t.landmarks = lm
        clips.append(Clip(f"c{i}", audio=audio, track=t))
    ref = float(np.mean([landmark_sync(c.track.landmarks, c.audio, 16000, 25.0)["r"] for c in clips]))
    check_metric(LandmarkLipSync, clips, reference=lambda cs: ref)
