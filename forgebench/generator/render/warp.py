"""Dense image warp driven by sparse control-point displacements.

The control points are the source mesh's 478 vertices plus background anchors.
Their Delaunay triangulation in the *source* image is fixed for an identity, so
the barycentric weights of every grid pixel are computed once; a frame's dense
forward displacement field is then a gather of three control-point
displacements per pixel (piecewise-affine interpolation, the classic
piecewise-affine warp, vectorised).

``cv2.remap`` needs the backward map (output pixel -> source pixel). With the
forward field ``D`` (source ``p`` lands at ``p + D(p)``) we solve ``p = q − D(p)``
by fixed-point iteration on the coarse grid (two steps are enough for the smooth,
small displacements of talking heads), then upsample the map to full size.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import sparse
from scipy.spatial import Delaunay

FIXED_POINT_BITS = 4  # fixed-point bits for cv2's rasteriser: sub-pixel vertex positions


class DenseWarp:
    """Backward maps for an image of ``width`` x ``height`` from control points.

    Args:
        control_points: [N, 2] source-image positions (pixels) of all control points.
        width, height: image size.
        grid_step: pixels per coarse-grid cell (2 keeps lips crisp at 512²).
        iterations: fixed-point steps inverting the forward field.
    """

    def __init__(self, control_points: np.ndarray, width: int, height: int, grid_step: int = 2,
                 iterations: int = 2) -> None:
        self.width, self.height = width, height
        self.grid_w, self.grid_h = max(2, round(width / grid_step)), max(2, round(height / grid_step))
        self.iterations = iterations
        pts = np.asarray(control_points, np.float64)
        tri = Delaunay(pts)
        sx, sy = width / self.grid_w, height / self.grid_h
        # Grid pixel centres in source pixel coordinates (cv2.resize's convention).
        gx = (np.arange(self.grid_w) + 0.5) * sx - 0.5
        gy = (np.arange(self.grid_h) + 0.5) * sy - 0.5
        grid = np.stack(np.meshgrid(gx, gy), axis=-1).reshape(-1, 2)
        simplex = _locate(tri.simplices, (pts + 0.5) / [sx, sy] - 0.5, self.grid_w, self.grid_h).ravel()
        transform = tri.transform  # [K, 3, 2]: barycentric coordinates of x are T[:2] @ (x - T[2])
        bary = _barycentric(transform[np.maximum(simplex, 0)], grid)
        # The rasteriser's edge pixels can lie just outside their triangle: those (and pixels it did not
        # cover) take the triangle they are most inside of; outside the hull (only if the anchors do not
        # cover the frame) that is the nearest triangle, clamped to its edge.
        doubtful = changed = np.flatnonzero((simplex < 0) | (bary.min(1) < -1e-6))
        if len(doubtful):  # first the triangles around the rasterised one (almost always enough) ...
            near = tri.neighbors[np.maximum(simplex[doubtful], 0)]  # [n, 3], -1 at the hull
            near = np.concatenate([near, tri.neighbors[np.maximum(near, 0)].reshape(len(near), -1)], axis=1)
            near = np.where(near < 0, np.maximum(simplex[doubtful], 0)[:, None], near)
            inside = _barycentric(transform[near], grid[doubtful, None]).min(-1)  # [n, 12]
            best = inside.argmax(1)
            simplex[doubtful] = near[np.arange(len(near)), best]
            doubtful = doubtful[inside[np.arange(len(near)), best] < -1e-6]
        if len(doubtful):  # ... then all triangles at once, as one product: b_i(x) = T_i . x - T_i . T_2
            lin = transform[:, :2, :].reshape(-1, 2).T  # [2, 2K]
            const = np.einsum("kij,kj->ki", transform[:, :2, :], transform[:, 2, :]).ravel()
            for chunk in np.array_split(doubtful, max(1, len(doubtful) // 1024)):
                b2 = (grid[chunk] @ lin - const).reshape(len(chunk), -1, 2)
                inside = np.minimum(np.minimum(b2[..., 0], b2[..., 1]), 1.0 - b2.sum(-1))  # [n, K]
                simplex[chunk] = inside.argmax(1)
        bary[changed] = _barycentric(transform[simplex[changed]], grid[changed])
        outside = bary.min(1) < -1e-6
        if outside.any():
            bary[outside] = np.clip(bary[outside], 0.0, 1.0)
            bary[outside] /= bary[outside].sum(1, keepdims=True)
        # The field is linear in the control displacements: field = W @ d with W
        # sparse [G, N], three non-zeros (barycentric weights) per grid pixel.
        n_grid = len(grid)
        self.weights = sparse.csr_matrix(
            (bary.astype(np.float32).ravel(), tri.simplices[simplex].ravel(), np.arange(0, 3 * n_grid + 1, 3)),
            shape=(n_grid, len(pts)),
        )
        self.grid = grid.reshape(self.grid_h, self.grid_w, 2).astype(np.float32)
        # Grid coordinates of each grid point, for sampling the field at moved positions.
        self._to_grid = np.array([1.0 / sx, 1.0 / sy], np.float32)
        xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
        self._identity = np.stack([xs, ys], axis=-1)

    def forward_field(self, displacement: np.ndarray) -> np.ndarray:
        """[grid_h, grid_w, 2] forward displacement from control displacements [N, 2]."""
        field = self.weights @ np.asarray(displacement, np.float32)
        return field.reshape(self.grid_h, self.grid_w, 2).astype(np.float32, copy=False)

    def backward_map(self, displacement: np.ndarray) -> np.ndarray:
        """[height, width, 2] float32 map for ``cv2.remap`` (source x, y per output pixel)."""
        field = self.forward_field(displacement)
        source = self.grid - field
        for _ in range(self.iterations - 1):
            # Sample the field where the current estimate lands, in grid units.
            gxy = (source + 0.5) * self._to_grid - 0.5
            sampled = cv2.remap(field, gxy[..., 0], gxy[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            source = self.grid - sampled
        if (self.grid_w, self.grid_h) == (self.width, self.height):
            return source
        # Upsample the displacement, not the coordinates: near the frame edge the
        # resize clamps, which is right for a (vanishing) displacement only.
        offset = cv2.resize(source - self.grid, (self.width, self.height), interpolation=cv2.INTER_LINEAR)
        return offset + self._identity

    def apply(self, image: np.ndarray, displacement: np.ndarray) -> np.ndarray:
        """Warp ``image`` [H, W, C] so control point i moves by ``displacement[i]``."""
        m = self.backward_map(displacement)
        return cv2.remap(image, m[..., 0], m[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)


def _barycentric(transform: np.ndarray, points: np.ndarray) -> np.ndarray:
    """[..., 3] barycentric coordinates of ``points`` [..., 2] in Delaunay ``transform`` [..., 3, 2]."""
    b2 = np.einsum("...ij,...j->...i", transform[..., :2, :], points - transform[..., 2, :])
    return np.concatenate([b2, 1.0 - b2.sum(-1, keepdims=True)], axis=-1)


def _locate(triangles: np.ndarray, vertices: np.ndarray, width: int, height: int) -> np.ndarray:
    """[height, width] index of the triangle that covers each pixel centre (-1: none), rasterised.

    Pixels on an edge shared by two triangles take either one: the piecewise-affine field is
    continuous there. Replaces ``Delaunay.find_simplex``, whose walk took 10 ms to 3 s on the same
    16k grid points from run to run (a quarter of a whole ``generate`` run at worst).
    """
    ids = np.full((height, width), -1, np.int32)
    fill_triangle_ids(ids, vertices, triangles)
    return ids


def fill_triangle_ids(ids: np.ndarray, vertices: np.ndarray, triangles: np.ndarray,
                      order: np.ndarray | None = None) -> None:
    """Write into ``ids`` [H, W] int32 the index of each triangle over the pixel centres it covers.

    ``vertices`` [N, 2] in pixels of ``ids`` (sub-pixel: cv2's fixed-point rasteriser), ``triangles`` [K, 3];
    drawn in ``order`` (later over earlier; default: index order).
    """
    shift = FIXED_POINT_BITS
    order = np.arange(len(triangles)) if order is None else np.asarray(order)
    fixed = np.round(np.asarray(vertices, np.float64) * (1 << shift)).astype(np.int32)[np.asarray(triangles)[order]]
    fill = cv2.fillConvexPoly
    for k, corners in zip(order.tolist(), fixed, strict=True):
        fill(ids, corners, k, cv2.LINE_8, shift)


def border_anchors(width: int, height: int, per_side: int = 6) -> np.ndarray:
    """[4*per_side, 2] fixed points around the frame edge (slightly outside it)."""
    t = np.linspace(0.0, 1.0, per_side, endpoint=False)
    x0, y0, x1, y1 = -1.0, -1.0, width, height
    top = np.stack([x0 + t * (x1 - x0), np.full_like(t, y0)], 1)
    right = np.stack([np.full_like(t, x1), y0 + t * (y1 - y0)], 1)
    bottom = np.stack([x1 - t * (x1 - x0), np.full_like(t, y1)], 1)
    left = np.stack([np.full_like(t, x0), y1 - t * (y1 - y0)], 1)
    return np.concatenate([top, right, bottom, left])


class MeshRaster:
    """The exact backward map of a triangle mesh: every output pixel inside the driven mesh samples the source.

    A coarse warp grid cannot collapse a triangle: when a mouth that showed its teeth closes, the
    teeth's triangles have no area left, but the grid, interpolated between its nodes, still samples
    them (a band of teeth, or a double line, at the lip seam); and where the head turns, the far
    cheek folds under the near one and the grid's inversion tears. So the face mesh is rasterised
    per frame instead, back faces first, then triangle by triangle from the farthest to the nearest (the
    painter's algorithm: the nose covers the far cheek), and each pixel's source position is the affine map of
    its triangle: exact, with nothing to invert. Pixels the mesh does not cover keep the grid map.

    Args:
        triangles: [K, 3] vertex indices (a triangulation of the mesh in its canonical, frontal frame).
        source_points: [N, 2] the vertices in the source image (pixels).
        width, height: output size.
        facing: [K] the sign of each triangle's area seen from the front (image axes); a driven triangle
            whose area has the other sign faces away from the camera and is drawn first, under every
            front face. None: depth order only.
    """

    MIN_AREA = 0.25  # px²: a (nearly) collapsed triangle is not drawn, or its edge would show as a line

    def __init__(self, triangles: np.ndarray, source_points: np.ndarray, width: int, height: int,
                 facing: np.ndarray | None = None) -> None:
        self.triangles = np.asarray(triangles, np.int64)
        self.facing = None if facing is None else np.sign(np.asarray(facing, np.float64))
        self.source = np.asarray(source_points, np.float64)[:, :2]
        self.width, self.height = width, height
        self._ids = np.empty((height, width), np.int32)
        # source vertex coordinates per triangle, as the [2, 3] matrix S of S @ barycentric
        self._src = np.transpose(self.source[self.triangles], (0, 2, 1))  # [K, 2, 3]
        self.last_covered = np.zeros((height, width), bool)

    def apply(self, driven: np.ndarray, depth: np.ndarray, backward: np.ndarray) -> np.ndarray:
        """Overwrite ``backward`` [H, W, 2] where the mesh at ``driven`` [N, 2] (``depth`` [N], far = large) lies."""
        tri = self.triangles
        q = np.asarray(driven, np.float64)[:, :2]
        q0, q1, q2 = q[tri[:, 0]], q[tri[:, 1]], q[tri[:, 2]]
        ax, ay, bx, by = q1[:, 0] - q0[:, 0], q1[:, 1] - q0[:, 1], q2[:, 0] - q0[:, 0], q2[:, 1] - q0[:, 1]
        cross = ax * by - bx * ay  # twice the signed area, in image axes
        visible = np.abs(cross) > 2 * self.MIN_AREA
        back = np.zeros_like(visible) if self.facing is None else np.sign(cross) != self.facing
        # Back faces (the far cheek folding under the near one at a large turn) go down first, under
        # everything: where no front face covers them they still show skin, not a hole.
        depth_sum = np.asarray(depth, np.float64)[tri].sum(1)
        backs, fronts = np.flatnonzero(visible & back), np.flatnonzero(visible & ~back)
        order = np.concatenate([backs[np.argsort(-depth_sum[backs], kind="stable")],
                                fronts[np.argsort(-depth_sum[fronts], kind="stable")]])
        # Rasterise triangle ids inside the mesh's bounding box only.
        x0, y0 = np.maximum(np.floor(q.min(0)).astype(int) - 1, 0)
        x1, y1 = np.minimum(np.ceil(q.max(0)).astype(int) + 2, [self.width, self.height])
        self.last_covered = np.zeros((self.height, self.width), bool)
        if x1 <= x0 or y1 <= y0 or len(order) == 0:
            return backward
        ids = self._ids.ravel()[: (y1 - y0) * (x1 - x0)].reshape(y1 - y0, x1 - x0)  # contiguous
        ids.fill(-1)
        fill_triangle_ids(ids, q - [x0, y0], tri, order)
        covered = ids >= 0
        self.last_covered[y0:y1, x0:x1] = covered
        flat = np.flatnonzero(covered)
        if len(flat) == 0:
            return backward
        k = ids.ravel()[flat]
        ys, xs = np.divmod(flat, x1 - x0)
        # Each triangle's affine map, driven -> source, in closed form: with driven edges E = [q1-q0, q2-q0]
        # and source edges F = [s1-s0, s2-s0], source = s0 + F E^-1 (q - q0), E^-1 = adj(E) / det(E).
        inv = 1.0 / np.where(visible, cross, 1.0)
        i00, i01, i10, i11 = by * inv, -bx * inv, -ay * inv, ax * inv
        s = self._src  # [K, 2, 3]: s0, s1, s2 as columns
        f00, f01 = s[:, 0, 1] - s[:, 0, 0], s[:, 0, 2] - s[:, 0, 0]
        f10, f11 = s[:, 1, 1] - s[:, 1, 0], s[:, 1, 2] - s[:, 1, 0]
        m00, m01 = f00 * i00 + f01 * i10, f00 * i01 + f01 * i11
        m10, m11 = f10 * i00 + f11 * i10, f10 * i01 + f11 * i11
        m02 = s[:, 0, 0] - m00 * q0[:, 0] - m01 * q0[:, 1]
        m12 = s[:, 1, 0] - m10 * q0[:, 0] - m11 * q0[:, 1]
        # One gather per coefficient (a row gather of [K, 6] cost twice as much), in float32 per pixel.
        gx, gy = (xs + x0).astype(np.float32), (ys + y0).astype(np.float32)
        if not backward.flags.c_contiguous:
            raise ValueError("MeshRaster.apply writes into a C-contiguous [H, W, 2] map")
        out = backward.reshape(-1, 2)  # a view
        at = (ys + y0) * self.width + (xs + x0)
        out[at, 0] = (m00.astype(np.float32).take(k) * gx + m01.astype(np.float32).take(k) * gy
                      + m02.astype(np.float32).take(k))
        out[at, 1] = (m10.astype(np.float32).take(k) * gx + m11.astype(np.float32).take(k) * gy
                      + m12.astype(np.float32).take(k))
        return backward
