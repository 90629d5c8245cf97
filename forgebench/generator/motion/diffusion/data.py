"""Training data for the motion model: TTS clips with phoneme-aligned mouth targets, and real videos.

A :class:`ClipData` is one clip in the model's space: ``audio`` [T, 408] (:func:`.space.audio_condition`),
``motion`` [T, 15] relative motion (:func:`.space.to_relative`), ``valid`` [T].

**TTS clips** (:func:`tts_clip`): where the targets come from, honestly:

* mouth (jaw_open, mouth_width, pucker): the viseme table of :mod:`.visemes` on the voice's own
  phoneme timings, with a random articulation gain per clip, the jaw scaled by loudness (vocal effort):
  aligned with the phonemes by construction;
* head pose, blinks, brows, smile, gaze: the *procedural baseline* run on the same audio with a random
  seed and randomised style (head-motion scale, blink rate, gaze direction, saccade size), plus a
  per-clip smile offset and a slow lean toward/away from the camera (scale). These channels are
  therefore a distillation of hand-made rules, not learned from people; real videos (``--data``)
  are what teach real head motion.

**Video clips** (:func:`video_clip`): motion from the analyzer (:func:`forgebench.media.analyze.analyze_video`),
cached per file by content hash under ``$FORGEBENCH_HOME/motion_tracks/``, relative to the clip's
resting state (:meth:`.space.Reference.of_track`), resampled to the model's frame rate; audio from
the file. Files without audio or with a face in under half the frames are skipped with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from forgebench.errors import ForgebenchError, InputError
from forgebench.generator.audio_features import extract_audio_features
from forgebench.generator.motion.base import SourceState
from forgebench.generator.motion.diffusion.space import Reference, audio_condition, to_relative, window_controls
from forgebench.paths import sha256_file
from forgebench.records import EXPRESSION_NAMES, MotionTrack

VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v"}
_E = {n: 6 + i for i, n in enumerate(EXPRESSION_NAMES)}


@dataclass
class ClipData:
    name: str
    kind: str  # "tts" or "video"
    audio: np.ndarray  # [T, 408]
    motion: np.ndarray  # [T, 15] relative
    valid: np.ndarray  # [T] bool

    @property
    def n_frames(self) -> int:
        return len(self.motion)


@dataclass
class DatasetReport:
    """What went into a dataset, for the checkpoint's config and model card."""

    clips: dict[str, int] = field(default_factory=dict)  # kind -> count
    seconds: dict[str, float] = field(default_factory=dict)  # kind -> total duration
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    sources: list[str] = field(default_factory=list)

    def add(self, clip: ClipData, fps: float) -> None:
        self.clips[clip.kind] = self.clips.get(clip.kind, 0) + 1
        self.seconds[clip.kind] = round(self.seconds.get(clip.kind, 0.0) + clip.n_frames / fps, 2)


JAW_MAX = (0.2, 0.4)  # range of the per-clip jaw gain of the viseme targets (IOD at a fully open vowel)


def _slow_noise(rng: np.random.Generator, n: int, fps: float, fmin: float, fmax: float) -> np.ndarray:
    from forgebench.generator.motion.procedural import _sinusoid_noise

    return _sinusoid_noise(rng, np.arange(n) / fps, fmin, fmax, 4)


