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
FALLBACK_MOMENTS = (0.25, 0.75, 0.1, 0.9)  # where else to look for a face in a clip


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


def identities(spec: Spec, run_dir: Path, real_clips: list | None = None) -> list[InputItem]:
    """Materialise every identity in the spec; ids are unique or the spec is refused.

    ``real_clips``: the spec's real clips (its ``real:`` sources and ``--real`` folders), read by
    ``identities.from_real``.
    """
    from forgebench.media.image import load_image

    out: list[InputItem] = []
    ids = spec.identities
    if ids is None:
        return out
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
    size = spec.normalize.size if spec.normalize is not None else None
    for src in ids.video_frames:
        from forgebench.benchmarks.datasets import scan_dataset

        out.extend(_video_frame_identities(scan_dataset(src.adapter, src.path, **src.params), src, run_dir, size))
    if ids.from_real is not None:
        out.extend(_video_frame_identities(list(real_clips or []), ids.from_real, run_dir, size))
    seen: dict[str, InputItem] = {}
    for item in out:
        if item.id in seen and seen[item.id].sha256 != item.sha256:
            raise InputError(f"identity id {item.id!r} appears twice in the spec with different images: rename one "
                             "of the files")
        seen[item.id] = item
    return list(seen.values())  # the same portrait listed twice (e.g. video_frames and from_real) counts once


def _safe(source_id: str) -> str:
    return source_id.replace(":", "-").replace("/", "-")


def _portrait(path: str, opts, size: int | None) -> np.ndarray:
    """The frame at ``opts.at`` of the clip, framed like ``normalize`` frames clips when ``opts.crop == 'face'``."""
    from forgebench.media.video import iter_frames, probe_video

    target = int(opts.at * max(probe_video(path).n_frames - 1, 0))
    frame = None
    for t, decoded in enumerate(iter_frames(path)):
        frame = decoded
        if t >= target:
            break
    if opts.crop == "face":
        from forgebench.benchmarks.framing import crop_square, image_square

        sq = image_square(frame, opts.face_scale, what=f"frame {target} of {path}")
        frame = crop_square(frame, sq, size or sq.side)
    return frame


def _video_frame_identities(clips: list, opts, run_dir: Path, size: int | None) -> list[InputItem]:
    """``opts.per_identity`` portraits of each real identity among ``clips``.

    A person's clips are taken in path order (deterministic: the same folder gives the same
    portraits whatever order the adapter listed them in); portrait k comes from clip k mod n,
    at other moments when the person has fewer clips than portraits (:func:`_first_portrait`).
    """
    by_person: dict[str, list[str]] = {}
    for clip in clips:
        if clip.label == "real":
            by_person.setdefault(clip.source_id, []).append(clip.path)
    out = []
    tag = "" if opts.crop == "none" else f"-face{opts.face_scale:g}-{size or 0}"
    for sid in sorted(by_person):
        paths = sorted(set(by_person[sid]))
        for k in range(opts.per_identity):
            iid = f"frame-{_safe(sid)}" + (f"-{k}" if opts.per_identity > 1 else "")
            item = _first_portrait(iid, sid, paths, k, opts, run_dir, size, tag)
            if item is not None:
                out.append(item)
    return out


