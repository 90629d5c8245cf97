"""Planning: spec + materialised inputs + dataset clips -> planned manifest rows (a pure function).

A planned row is a dict holding the manifest columns (:mod:`forgebench.manifest`)
plus the task fields the executor needs (``kind``, ``task``, ``parent``). Clip ids
are content hashes of everything that determines the clip's bytes: input hashes,
generator config, seed and the build's timestamp (``source_date_epoch``); a
perturbed clip's id hashes its parent's id, the perturbation, level and seed.

Splits are drawn over *identity groups*: identities linked by a face-swap donor
(target and donor) form one group, and every clip of a group lands in the same
split, so no person appears in two splits.
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np

from forgebench.benchmarks.datasets import SourceClip
from forgebench.benchmarks.inputs import InputItem
from forgebench.benchmarks.spec import Spec
from forgebench.benchmarks.video_inputs import VideoItem, framed, real_track_id
from forgebench.errors import InputError
from forgebench.generator.config import DubbingConfig, GenerationConfig, ReenactmentConfig


def content_id(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def clip_seed(seed: int, image_sha256: str, audio_sha256: str) -> int:
    """The motion seed of one audio-driven clip: the spec's ``seeds`` entry mixed with its portrait and speech.

    With the entry itself every clip of a corpus shared one blink schedule and one head-motion noise
    (both drawn from the seed alone): the same blink times in every fake (none in a 3 s clip when
    the seed put the first late) and a trajectory a detector could learn. 31 bits, deterministic.
    """
    return int(content_id({"seed": int(seed), "image": image_sha256, "audio": audio_sha256})[:8], 16) >> 1


def clip_rel_path(clip_id: str, suffix: str = ".mp4") -> str:
    return f"clips/{clip_id[:2]}/{clip_id}{suffix}"


def _row(**kw) -> dict:
    row = {"clip_id": "", "label": "fake", "source_id": "", "audio_id": "", "generator": "", "config_hash": "",
           "seed": -1, "perturbation": "none", "level": 0, "split": "", "path": "", "duration": 0.0,
           "content_sha256": "", "dataset": "forgebench", "status": "planned", "reason": "",
           "donor_id": "", "synthetic_variant": False, "official_split": "", "av_label": "", "origin": "",
           "family": "",
           "kind": "", "parent": "", "task": {}}
    row.update(kw)
    row["is_fake"] = int(row["label"] == "fake")
    return row


def _pairs(spec: Spec, idents: list, audios: list, seeds: list[int], pairing: str | None = None):
    """(identity, audio, seed) triples: ``cycle`` gives identity i audio (i + k) mod n per seed k; ``all`` all;
    ``own`` every identity with every track of its own person (speech ``from_real``), so each fake
    depends on its person's data only. ``pairing`` overrides the spec's (a generator's own)."""
    if not idents or not audios:
        return
    mode = pairing or spec.pairing
    for k, seed in enumerate(seeds):
        if mode == "own":
            for ident in idents:
                for audio in audios:
                    if audio.source_id == ident.source_id:
                        yield ident, audio, seed
        elif mode == "all":
            for ident in idents:
                for audio in audios:
                    yield ident, audio, seed
        else:
            for i, ident in enumerate(idents):
                yield ident, audios[(i + k) % len(audios)], seed


def generator_rows(spec: Spec, idents: list[InputItem], audios: list[InputItem],
                   videos: dict[str, list[VideoItem]] | None = None) -> list[dict]:
    rows = []
    videos = videos or {}
    for gen in spec.generators:
        p = gen.params
        if gen.kind == "forgebench":
            cfg = GenerationConfig(size=p.size, fps=p.fps, seed=0, motion=p.motion, crop=p.crop, crf=p.crf,
                                   preset=p.preset)
            chash = content_id({"config": cfg.config_hash(), "motion_params": p.motion_params,
                                "controls": p.controls, **_final_encode(spec)})
            for ident, audio, k in _pairs(spec, idents, audios, p.seeds):
                seed = clip_seed(k, ident.sha256, audio.sha256)
                cid = content_id({"kind": "forgebench", "image": ident.sha256, "audio": audio.sha256,
                                  "config": chash, "seed": seed, "epoch": spec.source_date_epoch})
                rows.append(_row(clip_id=cid, source_id=ident.source_id, audio_id=audio.id, generator=gen.name,
                                 config_hash=chash, seed=seed, path=clip_rel_path(cid), kind="forgebench",
                                 synthetic_variant=ident.synthetic_variant, family="audio-driven",
                                 task={"image": ident.file, "audio": audio.file, "image_sha256": ident.sha256,
                                       "audio_sha256": audio.sha256, "size": p.size, "fps": p.fps,
                                       "motion": p.motion, "crop": p.crop, "crf": p.crf, "preset": p.preset,
                                       "motion_params": p.motion_params, "controls": p.controls,
                                       "epoch": spec.source_date_epoch, **_final_encode(spec)}))
        elif gen.kind == "command":
            chash = content_id({"cmd": p.cmd, "cwd": p.cwd})
            for ident, audio, seed in _pairs(spec, idents, audios, p.seeds):
                cid = content_id({"kind": "command", "image": ident.sha256, "audio": audio.sha256, "config": chash,
                                  "seed": seed})
                rows.append(_row(clip_id=cid, source_id=ident.source_id, audio_id=audio.id, generator=gen.name,
                                 config_hash=chash, seed=seed, path=clip_rel_path(cid), kind="command",
                                 synthetic_variant=ident.synthetic_variant,
                                 task={"image": ident.file, "audio": audio.file, "cmd": p.cmd, "cwd": p.cwd,
                                       "timeout": p.timeout, "seed": seed}))
        elif framed(spec, gen):
            continue  # driven by the normalised real clips: planned after them (framed_family_rows)
        elif gen.kind == "reenactment":
            rows.extend(reenactment_rows(spec, gen, idents, videos.get(gen.name, [])))
        elif gen.kind == "dubbing":
            rows.extend(dubbing_rows(spec, gen, videos.get(gen.name, []), audios))
        elif gen.kind == "folder":
            rows.extend(_folder_rows(gen.name, Path(p.path), Path(p.mapping)))
    return rows


def _final_encode(spec: Spec) -> dict:
    """``normalize.generated``: generated clips pass through the same final H.264 encode as the clips from files."""
    if spec.normalize is None or not spec.normalize.generated:
        return {}
    out = {"final_crf": spec.normalize.crf}
    if spec.normalize.bitrate:
        out["final_bitrate"] = spec.normalize.bitrate
    return out


def selfblend_rows(spec: Spec, base: list[dict]) -> list[dict]:
    """Pseudo-fakes: one clip per real clip (after normalisation), selfblend generator and seed.

    A pseudo-fake is made from the same source span as its real clip, framed and resampled the
    same way, blended, and encoded once at the same CRF: it differs from its real clip only by the
    blend. It keeps the person (``source_id``), so splits keep it with its real clip.
    """
    rows = []
    gens = [g for g in spec.generators if g.kind == "selfblend"]
    for real in base:
        if real["label"] != "real" or real["kind"] not in ("file", "normalize"):
            continue
        src = real["task"] if real["kind"] == "normalize" else {"src": real["path"], "size": None, "fps": None,
                                                                "crf": 18, "start": 0.0, "seconds": None,
                                                                "bitrate": None}
        for gen in gens:
            params = gen.params.model_dump(mode="json")
            seeds = params.pop("seeds")
            if not any(params["lag"]):
                del params["lag"]  # the classic blend: ids as before the lag option existed
            chash = content_id({"selfblend": params})
            for seed in seeds:
                cid = content_id({"kind": "selfblend", "real": real["clip_id"], "config": chash, "seed": seed,
                                  "spec_seed": spec.seed})
                rows.append(_row(clip_id=cid, source_id=real["source_id"], audio_id=real["audio_id"],
                                 generator=gen.name, config_hash=chash, seed=seed, path=clip_rel_path(cid),
                                 kind="selfblend", dataset="forgebench", origin=real["origin"] or real["path"],
                                 donor_id=real["donor_id"], official_split=real["official_split"],
                                 task={**src, "blend": params, "seed": int(cid[:8], 16)}))
    return rows


def framed_family_rows(spec: Spec, base: list[dict], idents: list[InputItem], audios: list[InputItem]) -> list[dict]:
    """Reenactment and dubbing over the *normalised* real clips (:func:`~forgebench.benchmarks.video_inputs.framed`).

    With ``normalize`` the real rows are face-framed, cut into segments, resampled and re-encoded; a dub of the
    original file would keep its own framing, size and length (a shortcut). So a dub is made from the
    normalised real segment itself (same square, size, rate and length; only the mouth changes) and a
    reenactment is driven by it (the output lasts as long as the segment, at its rate; the portrait is the
    person's framed portrait). Each row names its segment as ``parent`` and is made after it; both then pass
    through the spec's final encode (``normalize.generated``).
    """
    gens = [g for g in spec.generators if framed(spec, g)]
    if not gens:
        return []
    reals = sorted((r for r in base if r["label"] == "real" and r["kind"] == "normalize"),
                   key=lambda r: (r["task"]["src"], r["task"]["start"]))
    # sha256: the segment's clip id, a content hash of everything that determines its bytes
    segments = [VideoItem(r["task"]["track"], r["source_id"], r["path"], r["clip_id"], track=r["task"]["track"],
                          parent=r["clip_id"]) for r in reals]
    frames = {r["clip_id"]: {k: r["task"][k] for k in ("src", "size", "fps", "crop", "face_scale", "start", "seconds")}
              for r in reals}
    rows = []
    for gen in gens:
        items = segments[: gen.params.max_videos]
        if gen.kind == "reenactment":
            rows.extend(reenactment_rows(spec, gen, idents, items))
        else:
            rows.extend(dubbing_rows(spec, gen, items, audios, frames))
    return rows


def reenactment_rows(spec: Spec, gen, idents: list[InputItem], drivers: list[VideoItem]) -> list[dict]:
    """Portrait i moved by driving clips (i + j) mod n, j < ``per_identity`` (``cycle``), or by every clip of
    its own person (``own``): deterministic, so no seed."""
    p = gen.params
    cfg = ReenactmentConfig(size=p.size, crop=p.crop, crf=p.crf, preset=p.preset, max_seconds=p.max_seconds,
                            mute=p.mute)
    chash = content_id({"reenactment": cfg.config_hash(), **_final_encode(spec)})
    rows = []
    for i, ident in enumerate(idents):
        if p.pairing == "own":
            chosen = [v for v in drivers if v.source_id == ident.source_id]
        else:
            chosen = [drivers[(i + j) % len(drivers)] for j in range(min(p.per_identity, len(drivers)))]
        for video in chosen:
            cid = content_id({"kind": "reenactment", "image": ident.sha256, "driving": video.sha256,
                              "config": chash, "epoch": spec.source_date_epoch})
            # The output carries the driver's audio (its voice): audio_id names the driving clip.
            rows.append(_row(clip_id=cid, source_id=ident.source_id, audio_id=video.id, generator=gen.name,
                             config_hash=chash, path=clip_rel_path(cid), kind="reenactment", family="reenactment",
                             synthetic_variant=ident.synthetic_variant, parent=video.parent,
                             task={"image": ident.file, "image_sha256": ident.sha256, "driving": video.path,
                                   "driving_sha256": video.sha256, "size": p.size, "crop": p.crop, "crf": p.crf,
                                   "preset": p.preset, "max_seconds": p.max_seconds, "mute": p.mute,
                                   "epoch": spec.source_date_epoch, **_final_encode(spec)}))
    return rows


def _own_dub_pairs(sources: list[VideoItem], audios: list[InputItem], seeds: list[int]):
    """Each video with the track that follows its own in its person's tracks (its own when it is the only one):
    new words in the person's own voice, one dub per video and seed, depending on that person only."""
    for seed in seeds:
        for video in sources:
            tracks = [a for a in audios if a.source_id == video.source_id]
            if not tracks:
                continue
            ids = [a.id for a in tracks]
            k = ids.index(video.track) + 1 if video.track in ids else 0
            yield video, tracks[k % len(tracks)], seed


def dubbing_rows(spec: Spec, gen, sources: list[VideoItem], audios: list[InputItem],
                 frames: dict[str, dict] | None = None) -> list[dict]:
    """Real video i re-synced to speech (i + k) mod n per seed k (``cycle``), to every speech (``all``), or to
    the next track of its own person (``own``: the speech is cut, or padded with silence, to the video's
    length, so the dub lasts exactly as long as its video).

    ``frames`` (normalised real segments, by clip id): the dub is made from the segment's frames decoded from the
    source file and framed exactly as ``normalize`` frames them (not from the encoded segment), so it carries
    the same generations of compression as the other generated clips (render, then the final encode)."""
    p = gen.params
    own = (p.pairing or spec.pairing) == "own"
    chash = content_id({"dubbing": DubbingConfig(motion=p.motion, crf=p.crf, preset=p.preset).config_hash(),
                        **_final_encode(spec), **({"fit": True} if own else {}),
                        **({"frames": "source"} if frames else {})})
    pairs = _own_dub_pairs(sources, audios, p.seeds) if own else _pairs(spec, sources, audios, p.seeds, p.pairing)
    rows = []
    for video, audio, seed in pairs:
        cid = content_id({"kind": "dubbing", "video": video.sha256, "audio": audio.sha256, "config": chash,
                          "seed": seed, "epoch": spec.source_date_epoch})
        # The person shown is the video's: its real clips and its dubs share an identity, hence a split.
        rows.append(_row(clip_id=cid, source_id=video.source_id, audio_id=audio.id, generator=gen.name,
                         config_hash=chash, seed=seed, path=clip_rel_path(cid), kind="dubbing", family="dubbing",
                         parent=video.parent,
                         task={"video": video.path, "video_sha256": video.sha256, "audio": audio.file, "fit": own,
                               "frames": (frames or {}).get(video.parent),
                               "audio_sha256": audio.sha256, "motion": p.motion, "crf": p.crf,
                               "preset": p.preset, "epoch": spec.source_date_epoch, **_final_encode(spec)}))
    return rows


def _folder_rows(name: str, folder: Path, mapping: Path) -> list[dict]:
    """Pre-generated fakes: a CSV with columns file, source_id, audio_id maps each file to its identity."""
    if not mapping.is_file():
        raise InputError(f"generator {name!r}: mapping CSV {str(mapping)!r} does not exist: give file,source_id,"
                         "audio_id rows")
    with mapping.open(newline="") as f:
        table = list(csv.DictReader(f))
    if not table or not {"file", "source_id"} <= set(table[0]):
        raise InputError(f"{mapping}: expected columns file, source_id[, audio_id]; found "
                         f"{', '.join(table[0]) if table else 'no rows'}")
    rows = []
    for r in table:
        path = (folder / r["file"]).resolve()
        cid = content_id({"kind": "file", "dataset": name, "file": r["file"]})
        rows.append(_row(clip_id=cid, source_id=r["source_id"], audio_id=r.get("audio_id", ""), generator=name,
                         path=str(path), kind="file", dataset=name))
    return rows


def dataset_rows(clips: list[SourceClip]) -> list[dict]:
    rows = []
    for c in clips:
        cid = content_id({"kind": "file", "dataset": c.dataset, "path": c.path})
        rows.append(_row(clip_id=cid, label=c.label, source_id=c.source_id, audio_id=c.audio_id,
                         generator=c.generator, path=c.path, kind="file", dataset=c.dataset, donor_id=c.donor_id,
                         official_split=c.official_split, av_label=c.av_label))
    return rows


def normalized(spec: Spec, rows: list[dict]) -> list[dict]:
    """File rows -> rows that re-encode each file into the corpus (``spec.normalize``), else unchanged.

    The new clip is content-addressed by the source row and the settings; it keeps the
    source's label, identity and dataset columns. With ``segment_seconds`` a file gives up to
    ``max_segments`` rows, one per segment (``origin`` says which file and where).
    """
    if spec.normalize is None:
        return [{**r, "origin": r["path"]} if r["kind"] == "file" else r for r in rows]
    norm = spec.normalize
    settings = norm.settings()
    full = {**norm.model_dump(mode="json"), **settings}
    task_settings = {k: full[k] for k in ("size", "fps", "crf", "crop", "face_scale", "bitrate")}
    out = []
    for r in rows:
        if r["kind"] != "file":
            out.append(r)  # generated here: already encoded as the generator writes
            continue
        for k, (start, seconds) in enumerate(_segments(norm, r["path"])):
            seg = {} if norm.segment_seconds is None else {"start": start, "seconds": seconds}
            cid = content_id({"normalize": r["clip_id"], **settings, **seg})
            # track: the id of this span's speech track (speech.from_real), for the families' own pairing
            out.append({**r, "clip_id": cid, "path": clip_rel_path(cid), "kind": "normalize",
                        "origin": r["path"] + (f"@{start:.3f}" if seg else ""),
                        "task": {"src": r["path"], **task_settings, "start": start, "seconds": seconds,
                                 "track": real_track_id(r["source_id"], r["path"], k)}})
    return out


def _segments(norm, path: str) -> list[tuple[float, float | None]]:
    if not norm.segment_seconds:
        return [(0.0, None)]
    from forgebench.errors import ForgebenchError
    from forgebench.media.video import probe_video

    try:
        return norm.segments(probe_video(path).duration)
    except ForgebenchError:
        return [(0.0, norm.segment_seconds)]  # unreadable: one row, which fails with the reason when built


def perturbation_rows(spec: Spec, base: list[dict]) -> list[dict]:
    rows = []
    for parent in base:
        for pert in spec.perturbations:
            for level in pert.levels:
                cid = content_id({"parent": parent["clip_id"], "perturbation": pert.name, "level": level,
                                  "seed": spec.seed})
                seed = int(cid[:8], 16)
                child = {k: v for k, v in parent.items() if k not in ("task",)}
                child.update(clip_id=cid, perturbation=pert.name, level=level, path=clip_rel_path(cid),
                             kind="perturb", parent=parent["clip_id"], status="planned",
                             task={"parent_path": parent["path"], "name": pert.name, "level": level, "seed": seed})
                rows.append(child)
    return rows


def identity_groups(rows: list[dict]) -> dict[str, str]:
    """source_id -> group representative; identities joined by a donor link share a group (union-find)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for r in rows:
        a = find(r["source_id"])
        if r.get("donor_id"):
            b = find(r["donor_id"])
            parent[max(a, b)] = min(a, b)
    return {s: find(s) for s in list(parent)}


def assign_splits(spec: Spec, rows: list[dict]) -> None:
    """Set ``split`` in place: identity groups shuffled with the split seed, then cut by the fractions."""
    groups = identity_groups(rows)
    if spec.splits.mode == "official":
        by_group: dict[str, str] = {}
        for r in rows:
            g = groups[r["source_id"]]
            want = r.get("official_split") or ""
            if want and by_group.setdefault(g, want) != want:
                raise InputError(f"official splits put identity group {g!r} in both {by_group[g]} and {want}: "
                                 "use splits.mode: identity")
        missing = sorted({groups[r["source_id"]] for r in rows} - set(by_group))
        if missing:
            raise InputError(f"identity {missing[0]!r} has no official split: use splits.mode: identity")
        for r in rows:
            r["split"] = by_group[groups[r["source_id"]]]
        return
    # Stratified by class: identity groups holding only real clips, only fakes, or both are cut
    # separately, so that every split gets both classes whenever there are enough groups of each.
    labels: dict[str, set[str]] = {}
    for r in rows:
        labels.setdefault(groups[r["source_id"]], set()).add(r["label"])
    strata: dict[tuple[str, ...], list[str]] = {}
    for g in sorted(labels):
        strata.setdefault(tuple(sorted(labels[g])), []).append(g)
    rng = np.random.default_rng(spec.splits.seed)
    split_of: dict[str, str] = {}
    for key in sorted(strata):
        split_of.update(_cut(strata[key], spec.splits, rng))
    for r in rows:
        r["split"] = split_of[groups[r["source_id"]]]


def _cut(keys: list[str], fr, rng: np.random.Generator) -> dict[str, str]:
    """Shuffle identity groups ``keys`` and cut them into test / val / train by the fractions ``fr``."""
    order = rng.permutation(len(keys))
    n = len(keys)
    n_test = int(round(fr.test * n))
    n_val = int(round(fr.val * n))
    if n >= 3:  # a non-zero fraction gets at least one group when there are enough groups
        n_test = max(n_test, 1 if fr.test > 0 else 0)
        n_val = max(n_val, 1 if fr.val > 0 else 0)
    n_val = min(n_val, n - n_test)
    return {keys[idx]: "test" if rank < n_test else ("val" if rank < n_test + n_val else "train")
            for rank, idx in enumerate(order)}


def plan(spec: Spec, idents: list[InputItem], audios: list[InputItem], clips: list[SourceClip],
         videos: dict[str, list[VideoItem]] | None = None) -> list[dict]:
    """All rows of the corpus, base rows first, perturbed rows after, each group sorted by clip id.

    ``videos``: the driving / source videos of each reenactment or dubbing generator, by name
    (:func:`~forgebench.benchmarks.video_inputs.video_inputs`).
    """
    base = normalized(spec, generator_rows(spec, idents, audios, videos) + dataset_rows(clips))
    base += selfblend_rows(spec, base)
    base += framed_family_rows(spec, base, idents, audios)
    seen: dict[str, dict] = {}
    for r in base:
        if r["clip_id"] in seen:
            raise InputError(f"duplicate clip id {r['clip_id']}: {seen[r['clip_id']]['path']!r} and {r['path']!r} "
                             "are the same clip listed twice; remove one source")
        seen[r["clip_id"]] = r
    assign_splits(spec, base)
    base.sort(key=lambda r: r["clip_id"])
    derived = sorted(perturbation_rows(spec, base), key=lambda r: r["clip_id"])
    return base + derived
