"""The paired-fidelity benchmark: regenerate real clips and score them against their own frames.

Each real clip is cut to a fixed face-centred square over the whole clip (the analyzer's talking-head
framing, widened to hold every frame's face) and resized to ``size``² (FOMM's protocol evaluates
256² VoxCeleb crops). Then, per mode:

* ``self-reenact`` — the reenactment generator with ``--image`` = the crop's first frame,
  ``--driving`` = the crop, ``--crop full``: motion aligned with the real frames, so every paired
  metric is meaningful (FOMM's "reconstruction");
* ``audio`` — the audio-driven generator from the first frame and the clip's own speech. Its motion is
  *not* the real motion: L1, PSNR, SSIM, LPIPS and AKD then measure how far the clip drifts from the real
  one, not rendering fidelity; AED (identity), FID and FVD (distributions) are the meaningful ones;
* ``still`` — the first frame repeated: the floor any motion has to beat.

Scores: the paired metrics of :mod:`forgebench.metrics.paired` and :mod:`forgebench.metrics.image_quality`
per clip, their mean over clips with a 95% bootstrap interval that resamples identities, and FID/FVD16 of
each mode's frames against the real crops. :func:`results_table` gives the tidy results table that the
report renderers read.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from forgebench.errors import ForgebenchError, InputError
from forgebench.media import face_geometry as fg
from forgebench.records import MotionTrack

PROTOCOL, VERSION = "fidelity", "1"
MODES = ("self-reenact", "audio", "still")
ALIGNED = {"self-reenact": True, "audio": False, "still": True}
PAIRED = ("l1", "psnr", "ssim", "lpips", "akd", "akd_dlib", "aed")
SET_LEVEL = ("fid", "fvd16")
UNALIGNED_OK = frozenset({"aed", "fid", "fvd16"})  # meaningful without aligned motion
# FOMM (Siarohin et al. 2019), VoxCeleb self-reenactment, Table 3. Its AED is OpenFace's squared
# distance (not comparable with ours); its L1 and AKD are the same formulas as ours.
FOMM_ANCHOR = {"l1": 0.043, "akd": 1.294}
MIN_FACE_SHARE = 0.5
IOD_PER_SIDE = 0.2  # the analyzer's talking-head framing: IOD a fifth of the square
MARGIN = 1.15  # the square also holds every frame's face oval with this margin


@dataclass(frozen=True)
class FidelityConfig:
    """Protocol settings; everything that changes a score is in :meth:`config_hash`."""

    size: int = 256
    modes: tuple[str, ...] = ("self-reenact", "audio", "still")
    max_seconds: float = 10.0
    motion: str = "procedural"  # the audio-driven motion model
    seed: int = 0
    crf: int = 18
    metrics: tuple[str, ...] = PAIRED
    set_metrics: tuple[str, ...] = SET_LEVEL
    fid_stride: int = 25  # FID reads every n-th frame (one a second at 25 fps)
    fvd_clips_per_video: int = 4
    aed_samples: int = 16

    def __post_init__(self) -> None:
        if self.size < 64 or self.size % 2:
            raise InputError(f"--size {self.size} is not usable: give an even number of pixels, at least 64")
        unknown = [m for m in self.modes if m not in MODES]
        if unknown or not self.modes:
            raise InputError(f"unknown mode {unknown[0] if unknown else '(none)'!r}: use {', '.join(MODES)}")
        if not 1.0 <= self.max_seconds <= 600.0:
            raise InputError(f"--max-seconds {self.max_seconds} is out of range: use 1 to 600")
        bad = [m for m in (*self.metrics, *self.set_metrics) if m not in PAIRED + SET_LEVEL]
        if bad:
            raise InputError(f"unknown fidelity metric {bad[0]!r}: use {', '.join(PAIRED + SET_LEVEL)}")
        if self.fid_stride < 1:
            raise InputError(f"--fid-stride must be at least 1, got {self.fid_stride}")

    def config_hash(self) -> str:
        import hashlib

        payload = {k: v for k, v in asdict(self).items() if k not in ("modes", "set_metrics")}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class RealClip:
    """A real clip as the benchmark uses it: the face-centred square ``frames`` [T, S, S, 3] and their track."""

    clip_id: str
    path: Path
    identity: str
    frames: np.ndarray
    fps: float
    audio: np.ndarray | None
    box: tuple[int, int, int]  # x0, y0, side in the source video's pixels
    track: MotionTrack
    notes: list[str] = field(default_factory=list)
    reference: Any = None  # the ground-truth metrics Clip, built on first use (caches per-frame work)


def face_square(landmarks: np.ndarray, valid: np.ndarray, width: int, height: int) -> tuple[int, int, int]:
    """A square ``(x0, y0, side)`` inside the frame framing the face of a whole clip.

    The analyzer's framing (5 inter-ocular distances wide, centred 0.6 IOD below the eyes), with the
    median over frames, widened to hold every frame's face oval; shifted (never shrunk) to stay in the
    frame, and at most the frame's shorter side.
    """
    lm = np.asarray(landmarks, np.float64)[np.asarray(valid, bool)][:, :, :2]
    if len(lm) == 0:
        raise InputError("no frame has a face")
    right, left = fg.eye_centres(lm)
    iod = np.linalg.norm(left - right, axis=-1)
    centre = np.median((right + left) / 2 + np.stack([np.zeros_like(iod), 0.6 * iod], -1), axis=0)
    oval = lm[:, list(fg.FACE_OVAL)]
    reach = np.abs(oval - centre).max(axis=(0, 1))  # half-extent every frame's face needs around the centre
    side = max(float(np.median(iod)) / IOD_PER_SIDE, 2 * MARGIN * float(reach.max()))
    side = int(round(min(side, width, height)))
    x0 = int(round(np.clip(centre[0] - side / 2, 0, width - side)))
    y0 = int(round(np.clip(centre[1] - side / 2, 0, height - side)))
    return x0, y0, side


def prepare_real(path: str | Path, clip_id: str, identity: str, size: int, max_seconds: float,
                 progress: bool = False) -> RealClip:
    """Read a real clip (two passes: track, then crop), its audio, and track the crop."""
    import cv2

    from forgebench.media.analyze import analyze_frames
    from forgebench.media.face_mesh import FaceMeshTracker
    from forgebench.media.video import iter_frames, probe_video, read_video

    path = Path(path)
    info = probe_video(path)
    n_max = max(1, int(round(max_seconds * info.fps)))
    points, valid = [], []
    with FaceMeshTracker(video=True, max_faces=1, refine_landmarks=False) as tracker:
        for i, frame in enumerate(iter_frames(path)):
            if i >= n_max:
                break
            found = tracker(frame)
            valid.append(found is not None)
            points.append(found if found is not None else np.zeros((468, 3), np.float32))
    valid_a = np.array(valid, bool)
    if valid_a.mean() < MIN_FACE_SHARE:
        raise InputError(f"{path.name} shows a face in only {valid_a.mean():.0%} of its first {len(valid)} frames "
                         f"(at least {MIN_FACE_SHARE:.0%} needed)")
    x0, y0, side = face_square(np.stack(points), valid_a, info.width, info.height)
    interp = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
    frames = np.stack([cv2.resize(np.ascontiguousarray(f[y0:y0 + side, x0:x0 + side]), (size, size),
                                  interpolation=interp) for _, f in zip(range(len(valid)), iter_frames(path))])
    audio = read_video(path, max_frames=1, with_audio=True).audio if info.has_audio else None
    if audio is not None:
        from forgebench.media.audio import decode_audio, resample

        samples, rate = decode_audio(path, max_seconds=None)
        audio = resample(samples, rate, 16000)[: int(round(len(frames) / info.fps * 16000))]
    track = analyze_frames(frames, info.fps, progress=progress, total=len(frames))
    notes = [] if side >= size else [f"the face square is {side} px, upscaled to {size}"]
    return RealClip(clip_id, path, identity, frames, info.fps, audio, (x0, y0, side), track, notes)


# --------------------------------------------------------------------------- scoring


def _metric_value(name: str, clip: Any, config: FidelityConfig) -> tuple[float, dict[str, Any]]:
    from forgebench.metrics import image_quality, paired

    if name == "l1":
        return paired.l1_clip(clip)
    if name == "psnr":
        return image_quality.psnr_clip(clip)
    if name == "ssim":
        return image_quality.ssim_clip(clip)
    if name == "akd":
        return paired.akd_clip(clip, config.size, "mediapipe")
    if name == "akd_dlib":
        return paired.akd_clip(clip, config.size, "dlib")
    if name == "aed":
        return paired.aed_clip(clip, config.aed_samples)
    if name == "lpips":
        from forgebench.metrics.lpips_metric import _LPIPS

        return _LPIPS().clip_value(clip)
    raise InputError(f"unknown paired metric {name!r}")


def score_pair(gen: np.ndarray, real: RealClip, config: FidelityConfig,
               gen_track: MotionTrack | None = None) -> dict[str, dict[str, Any]]:
    """Every paired metric of generated frames [T, S, S, 3] against the real clip's frames.

    Returns ``{metric: {"status": "ok" | "skipped" | "unavailable", "value", "reason", "fix", ...details}}``.
    ``gen_track`` (optional) is the analyzer's track of ``gen[1:]``.
    """
    from forgebench.errors import WeightsUnavailableError
    from forgebench.media.analyze import analyze_frames
    from forgebench.metrics.base import Clip

    if gen.shape[1:] != real.frames.shape[1:]:
        raise InputError(f"{real.clip_id}: generated frames {gen.shape[1:]} differ from the real crop's "
                         f"{real.frames.shape[1:]}")
    # Frame 0 is the input image itself (an exact copy for 'still', inf dB of PSNR): scores are over 1..T-1.
    t = min(len(gen), len(real.frames))
    if t < 2:
        raise InputError(f"{real.clip_id}: fewer than 2 frames to score")
    if gen_track is None and {"akd", "aed"} & set(config.metrics):
        gen_track = analyze_frames(gen[1:t], real.fps)
    if real.reference is None:  # one ground truth per real clip: its landmarks and embeddings are kept in it
        real.reference = Clip(real.clip_id, frames=real.frames[1:], fps=real.fps,
                              track=real.track.slice(1, len(real.frames)))
    clip = Clip(real.clip_id, frames=gen[1:t], fps=real.fps, track=gen_track, reference=real.reference)
    out: dict[str, dict[str, Any]] = {}
    for name in config.metrics:
        try:
            value, details = _metric_value(name, clip, config)
            out[name] = {"status": "ok", "value": float(value), **details}
        except WeightsUnavailableError as exc:
            fix = str(exc).split("run '")[-1].rstrip("'") if "run '" in str(exc) else ""
            out[name] = {"status": "unavailable", "value": None, "reason": str(exc), "fix": fix}
        except ForgebenchError as exc:
            out[name] = {"status": "skipped", "value": None, "reason": str(exc)}
    return out


class SetFeatures:
    """Streaming features of one set of clips for the set-level metrics: Inception (FID) and I3D (FVD16).

    ``add(frames)`` extracts at once, so no clip's frames are kept; a missing network is remembered and
    reported as ``unavailable`` with the command that fixes it.
    """

    def __init__(self, config: FidelityConfig, reference: bool = False) -> None:
        from forgebench.metrics.frechet import StreamingGaussianStats

        self.config, self.reference = config, reference
        self.stats = {name: StreamingGaussianStats() for name in config.set_metrics}
        self.missing: dict[str, str] = {}
        self._rng = np.random.default_rng(config.seed)

    def add(self, frames: np.ndarray) -> None:
        from forgebench.errors import WeightsUnavailableError

        for name, stats in self.stats.items():
            if name in self.missing:
                continue
            try:
                if name == "fid":
                    from forgebench.metrics.inception import shared_extractor

                    feats = shared_extractor()[0](frames[:: self.config.fid_stride])
                else:
                    from forgebench.metrics.fvd import i3d_model, video_features

                    feats = video_features(i3d_model(), frames, 16, self.reference, self._rng,
                                           self.config.fvd_clips_per_video)
            except WeightsUnavailableError as exc:
                self.missing[name] = str(exc)
                continue
            if len(feats):
                stats.update(feats)

    def score(self, real: SetFeatures) -> dict[str, dict[str, Any]]:
        """FID / FVD16 of this set against ``real``'s features."""
        from forgebench.metrics.frechet import frechet_distance

        out: dict[str, dict[str, Any]] = {}
        for name, stats in self.stats.items():
            why = self.missing.get(name) or real.missing.get(name)
            if why:
                fix = why.split("run '")[-1].rstrip("'") if "run '" in why else ""
                out[name] = {"status": "unavailable", "value": None, "n": 0, "reason": why, "fix": fix}
            elif stats.n < 2 or real.stats[name].n < 2:
                out[name] = {"status": "unavailable", "value": None, "n": stats.n,
                             "reason": f"{name} needs at least 2 samples on each side (have {stats.n})"}
            else:
                value = frechet_distance(*stats.mean_cov(), *real.stats[name].mean_cov())
                out[name] = {"status": "ok", "value": float(value), "n": stats.n}
        return out


