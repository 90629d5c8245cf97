"""The reenactment pipeline: portrait + driving video -> the portrait moved like the driver (diffusers-style).

``ReenactmentPipeline`` holds named stage components — ``analyzer`` (portrait -> framed
source face), ``video_analyzer`` (driving video -> MotionTrack + audio), ``retargeter``
(driver's motion -> the portrait's, relative to the driver's first frame:
:mod:`forgebench.generator.retarget`), ``renderer_config`` and ``writer`` — the same
analyzer, renderer and writer as :class:`~forgebench.generator.pipeline.TalkingFacePipeline`.
The output is as long as the driving video, at its frame rate, with its audio (silent
when it has none), and carries provenance metadata (``family=reenactment``) and the
watermark like every output.

``crop="full"`` keeps the portrait's whole frame at its own size (up to 720p), so a
portrait that is the driving video's own first frame gives a self-reenactment aligned
pixel for pixel with the video.

>>> pipe = ReenactmentPipeline.from_config(ReenactmentConfig(size=256))  # doctest: +SKIP
>>> result = pipe(image, "driving.mp4", out="out.mp4")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from forgebench import __version__
from forgebench.errors import InputError
from forgebench.generator.analyze import AnalyzerConfig, SourceAnalyzer
from forgebench.generator.camera import BackgroundMeter, CameraConfig, CameraMeter, CameraTrack, expose, to_portrait
from forgebench.generator.config import ReenactmentConfig
from forgebench.generator.motion.base import SourceState
from forgebench.generator.pipeline import GenerationResult, Stopwatch, render_and_write, sha256_array
from forgebench.generator.render.renderer import FaceRenderer, RendererConfig
from forgebench.generator.render.rig import DenseMotion, dense_offsets
from forgebench.generator.retarget import RetargetConfig, retarget
from forgebench.generator.video_input import AUDIO_RATE, VideoAnalyzer, VideoAnalyzerConfig
from forgebench.generator.write import WriterConfig
from forgebench.records import MotionTrack

MAX_SECONDS = 3600.0


@dataclass
class ReenactmentResult(GenerationResult):
    """:class:`GenerationResult` plus the driver's measured track (``track`` is the retargeted one)."""

    driver: MotionTrack | None = None
    has_audio: bool = False
    fps: float = field(default=25.0)


class ReenactmentPipeline:
    """Portrait + driving video -> video of the portrait moved like the driver. See the module docstring."""

    render_in_thread: bool = True
    camera_config: CameraConfig | None = None  # the camera measurement's options (None: the defaults)

    def __init__(self, analyzer: SourceAnalyzer, video_analyzer: VideoAnalyzer, retargeter: RetargetConfig,
                 renderer_config: RendererConfig, writer: WriterConfig, config: ReenactmentConfig) -> None:
        self.analyzer = analyzer
        self.video_analyzer = video_analyzer
        self.retargeter = retargeter
        self.renderer_config = renderer_config
        self.writer = writer
        self.config = config

    @classmethod
    def from_config(cls, config: ReenactmentConfig | None = None) -> ReenactmentPipeline:
        config = config or ReenactmentConfig()
        return cls(
            analyzer=SourceAnalyzer(AnalyzerConfig(size=config.size, crop=config.crop, keep_size=True)),
            video_analyzer=VideoAnalyzer(VideoAnalyzerConfig(keep_frames=False)),
            retargeter=RetargetConfig(pose_scale=config.pose_scale, expression_scale=config.expression_scale),
            renderer_config=RendererConfig(),
            writer=WriterConfig(crf=config.crf, preset=config.preset, threads=config.threads),
            config=config,
        )

    def __call__(
        self,
        image: np.ndarray,
        driving: str | Path | np.ndarray,
        *,
        fps: float | None = None,
        audio: np.ndarray | None = None,
        out: str | Path | None = None,
        image_name: str = "the image",
        driving_name: str | None = None,
        image_sha256: str | None = None,
        driving_sha256: str | None = None,
        progress: bool = False,
    ) -> ReenactmentResult:
        """Reenact. ``image`` [H, W, 3] uint8 RGB; ``driving`` a video file, or frames [T, H, W, 3] at ``fps``
        (with optional 16 kHz ``audio``).

        With ``out`` the video is written there (atomically); without it only the
        retargeted track is produced (nothing rendered).
        """
        cfg = self.config
        timings: dict[str, float] = {}
        watch = Stopwatch(timings)
        t0 = time.perf_counter()
        with watch("analyze"):
            source = self.analyzer(image, name=image_name)
            renderer = FaceRenderer(source, self.renderer_config) if out is not None else None

        in_memory = isinstance(driving, np.ndarray | list | tuple)
        name = driving_name or ("the driving video" if in_memory else repr(str(driving)))
        max_frames = None
        if cfg.max_seconds is not None:
            rate = fps if in_memory else _probe_fps(driving)
            max_frames = max(1, int(round(cfg.max_seconds * rate)))
        # the driver's camera is measured in a thread beside its tracking (only what is rendered needs it)
        measure = cfg.camera and out is not None
        with BackgroundMeter(CameraMeter(config=self.camera_config)) if measure else contextlib.nullcontext() \
                as meter, watch("analyze_driver"):
            video = self.video_analyzer(driving, fps=fps, audio=audio, max_frames=max_frames, name=name,
                                        progress=progress, on_frame=None if meter is None else meter.add)
        if video.n_frames / video.fps > MAX_SECONDS:
            raise InputError(f"{name} is {video.n_frames / video.fps:.0f} s long; forgebench takes at most "
                             f"{MAX_SECONDS:g} s: cut it or set max_seconds")
        state = SourceState(pose=source.face.pose, expression=source.face.expression, gaze=source.face.gaze)
        with watch("retarget"):
            try:
                track = retarget(video.track, state, self.retargeter, source_size=(source.width, source.height))
            except InputError as exc:
                raise InputError(str(exc).replace("the driving video", name, 1)) from None
        track.meta.update(family="reenactment", width=source.width, height=source.height)

        sound = None if cfg.mute else video.audio
        notes = list(source.notes) + list(video.notes)
        if sound is None and not cfg.mute:
            notes.append(f"{name} has no audio: the output is silent")
        lost = int((~video.track.valid).sum())
        if lost:
            notes.append(f"the driver's face was lost in {lost} of {video.n_frames} frames; its motion is held "
                         "or interpolated there")
        provenance = {
            "generator": "forgebench",
            "version": __version__,
            "motion_model": "driving-video",
            "family": "reenactment",
            "seed": "0",
            "config_hash": cfg.config_hash(),
            "image_sha256": image_sha256 or sha256_array(image),
            # The driver supplies the motion and the audio: its hash stands where the speech's would.
            "audio_sha256": driving_sha256 or _driving_hash(driving),
        }
        result = ReenactmentResult(path=None, track=track, size=(source.width, source.height), timings=timings,
                                   provenance=provenance, notes=notes, driver=video.track,
                                   has_audio=sound is not None, fps=video.fps)
        if out is None or renderer is None:
            return result

        dense = None
        if cfg.dense and video.track.landmarks is not None:
            dense = DenseMotion(video.track.landmarks, video.track.valid, int(track.meta["reference_frame"]),
                                scale=cfg.expression_scale)

        camera = None
        if meter is not None:
            with watch("camera"):  # what is left of it once the tracking pass is over
                camera = driver_camera(meter, video.track, renderer, int(track.meta["reference_frame"]),
                                       share=self.retargeter.pose_scale)

        def render(t: int) -> np.ndarray:
            offsets = None if dense is None else dense_offsets(renderer.rig, dense.change(t), track.expression[t],
                                                               track.gaze[t])
            return render_frame(renderer, track, t, offsets, camera)

        t3 = time.perf_counter()
        result.path, first = render_and_write(
            render, track.n_frames, Path(out), video.fps, (source.width, source.height), sound, provenance,
            self.writer, timings, in_thread=self.render_in_thread, progress=progress)
        result.first_frame_latency = first - t3
        timings["total"] = time.perf_counter() - t0
        return result