def tts_clip(audio: np.ndarray, phonemes: list[tuple[str, float, float]], seed: int, fps: float = 25.0,
             name: str = "tts", condition_audio: np.ndarray | None = None) -> ClipData:
    """A TTS utterance -> a training clip with the synthetic targets described in the module docstring.

    ``condition_audio`` (same length as ``audio``, e.g. :func:`.augment.degrade` of it) gives the audio
    condition instead of ``audio``; the targets always come from the clean ``audio`` and its phonemes.
    """
    from forgebench.generator.motion.diffusion.visemes import mouth_targets
    from forgebench.generator.motion.procedural import ProceduralMotion, _smooth

    rng = np.random.default_rng([seed, 5])
    features = extract_audio_features(audio, fps)
    source = SourceState.neutral()
    ref = Reference.from_source(source)
    style = dict(
        head_scale=float(rng.uniform(0.5, 1.6)),
        blink_rate_per_min=float(rng.uniform(10.0, 26.0)),
        gaze_x=float(source.gaze[0] + rng.normal(0.0, 0.05)),
        gaze_y=float(source.gaze[1] + rng.normal(0.0, 0.03)),
        saccade_amp=float(rng.uniform(0.01, 0.04)),
        smile_drift=float(rng.uniform(0.005, 0.02)),
    )
    track = ProceduralMotion().generate(features, source, int(rng.integers(2**31)), **style)
    rel = to_relative(track.features(), ref).astype(np.float64)
    n = len(rel)
    # Jaw gain per clip. U(0.14, 0.28) gave a jaw opening above rest of median 0.058 IOD over a clip, about half
    # of what the analyzer measures on real speakers (median ~0.12 on real talking-face clips) and small enough
    # that the renderer kept the lips shut in a third of the frames (lip sync on rendered video 0.56 vs 0.59
    # for the procedural baseline; x1.5 on the generated jaw: 0.61). U(0.2, 0.4) is 1.43x that.
    mouth = mouth_targets(phonemes, n, fps, jaw_max=float(rng.uniform(JAW_MAX[0], JAW_MAX[1])))
    # Vocal effort opens the jaw further: louder syllables of the same vowel are produced with a wider jaw
    # (Schulman 1989, "Articulatory dynamics of loud and normal speech"), so the viseme opening is scaled by
    # the frame's loudness relative to the clip's loud level (0.4 at 30 dB below it, 1.0 at it).
    speech = features.voiced if features.voiced.any() else np.ones(n, bool)
    loud = float(np.percentile(features.energy[speech], 95))
    level = np.clip((features.energy.astype(np.float64) - (loud - 30.0)) / 30.0, 0.0, 1.0)
    mouth["jaw_open"] = mouth["jaw_open"] * _smooth(0.4 + 0.6 * level, 0.03, fps)
    for key, values in mouth.items():
        rel[:, _E[key]] = values
    rel[:, _E["smile"]] += rng.uniform(-0.01, 0.04)
    lean = rng.normal(0.0, 0.04) + 0.015 * _slow_noise(rng, n, fps, 0.05, 0.2)
    rel[:, 5] += lean
    rel[:, 4] -= 0.3 * lean  # leaning in lowers the face centre a little in the frame
    if condition_audio is not None:
        if len(condition_audio) != len(audio):
            raise ValueError("condition_audio must have the length of audio")
        features = extract_audio_features(condition_audio, fps)
    return ClipData(name, "tts", audio_condition(features), rel.astype(np.float32), np.ones(n, bool))



def cached_track(path: Path, progress: bool = False) -> MotionTrack:
    """The analyzer's MotionTrack of a video, cached by content hash (the analyzer runs once per file)."""
    from forgebench.media.analyze import analyze_video
    from forgebench.paths import forgebench_home

    cache = forgebench_home() / "motion_tracks" / f"{sha256_file(path)[:32]}.npz"
    if cache.is_file():
        return MotionTrack.load(cache)
    track = analyze_video(path, progress=progress)
    track.landmarks = None  # the cache keeps the motion, not the 478 points
    track.save(cache)
    return track