def results_table(per_clip, set_level: dict[str, dict[str, dict[str, Any]]], config: FidelityConfig,
                  anchor: bool = True):
    """The tidy results table: one row per (mode, metric), mean over clips with an identity-bootstrap CI.

    ``per_clip`` has columns ``clip_id, identity, mode, metric, status, value``; ``set_level`` maps
    mode -> metric -> score. Rows of unaligned modes whose metric needs aligned motion say so in ``note``.
    """
    from forgebench.metrics import load_metrics
    from forgebench.metrics.base import metric_registry
    from forgebench.metrics.bootstrap import bootstrap_ci
    from forgebench.results import results_frame

    load_metrics()
    rows = []
    common = {"protocol": PROTOCOL, "protocol_version": VERSION, "config_hash": config.config_hash(),
              "task": "generation", "split": "real", "seed": config.seed, "condition": f"{config.size}px"}
    for mode in [m for m in MODES if m in set(per_clip["mode"]) | set(set_level)]:
        for name in config.metrics:
            hib = metric_registry.get(name).higher_is_better
            sub = per_clip[(per_clip["mode"] == mode) & (per_clip["metric"] == name)]
            ok = sub[sub["status"] == "ok"]
            note = "" if ALIGNED[mode] or name in UNALIGNED_OK else "motion not aligned: distance, not fidelity"
            if ok.empty:
                reasons = sub["reason"].dropna().astype(str)
                rows.append({**common, "subject": mode, "metric": name, "value": float("nan"), "n": 0,
                             "higher_is_better": hib, "status": "unavailable",
                             "note": (reasons.iloc[0] if len(reasons) else "not computed")})
                continue
            vals = ok["value"].to_numpy(np.float64)
            lo, hi = bootstrap_ci(vals, groups=ok["identity"].to_numpy())
            rows.append({**common, "subject": mode, "metric": name, "value": float(vals.mean()), "ci_low": lo,
                         "ci_high": hi, "n": len(vals), "higher_is_better": hib, "note": note})
        for name, res in set_level.get(mode, {}).items():
            ok = res["status"] == "ok" and res["value"] is not None
            rows.append({**common, "subject": mode, "metric": name, "value": res["value"] if ok else float("nan"),
                         "n": int(res.get("n") or 0), "higher_is_better": False,
                         "status": "ok" if ok else "unavailable", "note": "" if ok else res.get("reason", "")})
    if anchor:
        anchor_common = {**common, "config_hash": "", "split": "VoxCeleb", "condition": "published"}
        for name in config.metrics:
            hib = metric_registry.get(name).higher_is_better
            if name in FOMM_ANCHOR:
                rows.append({**anchor_common, "subject": "FOMM (VoxCeleb, published)", "metric": name,
                             "value": FOMM_ANCHOR[name], "higher_is_better": hib, "n": 0})
            else:
                rows.append({**anchor_common, "subject": "FOMM (VoxCeleb, published)", "metric": name,
                             "value": float("nan"), "higher_is_better": hib, "status": "unavailable",
                             "note": "not published, or not comparable (FOMM's AED is OpenFace's squared distance)"})
    return results_frame(rows)


