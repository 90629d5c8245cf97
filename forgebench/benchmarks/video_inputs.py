"""The videos of the video-driven generator families: driving clips (reenactment) and source clips (dubbing).

A reenactment or dubbing generator names its videos as ``"real"`` (the real clips of the
spec's ``real:`` sources and of ``--real`` folders) or as a list of sources: a dataset
adapter's real clips, or every video file of a folder. Videos are taken in path order
(deterministic), cut to ``max_videos``, and hashed (SHA-256 of the file: it feeds the clip
ids, so a changed video gives new clips). Each keeps the identity its adapter gives
(``source_id``); a plain folder's video is its own identity (``video:<file stem>``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from forgebench.benchmarks.datasets import VIDEO_EXT, SourceClip, scan_dataset
from forgebench.benchmarks.spec import Spec
from forgebench.errors import InputError
from forgebench.paths import sha256_file

FAMILY_KINDS = ("reenactment", "dubbing")


@dataclass(frozen=True)
class VideoItem:
    """One driving or source video: ``path`` absolute; ``id`` (``source_id/stem``, or the source id when that
    already ends in the stem) names it in the manifest's ``audio_id`` of the clips it drives."""

    id: str
    source_id: str
    path: str
    sha256: str
    track: str = ""  # the speech track of the same span (``speech.from_real``): ``pairing: own`` starts after it
    parent: str = ""  # a corpus clip (a normalised real segment): made before the rows it drives


def real_track_id(source_id: str, path: str, k: int) -> str:
    """The id of ``speech.from_real``'s track of segment ``k`` of the real clip ``path`` (the whole clip: 0)."""
    stem = hashlib.sha256(path.encode()).hexdigest()[:6]
    return f"real-{source_id.replace(':', '-').replace('/', '-')}-{stem}-{k}"


def framed(spec: Spec, gen) -> bool:
    """A reenactment or dubbing generator over the real clips of a spec that normalises them takes the
    normalised real clips (framed, cut and resampled like the real rows), not the original files: its
    fakes are then framed, sized and timed like the real clips (:func:`~forgebench.benchmarks.plan.plan`)."""
    if gen.kind not in FAMILY_KINDS:
        return False
    return (gen.params.driving if gen.kind == "reenactment" else gen.params.videos) == "real" \
        and spec.normalize is not None


def video_inputs(spec: Spec, real_clips: list[SourceClip]) -> dict[str, list[VideoItem]]:
    """Per reenactment or dubbing generator (by name): its videos. Files are hashed once per call.

    A :func:`framed` generator's videos are listed (so a build without real clips says it has none) but the
    planner drives it with the normalised real clips instead."""
    hashes: dict[str, str] = {}
    out: dict[str, list[VideoItem]] = {}
    for gen in spec.generators:
        if gen.kind not in FAMILY_KINDS:
            continue
        if framed(spec, gen):
            out[gen.name] = [VideoItem(c.path, c.source_id, c.path, "") for c in real_clips if c.label == "real"]
            continue
        sources = gen.params.driving if gen.kind == "reenactment" else gen.params.videos
        found: dict[str, str] = {}  # path -> source_id
        if sources == "real":
            for clip in real_clips:
                if clip.label == "real":
                    found.setdefault(clip.path, clip.source_id)
        else:
            for src in sources:
                found.update(_scan(src))
        paths = sorted(found)[: gen.params.max_videos]
        items = []
        for path in paths:
            if path not in hashes:
                hashes[path] = sha256_file(path)
            sid, stem = found[path], Path(path).stem
            items.append(VideoItem(sid if sid.endswith(stem) else f"{sid}/{stem}", sid, path, hashes[path],
                                   track=real_track_id(sid, path, 0)))
        out[gen.name] = items
    return out


def _scan(src) -> dict[str, str]:
    if src.adapter is not None:
        return {c.path: c.source_id for c in scan_dataset(src.adapter, src.path, **src.params) if c.label == "real"}
    folder = Path(src.path)
    if not folder.is_dir():
        raise InputError(f"video folder {src.path!r} does not exist or is not a folder: check the path")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_EXT)
    if not files:
        raise InputError(f"video folder {src.path!r} holds no videos ({', '.join(VIDEO_EXT)}): check it")
    return {str(p.resolve()): f"video:{p.stem}" for p in files}