def resample_track(track: MotionTrack, fps: float, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """([n_frames, 15] features, [n_frames] valid) of ``track`` at ``fps`` by linear interpolation."""
    src_t = np.arange(track.n_frames) / track.fps
    dst_t = np.arange(n_frames) / fps
    feats = track.features()
    valid = track.valid
    if valid.sum() >= 2:
        keep = np.flatnonzero(valid)
        feats = np.stack([np.interp(src_t, src_t[keep], feats[keep, k]) for k in range(feats.shape[1])], axis=1)
    out = np.stack([np.interp(dst_t, src_t, feats[:, k]) for k in range(feats.shape[1])], axis=1)
    nearest = np.clip(np.round(dst_t * track.fps).astype(int), 0, track.n_frames - 1)
    return out, valid[nearest] & (dst_t <= src_t[-1] + 1.0 / track.fps)


def video_clip(path: Path, fps: float = 25.0, progress: bool = False) -> ClipData:
    """A real talking-face video -> a training clip; :class:`InputError` says why a file is unusable."""
    from forgebench.media.audio import load_audio

    try:
        audio = load_audio(path)
    except ForgebenchError as exc:
        raise InputError(f"no usable audio ({exc})") from None
    if audio.size == 0 or float(np.abs(audio).max()) < 1e-4:
        raise InputError("the audio track is silent")
    track = cached_track(path, progress=progress)
    if track.valid.mean() < 0.5:
        raise InputError(f"a face was found in only {100 * track.valid.mean():.0f}% of the frames")
    features = extract_audio_features(audio, fps)
    feats, valid = resample_track(track, fps, features.n_frames)
    ref = Reference.of_track(MotionTrack(fps=fps, pose=feats[:, :6], expression=feats[:, 6:13],
                                         gaze=feats[:, 13:], valid=valid))
    return ClipData(path.name, "video", audio_condition(features), to_relative(feats, ref), valid)


def video_files(paths: list[str | Path]) -> list[Path]:
    """Video files named directly or found (recursively) in folders, sorted."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.suffix.lower() in VIDEO_SUFFIXES)
        elif p.is_file():
            out.append(p)
        else:
            raise InputError(f"training data {str(p)!r} does not exist: give folders of talking-face videos")
    return out


class WindowSampler:
    """Random training windows: ``sample(batch) -> dict`` of numpy arrays (unnormalised).

    Keys: ``motion`` [B, W, 15], ``audio`` [B, W, 408], ``prev`` [B, K, 15], ``has_prev`` [B],
    ``valid`` [B, W], ``controls`` [B, 5] (what each target window exhibits). A window starts at 0 with
    probability ``p_start`` (no previous motion), else anywhere; clips are drawn by length.
    """

    def __init__(self, clips: list[ClipData], window: int, context: int, seed: int = 0, p_start: float = 0.1):
        self.clips = [c for c in clips if c.n_frames >= window]
        if not self.clips:
            raise InputError(f"no training clip is at least {window} frames long")
        lengths = np.array([c.n_frames - window + 1 for c in self.clips], np.float64)
        self.p = lengths / lengths.sum()
        self.window, self.context, self.p_start = window, context, p_start
        self.rng = np.random.default_rng([seed, 11])

    def sample(self, batch: int) -> dict[str, np.ndarray]:
        w, k = self.window, self.context
        out: dict[str, list] = {key: [] for key in ("motion", "audio", "prev", "has_prev", "valid", "controls")}
        for ci in self.rng.choice(len(self.clips), size=batch, p=self.p):
            c = self.clips[ci]
            s = 0 if self.rng.random() < self.p_start else int(self.rng.integers(0, c.n_frames - w + 1))
            m = c.motion[s : s + w]
            out["motion"].append(m)
            out["audio"].append(c.audio[s : s + w])
            out["valid"].append(c.valid[s : s + w])
            has = s >= k and k > 0
            out["has_prev"].append(has)
            out["prev"].append(c.motion[s - k : s] if has else np.zeros((k, m.shape[1]), np.float32))
            out["controls"].append(window_controls(m))
        return {key: np.asarray(v) for key, v in out.items()}


def clip_group(name: str) -> str:
    """The utterance or video a clip comes from: augmented copies (``<name>+aug<j>``) share their original's."""
    return name.split("+aug")[0]


def build_dataset(video_paths: list[str | Path], n_tts: int, fps: float = 25.0, seed: int = 0, voice: str = "joe",
                  progress: bool = True, augment: int = 0) -> tuple[list[ClipData], DatasetReport]:
    """All training clips: ``n_tts`` synthesised utterances plus every usable video under ``video_paths``.

    ``augment`` > 0 adds that many copies of each utterance whose audio condition comes from a degraded
    recording (:func:`.augment.degrade`: reverberation, noise, band limit) and whose targets are the clean
    utterance's; a copy is named ``<utterance>+aug<j>`` (:func:`clip_group` keeps it with its original).

    Unusable videos are skipped and listed in the report with the reason; no usable clip at all is an
    :class:`InputError` that names the skipped files.
    """
    import sys

    from forgebench.generator.motion.diffusion.augment import degrade
    from forgebench.generator.motion.diffusion.corpus import tts_corpus
    from forgebench.progress import tqdm

    report = DatasetReport()
    clips: list[ClipData] = []
    if n_tts > 0:
        report.sources.append(f"tts: {n_tts} utterances, voice {voice!r}, corpus seed {seed}, random styles")
        if augment:
            report.sources.append(f"tts recording augmentation: {augment} degraded cop{'y' if augment == 1 else 'ies'}"
                                  " per utterance (reverberation, noise, band limit; clean targets)")
        corpus = tts_corpus(n_tts, seed=seed, voice=voice)
        for i, utt in enumerate(tqdm(corpus, total=n_tts, desc="tts corpus", disable=not progress, file=sys.stderr)):
            clip_seed = seed * 100_003 + i
            clip = tts_clip(utt.audio, utt.phonemes, seed=clip_seed, fps=fps, name=f"tts{i:05d}")
            clips.append(clip)
            report.add(clip, fps)
            for j in range(augment):
                # Same seed: same targets (head motion, styles) as the clean clip, only the condition differs.
                worse = degrade(utt.audio, np.random.default_rng([clip_seed, 17, j]))
                clip = tts_clip(utt.audio, utt.phonemes, seed=clip_seed, fps=fps, name=f"tts{i:05d}+aug{j}",
                                condition_audio=worse)
                clips.append(clip)
                report.add(clip, fps)
    files = video_files(video_paths) if video_paths else []
    if video_paths:
        report.sources.append(f"videos: {len(files)} files under {', '.join(map(str, video_paths))}")
    for f in tqdm(files, desc="videos", disable=not progress, file=sys.stderr):
        try:
            clip = video_clip(f, fps=fps)
        except InputError as exc:
            report.skipped.append((str(f), str(exc)))
            continue
        clips.append(clip)
        report.add(clip, fps)
    if not clips:
        why = "; ".join(f"{Path(f).name}: {r}" for f, r in report.skipped) or "no video files were found"
        raise InputError(f"no usable training clip ({why}); give folders of talking-face videos with audio or --tts N")
    return clips, report