def markdown(results, per_clip=None) -> str:
    """The results as Markdown tables (the report renderers'), a per-clip table after them."""
    from forgebench.reports.tables import pivot, to_markdown

    df = results.copy()
    df["condition"] = ""  # one table: the anchor is a row beside the modes
    df["split"] = ""
    out = [to_markdown(pivot(df, title=f"Paired fidelity ({PROTOCOL} v{VERSION}, "
                                       f"{results['condition'].iloc[0]})"))]
    out.append("Modes: `self-reenact` regenerates each clip from its first frame and its own tracked motion "
               "(aligned: every metric is fidelity); `audio` from its first frame and its own speech (motion "
               "not aligned: only AED, FID and FVD measure fidelity, the rest distance); `still` repeats the "
               "first frame. Intervals: 95% bootstrap over identities.")
    if per_clip is not None and len(per_clip):
        from forgebench.metrics import load_metrics
        from forgebench.metrics.base import metric_registry
        from forgebench.results import results_frame

        load_metrics()
        ok = per_clip[per_clip["status"] == "ok"]
        rows = [{"subject": f"{r.clip_id} · {r.mode}", "metric": r.metric, "value": float(r.value),
                 "higher_is_better": metric_registry.get(r.metric).higher_is_better} for r in ok.itertuples()]
        if rows:
            out.append(to_markdown(pivot(results_frame(rows), title="Per clip"), interval="none"))
    return "\n\n".join(out) + "\n"

