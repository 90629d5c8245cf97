"""Stage 1 for video-driven pipelines: a driving or source video -> its face track, audio and frames.

Reenactment reads a *driving* video (its motion and audio; frames are not kept) and
dubbing a *source* video (its frames too, for compositing). Both go through
:class:`VideoAnalyzer`: frames are decoded once (scaled in FFmpeg to fit 720p when
larger), tracked by the analyzer (:func:`forgebench.media.analyze.analyze_frames`), and
kept when asked for — in memory, or in a temporary memory-mapped file once they pass
:data:`MEMORY_BUDGET` bytes, so a long 720p clip does not fill the RAM.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from forgebench.errors import InputError
from forgebench.generator.analyze import MAX_SIDES, fit_within
from forgebench.records import MotionTrack

AUDIO_RATE = 16000
# The face tracker's first frame is a detection whose mesh differs from the tracked ones that follow
# (2.5 degrees of pitch on a still face here, converging over ~3 frames). Motion is taken relative to
# the first frame, so that frame is fed this many extra times and measured like the rest.
TRACKER_WARMUP = 3
MEMORY_BUDGET = 512 * 2**20  # frames kept in RAM up to this many bytes, then in a temporary file


@dataclass
class VideoInput:
    """An analysed video: ``track`` (with landmarks, at the video's rate), ``audio`` (16 kHz mono or None)."""

    track: MotionTrack
    audio: np.ndarray | None
    fps: float
    width: int
    height: int
    frames: FrameStore | None = None
    complete: bool = True  # False when decoding stopped at ``max_frames`` before the end of the file
    notes: list[str] = field(default_factory=list)

    @property
    def n_frames(self) -> int:
        return self.track.n_frames


def track_video(frames: Iterator[np.ndarray], fps: float, *, progress: bool = False, total: int | None = None,
                on_frame: Callable[[np.ndarray, np.ndarray | None], None] | None = None,
                **meta: object) -> MotionTrack:
    """:func:`~forgebench.media.analyze.analyze_frames` with the tracker warmed up on the first frame
    (:data:`TRACKER_WARMUP`), so that frame is measured like the tracked ones after it. ``on_frame(frame,
    mesh or None)`` sees each video frame once, as it is tracked (not the warm-up repeats)."""
    from forgebench.media.analyze import analyze_frames, track_from_landmarks

    first = next(frames, None)
    if first is None:
        raise InputError("the video has no frames: give a video with at least one frame")

    def warmed() -> Iterator[np.ndarray]:
        for _ in range(TRACKER_WARMUP):
            yield first
        yield first
        yield from frames

    seen = 0

    def observe(frame: np.ndarray, mesh: np.ndarray | None) -> None:
        nonlocal seen
        seen += 1
        if on_frame is not None and seen > TRACKER_WARMUP:
            on_frame(frame, mesh)

    raw = analyze_frames(warmed(), fps, progress=progress, total=None if total is None else total + TRACKER_WARMUP,
                         on_frame=observe if on_frame is not None else None)
    n = TRACKER_WARMUP
    return track_from_landmarks(raw.landmarks[n:], raw.valid[n:], fps, int(raw.meta["width"]),
                                int(raw.meta["height"]), **meta)


class FrameStore:
    """Append-only frames of one size with random access: a list in RAM, then a memory-mapped file.

    ``store[i]`` is frame ``i`` [H, W, 3] uint8; :meth:`close` removes the temporary file.
    """

    def __init__(self, width: int, height: int, budget: int = MEMORY_BUDGET) -> None:
        self.shape = (height, width, 3)
        self.budget = budget
        self._ram: list[np.ndarray] = []
        self._file = None
        self._map: np.ndarray | None = None
        self._n = 0

    def append(self, frame: np.ndarray) -> None:
        if frame.shape != self.shape:
            raise ValueError(f"frame of shape {frame.shape}, expected {self.shape}")
        if self._file is None and (self._n + 1) * frame.nbytes > self.budget:
            self._file = tempfile.TemporaryFile(prefix="forgebench-frames-")
            for f in self._ram:
                self._file.write(np.ascontiguousarray(f).tobytes())
            self._ram = []
        if self._file is not None:
            self._file.write(np.ascontiguousarray(frame).tobytes())
            self._map = None
        else:
            self._ram.append(frame)
        self._n += 1

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: int) -> np.ndarray:
        if not -self._n <= i < self._n:
            raise IndexError(i)
        if self._file is None:
            return self._ram[i]
        if self._map is None:
            self._file.flush()
            self._map = np.memmap(self._file, np.uint8, "r", shape=(self._n, *self.shape))
        return self._map[i]

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self[i] for i in range(self._n))

    def close(self) -> None:
        self._map = None
        if self._file is not None:
            self._file.close()
            self._file = None
        self._ram = []


@dataclass(frozen=True)
class VideoAnalyzerConfig:
    """``keep_frames``: keep the decoded frames (dubbing); ``max_sides``: larger videos are scaled down to fit."""

    keep_frames: bool = False
    max_sides: tuple[int, int] = MAX_SIDES