def driver_camera(meter: BackgroundMeter | CameraMeter, driver: MotionTrack, renderer: FaceRenderer, reference: int,
                  share: float = 1.0) -> CameraTrack:
    """The driver's camera (:mod:`forgebench.generator.camera`) in the portrait's pixels: motion, trust, exposure.

    ``meter`` has seen every driving frame with its face mesh (the tracking pass's ``on_frame``);
    ``driver`` is that pass's track.
    """
    from forgebench.media import face_geometry as fg

    cam = meter.result(reference)
    landmarks = driver.landmarks
    if landmarks is None:
        return cam
    d_eyes, p_eyes = fg.eye_centres(landmarks[reference][:, :2]), fg.eye_centres(renderer.source_points[:, :2])
    motion = to_portrait(cam.motion, (d_eyes[0] + d_eyes[1]) / 2, float(np.linalg.norm(d_eyes[1] - d_eyes[0])),
                         (p_eyes[0] + p_eyes[1]) / 2, float(np.linalg.norm(p_eyes[1] - p_eyes[0])), share=share)
    return CameraTrack(motion, cam.gain, cam.trust)


def render_frame(renderer: FaceRenderer, track: MotionTrack, t: int, offsets: np.ndarray | None = None,
                 camera: CameraTrack | None = None) -> np.ndarray:
    """Frame ``t`` of a retargeted ``track``; with the driver's ``camera`` (:func:`driver_camera`) the plate
    moves as its camera did and the frame takes its exposure."""
    if camera is None:
        return renderer.render(track.pose[t], track.expression[t], track.gaze[t], offsets=offsets)
    frame = renderer.render(track.pose[t], track.expression[t], track.gaze[t], offsets=offsets,
                            camera=camera.plate(t, (renderer.width, renderer.height)))
    return expose(frame, camera.gain[t])


def _probe_fps(path: str | Path) -> float:
    from forgebench.media.video import probe_video

    fps = probe_video(path).fps
    return fps if fps > 0 else 25.0


def _driving_hash(driving: str | Path | np.ndarray) -> str:
    if isinstance(driving, np.ndarray | list | tuple):
        return sha256_array(driving)
    from forgebench.paths import sha256_file

    return sha256_file(driving)


__all__ = ["AUDIO_RATE", "ReenactmentConfig", "ReenactmentPipeline", "ReenactmentResult", "driver_camera",
           "render_frame"]
