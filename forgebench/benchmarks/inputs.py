"""Materialise a spec's identities and speech under ``RUN_DIR/inputs`` (arrays, content-hashed).

Identities become ``inputs/identities/<id>.npy`` (uint8 RGB ``[H, W, 3]``) and
speech ``inputs/audio/<id>.npy`` (float32 mono 16 kHz ``[n]``); their SHA-256
(of the array bytes, as the generator's provenance records them) feeds the clip
ids. ``.npy`` keeps the exact values (no codec between the spec and the pixels).
Each file is written atomically and reused when present, so a resumed build
does not synthesise speech twice.

Builtin identities are the one shipped public-domain portrait and synthetic
variants of it (mirrored, colour-shifted): one real person. They are flagged
``synthetic_variant`` so that no report counts them as identity-disjoint data.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from forgebench.atomic import atomic_output
from forgebench.benchmarks.spec import Spec
from forgebench.errors import ForgebenchError, InputError

IMAGE_EXT = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
AUDIO_EXT = (".wav", ".flac", ".mp3", ".ogg", ".m4a")
AUDIO_RATE = 16000


@dataclass(frozen=True)
class InputItem:
    """An identity image or a speech track: ``file`` is the ``.npy`` under the run folder."""

    id: str
    source_id: str  # identities: the person; speech: ""
    file: str  # relative to the run folder
    sha256: str
    synthetic_variant: bool = False


def sha256_array(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _store(run_dir: Path, rel: str, make) -> tuple[np.ndarray, str]:
    path = run_dir / rel
    if path.is_file():
        arr = np.load(path, allow_pickle=False)
    else:
        arr = np.ascontiguousarray(make())
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path) as tmp, open(tmp, "wb") as f:
            np.save(f, arr, allow_pickle=False)
    return arr, sha256_array(arr)


def builtin_variant(image: np.ndarray, variant: str) -> np.ndarray:
    """Synthetic variants of the default portrait (the same person): mirrored or colour-shifted copies."""
    f = image.astype(np.float32)
    if variant == "original":
        return image
    if variant == "mirror":
        return np.ascontiguousarray(image[:, ::-1])
    gains = {"warm": (1.08, 1.0, 0.90), "cool": (0.92, 1.0, 1.08), "bright": (1.15, 1.15, 1.15)}[variant]
    return np.clip(f * np.array(gains, np.float32) + 0.5, 0, 255).astype(np.uint8)


def identities(spec: Spec, run_dir: Path) -> list[InputItem]:
    """Materialise every identity in the spec; ids are unique or the spec is refused."""
    from forgebench.media.image import load_image

    out: list[InputItem] = []
    ids = spec.identities
    if ids.builtin is not None:
        from forgebench.generator.defaults import default_portrait

        base = None
        for v in ids.builtin.variants:
            def make(v=v):
                nonlocal base
                base = default_portrait() if base is None else base
                return builtin_variant(base, v)
            iid = f"astronaut-{v}"
            rel = f"inputs/identities/{iid}.npy"
            _, h = _store(run_dir, rel, make)
            out.append(InputItem(iid, f"builtin:{iid}", rel, h, synthetic_variant=True))
    for src in ids.folders:
        files = sorted(p for p in Path(src.path).glob("*") if p.suffix.lower() in IMAGE_EXT)
        if not files:
            raise InputError(f"identities folder {src.path!r} holds no images ({', '.join(IMAGE_EXT)}): check it")
        for p in files:
            rel = f"inputs/identities/portrait-{p.stem}.npy"
            _, h = _store(run_dir, rel, lambda p=p: load_image(p))
            out.append(InputItem(f"portrait-{p.stem}", f"portrait:{p.stem}", rel, h))
    for src in ids.video_frames:
        out.extend(_video_frame_identities(src, run_dir))
    dup = {i.id for i in out if [j.id for j in out].count(i.id) > 1}
    if dup:
        raise InputError(f"identity id {sorted(dup)[0]!r} appears twice in the spec: rename one of the files")
    return out


def _video_frame_identities(src, run_dir: Path) -> list[InputItem]:
    """One frame (at ``src.at`` of the duration) of the first readable real clip of each identity in a dataset."""
    from forgebench.benchmarks.datasets import scan_dataset
    from forgebench.media.video import iter_frames, probe_video

    out, seen = [], set()
    for clip in scan_dataset(src.adapter, src.path, **src.params):
        if clip.label != "real" or clip.source_id in seen:
            continue
        try:
            info = probe_video(clip.path)
            target = int(src.at * max(info.n_frames - 1, 0))

            def make(path=clip.path, target=target):
                for t, frame in enumerate(iter_frames(path)):
                    if t >= target:
                        return frame
                return frame
            safe = clip.source_id.replace(":", "-").replace("/", "-")
            rel = f"inputs/identities/frame-{safe}.npy"
            _, h = _store(run_dir, rel, make)
        except ForgebenchError:
            continue  # a corrupt clip gives no identity; the clip itself is listed as failed by the builder
        seen.add(clip.source_id)
        out.append(InputItem(f"frame-{safe}", clip.source_id, rel, h))
    return out


def speech(spec: Spec, run_dir: Path) -> list[InputItem]:
    """Materialise every speech track (synthetic signals, TTS, audio folders), cut to ``max_seconds``."""
    sp = spec.speech
    cut = None if sp.max_seconds is None else int(round(sp.max_seconds * AUDIO_RATE))
    items: list[tuple[str, str, object]] = []  # (id, what determines the samples, maker)
    if sp.synthetic is not None:
        from forgebench.media.synthetic import speech_like

        for i in range(sp.synthetic.count):
            items.append((f"synthetic-{i}", f"{sp.synthetic.seconds}|{spec.seed}",
                          lambda i=i: speech_like(sp.synthetic.seconds, seed=spec.seed * 1000 + i)))
    if sp.tts is not None:
        from forgebench.generator.defaults import cached_speech
        from forgebench.media.tts import VOICE_VARIANTS

        for voice in sp.tts.voices:
            for variant in sp.tts.variants:
                for k, text in enumerate(sp.tts.texts):
                    kw = {key: val for key, val in VOICE_VARIANTS[variant].kwargs().items() if val is not None}
                    items.append((f"tts-{voice}-{variant}-{k}", f"{text}|{kw}|{sp.tts.seed}",
                                  lambda t=text, v=voice, kw=kw: cached_speech(t, v, seed=sp.tts.seed, **kw).audio))
    for src in sp.folders:
        from forgebench.media.audio import load_audio

        files = sorted(p for p in Path(src.path).glob("*") if p.suffix.lower() in AUDIO_EXT)
        if not files:
            raise InputError(f"speech folder {src.path!r} holds no audio ({', '.join(AUDIO_EXT)}): check it")
        for p in files:
            items.append((f"audio-{p.stem}", f"{p}|{p.stat().st_size}", lambda p=p: load_audio(p, AUDIO_RATE)))
    out = []
    for aid, desc, make in items:
        # The file name carries a hash of what made it, so editing a text or max_seconds never reuses stale audio.
        key = hashlib.sha256(f"{desc}|{cut}".encode()).hexdigest()[:8]
        rel = f"inputs/audio/{aid}-{key}.npy"
        _, h = _store(run_dir, rel, lambda make=make: np.asarray(make(), np.float32)[:cut])
        out.append(InputItem(aid, "", rel, h))
    return out
