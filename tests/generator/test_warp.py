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