def _first_portrait(iid: str, sid: str, paths: list[str], k: int, opts, run_dir: Path, size: int | None,
                    tag: str) -> InputItem | None:
    """Portrait ``k`` of a person: clip ``k mod n`` at ``at`` (moved by ``k // n`` steps when the person has fewer
    clips than portraits); when that frame cannot be read or shows no face, the same clip at other moments,
    then the person's next clips. None when no clip gives a face."""
    n = len(paths)
    at0 = (opts.at + (k // n) / (opts.per_identity + 1)) % 1.0
    for j in range(n):
        path = paths[(k + j) % n]
        for at in dict.fromkeys((at0, *FALLBACK_MOMENTS)):
            # The file name carries what made the portrait, so a changed spec never reuses a stale one.
            key = hashlib.sha256(f"{path}|{at}|{tag}".encode()).hexdigest()[:8]
            rel = f"inputs/identities/{iid}-{key}.npy"
            moment = opts.model_copy(update={"at": at})
            try:
                _, h = _store(run_dir, rel, lambda p=path, o=moment: _portrait(p, o, size))
            except ForgebenchError:
                continue  # a corrupt or faceless frame gives no portrait; the builder lists a bad clip as failed
            return InputItem(iid, sid, rel, h)
    return None


def speech(spec: Spec, run_dir: Path, real_clips: list | None = None) -> list[InputItem]:
    """Materialise every speech track (synthetic signals, TTS, audio folders, the real clips' own sound),
    cut to ``max_seconds``.

    ``speech.from_real`` takes the sound of every real clip in ``real_clips``: one track per clip, or,
    when ``normalize`` cuts clips into segments, one per segment (the same spans as the real
    segments, so a person's fakes say what the person says in the real clips). Those tracks carry
    the clip's ``source_id`` (``pairing: own`` pairs a portrait with its own person's speech). A clip
    without usable sound gives no track.
    """
    sp = spec.speech
    if sp is None:
        return []
    cut = None if sp.max_seconds is None else int(round(sp.max_seconds * AUDIO_RATE))
    items: list[tuple[str, str, object]] = []  # (id, what determines the samples, maker)
    owner: dict[str, str] = {}  # track id -> source_id of the person speaking
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
    if sp.from_real is not None:
        for aid, desc, make, sid in _real_audio(spec, list(real_clips or [])):
            items.append((aid, desc, make))
            owner[aid] = sid
    out = []
    for aid, desc, make in items:
        # The file name carries a hash of what made it, so editing a text or max_seconds never reuses stale audio.
        key = hashlib.sha256(f"{desc}|{cut}".encode()).hexdigest()[:8]
        rel = f"inputs/audio/{aid}-{key}.npy"
        try:
            _, h = _store(run_dir, rel, lambda make=make: np.asarray(make(), np.float32)[:cut])
        except ForgebenchError:
            if aid in owner:
                continue  # a real clip without usable sound (no track, silent, undecodable) gives no speech
            raise
        out.append(InputItem(aid, owner.get(aid, ""), rel, h))
    return out


def _real_audio(spec: Spec, clips: list) -> list[tuple[str, str, object, str]]:
    """(track id, what determines it, maker, source_id) for each real clip, or each of its segments."""
    from forgebench.benchmarks.video_inputs import real_track_id
    from forgebench.media.audio import load_audio
    from forgebench.media.video import probe_video

    start0 = spec.speech.from_real.start
    out = []
    for clip in sorted((c for c in clips if c.label == "real"), key=lambda c: c.path):
        try:
            duration = probe_video(clip.path).duration
        except ForgebenchError:
            continue
        spans: list[tuple[float, float | None]] = [(start0, None)]
        if spec.normalize is not None and spec.normalize.segment_seconds:
            spans = spec.normalize.segments(duration)
        # A whole clip's track ends with its video, not with its (often longer or shorter) audio stream: a fake
        # made from it then lasts as long as the real clip.
        spans = [(s, dur if dur is not None else max(duration - s, 0.0)) for s, dur in spans]
        for k, (start, seconds) in enumerate(spans):
            def make(path=clip.path, start=start, seconds=seconds):
                audio = load_audio(path, AUDIO_RATE)
                a0, n = int(round(start * AUDIO_RATE)), int(round(seconds * AUDIO_RATE))
                track = audio[a0:a0 + n]
                return np.pad(track, (0, n - len(track))) if 0 < len(track) < n else track  # silence to the end
            out.append((real_track_id(clip.source_id, clip.path, k), f"{clip.path}|{start}|{seconds}", make,
                        clip.source_id))
    return out
