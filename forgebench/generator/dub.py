"""The dubbing pipeline: real video + new speech -> the same video, its mouth re-synced (diffusers-style).

``DubbingPipeline`` holds named stage components — ``video_analyzer`` (the video's frames
and per-frame face track), ``audio_features`` and ``motion`` (new speech -> mouth motion,
the same stages as :class:`~forgebench.generator.pipeline.TalkingFacePipeline`),
``compositor_config`` (:mod:`forgebench.generator.render.composite`: only the mouth, jaw
and chin are re-rendered, blended into each real frame through a feathered mask) and
``writer``. The output keeps the video's size (scaled down to fit 720p when larger) and
frame rate, is as long as the speech — the video plays forward then backward
(ping-pong, as Wav2Lip does) when it is shorter — carries the speech as its audio, and is
watermarked with provenance metadata (``family=dubbing``) like every output.

Per output frame ``k`` showing video frame ``i(k)``, the mouth coefficients
(:data:`~forgebench.generator.render.composite.MOUTH_CHANNELS`) become the motion model's,
generated from the speech around the video's resting mouth; pose, eyes, brows and smile
stay the real frame's.

>>> pipe = DubbingPipeline.from_config(DubbingConfig(motion="procedural"))  # doctest: +SKIP
>>> result = pipe("video.mp4", speech, out="dubbed.mp4")  # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from forgebench import __version__
from forgebench.errors import InputError
from forgebench.generator.audio_features import AudioFeatureConfig, extract_audio_features
from forgebench.generator.config import DubbingConfig
from forgebench.generator.motion import motion_registry
from forgebench.generator.motion.base import MotionGenerator, SourceState
from forgebench.generator.pipeline import (
    AUDIO_RATE,
    MAX_AUDIO_SECONDS,
    GenerationResult,
    Stopwatch,
    render_and_write,
    sha256_array,
)
from forgebench.generator.render.composite import MOUTH_CHANNELS, CompositeConfig, LowerFaceCompositor
from forgebench.generator.video_input import VideoAnalyzer, VideoAnalyzerConfig, VideoInput
from forgebench.generator.write import WriterConfig
from forgebench.records import EXPRESSION_NAMES, MotionTrack

MIN_VIDEO_SECONDS = 1.0
MIN_COVERAGE = 0.5  # a face in at least this share of the frames
MAX_GAP_SECONDS = 0.25  # shorter face losses are bridged by interpolation; longer ones keep the real frames
MOTION_FPS = 25.0  # motion is generated at this rate and resampled to the video's
MAX_REFERENCES = 6  # closed-mouth frames texturing the lower face, spread over the head poses
REFERENCE_SPREAD_DEG = 6.0
_MOUTH = [EXPRESSION_NAMES.index(n) for n in MOUTH_CHANNELS]


@dataclass
class DubbingResult(GenerationResult):
    """:class:`GenerationResult` for a dub: ``track`` is the output's motion (the real pose, the new mouth).

    ``source`` is the video's own track; ``frame_index[k]`` the video frame under output frame k.
    """

    source: MotionTrack | None = None
    frame_index: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    fps: float = 25.0


def pingpong(n_out: int, n_src: int) -> np.ndarray:
    """[n_out] source frame per output frame: forward, backward, forward, ... (no frame doubled at the turns).

    >>> pingpong(9, 4).tolist()
    [0, 1, 2, 3, 2, 1, 0, 1, 2]
    """
    if n_src <= 1:
        return np.zeros(n_out, np.int64)
    period = 2 * n_src - 2
    m = np.arange(n_out, dtype=np.int64) % period
    return np.where(m < n_src, m, period - m)


def bridge_gaps(track: MotionTrack, max_gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Landmarks [T, 478, 3] with face losses of at most ``max_gap`` frames interpolated, and [T] usable flags.

    Frames of a longer loss (and losses at the ends longer than ``max_gap``) are not usable:
    the dub keeps those real frames as they are.
    """
    valid = track.valid
    lm = np.array(track.landmarks, np.float64)
    usable = valid.copy()
    idx = np.flatnonzero(valid)
    t = 0
    n = len(valid)
    while t < n:
        if valid[t]:
            t += 1
            continue
        end = t
        while end < n and not valid[end]:
            end += 1
        if end - t <= max_gap:
            before = idx[idx < t]
            after = idx[idx >= end]
            for s in range(t, end):
                if len(before) and len(after):
                    a, b = before[-1], after[0]
                    w = (s - a) / (b - a)
                    lm[s] = (1 - w) * lm[a] + w * lm[b]
                else:
                    lm[s] = lm[before[-1] if len(before) else after[0]]
            usable[t:end] = True
        t = end
    return lm, usable


