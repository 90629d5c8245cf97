"""Running the paired-fidelity benchmark: regenerate each real clip, score it, resume where it stopped.

The generators are the products, called in process as a user's command would run them: reenactment
(``generate --image FIRST_FRAME --driving CLIP --crop full``) for ``self-reenact`` and the audio-driven
pipeline (``generate --image FIRST_FRAME --audio CLIP --crop full``) for ``audio``; each writes its MP4
(watermark, H.264) under ``OUT/clips/<clip>/`` and the scores are of the decoded file, as a user would
score it. A finished (clip, mode) keeps its video and its scores (``<mode>.json``, with the protocol's
config hash): a rerun skips it, and only the set-level metrics (FID, FVD) read the videos again.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from forgebench.benchmarks.fidelity import FidelityConfig, RealClip, SetFeatures, prepare_real, score_pair
from forgebench.errors import ForgebenchError, InputError

Generator = Callable[[RealClip, Path, FidelityConfig], np.ndarray]


def regenerate_self(real: RealClip, out: Path, config: FidelityConfig) -> np.ndarray:
    """Self-reenactment: the first frame driven by the clip itself (``--crop full``), written to ``out``."""
    try:
        from forgebench.generator.config import ReenactmentConfig
        from forgebench.generator.reenact import ReenactmentPipeline
    except ImportError:
        raise InputError("this install has no reenactment generator: run --mode audio") from None
    from forgebench.media.video import read_video

    pipe = ReenactmentPipeline.from_config(ReenactmentConfig(size=config.size, crop="full", crf=config.crf))
    pipe(real.frames[0], real.frames, fps=real.fps, audio=real.audio, out=out,
         image_name=f"the first frame of {real.path.name}", driving_name=real.path.name)
    return read_video(out, with_audio=False).frames


def regenerate_audio(real: RealClip, out: Path, config: FidelityConfig) -> np.ndarray:
    """Audio-driven: the first frame and the clip's own speech (``--crop full``), written to ``out``."""
    from forgebench.generator.config import GenerationConfig
    from forgebench.generator.pipeline import TalkingFacePipeline
    from forgebench.media.video import read_video

    if real.audio is None or not np.any(real.audio):
        raise InputError(f"{real.path.name} has no audio to drive the audio mode")
    gen = GenerationConfig(size=config.size, fps=real.fps, seed=config.seed, motion=config.motion, crop="full",
                           crf=config.crf)
    TalkingFacePipeline.from_config(gen)(real.frames[0], real.audio, out=out, seed=config.seed,
                                         image_name=f"the first frame of {real.path.name}")
    return read_video(out, with_audio=False).frames


def still(real: RealClip, out: Path, config: FidelityConfig) -> np.ndarray:
    """The baseline: the first frame, repeated (nothing is written)."""
    return np.repeat(real.frames[:1], len(real.frames), axis=0)


GENERATORS: dict[str, Generator] = {"self-reenact": regenerate_self, "audio": regenerate_audio, "still": still}


def read_identities(path: str | Path | None) -> dict[str, str]:
    """A CSV with columns ``clip`` (file name, stem or clip id) and ``identity``; {} for None."""
    if path is None:
        return {}
    path = Path(path)
    if not path.is_file():
        raise InputError(f"identities file {str(path)!r} does not exist: give a CSV with columns clip,identity")
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or not {"clip", "identity"} <= set(rows[0]):
        raise InputError(f"{path} needs the columns clip,identity (found {', '.join(rows[0]) if rows else 'none'})")
    out = {}
    for r in rows:
        out[r["clip"]] = out[Path(r["clip"]).stem] = r["identity"]
    return out


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    from forgebench.atomic import atomic_output

    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=1, default=float))


