"""Task functions: execute one planned row (generate, reenact, dub, run a command, perturb, or check a file).

:func:`run_row` is the only entry point the executors call (a process pool or
Dask workers: it is a plain top-level function of picklable arguments). It
returns ``{clip_id, status, reason, content_sha256, duration}``.

Resumability: a finished clip has its video at ``clips/<ab>/<id>.mp4`` (renamed
into place atomically) *and* a sidecar ``clips/<ab>/<id>.json`` written
atomically after it, recording the video's SHA-256. A row whose sidecar exists
and whose video still has that hash is skipped; anything else is redone. Failed
rows write no sidecar, so they are retried by the next build. A full disk is not
a row failure: it stops the build (rerun to resume once space is freed).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import threading
from pathlib import Path

import numpy as np

from forgebench.atomic import PARTIAL_MARK, atomic_output
from forgebench.benchmarks.lifetime import run_command
from forgebench.errors import DiskFullError, ForgebenchError, InputError, is_disk_full
from forgebench.paths import sha256_file

_PIPELINES: dict[str, object] = {}
_LOCK = threading.Lock()
_PINNED = False  # this process's libraries are limited to one thread


def sidecar_path(run_dir: Path, clip_id: str) -> Path:
    return run_dir / "clips" / clip_id[:2] / f"{clip_id}.json"


def finished(row: dict, run_dir: Path) -> dict | None:
    """The recorded result when the row's output is complete and intact, else None."""
    side = sidecar_path(run_dir, row["clip_id"])
    if not side.is_file():
        return None
    try:
        rec = json.loads(side.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    video = resolve(row["path"], run_dir)
    if not video.is_file():
        return None
    if row["kind"] != "file" and sha256_file(video) != rec.get("content_sha256"):
        return None  # the video was replaced or damaged after it was recorded
    return rec


def resolve(path: str, run_dir: Path) -> Path:
    p = Path(path)
    return p if p.is_absolute() else run_dir / p


def _record(row: dict, run_dir: Path, video: Path) -> dict:
    from forgebench.media.video import probe_video

    info = probe_video(video)
    rec = {"clip_id": row["clip_id"], "status": "ok", "reason": "", "content_sha256": sha256_file(video),
           "duration": round(float(info.duration), 6)}
    side = sidecar_path(run_dir, row["clip_id"])
    side.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(side) as tmp:
        tmp.write_text(json.dumps(rec, sort_keys=True))
    return rec


def pin_to_one_core() -> None:
    """Limit this process's compute libraries to one thread each (idempotent).

    A corpus worker that shares the machine with one worker per core must not
    spread over several cores itself: OpenCV, PyTorch and BLAS would otherwise
    each start a pool per process and the workers would fight over the cores.
    """
    global _PINNED
    if _PINNED:
        return
    import cv2
    import torch
    from threadpoolctl import threadpool_limits

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    threadpool_limits(1)
    _PINNED = True


def _pipeline(task: dict, one_core: bool = False):
    from forgebench.generator.config import GenerationConfig
    from forgebench.generator.motion import motion_registry
    from forgebench.generator.pipeline import TalkingFacePipeline

    key = json.dumps({k: task[k] for k in ("size", "fps", "motion", "crop", "crf", "preset", "motion_params")},
                     sort_keys=True)
    with _LOCK:
        if key not in _PIPELINES:
            if task["motion"] not in motion_registry:
                motion_registry.get(task["motion"])  # raises: unknown motion model, with the known names
            cfg = GenerationConfig(size=task["size"], fps=task["fps"], motion=task["motion"], crop=task["crop"],
                                   crf=task["crf"], preset=task["preset"], threads=1)  # same bytes anywhere
            _PIPELINES[key] = TalkingFacePipeline.from_config(cfg, **task["motion_params"])
        pipe = _PIPELINES[key]
        pipe.render_in_thread = not one_core
        return pipe


def _generate(row: dict, run_dir: Path, out: Path, one_core: bool) -> None:
    task = row["task"]
    image = np.load(run_dir / task["image"], allow_pickle=False)
    audio = np.load(run_dir / task["audio"], allow_pickle=False)
    pipe = _pipeline(task, one_core)
    # The writer stamps SOURCE_DATE_EPOCH as the creation time: the spec fixes it, so the bytes are reproducible.
    os.environ["SOURCE_DATE_EPOCH"] = str(task["epoch"])
    with _final_encode(task, out) as target:
        pipe(image, audio, out=target, seed=row["seed"], image_sha256=task["image_sha256"],
             audio_sha256=task["audio_sha256"], controls=task["controls"] or None)


@contextlib.contextmanager
def _final_encode(task: dict, out: Path):
    """Where the generator writes: ``out``, or (``normalize.generated``) a temporary that then passes through
    the same final encode as the clips taken from files."""
    final_crf = task.get("final_crf")
    if final_crf is None:
        yield out
        return
    target = out.with_name(f"{out.stem}{PARTIAL_MARK}gen.mp4")
    try:
        yield target
        from forgebench.benchmarks.perturb import normalize_video

        normalize_video(target, out, crf=int(final_crf), bitrate=task.get("final_bitrate"))
    finally:
        target.unlink(missing_ok=True)


def _cached(key: dict, make):
    text = json.dumps(key, sort_keys=True)
    with _LOCK:
        if text not in _PIPELINES:
            _PIPELINES[text] = make()
        return _PIPELINES[text]


def _reenact(row: dict, run_dir: Path, out: Path, one_core: bool) -> None:
    from forgebench.generator.config import ReenactmentConfig
    from forgebench.generator.reenact import ReenactmentPipeline

    task = row["task"]
    fields = {k: task[k] for k in ("size", "crop", "crf", "preset", "max_seconds", "mute")}
    pipe = _cached({"reenactment": fields},
                   lambda: ReenactmentPipeline.from_config(ReenactmentConfig(**fields, threads=1)))
    pipe.render_in_thread = not one_core
    image = np.load(run_dir / task["image"], allow_pickle=False)
    os.environ["SOURCE_DATE_EPOCH"] = str(task["epoch"])
    # A normalised real segment of this corpus (a parent row) is hashed by the pipeline: its id is no file hash.
    with _final_encode(task, out) as target:
        pipe(image, str(resolve(task["driving"], run_dir)), out=target, image_sha256=task["image_sha256"],
             driving_sha256=None if row.get("parent") else task["driving_sha256"])


def _dub(row: dict, run_dir: Path, out: Path, one_core: bool) -> None:
    from forgebench.generator.config import DubbingConfig
    from forgebench.generator.dub import DubbingPipeline
    from forgebench.generator.motion import motion_registry

    task = row["task"]
    fields = {k: task[k] for k in ("motion", "crf", "preset")}
    if task["motion"] not in motion_registry:
        motion_registry.get(task["motion"])  # raises: unknown motion model, with the known names
    pipe = _cached({"dubbing": fields}, lambda: DubbingPipeline.from_config(DubbingConfig(**fields, threads=1)))
    pipe.render_in_thread = not one_core
    audio = np.load(run_dir / task["audio"], allow_pickle=False)
    audio_sha256, fps = task["audio_sha256"], None
    frame = task.get("frames")
    if frame:  # a normalised real segment's frames, framed from its source exactly as normalize frames them
        from forgebench.benchmarks.perturb import normalized_frames

        src = resolve(frame["src"], run_dir)
        video = np.stack(list(normalized_frames(src, frame["size"], frame["fps"], frame["crop"], frame["face_scale"],
                                                frame["start"], frame["seconds"])))
        fps = rate = float(frame["fps"])
        n_frames = len(video)
    else:
        from forgebench.media.video import probe_video

        video = str(resolve(task["video"], run_dir))
        info = probe_video(video)
        n_frames, rate = info.n_frames, info.fps
    if task.get("fit"):
        audio = fit_to_frames(audio, n_frames, rate)
        audio_sha256 = None  # the pipeline hashes the fitted track
    os.environ["SOURCE_DATE_EPOCH"] = str(task["epoch"])
    with _final_encode(task, out) as target:
        pipe(video, audio, fps=fps, out=target, seed=row["seed"], video_name=task["video"] if frame else None,
             video_sha256=None if row.get("parent") else task["video_sha256"], audio_sha256=audio_sha256)


def fit_to_frames(audio: np.ndarray, n_frames: int, fps: float, rate: int = 16000) -> np.ndarray:
    """``audio`` cut, or padded with silence, to ``n_frames`` at ``fps``: a dub of it then has exactly that many
    frames (a dub lasts as long as its speech)."""
    n = int(round(n_frames / fps * rate))
    if n <= 0:
        raise InputError("the video has no frames to dub")
    audio = np.asarray(audio, np.float32)[:n]
    return np.pad(audio, (0, n - len(audio))) if len(audio) < n else audio


def _as_file(run_dir: Path, npy_rel: str, suffix: str) -> Path:
    """The .npy input as an image or WAV file for an external command (made once, atomically)."""
    src = run_dir / npy_rel
    dst = src.with_suffix(suffix)
    if not dst.is_file():
        arr = np.load(src, allow_pickle=False)
        if suffix == ".png":
            from forgebench.media.image import save_image

            save_image(dst, arr)
        else:
            from forgebench.media.audio import write_wav

            write_wav(dst, arr, 16000)
    return dst


def _command(row: dict, run_dir: Path, out: Path, allow_commands: bool) -> None:
    task = row["task"]
    if not allow_commands:
        raise InputError(f"generator {row['generator']!r} runs an external command; pass --allow-commands to "
                         "allow it (read the spec first: it runs code on this machine)")
    values = {"image": str(_as_file(run_dir, task["image"], ".png")),
              "audio": str(_as_file(run_dir, task["audio"], ".wav")), "seed": str(task["seed"])}
    with atomic_output(out) as tmp:
        values["out"] = str(tmp)
        cmd = [part.format(**values) for part in task["cmd"]]
        try:
            # Its own process group under a guard: the command and its children die with this worker.
            proc = run_command(cmd, cwd=task["cwd"], timeout=task["timeout"])
        except FileNotFoundError as exc:
            raise InputError(f"command {cmd[0]!r} cannot be started ({exc.strerror}): install it or fix the "
                             "spec's cmd") from None
        except subprocess.TimeoutExpired:
            raise InputError(f"command timed out after {task['timeout']:g} s: raise params.timeout") from None
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [""]
            raise InputError(f"command exited with status {proc.returncode}: {tail[0][:200]}")
        if not tmp.is_file() or tmp.stat().st_size == 0:
            raise InputError("the command succeeded but wrote no video to its {out} path: check the template")


def _perturb(row: dict, run_dir: Path, out: Path) -> None:
    from forgebench.benchmarks.perturb import perturb_video

    task = row["task"]
    perturb_video(resolve(task["parent_path"], run_dir), out, task["name"], task["level"], task["seed"])


def _normalize(row: dict, run_dir: Path, out: Path) -> None:
    from forgebench.benchmarks.perturb import normalize_video

    task = row["task"]
    src = resolve(task["src"], run_dir)
    if not src.is_file():
        raise InputError(f"{src} does not exist")
    normalize_video(src, out, task["size"], task["fps"], task["crf"], crop=task.get("crop", "centre"),
                    face_scale=task.get("face_scale", 1.8), start=task.get("start", 0.0),
                    seconds=task.get("seconds"), bitrate=task.get("bitrate"))


def _selfblend(row: dict, run_dir: Path, out: Path) -> None:
    from forgebench.benchmarks.selfblend import BlendConfig, selfblend_video

    task = row["task"]
    src = resolve(task["src"], run_dir)
    if not src.is_file():
        raise InputError(f"{src} does not exist")
    b = task["blend"]
    config = BlendConfig(region=b["region"], scale=b["scale"], shift=b["shift"], color=b["color"],
                         blend=tuple(b["blend"]), drift=b["drift"], lag=tuple(b.get("lag", (0, 0))))
    selfblend_video(str(src), out, config, task["seed"], size=task["size"], fps=task["fps"], crf=task["crf"],
                    crop=task.get("crop", "centre"), face_scale=task.get("face_scale", 1.8),
                    start=task.get("start", 0.0), seconds=task.get("seconds"), bitrate=task.get("bitrate"))


def run_row(row: dict, run_dir: str, allow_commands: bool = False, one_core: bool = False) -> dict:
    """Execute one planned row; never raises for a bad input (status "failed"), only for a full disk.

    ``one_core``: this worker owns one core (a pool or cluster with one task per
    core): pin the compute libraries to one thread and render inline. The bytes
    written are the same either way.
    """
    run = Path(run_dir)
    if one_core:
        pin_to_one_core()
    done = finished(row, run)
    if done is not None:
        return {**done, "skipped": True}
    video = resolve(row["path"], run)
    try:
        if row["kind"] != "file":
            video.parent.mkdir(parents=True, exist_ok=True)
            if row["kind"] == "forgebench":
                _generate(row, run, video, one_core)
            elif row["kind"] == "reenactment":
                _reenact(row, run, video, one_core)
            elif row["kind"] == "dubbing":
                _dub(row, run, video, one_core)
            elif row["kind"] == "command":
                _command(row, run, video, allow_commands)
            elif row["kind"] == "perturb":
                _perturb(row, run, video)
            elif row["kind"] == "normalize":
                _normalize(row, run, video)
            elif row["kind"] == "selfblend":
                _selfblend(row, run, video)
            else:
                raise ValueError(f"unknown row kind {row['kind']!r}")
        elif not video.is_file():
            raise InputError(f"{video} does not exist")
        rec = _record(row, run, video)
    except OSError as exc:
        if is_disk_full(exc):
            raise DiskFullError(f"no space left on the device holding {run}: free space and rerun the same "
                                "command to resume") from None
        rec = _failed(row, f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # noqa: BLE001 - any failure of one clip is recorded, the build goes on
        rec = _failed(row, str(exc) if isinstance(exc, ForgebenchError) else f"{type(exc).__name__}: {exc}")
    return {**rec, "skipped": False}


def _failed(row: dict, reason: str) -> dict:
    reason = " ".join(reason.split())[:300]
    return {"clip_id": row["clip_id"], "status": "failed", "reason": reason, "content_sha256": "", "duration": 0.0}


def is_partial(path: Path) -> bool:
    return PARTIAL_MARK in path.name
