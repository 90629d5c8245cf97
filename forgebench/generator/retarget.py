"""Retargeting: a driving video's measured motion -> motion of another face (relative transfer).

The driver's motion is taken *relative to its reference frame* (the first frame with a face)
and applied to the portrait's own measured state, as LivePortrait and FOMM's "relative"
mode do, so the driver's resting face never leaks into the portrait: a driver who smiles
at rest moves the portrait's mouth only by how much more (or less) it smiles later.

With ``d_t`` the driver's state at frame t, ``d_0`` its reference and ``s`` the portrait's:

* rotation: ``R_t' = R(d_t) R(d_0)ᵀ R(s)`` — the driver's head rotation since the reference,
  composed in the camera frame onto the portrait's pose (Euler angles would not compose);
* translation: the face-centre shift since the reference, in the driver's inter-ocular
  distances (IOD), times the portrait's IOD: ``tx' = tx_s + (tx_t - tx_0) / scale_0 · scale_s``
  (``ty`` likewise, through the frames' aspect ratios);
* scale: ``scale' = scale_s · scale_t / scale_0`` (leaning in);
* expressions other than blinks (IOD units, pose-free): ``e' = e_s + (e_t - e_0)``;
* blinks (closure fractions of each face's own open eye): the closure beyond the
  reference's, ``b = clip((b_t - b_0) / (1 - b_0), 0, 1)``, closes the portrait's eye from
  where it is: ``b' = b_s + (1 - b_s) · b``;
* gaze (fractions of eye width): ``g' = g_s + (g_t - g_0)``.

At the reference frame the result is the portrait's own state, so the first output frame
reproduces the portrait; with the portrait equal to the driver's first frame (``--crop full``)
the output follows the driver frame for frame (self-reenactment).

>>> import numpy as np
>>> from forgebench.records import MotionTrack
>>> driver = MotionTrack.zeros(3, fps=25.0)
>>> driver.pose[:, 5] = 0.2; driver.expression[:, 3] = [0.10, 0.10, 0.15]   # smiles at rest, then more
>>> source = SourceState(pose=[0, 0, 0, 0.5, 0.45, 0.25], expression=[0.01, 0.85, 0, 0, 0, 0, 0.35], gaze=[0, 0])
>>> [round(v, 3) for v in retarget(driver, source).expression[:, 3].tolist()]
[0.0, 0.0, 0.05]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from forgebench.errors import InputError
from forgebench.generator.motion.base import SourceState
from forgebench.media import face_geometry as fg
from forgebench.records import EXPRESSION_NAMES, POSE_NAMES, MotionTrack

_E = {name: i for i, name in enumerate(EXPRESSION_NAMES)}
_P = {name: i for i, name in enumerate(POSE_NAMES)}
_BLINKS = [_E["blink_left"], _E["blink_right"]]
_SHAPES = [i for i in range(len(EXPRESSION_NAMES)) if i not in _BLINKS]
MIN_COVERAGE = 0.5  # a driver with a face in fewer frames than this is refused


@dataclass(frozen=True)
class RetargetConfig:
    """How much of the driver's motion is transferred (1.0: all of it, 0.0: none)."""

    pose_scale: float = 1.0  # head rotation, translation and scale change
    expression_scale: float = 1.0  # every expression coefficient but the blinks
    blinks: bool = True
    gaze: bool = True
    min_coverage: float = field(default=MIN_COVERAGE)

    def __post_init__(self) -> None:
        for name in ("pose_scale", "expression_scale"):
            value = getattr(self, name)
            if not (np.isfinite(value) and 0.0 <= value <= 2.0):
                raise InputError(f"retargeting: {name} must be between 0 and 2, got {value}")
        if not 0.0 < self.min_coverage <= 1.0:
            raise InputError(f"retargeting: min_coverage must be in (0, 1], got {self.min_coverage}")


def reference_frame(driver: MotionTrack) -> int:
    """The driver's reference frame: its first frame with a face."""
    found = np.flatnonzero(driver.valid)
    if len(found) == 0:
        raise InputError("the driving video has no frame with a face")
    return int(found[0])


