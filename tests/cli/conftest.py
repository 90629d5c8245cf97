"""Malformed (and some valid) inputs for the command-line battery, all tiny and made here."""

from __future__ import annotations

import json
import struct
import wave
import zlib
from pathlib import Path

import numpy as np
import pytest

from forgebench.media.audio import write_wav
from forgebench.media.synthetic import speech_like


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height, with one empty data chunk (nothing is decoded before the check)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


def _wav(path: Path, samples: np.ndarray, rate: int = 16000, width: int = 2) -> Path:
    """16-bit PCM through forgebench's writer, or 8-bit unsigned PCM (which it does not write)."""
    if width == 2:
        return write_wav(path, samples, rate)
    with wave.open(str(path), "wb") as w:
        w.setparams((1, 1, rate, 0, "NONE", "not compressed"))
        w.writeframes((np.clip(samples, -1, 1) * 127 + 128).astype(np.uint8).tobytes())
    return path


def _float_wav(path: Path, samples: np.ndarray, rate: int = 16000) -> Path:
    """IEEE-float WAV (format tag 3), which the wave module cannot write."""
    data = np.asarray(samples, "<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def _long_header_wav(path: Path, seconds: float, rate: int = 8000) -> Path:
    """A WAV whose header claims ``seconds`` of 8-bit audio but holds one second."""
    frames = int(seconds * rate)
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate, 1, 8)
    data = np.full(rate, 128, np.uint8).tobytes()
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", frames) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body) - len(data) + frames) + body)
    return path


def _manifest_rows(videos: list[Path], root: Path) -> list[dict]:
    rows = []
    for i, v in enumerate(videos):
        fake = i % 2
        rows.append({"clip_id": f"c{i}", "label": "fake" if fake else "real", "is_fake": fake, "source_id": f"id{i}",
                     "audio_id": "", "generator": "procedural" if fake else "", "config_hash": "", "seed": 0,
                     "perturbation": "none", "level": 0, "split": ("train", "val", "test")[i % 3],
                     "path": str(v.relative_to(root)), "duration": 0.32, "content_sha256": "",
                     "dataset": "forgebench", "status": "ok", "reason": ""})
    return rows