def run_fidelity(inputs: Sequence[str | Path], out_dir: str | Path, config: FidelityConfig | None = None, *,
                 identities: dict[str, str] | None = None, generators: dict[str, Generator] | None = None,
                 prepare: Callable[..., RealClip] = prepare_real, progress: bool = True):
    """Regenerate and score every clip of ``inputs`` (videos, folders); return ``(per_clip, results)`` tables.

    Writes ``OUT/per_clip.csv``, ``OUT/results.csv`` (the tidy results table), ``OUT/fidelity.md`` and
    the videos under ``OUT/clips/``. ``generators`` replaces the product generators per mode and
    ``prepare`` the reading of real clips (the measurement scripts render in memory with renderer
    variants and cache the real crops).
    """
    import pandas as pd
    from tqdm import tqdm

    from forgebench.atomic import atomic_output
    from forgebench.benchmarks.fidelity import markdown, results_table
    from forgebench.metrics.inputs import discover_inputs

    config = config or FidelityConfig()
    out_dir = Path(out_dir)
    items = discover_inputs([str(i) for i in inputs])
    identities = identities or {}
    gens = {**GENERATORS, **(generators or {})}
    rows: list[dict[str, Any]] = []
    want_sets = bool(config.set_metrics)
    sets = {m: SetFeatures(config, reference=(m == "real")) for m in (*config.modes, "real")}
    bar = tqdm(items, desc="fidelity", unit="clip", disable=not progress, file=sys.stderr)
    for item in bar:
        identity = identities.get(item.path.name) or identities.get(item.clip_id) or item.clip_id
        clip_dir = out_dir / "clips" / item.clip_id
        try:
            real = prepare(item.path, item.clip_id, identity, config.size, config.max_seconds)
        except ForgebenchError as exc:
            rows += [{"clip_id": item.clip_id, "identity": identity, "mode": m, "metric": k, "status": "skipped",
                      "value": None, "reason": str(exc)} for m in config.modes for k in config.metrics]
            continue
        if want_sets:
            sets["real"].add(real.frames)
        for mode in config.modes:
            bar.set_postfix_str(f"{item.clip_id[:24]} {mode}")
            cache = clip_dir / f"{mode}.json"
            video = clip_dir / f"{mode}.mp4"
            scores = _cached(cache, config)
            frames = None
            try:
                if scores is None:
                    frames = gens[mode](real, video, config)
                    scores = score_pair(frames, real, config)
                    _write_json(cache, {"config_hash": config.config_hash(), "identity": identity,
                                        "box": list(real.box), "frames": len(real.frames), "scores": scores})
                if want_sets:
                    if frames is None:
                        frames = gens["still"](real, video, config) if mode == "still" else _read(video)
                    sets[mode].add(frames)
            except ForgebenchError as exc:
                scores = {k: {"status": "skipped", "value": None, "reason": str(exc)} for k in config.metrics}
            for metric, res in scores.items():
                rows.append({"clip_id": item.clip_id, "identity": identity, "mode": mode, "metric": metric,
                             "status": res["status"], "value": res.get("value"), "reason": res.get("reason", ""),
                             **{k: v for k, v in res.items() if k in ("missing", "l2_px", "coverage")}})
    per_clip = pd.DataFrame(rows)
    if per_clip.empty or not (per_clip["status"] == "ok").any():
        why = per_clip["reason"].dropna().iloc[0] if len(per_clip) else "no clips"
        raise InputError(f"no clip could be scored ({why})")
    set_level = {mode: sets[mode].score(sets["real"]) for mode in config.modes} if want_sets else {}
    results = results_table(per_clip, set_level, config)
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_output(out_dir / "per_clip.csv") as tmp:
        per_clip.to_csv(tmp, index=False)
    from forgebench.results import write_results

    write_results(results, out_dir / "results.csv")
    with atomic_output(out_dir / "fidelity.md") as tmp:
        tmp.write_text(markdown(results, per_clip))
    return per_clip, results


def _read(video: Path) -> np.ndarray:
    from forgebench.media.video import read_video

    if not video.is_file():
        raise InputError(f"{video} is missing: delete its .json beside it and rerun")
    return read_video(video, with_audio=False).frames


def _cached(path: Path, config: FidelityConfig) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if payload.get("config_hash") != config.config_hash():
        return None
    scores = payload.get("scores", {})
    return scores if all(m in scores for m in config.metrics) else None
