"""The talking-face pipeline: portrait + speech -> MP4 (diffusers-style).

``TalkingFacePipeline`` holds named stage components — ``analyzer`` (portrait ->
framed source face), ``audio_features`` (config of the per-frame audio
features), ``motion`` (features -> MotionTrack), ``renderer_config`` and
``writer`` (watermark + encode + provenance) — and one ``__call__`` that runs
them. Rendering and encoding stream frame by frame, so the first frame is
written long before the last is rendered.

>>> pipe = TalkingFacePipeline.from_config(GenerationConfig(size=256))  # doctest: +SKIP
>>> result = pipe(image, audio, out="out.mp4", seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import hashlib
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from forgebench import __version__
from forgebench.errors import InputError
from forgebench.generator.analyze import AnalyzerConfig, SourceAnalyzer
from forgebench.generator.audio_features import AudioFeatureConfig, extract_audio_features
from forgebench.generator.config import GenerationConfig
from forgebench.generator.motion import motion_registry
from forgebench.generator.motion.base import MotionGenerator, SourceState
from forgebench.generator.render.renderer import FaceRenderer, RendererConfig
from forgebench.generator.write import VideoSink, WriterConfig
from forgebench.records import MotionTrack

AUDIO_RATE = 16000
MAX_AUDIO_SECONDS = 3600.0


@dataclass
class GenerationResult:
    """What a pipeline call made: the file, the motion that drove it, and where time went."""

    path: Path | None
    track: MotionTrack
    size: tuple[int, int]
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    first_frame_latency: float = float("nan")  # seconds from audio in to first frame encoded
    provenance: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def n_frames(self) -> int:
        return self.track.n_frames


class Stopwatch:
    """Wall and CPU seconds of named stages: ``timings[name]`` (wall) and ``timings["cpu_" + name]``.

    CPU time (:func:`time.process_time`, all of the process's threads) is what a stage costs
    whatever else the machine runs; wall time is what it took here. ``with watch("motion"): ...``
    """

    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings

    @contextlib.contextmanager
    def __call__(self, name: str):
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - wall
            self.timings["cpu_" + name] = self.timings.get("cpu_" + name, 0.0) + time.process_time() - cpu


@contextlib.contextmanager
def one_blas_thread():
    """BLAS (NumPy's and SciPy's OpenBLAS) on one thread while generating.

    The generator's matrix products are small; a second BLAS thread only spins, and on a busy
    machine it stole the core the first one needed: the renderer's setup took 0.1-4 s from run
    to run instead of 0.03 s. Rendering and encoding already keep two cores busy.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):
        yield


