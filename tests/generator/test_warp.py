"""The dense warp against closed forms: identity and pure translation."""

from __future__ import annotations

import numpy as np

from forgebench.generator.render.warp import DenseWarp, border_anchors


def _setup(width=96, height=80, seed=0):
    rng = np.random.default_rng(seed)
    inner = rng.uniform([20, 20], [width - 20, height - 20], size=(30, 2))
    return inner, np.concatenate([inner, border_anchors(width, height)]), width, height


def test_zero_displacement_is_the_identity():
    _, control, w, h = _setup()
    warp = DenseWarp(control, w, h, grid_step=2)
    m = warp.backward_map(np.zeros((len(control), 2)))
    xs, ys = np.meshgrid(np.arange(w), np.arange(h))
    np.testing.assert_allclose(m[..., 0], xs, atol=1e-3)
    np.testing.assert_allclose(m[..., 1], ys, atol=1e-3)


def test_uniform_shift_of_all_points_translates_the_image():
    _, control, w, h = _setup()
    warp = DenseWarp(control, w, h, grid_step=1, iterations=1)
    shift = np.array([3.0, -2.0])
    m = warp.backward_map(np.tile(shift, (len(control), 1)))
    xs, ys = np.meshgrid(np.arange(w), np.arange(h))
    np.testing.assert_allclose(m[..., 0], xs - 3.0, atol=1e-4)
    np.testing.assert_allclose(m[..., 1], ys + 2.0, atol=1e-4)


def test_forward_field_interpolates_control_points_exactly():
    """A control point on a pixel centre gets exactly its own displacement."""
    inner, _, w, h = _setup()
    pts = np.unique(np.round(inner).astype(int), axis=0)
    border = border_anchors(w, h)
    warp = DenseWarp(np.concatenate([pts.astype(float), border]), w, h, grid_step=1)
    d = np.zeros((len(pts) + len(border), 2))
    d[: len(pts)] = np.random.default_rng(1).normal(0, 2, size=(len(pts), 2))
    field = warp.forward_field(d)
    np.testing.assert_allclose(field[pts[:, 1], pts[:, 0]], d[: len(pts)], atol=1e-5)


def test_inverse_map_undoes_a_smooth_forward_warp():
    """p + D(p) = q: the fixed point found for q maps back onto q."""
    _, control, w, h = _setup()
    warp = DenseWarp(control, w, h, grid_step=1, iterations=4)
    d = np.zeros((len(control), 2))
    d[:30] = np.random.default_rng(2).normal(0, 1.5, size=(30, 2))
    field = warp.forward_field(d)
    m = warp.backward_map(d)
    ys, xs = np.mgrid[10:h - 10, 10:w - 10]
    px, py = m[ys, xs, 0], m[ys, xs, 1]
    fx = field[np.round(py).astype(int).clip(0, h - 1), np.round(px).astype(int).clip(0, w - 1)]
    err = np.hypot(px + fx[..., 0] - xs, py + fx[..., 1] - ys)
    assert np.median(err) < 0.35


def _mesh(seed=1, n=40, width=96, height=80):
    from scipy.spatial import Delaunay

    rng = np.random.default_rng(seed)
    pts = rng.uniform([15, 15], [width - 15, height - 15], size=(n, 2))
    tri = Delaunay(pts).simplices
    e1, e2 = pts[tri[:, 1]] - pts[tri[:, 0]], pts[tri[:, 2]] - pts[tri[:, 0]]
    return pts, tri, np.sign(e1[:, 0] * e2[:, 1] - e2[:, 0] * e1[:, 1])


def test_mesh_raster_of_an_affine_motion_is_the_inverse_affine():
    from forgebench.generator.render.warp import MeshRaster

    pts, tri, facing = _mesh()
    a = np.array([[1.1, 0.2], [-0.15, 0.95]])
    t = np.array([3.0, -2.5])
    driven = pts @ a.T + t
    raster = MeshRaster(tri, pts, 96, 80, facing=facing)
    base = np.full((80, 96, 2), -1.0, np.float32)
    m = raster.apply(driven, np.zeros(len(pts)), base)
    ys, xs = np.nonzero(raster.last_covered)
    assert len(ys) > 1000  # the hull of the driven points is covered
    expected = (np.stack([xs, ys], 1) - t) @ np.linalg.inv(a).T  # closed form: p = A^-1 (q - t)
    np.testing.assert_allclose(m[ys, xs], expected, atol=1e-3)
    assert (m[~raster.last_covered] == -1.0).all()  # pixels off the mesh keep the map they had


def test_mesh_raster_draws_nearest_triangles_last_and_back_faces_first():
    from forgebench.generator.render.warp import MeshRaster

    pts, tri, facing = _mesh()
    both = np.concatenate([tri, tri + len(pts)])
    src = np.concatenate([pts, pts + [0.0, 100.0]])
    raster = MeshRaster(both, src, 96, 80, facing=np.concatenate([facing, facing]))
    # Two copies of the mesh on top of each other, the second nearer: its source positions win.
    depth = np.concatenate([np.full(len(pts), 5.0), np.full(len(pts), 1.0)])
    m = raster.apply(np.concatenate([pts, pts]), depth, np.zeros((80, 96, 2), np.float32))
    ys, xs = np.nonzero(raster.last_covered)
    np.testing.assert_allclose(m[ys, xs, 1], ys + 100.0, atol=1e-3)
    # The nearer copy seen from behind (mirrored about the mesh's own centre line) goes under the far
    # front-facing one wherever they overlap.
    mirrored = pts * [-1.0, 1.0] + [2 * pts[:, 0].mean(), 0.0]
    m = raster.apply(np.concatenate([pts, mirrored]), depth, np.zeros((80, 96, 2), np.float32))
    alone = MeshRaster(tri, pts, 96, 80, facing=facing)
    alone.apply(pts, np.zeros(len(pts)), np.zeros((80, 96, 2), np.float32))
    ys, xs = np.nonzero(alone.last_covered)
    np.testing.assert_allclose(m[ys, xs, 1], ys, atol=1e-3)  # the front-facing copy, everywhere it lies
    back_only = raster.last_covered & ~alone.last_covered
    assert back_only.sum() > 20  # and the back faces still cover what no front face does


def test_a_closed_gap_samples_nothing_of_what_was_in_it():
    """Lips closing over teeth: the gap's triangles collapse and no pixel samples the gap any more."""
    from forgebench.generator.render.warp import MeshRaster

    # upper lip edge y=30 (0, 1), lower lip edge y=50 (2, 3), skin above (4) and below (5)
    pts = np.array([[10.0, 30.0], [60.0, 30.0], [10.0, 50.0], [60.0, 50.0], [35.0, 5.0], [35.0, 75.0]])
    tri = np.array([[0, 1, 4], [0, 2, 1], [1, 2, 3], [2, 5, 3]])
    e1, e2 = pts[tri[:, 1]] - pts[tri[:, 0]], pts[tri[:, 2]] - pts[tri[:, 0]]
    raster = MeshRaster(tri, pts, 80, 80, facing=np.sign(e1[:, 0] * e2[:, 1] - e2[:, 0] * e1[:, 1]))
    driven = pts.copy()
    driven[[2, 3], 1] = 30.0  # closed
    m = raster.apply(driven, np.zeros(len(pts)), np.zeros((80, 80, 2), np.float32))
    src_y = m[raster.last_covered][:, 1]
    assert raster.last_covered.sum() > 500
    assert not ((src_y > 30.5) & (src_y < 49.5)).any()
