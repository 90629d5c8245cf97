"""Stage 4 — render: drive the source portrait with pose, expression and gaze.

Per frame: the rig deforms the canonical mesh (expression, gaze; optionally plus dense per-vertex
offsets, for motion the seven coefficients cannot express), the target pose places it in the image,
the 2D displacement of every vertex drives a dense piecewise-affine warp of the head, and the mouth
interior and eyelids are painted where the warp cannot produce them.

Head and background (``layers=True``, the default): the portrait is split once into a head layer
(face, hair, ears) and a still plate (background and neck, the head's place filled in); anchors
outside the face move the head layer as points on a head-sized sphere would under the pose, so
hair follows the head while the background and the neck below the jaw stay still
(:mod:`.layers`). Without layers (or without the segmentation runtime) two rings around the face
oval carry the head's motion outward with decreasing weight and the frame border stays put.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from forgebench.errors import InputError
from forgebench.generator.analyze import SourceFace
from forgebench.generator.render.eyes import MIN_CLOSURE, EyelidPainter, lash_colour
from forgebench.generator.render.layers import HeadLayers, LayerConfig
from forgebench.generator.render.mouth import MouthPainter, inner_lip_gap, sclera_colour, skin_colour
from forgebench.generator.render.rig import FaceRig
from forgebench.generator.render.teeth import OwnTeeth
from forgebench.generator.render.warp import DenseWarp, MeshRaster, border_anchors
from forgebench.media import face_geometry as fg
from forgebench.records import EXPRESSION_NAMES, MotionTrack

# (scale of the face oval about its centre, weight above the mouth line, weight below it)
ANCHOR_RINGS = ((1.3, 0.9, 0.35), (1.8, 0.4, 0.0))
_OVAL = np.array(fg.FACE_OVAL)
_BLINKS = {name: EXPRESSION_NAMES.index(name) for name in ("blink_left", "blink_right")}


@dataclass
class RendererConfig:
    """Renderer options: ``grid_step`` pixels per warp-grid cell; painters and layers on or off."""

    grid_step: int = 4
    mouth: bool = True
    eyelids: bool = True
    layers: bool = True
    raster: bool = True  # the face mesh's exact per-pixel map (no coarse-grid smear at lips and lids)
    layer: LayerConfig = field(default_factory=LayerConfig)


def _person_mask(image: np.ndarray) -> np.ndarray | None:
    """The segmentation of the portrait, or None where the segmentation runtime is missing."""
    from forgebench.media.segmentation import SelfieSegmenter

    try:
        return SelfieSegmenter()(image)
    except InputError:
        return None


class FaceRenderer:
    """Renders frames of one source face. ``render(pose, expression, gaze) -> [H, W, 3] uint8``."""

    def __init__(self, source: SourceFace, config: RendererConfig | None = None) -> None:
        self.config = config or RendererConfig()
        self.source = source
        face = source.face
        self.width, self.height = source.width, source.height
        self.rig = FaceRig(face.canonical, face.eye_open_ref)
        self.source_pose = np.asarray(face.pose, np.float64)
        self.source_points = fg.pose_to_points(self.rig.canonical, self.source_pose, self.width, self.height)
        pts2d = self.source_points[:, :2]
        person = _person_mask(source.image) if self.config.layers else None
        self.layers = HeadLayers(source.image, pts2d, self.source_pose, person, self.config.layer) \
            if person is not None else None
        if self.layers is not None:
            control = np.concatenate([pts2d, self.layers.anchors])
        else:
            oval = pts2d[_OVAL]
            centre = oval.mean(axis=0)
            mouth_y = pts2d[list(fg.MOUTH_CORNERS), 1].mean()
            rings, weights = [], []
            for scale, above, below in ANCHOR_RINGS:
                rings.append(centre + scale * (oval - centre))
                weights.append(np.where(oval[:, 1] < mouth_y, above, below))
            self._ring_weights = np.concatenate(weights)[:, None]
            border = border_anchors(self.width, self.height)
            self._n_border = len(border)
            self._border = border
            control = np.concatenate([pts2d, *rings, border])
        self.warp = DenseWarp(control, self.width, self.height, grid_step=self.config.grid_step)
        self.teeth = OwnTeeth(source.image, pts2d, self.rig.canonical) \
            if self.config.raster and OwnTeeth.shows_teeth(pts2d) else None
        self.raster = self._mesh_raster(pts2d) if self.config.raster else None
        self.mouth = (
            MouthPainter(skin_colour(source.image, pts2d), inner_lip_gap(pts2d), seam_px=self.config.grid_step,
                         exact_warp=self.config.raster, own_teeth=self.teeth is not None,
                         teeth_rgb=sclera_colour(source.image, pts2d))
            if self.config.mouth
            else None
        )
        self.eyelids = EyelidPainter(lash_colour(source.image, pts2d)) if self.config.eyelids else None
        self._image_f = source.image
        #: seconds per render stage, summed over frames, when a dict is put here (``forgebench bench self-reenact``)
        self.profile: dict[str, float] | None = None

    def _lap(self, stage: str, since: float) -> float:
        """Add the time since ``since`` to ``stage`` of the profile (if profiling); return now."""
        if self.profile is None:
            return since
        now = time.perf_counter()
        self.profile[stage] = self.profile.get(stage, 0.0) + now - since
        return now

    def _mesh_raster(self, pts2d: np.ndarray) -> MeshRaster:
        """The face mesh triangulated in its frontal (canonical) frame, where it is a height field."""
        from scipy.spatial import Delaunay

        flat = self.rig.canonical[:, :2]
        source = pts2d
        if self.teeth is not None:  # the rows where the portrait's teeth end split the opening
            flat = np.concatenate([flat, self.teeth.canonical[:, :2]])
            source = np.concatenate([pts2d, self.teeth.source])
        tri = Delaunay(flat).simplices
        e1, e2 = flat[tri[:, 1]] - flat[tri[:, 0]], flat[tri[:, 2]] - flat[tri[:, 0]]
        facing = np.sign(e1[:, 0] * e2[:, 1] - e2[:, 0] * e1[:, 1])
        return MeshRaster(tri, source, self.width, self.height, facing=facing)

    @property
    def source_state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The source's own (pose, expression, gaze): rendering them reproduces the source."""
        return self.source_pose.copy(), self.rig.expression.copy(), self.rig.gaze.copy()

    def vertices(self, pose: np.ndarray, expression: np.ndarray, gaze: np.ndarray | None = None,
                 offsets: np.ndarray | None = None) -> np.ndarray:
        """[478, 3] driven mesh in output pixels; ``offsets`` [478, 3] are added in canonical units (IOD)."""
        canonical = self.rig.deform(expression, gaze)
        if offsets is not None:
            canonical = canonical + np.asarray(offsets, np.float64)
        return fg.pose_to_points(canonical, pose, self.width, self.height)

    def displacement(self, points: np.ndarray, pose: np.ndarray, camera: np.ndarray | None = None) -> np.ndarray:
        """Displacement [N, 2] of every control point for driven mesh ``points`` under ``pose``.

        ``camera`` [2, 3]: the plate's motion (:meth:`render`); what does not follow the head follows it.
        """
        d = points[:, :2] - self.source_points[:, :2]
        if self.layers is not None:
            return np.concatenate([d, self.layers.anchor_displacement(pose, camera)])
        ring = np.tile(d[_OVAL], (len(ANCHOR_RINGS), 1)) * self._ring_weights
        border = np.zeros((self._n_border, 2))
        if camera is not None:
            border = self._border @ camera[:, :2].T + camera[:, 2] - self._border
        return np.concatenate([d, ring, border])

    def render(self, pose: np.ndarray, expression: np.ndarray, gaze: np.ndarray | None = None,
               offsets: np.ndarray | None = None, camera: np.ndarray | None = None) -> np.ndarray:
        """One frame: [H, W, 3] uint8. ``offsets`` [478, 3]: dense canonical displacements after the rig.

        ``camera`` [2, 3]: a similarity moving everything that is not the head (background, body) from the
        portrait's place to the frame's (reenactment: the driver's camera motion); None keeps it still.
        """
        t = time.perf_counter() if self.profile is not None else 0.0
        camera = None if camera is None else np.asarray(camera, np.float64)
        points = self.vertices(pose, expression, gaze, offsets)
        t = self._lap("mesh", t)
        displacement = self.displacement(points, pose, camera)
        backward = self.warp.backward_map(displacement)
        t = self._lap("warp map", t)
        rows = None
        if self.raster is not None:
            driven, depth = points[:, :2], points[:, 2]
            if self.teeth is not None:
                rows = self.teeth.place(driven, float(pose[5]) * self.width)
                lips = depth[list(fg.INNER_LIP_UPPER) + list(fg.INNER_LIP_LOWER)].mean()
                driven = np.concatenate([driven, rows])
                depth = np.concatenate([depth, np.full(len(rows), lips)])
            self.raster.apply(driven, depth, backward)
            t = self._lap("raster", t)
        if self.layers is not None:
            face = self.raster.last_covered if self.raster is not None else None
            frame = self.layers.render(backward, float(np.abs(displacement).max(initial=0.0)), face, camera)
        else:
            frame = cv2.remap(self._image_f, backward, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
        t = self._lap("remap + layers", t)
        iod = float(pose[5]) * self.width
        if self.mouth is not None:
            self.mouth.paint(frame, points[:, :2], iod, rows)
            t = self._lap("mouth", t)
        if self.eyelids is not None:
            expr = np.asarray(expression)
            closure = {k: float(expr[i]) for k, i in _BLINKS.items()}
            if max(closure.values()) >= MIN_CLOSURE:
                open_eyes = expr.copy()
                open_eyes[list(_BLINKS.values())] = self.rig.expression[list(_BLINKS.values())]
                open_points = self.vertices(pose, open_eyes, gaze, offsets)
                self.eyelids.paint(frame, points[:, :2], open_points[:, :2], closure)
            self._lap("eyelids", t)
        return frame

    def render_track(self, track: MotionTrack) -> Iterator[np.ndarray]:
        """Frames for every row of ``track``."""
        for t in range(track.n_frames):
            yield self.render(track.pose[t], track.expression[t], track.gaze[t])


def contact_sheet(frames: list[np.ndarray], columns: int = 4, width: int = 256) -> np.ndarray:
    """Tile frames into one image (for looking at results)."""
    tiles = [cv2.resize(f, (width, round(f.shape[0] * width / f.shape[1]))) for f in frames]
    while len(tiles) % columns:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.concatenate(tiles[i: i + columns], axis=1) for i in range(0, len(tiles), columns)]
    return np.concatenate(rows, axis=0)