@pytest.fixture(scope="session")
def bad(tmp_path_factory, portrait) -> Path:
    """A folder of inputs: ``img/``, ``audio/``, ``video/``, ``spec/``, ``manifest/``, ``det/``, ``pred/``, ``run/``."""
    import cv2
    import pandas as pd
    from PIL import Image

    from forgebench.media.video import write_video

    root = tmp_path_factory.mktemp("battery")
    for d in ("img", "audio", "video", "spec", "manifest", "det", "pred", "run", "imgs_gen", "imgs_ref", "out"):
        (root / d).mkdir()
    img = root / "img"
    face = cv2.resize(portrait, (256, 256), interpolation=cv2.INTER_AREA)
    Image.fromarray(face).save(img / "face.png")
    Image.fromarray(face).convert("CMYK").save(img / "cmyk.jpg", quality=95)
    Image.fromarray(np.dstack([face, np.full(face.shape[:2], 255, np.uint8)])).save(img / "rgba.png")
    Image.fromarray((face.mean(2) * 257).astype(np.uint16)).save(img / "gray16.png")
    Image.fromarray(face).convert("P").save(img / "palette.png")
    (img / "empty.png").write_bytes(b"")
    (img / "text.png").write_text("this is not an image\n")
    (img / "trunc.png").write_bytes((img / "face.png").read_bytes()[:300])
    (img / "bomb.png").write_bytes(_png_header(20000, 20000))
    (img / "wide.png").write_bytes(_png_header(60000, 3))
    Image.fromarray(face[:20, :20]).save(img / "tiny.png")
    Image.fromarray(np.full((128, 128, 3), 90, np.uint8)).save(img / "noface.png")
    (img / "folder.png").mkdir()

    audio = root / "audio"
    speech = speech_like(1.0)
    _wav(audio / "speech.wav", speech)
    _wav(audio / "u8.wav", speech, width=1)
    _wav(audio / "empty.wav", np.zeros(0))
    (audio / "text.wav").write_text("RIFF? no, text\n")
    (audio / "trunc.wav").write_bytes((audio / "speech.wav").read_bytes()[:30])
    _float_wav(audio / "nan.wav", np.full(16000, np.nan, np.float32))
    _float_wav(audio / "inf.wav", np.r_[speech[:8000], np.full(8000, np.inf)].astype(np.float32))
    _float_wav(audio / "loud.wav", (speech * 40).astype(np.float32))
    _wav(audio / "silent.wav", np.zeros(16000))
    _long_header_wav(audio / "hour.wav", 2 * 3600.0)
    (audio / "image.wav").write_bytes((img / "face.png").read_bytes())

    video = root / "video"
    frames = np.stack([np.roll(face, k % 8, axis=1) for k in range(30)])  # 1.2 s: the watermark reads >= 1 s
    write_video(video / "clip.mp4", frames, 25.0, audio=np.r_[speech, speech][:19200], audio_rate=16000)
    write_video(video / "clip2.mp4", frames[::-1].copy(), 25.0, audio=speech[:5120], audio_rate=16000)
    (video / "empty.mp4").write_bytes(b"")
    (video / "text.mp4").write_text("not a video\n")
    (video / "trunc.mp4").write_bytes((video / "clip.mp4").read_bytes()[:600])
    (video / "audio_only.mp4").write_bytes((audio / "speech.wav").read_bytes())
    (video / "folder.mp4").mkdir()
    (root / "only_bad").mkdir()
    (root / "only_bad" / "a.mp4").write_text("not a video")
    (root / "only_bad" / "b.mp4").write_bytes(b"")

    for i in range(4):  # image folders for FID/KID
        Image.fromarray(np.roll(face, 9 * i, axis=0)[::2, ::2]).save(root / "imgs_gen" / f"{i}.png")
        Image.fromarray(np.roll(face, -9 * i, axis=1)[::2, ::2]).save(root / "imgs_ref" / f"{i}.png")

    spec = root / "spec"
    tiny = (Path(__file__).resolve().parents[2] / "forgebench" / "benchmarks" / "protocols" / "tiny.yaml").read_text()
    (spec / "tiny.yaml").write_text(tiny)
    (spec / "syntax.yaml").write_text("name: [unclosed\nversion: 1\n")
    (spec / "tag.yaml").write_text("!!python/object/apply:os.system ['echo pwned > pwned.txt']\n")
    (spec / "tag_value.yaml").write_text(tiny + "\nextra: !!python/name:os.system\n")
    (spec / "unknown.yaml").write_text(tiny + "\ncolour: blue\n")
    (spec / "list.yaml").write_text("- name: a\n- name: b\n")
    (spec / "empty.yaml").write_text("")
    (spec / "binary.yaml").write_bytes(bytes(range(256)) * 4)
    (spec / "traversal.yaml").write_text("include: tiny\nname: t\nidentities:\n  folders:\n"
                                         "    - path: ../../../../../etc\n")
    (spec / "absolute.yaml").write_text("include: tiny\nname: t\nidentities:\n  folders:\n    - path: /etc\n")
    (spec / "include_loop.yaml").write_text("include: include_loop.yaml\nname: loop\n")
    (spec / "include_missing.yaml").write_text("include: no_such_protocol\nname: x\n")
    (spec / "huge_size.yaml").write_text(
        "include: tiny\nname: t\ngenerators:\n  - name: g\n    kind: forgebench\n"
        "    params: {motion: procedural, seeds: [0], size: 100000, fps: 25}\n")
    (spec / "bad_seed.yaml").write_text("include: tiny\nname: t\nseed: -5\n")
    (spec / "bad_split.yaml").write_text("include: tiny\nname: t\nsplits: {train: 2.0, val: 0.5, test: 0.5, seed: 0}\n")
    (spec / "anchors.yaml").write_text("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
                                       "c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\n"
                                       "d: &d [*c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d]\n")

    man = root / "manifest"
    rows = _manifest_rows([video / "clip.mp4", video / "clip2.mp4"] * 3, root)
    for r, cid in zip(rows, range(6)):
        r["clip_id"] = f"c{cid}"
    good = pd.DataFrame(rows)
    good.to_parquet(man / "good.parquet", index=False)
    (man / "text.parquet").write_text("clip_id,label\n")
    good.drop(columns=["label", "split"]).to_parquet(man / "missing_cols.parquet", index=False)
    good.drop(columns=["path"]).to_parquet(man / "no_path.parquet", index=False)
    good.assign(clip_id="same").to_parquet(man / "dup_ids.parquet", index=False)
    good.assign(label="maybe").to_parquet(man / "bad_label.parquet", index=False)
    good.assign(split="banana").to_parquet(man / "bad_split.parquet", index=False)
    good.assign(is_fake=1 - good["is_fake"]).to_parquet(man / "disagree.parquet", index=False)
    good.assign(source_id="one-person").to_parquet(man / "shared_identity.parquet", index=False)
    good.iloc[:0].to_parquet(man / "empty.parquet", index=False)
    good.assign(seed="x").to_parquet(man / "bad_type.parquet", index=False)
    good.assign(status="failed", reason="test").to_parquet(man / "all_failed.parquet", index=False)
    good[good["is_fake"] == 1].to_parquet(man / "one_class.parquet", index=False)
    good.assign(path="../../../../etc/passwd").to_parquet(man / "escape.parquet", index=False)
    good.to_csv(man / "labels.csv", index=False)

    det = root / "det"
    (det / "empty").mkdir()
    (det / "badjson").mkdir()
    (det / "badjson" / "config.json").write_text("{")
    (det / "badjson" / "weights.safetensors").write_bytes(b"")
    for name, config in {"unknown": {"detector": "no_such_detector", "format_version": 1, "params": {}},
                         "format": {"detector": "dynamics", "format_version": 99, "params": {}},
                         "list": [1, 2, 3]}.items():
        (det / name).mkdir()
        (det / name / "config.json").write_text(json.dumps(config))
        (det / name / "weights.safetensors").write_bytes(b"\0" * 16)

    pred = root / "pred"
    ids = [f"c{i}" for i in range(6)]
    pd.DataFrame({"clip_id": ids, "score": np.linspace(0.1, 0.9, 6)}).to_csv(pred / "good.csv", index=False)
    pd.DataFrame({"clip_id": ids}).to_csv(pred / "no_score.csv", index=False)
    pd.DataFrame({"clip_id": ids, "score": [0.1, 0.2, 7.0, 0.4, 0.5, 0.6]}).to_csv(pred / "range.csv", index=False)
    pd.DataFrame({"clip_id": ids, "score": [0.1, np.nan, 0.3, 0.4, 0.5, 0.6]}).to_csv(pred / "nan.csv", index=False)
    pd.DataFrame({"clip_id": ids[:3] * 2, "score": 0.5}).to_csv(pred / "dup.csv", index=False)
    pd.DataFrame({"clip_id": ids[:4], "score": 0.5}).to_csv(pred / "missing.csv", index=False)
    pd.DataFrame({"clip_id": ids + ["zz"], "score": 0.5}).to_csv(pred / "extra.csv", index=False)
    pd.DataFrame({"clip_id": ids, "score": ["high"] * 6}).to_csv(pred / "text_score.csv", index=False)
    (pred / "binary.csv").write_bytes(bytes(range(256)) * 8)
    (pred / "scores.xlsx").write_text("clip_id,score\n")
    (pred / "empty.csv").write_text("")

    run = root / "run"
    (run / "notarun").mkdir()
    (run / "notarun" / "holiday.jpg").write_bytes(b"")
    (run / "broken").mkdir()
    (run / "broken" / "run.json").write_text("{not json")
    (root / "afile.txt").write_text("a file where a folder is expected\n")
    return root