class VideoAnalyzer:
    """Callable stage: ``VideoAnalyzer(config)(path or frames, ...) -> VideoInput``."""

    def __init__(self, config: VideoAnalyzerConfig | None = None) -> None:
        self.config = config or VideoAnalyzerConfig()

    def __call__(self, video: str | Path | np.ndarray | list[np.ndarray], *, fps: float | None = None,
                 audio: np.ndarray | None = None,
                 max_frames: int | None = None, name: str | None = None, progress: bool = False,
                 on_frame: Callable[[np.ndarray, np.ndarray | None], None] | None = None) -> VideoInput:
        """Analyse a video file, or frames [T, H, W, 3] uint8 at ``fps`` (with optional 16 kHz ``audio``).

        ``max_frames`` stops decoding after that many frames (the audio is cut to the same span);
        ``on_frame(frame, face mesh or None)`` sees each frame as it is tracked (:func:`track_video`).
        """
        if isinstance(video, np.ndarray | list | tuple):
            return self._from_array(video, fps, audio, max_frames, name or "the video", progress, on_frame)
        from forgebench.media.audio import decode_audio, resample
        from forgebench.media.video import iter_frames, probe_video

        path = Path(video)
        name = name or repr(str(path))
        info = probe_video(path)
        if info.fps <= 0:
            raise InputError(f"{name} has no usable frame rate: re-encode it (e.g. ffmpeg -i IN -r 25 OUT.mp4)")
        width, height = fit_within(info.width, info.height, self.config.max_sides)
        notes = []
        scaled = (width, height) != (info.width - info.width % 2, info.height - info.height % 2)
        if scaled:
            notes.append(f"{name} is {info.width}x{info.height}; frames are scaled down to {width}x{height} "
                         f"(at most {self.config.max_sides[0]}x{self.config.max_sides[1]})")
        store = FrameStore(width, height) if self.config.keep_frames else None
        complete = True

        def frames() -> Iterator[np.ndarray]:
            nonlocal complete
            size = (width, height) if scaled else None
            for t, frame in enumerate(iter_frames(path, size=size)):
                if max_frames is not None and t >= max_frames:
                    complete = False
                    return
                frame = np.ascontiguousarray(frame[:height, :width])
                if store is not None:
                    store.append(frame)
                yield frame

        total = info.n_frames if max_frames is None else min(info.n_frames, max_frames)
        try:
            track = track_video(frames(), info.fps, progress=progress, total=total or None, on_frame=on_frame,
                                source=str(path))
        except BaseException:
            if store is not None:
                store.close()
            raise
        sound = None
        if info.has_audio:
            try:
                samples, rate = decode_audio(path, max_seconds=None)
            except InputError:
                samples, rate = np.zeros(0, np.float32), AUDIO_RATE
                notes.append(f"{name}'s audio could not be decoded; the output is silent")
            if len(samples):
                sound = resample(samples, rate, AUDIO_RATE)[: int(round(track.n_frames / info.fps * AUDIO_RATE))]
        return VideoInput(track=track, audio=sound, fps=info.fps, width=width, height=height, frames=store,
                          complete=complete, notes=notes)

    def _from_array(self, frames: np.ndarray, fps: float | None, audio: np.ndarray | None, max_frames: int | None,
                    name: str, progress: bool,
                    on_frame: Callable[[np.ndarray, np.ndarray | None], None] | None = None) -> VideoInput:
        if fps is None or not fps > 0:
            raise InputError("frames given as an array need their frame rate (fps)")
        shapes = sorted({str(np.shape(f)) for f in frames}) if not isinstance(frames, np.ndarray) else []
        if len(shapes) > 1:
            raise InputError(f"{name}'s frames have different sizes ({', '.join(shapes)}): give frames of one size")
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
            raise InputError(f"{name} must be uint8 RGB frames [T, H, W, 3] with at least one frame")
        complete = max_frames is None or len(frames) <= max_frames
        frames = frames[:max_frames]
        height, width = frames.shape[1:3]
        if fit_within(width, height, self.config.max_sides) != (width - width % 2, height - height % 2):
            raise InputError(f"{name} is {width}x{height}: give frames of at most "
                             f"{self.config.max_sides[0]}x{self.config.max_sides[1]}")
        frames = frames[:, : height - height % 2, : width - width % 2]
        height, width = frames.shape[1:3]
        track = track_video(iter(frames), fps, progress=progress, total=len(frames), on_frame=on_frame)
        store = None
        if self.config.keep_frames:
            store = FrameStore(width, height)
            for f in frames:
                store.append(f)
        sound = None if audio is None else np.asarray(audio, np.float32)[: int(round(len(frames) / fps * AUDIO_RATE))]
        return VideoInput(track=track, audio=sound, fps=float(fps), width=width, height=height, frames=store,
                          complete=complete)