def rest_state(track: MotionTrack) -> SourceState:
    """The video's resting face: median pose and expression, the jaw at its most closed tenth, eyes open."""
    v = track.valid
    jaw = track.expr("jaw_open")
    expression = np.median(track.expression[v], axis=0)
    expression[EXPRESSION_NAMES.index("jaw_open")] = float(np.percentile(jaw[v], 10))
    for name in ("blink_left", "blink_right"):
        expression[EXPRESSION_NAMES.index(name)] = 0.0
    return SourceState(pose=np.median(track.pose[v], axis=0), expression=expression,
                       gaze=np.median(track.gaze[v], axis=0))


def reference_frames(track: MotionTrack, usable: np.ndarray, max_refs: int = MAX_REFERENCES,
                     spread_deg: float = REFERENCE_SPREAD_DEG) -> np.ndarray:
    """Frames whose closed mouths texture the re-rendered lower faces, spread over the head poses.

    Candidates are the tracked frames with open eyes whose mouth is closed and neutral: the
    fifth nearest the median mouth (jaw at its most closed tenth, width, pucker and smile at
    their medians, in IOD). The first is the one nearest the median pose; each next one is the
    candidate farthest in
    pose (yaw, pitch, roll, degrees) from those already chosen, while that is more than
    ``spread_deg``: a frame is drawn from a reference within a few degrees of its own pose,
    since warping a texture across a larger turn shows the wrong side of the nose and jaw.
    """
    v = track.valid & usable
    mouth = track.expression[:, [EXPRESSION_NAMES.index(n) for n in ("jaw_open", *MOUTH_CHANNELS[1:], "smile")]]
    neutral = np.median(mouth[v], axis=0)
    neutral[0] = np.percentile(mouth[v, 0], 10)
    off = np.abs(mouth - neutral).sum(axis=1)
    blink = track.expression[:, [EXPRESSION_NAMES.index("blink_left"), EXPRESSION_NAMES.index("blink_right")]]
    candidates = np.flatnonzero(v & (off <= np.percentile(off[v], 20)) & (blink.max(axis=1) < 0.3))
    if len(candidates) == 0:
        candidates = np.flatnonzero(v & (off <= np.percentile(off[v], 20)))
    pose = track.pose[candidates, :3].astype(np.float64)
    chosen = [int(np.argmin(np.abs(pose - np.median(track.pose[v, :3], axis=0)).sum(axis=1)))]
    while len(chosen) < max_refs:
        distance = np.min([np.abs(pose - pose[c]).sum(axis=1) for c in chosen], axis=0)
        far = int(np.argmax(distance))
        if distance[far] <= spread_deg:
            break
        chosen.append(far)
    return candidates[chosen]


def assign_references(pose: np.ndarray, references: np.ndarray, switch_deg: float = 3.0) -> np.ndarray:
    """[n] index into ``references`` per frame of ``pose`` [n, >=3]: the nearest in pose, kept until
    another is ``switch_deg`` nearer (each switch changes the lower face's texture)."""
    out = np.empty(len(pose), np.int64)
    current = -1
    for k, p in enumerate(np.asarray(pose, np.float64)[:, :3]):
        d = np.abs(references - p).sum(axis=1)
        best = int(np.argmin(d))
        if current < 0 or d[best] < d[current] - switch_deg:
            current = best
        out[k] = current
    return out


@dataclass
class DubPlan:
    """What renders output frame k: video frame ``index[k]``, its (bridged) landmarks, the new mouth ``mouth[k]``."""

    compositors: list[LowerFaceCompositor]  # one per reference frame
    reference: np.ndarray  # [n_out] which compositor draws output frame k
    index: np.ndarray  # [n_out] video frame per output frame
    usable: np.ndarray  # [T] frames with a (tracked or bridged) face
    landmarks: np.ndarray  # [T, 478, 3]
    mouth: np.ndarray  # [n_out, len(MOUTH_CHANNELS)] the new mouth, absolute

    def render(self, frames, k: int) -> np.ndarray:
        i = int(self.index[k])
        if not self.usable[i]:
            return np.array(frames[i])
        return self.compositors[self.reference[k]].render(frames[i], self.landmarks[i], self.mouth[k]).frame