def sha256_array(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


class TalkingFacePipeline:
    """Portrait + speech -> talking-face video, one stage per component.

    ``render_in_thread`` (default True) overlaps rendering frame t+1 with encoding
    frame t on a second core; a corpus worker that owns exactly one core turns it
    off (same frames, same bytes) so that N workers scale over N cores.
    """

    render_in_thread: bool = True

    def __init__(
        self,
        analyzer: SourceAnalyzer,
        audio_features: AudioFeatureConfig,
        motion: MotionGenerator,
        renderer_config: RendererConfig,
        writer: WriterConfig,
        config: GenerationConfig,
    ) -> None:
        self.analyzer = analyzer
        self.audio_features = audio_features
        self.motion = motion
        self.renderer_config = renderer_config
        self.writer = writer
        self.config = config

    @classmethod
    def from_config(cls, config: GenerationConfig | None = None, **motion_params: object) -> TalkingFacePipeline:
        config = config or GenerationConfig()
        return cls(
            analyzer=SourceAnalyzer(AnalyzerConfig(size=config.size, crop=config.crop)),
            audio_features=AudioFeatureConfig(),
            motion=motion_registry.build(config.motion, **motion_params),
            renderer_config=RendererConfig(),
            writer=WriterConfig(crf=config.crf, preset=config.preset, threads=config.threads),
            config=config,
        )

    def __call__(
        self,
        image: np.ndarray,
        audio: np.ndarray,
        *,
        out: str | Path | None = None,
        seed: int | None = None,
        image_name: str = "the image",
        image_sha256: str | None = None,
        audio_sha256: str | None = None,
        controls: dict[str, object] | None = None,
        progress: bool = False,
    ) -> GenerationResult:
        """Generate. ``image`` [H, W, 3] uint8 RGB; ``audio`` float32 mono 16 kHz.

        With ``out`` the video is written there (atomically); without it only the
        motion track is produced (nothing rendered).
        """
        cfg = self.config
        seed = cfg.seed if seed is None else int(seed)
        audio = np.asarray(audio, np.float32)
        if audio.ndim != 1 or len(audio) == 0:
            raise InputError("audio is empty: give a speech recording")
        if len(audio) > MAX_AUDIO_SECONDS * AUDIO_RATE:
            seconds = len(audio) / AUDIO_RATE
            raise InputError(f"audio is {seconds:.0f} s long; forgebench takes at most 3600 s: split it")
        with one_blas_thread():
            return self._generate(image, audio, out, seed, image_name, image_sha256, audio_sha256, controls,
                                  progress)

    def _generate(
        self, image: np.ndarray, audio: np.ndarray, out: str | Path | None, seed: int, image_name: str,
        image_sha256: str | None, audio_sha256: str | None, controls: dict[str, object] | None, progress: bool,
    ) -> GenerationResult:
        cfg = self.config
        timings: dict[str, float] = {}
        watch = Stopwatch(timings)
        t0 = time.perf_counter()
        with watch("analyze"):
            source = self.analyzer(image, name=image_name)
            renderer = FaceRenderer(source, self.renderer_config) if out is not None else None

        t_audio = time.perf_counter()
        with watch("audio_features"):
            features = extract_audio_features(audio, cfg.fps, self.audio_features)
        with watch("motion"):
            state = SourceState(pose=source.face.pose, expression=source.face.expression, gaze=source.face.gaze)
            track = self.motion.generate(features, state, seed, **(controls or {}))
            track.meta.update(motion=cfg.motion, seed=seed, width=source.width, height=source.height)

        provenance = {
            "generator": "forgebench",
            "version": __version__,
            "motion_model": cfg.motion,
            "seed": str(seed),
            "config_hash": cfg.config_hash(),
            "image_sha256": image_sha256 or sha256_array(image),
            "audio_sha256": audio_sha256 or sha256_array(audio),
        }
        result = GenerationResult(
            path=None, track=track, size=(source.width, source.height), timings=timings,
            provenance=provenance, notes=list(source.notes),
        )
        if out is None or renderer is None:
            return result
        result.path, first_frame_at = self._render_and_write(
            renderer, track, audio, Path(out), provenance, progress, timings
        )
        # VASA-1's latency: the identity is prepared; audio arrives; how soon is a frame out?
        result.first_frame_latency = first_frame_at - t_audio
        timings["total"] = time.perf_counter() - t0
        return result

    def _render_and_write(
        self, renderer: FaceRenderer, track: MotionTrack, audio: np.ndarray, out: Path,
        provenance: dict[str, str], progress: bool, timings: dict[str, float],
    ) -> tuple[Path, float]:
        def render(t: int) -> np.ndarray:
            return renderer.render(track.pose[t], track.expression[t], track.gaze[t])

        return render_and_write(render, track.n_frames, out, self.config.fps, (renderer.width, renderer.height),
                                audio, provenance, self.writer, timings, in_thread=self.render_in_thread,
                                progress=progress)


def render_and_write(
    render: Callable[[int], np.ndarray], n_frames: int, out: Path, fps: float, size: tuple[int, int],
    audio: np.ndarray | None, provenance: dict[str, str], writer: WriterConfig, timings: dict[str, float], *,
    in_thread: bool = True, progress: bool = False, desc: str = "render",
) -> tuple[Path, float]:
    """Render frames ``render(0 .. n_frames - 1)``, watermark and encode them to ``out`` (every pipeline's writer).

    With ``in_thread`` rendering runs in a worker thread while this thread watermarks and
    encodes: OpenCV, NumPy and libx264 release the GIL, so on two cores rendering frame
    t+1 overlaps encoding frame t. Adds ``render``, ``watermark`` and ``encode`` seconds to
    ``timings``; returns the file and the time the first frame was encoded.
    """
    with one_blas_thread():
        return _render_and_write(render, n_frames, out, fps, size, audio, provenance, writer, timings, in_thread,
                                 progress, desc)


def _render_and_write(
    render: Callable[[int], np.ndarray], n_frames: int, out: Path, fps: float, size: tuple[int, int],
    audio: np.ndarray | None, provenance: dict[str, str], writer: WriterConfig, timings: dict[str, float],
    in_thread: bool, progress: bool, desc: str,
) -> tuple[Path, float]:
    from forgebench.progress import tqdm

    first_frame_at = float("nan")
    frames = RenderThread(render, n_frames) if in_thread else RenderInline(render, n_frames)
    sink = VideoSink(out, fps, size[0], size[1], audio, AUDIO_RATE, provenance, writer)
    with frames, sink:
        bar = tqdm(total=n_frames, disable=not progress, unit="frame", desc=desc, file=sys.stderr)
        for t, frame in enumerate(frames):
            sink.write(frame)
            if t == 0:
                first_frame_at = time.perf_counter()
            bar.update(1)
        bar.close()
    timings["render"] = frames.render_seconds
    timings["watermark"] = sink.watermark_seconds
    timings["encode"] = sink.encode_seconds
    if not in_thread:  # CPU time per stage means something only when the stages take turns
        timings["cpu_render"] = frames.render_cpu_seconds
        timings["cpu_watermark"] = sink.watermark_cpu_seconds
        timings["cpu_encode"] = sink.encode_cpu_seconds
    return sink.path, first_frame_at


class RenderThread:
    """Iterate frames ``render(0) .. render(n_frames - 1)`` produced by a background thread (bounded queue).

    An exception in the worker is re-raised in the consumer; leaving the ``with``
    block early stops the worker.
    """

    _DONE = object()

    def __init__(self, render: Callable[[int], np.ndarray], n_frames: int, depth: int = 4) -> None:
        self.render, self.n_frames = render, n_frames
        self.queue: queue.Queue = queue.Queue(maxsize=depth)
        self.stop = threading.Event()
        self.render_seconds = 0.0
        self.thread = threading.Thread(target=self._work, name="forgebench-render", daemon=True)

    def _work(self) -> None:
        try:
            for t in range(self.n_frames):
                if self.stop.is_set():
                    return
                t0 = time.perf_counter()
                frame = self.render(t)
                self.render_seconds += time.perf_counter() - t0
                self.queue.put(frame)
            self.queue.put(self._DONE)
        except BaseException as exc:  # handed to the consumer
            self.queue.put(exc)

    def __iter__(self):
        while True:
            item = self.queue.get()
            if item is self._DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def __enter__(self) -> RenderThread:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        while self.thread.is_alive():  # unblock a worker waiting on a full queue
            try:
                self.queue.get(timeout=0.05)
            except queue.Empty:
                pass
        self.thread.join()


class RenderInline:
    """:class:`RenderThread`'s interface, rendering each frame when it is asked for (one core)."""

    def __init__(self, render: Callable[[int], np.ndarray], n_frames: int) -> None:
        self.render, self.n_frames = render, n_frames
        self.render_seconds = self.render_cpu_seconds = 0.0

    def __iter__(self):
        for t in range(self.n_frames):
            t0, c0 = time.perf_counter(), time.process_time()
            frame = self.render(t)
            self.render_seconds += time.perf_counter() - t0
            self.render_cpu_seconds += time.process_time() - c0
            yield frame

    def __enter__(self) -> RenderInline:
        return self

    def __exit__(self, *exc: object) -> None:
        pass