def check_coverage(driver: MotionTrack, name: str = "the driving video", minimum: float = MIN_COVERAGE) -> None:
    """Refuse a driver whose face is missing from most frames (its motion would be mostly invented)."""
    n = driver.n_frames
    if n == 0:
        raise InputError(f"{name} has no frames: give a video with a visible face")
    coverage = float(driver.valid.mean())
    if coverage < minimum:
        raise InputError(f"{name} shows a face in only {coverage:.0%} of its {n} frames (at least "
                         f"{minimum:.0%} needed): give a video where one face is visible most of the time")


def retarget(driver: MotionTrack, source: SourceState, config: RetargetConfig | None = None, *,
             source_size: tuple[int, int] | None = None) -> MotionTrack:
    """Map ``driver`` (measured, absolute) onto ``source`` relative to the driver's reference frame.

    ``driver`` frames without a face carry the analyzer's interpolated (held at the ends)
    values, so the retargeted motion holds or interpolates through them. The frame sizes
    convert vertical translation (a fraction of the height) through IODs (fractions of the
    width): the driver's from ``meta["width"]``, ``meta["height"]``, the portrait's from
    ``source_size`` (width, height); either defaults to square. Returns a track of the
    driver's length and frame rate whose ``valid`` is the driver's.
    """
    cfg = config or RetargetConfig()
    check_coverage(driver, minimum=cfg.min_coverage)
    ref = reference_frame(driver)
    pose = driver.pose.astype(np.float64)
    expr = driver.expression.astype(np.float64)
    gaze = driver.gaze.astype(np.float64)
    n = driver.n_frames
    k = cfg.pose_scale

    out_pose = np.empty((n, len(POSE_NAMES)))
    # Rotation since the reference, applied in the camera frame: R(d_t) R(d_0)^T R(s).
    relative = fg.euler_to_rotation(pose[:, :3]) @ fg.euler_to_rotation(pose[ref, :3]).T
    if k != 1.0:
        relative = _scale_rotation(relative, k)
    out_pose[:, :3] = fg.rotation_to_euler(relative @ fg.euler_to_rotation(source.pose[:3]))
    # Translation in IODs of the reference frame; aspect converts the vertical fraction.
    d_aspect = float(driver.meta.get("height", 1) or 1) / float(driver.meta.get("width", 1) or 1)
    s_aspect = 1.0 if source_size is None else float(source_size[1]) / float(source_size[0])
    scale0, scale_s = max(float(pose[ref, _P["scale"]]), 1e-6), float(source.pose[_P["scale"]])
    dx = (pose[:, _P["tx"]] - pose[ref, _P["tx"]]) / scale0
    dy = (pose[:, _P["ty"]] - pose[ref, _P["ty"]]) * d_aspect / scale0
    out_pose[:, _P["tx"]] = source.pose[_P["tx"]] + k * dx * scale_s
    out_pose[:, _P["ty"]] = source.pose[_P["ty"]] + k * dy * scale_s / s_aspect
    out_pose[:, _P["scale"]] = scale_s * (pose[:, _P["scale"]] / scale0) ** k

    out_expr = np.tile(source.expression, (n, 1))
    out_expr[:, _SHAPES] += cfg.expression_scale * (expr[:, _SHAPES] - expr[ref, _SHAPES])
    if cfg.blinks:
        b0 = np.clip(expr[ref, _BLINKS], 0.0, 0.99)
        closing = np.clip((expr[:, _BLINKS] - b0) / (1.0 - b0), 0.0, 1.0)
        base = np.clip(source.expression[_BLINKS], 0.0, 1.0)
        out_expr[:, _BLINKS] = base + (1.0 - base) * closing
    out_gaze = np.tile(source.gaze, (n, 1))
    if cfg.gaze:
        out_gaze += gaze - gaze[ref]
    meta = {"generator": "retarget", "reference_frame": ref, "coverage": float(driver.valid.mean()),
            "driver": {key: driver.meta[key] for key in ("source", "width", "height") if key in driver.meta}}
    return MotionTrack(fps=driver.fps, pose=out_pose, expression=out_expr, gaze=out_gaze, valid=driver.valid.copy(),
                       meta=meta)


def _scale_rotation(rotation: np.ndarray, k: float) -> np.ndarray:
    """``rotation ** k`` per frame (axis-angle scaled by ``k``; Rodrigues)."""
    import cv2

    out = np.empty_like(rotation)
    for i, r in enumerate(rotation):
        vec, _ = cv2.Rodrigues(r)
        out[i], _ = cv2.Rodrigues(vec * k)
    return out