class DubbingPipeline:
    """Real video + speech -> the video with its mouth re-synced to the speech. See the module docstring."""

    render_in_thread: bool = True

    def __init__(self, video_analyzer: VideoAnalyzer, audio_features: AudioFeatureConfig, motion: MotionGenerator,
                 compositor_config: CompositeConfig, writer: WriterConfig, config: DubbingConfig) -> None:
        self.video_analyzer = video_analyzer
        self.audio_features = audio_features
        self.motion = motion
        self.compositor_config = compositor_config
        self.writer = writer
        self.config = config

    @classmethod
    def from_config(cls, config: DubbingConfig | None = None, **motion_params: object) -> DubbingPipeline:
        config = config or DubbingConfig()
        return cls(
            video_analyzer=VideoAnalyzer(VideoAnalyzerConfig(keep_frames=True)),
            audio_features=AudioFeatureConfig(),
            motion=motion_registry.build(config.motion, **motion_params),
            compositor_config=CompositeConfig(),
            writer=WriterConfig(crf=config.crf, preset=config.preset, threads=config.threads),
            config=config,
        )

    def __call__(
        self,
        video: str | Path | np.ndarray,
        audio: np.ndarray,
        *,
        fps: float | None = None,
        out: str | Path | None = None,
        seed: int | None = None,
        video_name: str | None = None,
        video_sha256: str | None = None,
        audio_sha256: str | None = None,
        progress: bool = False,
    ) -> DubbingResult:
        """Dub. ``video``: a file, or frames [T, H, W, 3] uint8 at ``fps``; ``audio``: float32 mono 16 kHz speech.

        With ``out`` the video is written there (atomically); without it only the tracks are made.
        """
        cfg = self.config
        seed = cfg.seed if seed is None else int(seed)
        audio = np.asarray(audio, np.float32)
        if audio.ndim != 1 or len(audio) == 0:
            raise InputError("audio is empty: give a speech recording")
        if len(audio) > MAX_AUDIO_SECONDS * AUDIO_RATE:
            raise InputError(f"audio is {len(audio) / AUDIO_RATE:.0f} s long; forgebench takes at most 3600 s: "
                             "split it")
        name = video_name or ("the video" if isinstance(video, np.ndarray | list | tuple) else repr(str(video)))
        timings: dict[str, float] = {}
        watch = Stopwatch(timings)
        t0 = time.perf_counter()
        rate = fps if isinstance(video, np.ndarray | list | tuple) else _check_length(video, name)
        if rate is None or not rate > 0:
            raise InputError("frames given as an array need their frame rate (fps)")
        n_out = math.ceil(round(len(audio) * rate / AUDIO_RATE, 6))  # 28 frames' samples: 28, not 28.000...04
        # Frames past the speech are never shown; one second is decoded at least, to check the length.
        need = max(n_out, math.ceil(MIN_VIDEO_SECONDS * rate))
        with watch("analyze_video"):
            source = self._analyze(video, rate, need, name, progress)
        try:
            result, plan = self._dub(source, audio, seed, name, video, video_sha256, audio_sha256, n_out, watch)
            if out is None:
                return result
            frames = source.frames

            def render(k: int) -> np.ndarray:
                return plan.render(frames, k)

            t3 = time.perf_counter()
            result.path, first = render_and_write(
                render, n_out, Path(out), source.fps, (source.width, source.height), audio, result.provenance,
                self.writer, timings, in_thread=self.render_in_thread, progress=progress, desc="dub")
            result.first_frame_latency = first - t3
            timings["total"] = time.perf_counter() - t0
            return result
        finally:
            if source.frames is not None:
                source.frames.close()

    def _analyze(self, video: str | Path | np.ndarray, rate: float, need: int, name: str,
                 progress: bool) -> VideoInput:
        try:
            source = self.video_analyzer(video, fps=rate, max_frames=need, name=name, progress=progress)
        except ValueError as exc:  # a frame of another size in the middle of the stream
            raise InputError(f"{name} changes frame size mid-stream ({exc}): re-encode it at one size") from None
        if source.complete and source.n_frames < MIN_VIDEO_SECONDS * source.fps - 1e-6:
            if source.frames is not None:
                source.frames.close()
            raise InputError(f"{name} is {source.n_frames / source.fps:.2f} s long ({source.n_frames} frames): "
                             f"dubbing needs at least {MIN_VIDEO_SECONDS:g} s of video")
        coverage = float(source.track.valid.mean())
        if coverage < MIN_COVERAGE:
            if source.frames is not None:
                source.frames.close()
            raise InputError(f"{name} shows a face in only {coverage:.0%} of its first {source.n_frames} frames "
                             f"(at least {MIN_COVERAGE:.0%} needed): give a video where one face is visible most "
                             "of the time")
        return source

    def _dub(self, source: VideoInput, audio: np.ndarray, seed: int, name: str, video, video_sha256: str | None,
             audio_sha256: str | None, n_out: int, watch: Stopwatch) -> tuple[DubbingResult, DubPlan]:
        cfg = self.config
        track = source.track
        with watch("motion"):
            # Only the frames the output shows matter; a longer video is cut to the speech.
            n_src = min(source.n_frames, n_out)
            index = pingpong(n_out, n_src)
            landmarks, usable = bridge_gaps(track, max(1, round(MAX_GAP_SECONDS * source.fps)))
            shown = track.slice(0, n_src) if track.valid[:n_src].any() else track
            state = rest_state(shown)
            mouth = self._mouth(audio, state, seed, source.fps, n_out)

        with watch("compositor_setup"):
            eye_ref = track.meta.get("eye_open_ref")
            eye_ref = None if eye_ref is None else np.asarray(eye_ref)
            refs = reference_frames(shown, usable[: shown.n_frames])
            compositors = [LowerFaceCompositor(np.array(source.frames[r]), landmarks[r], eye_ref,
                                               self.compositor_config) for r in refs]
            which = assign_references(track.pose[index], track.pose[refs, :3])
        expression = track.expression[index].astype(np.float64)
        expression[:, _MOUTH] = mouth
        out_track = MotionTrack(fps=source.fps, pose=track.pose[index], expression=expression,
                                gaze=track.gaze[index], valid=usable[index],
                                meta={"family": "dubbing", "motion": cfg.motion, "seed": seed,
                                      "width": source.width, "height": source.height})
        notes = list(source.notes)
        if n_out > n_src:
            notes.append(f"{name} ({n_src / source.fps:.1f} s) is shorter than the speech "
                         f"({n_out / source.fps:.1f} s): it plays forward and backward (ping-pong)")
        kept = int((~usable[:n_src]).sum())
        if kept:
            notes.append(f"the face was lost for more than {MAX_GAP_SECONDS:g} s in {kept} frames; those frames "
                         "keep their real mouth")
        provenance = {
            "generator": "forgebench",
            "version": __version__,
            "motion_model": cfg.motion,
            "family": "dubbing",
            "seed": str(seed),
            "config_hash": cfg.config_hash(),
            # The real video stands where the portrait would.
            "image_sha256": video_sha256 or _video_hash(video),
            "audio_sha256": audio_sha256 or sha256_array(audio),
        }
        result = DubbingResult(path=None, track=out_track, size=(source.width, source.height), timings=watch.timings,
                               provenance=provenance, notes=notes, source=track, frame_index=index, fps=source.fps)
        return result, DubPlan(compositors, which, index, usable, landmarks, mouth)

    def _mouth(self, audio: np.ndarray, state: SourceState, seed: int, fps: float, n_out: int) -> np.ndarray:
        """[n_out, len(MOUTH_CHANNELS)] the new mouth, at the video's frame times."""
        native = abs(fps - MOTION_FPS) < 0.01
        rate = fps if native else MOTION_FPS
        features = extract_audio_features(audio, rate, self.audio_features)
        motion = self.motion.generate(features, state, seed).expression[:, _MOUTH].astype(np.float64)
        if native:
            return motion[:n_out]
        # Resample to the video's frame times (linear; both rates are well above the mouth's bandwidth).
        t_out, t_in = np.arange(n_out) / fps, np.arange(len(motion)) / rate
        return np.stack([np.interp(t_out, t_in, motion[:, j]) for j in range(motion.shape[1])], axis=1)


def _check_length(path: str | Path, name: str) -> float:
    from forgebench.media.video import probe_video

    info = probe_video(path)
    if info.fps <= 0:
        raise InputError(f"{name} has no usable frame rate: re-encode it (e.g. ffmpeg -i IN -r 25 OUT.mp4)")
    if 0 < info.duration < MIN_VIDEO_SECONDS - 0.5 / info.fps:
        raise InputError(f"{name} is {info.duration:.2f} s long: dubbing needs at least {MIN_VIDEO_SECONDS:g} s "
                         "of video")
    return info.fps


def _video_hash(video: str | Path | np.ndarray) -> str:
    if isinstance(video, np.ndarray | list | tuple):
        return sha256_array(video)
    from forgebench.paths import sha256_file

    return sha256_file(video)
