"""Renderer: the source state reproduces the source; driven motion is measured back by the analyzer."""

from __future__ import annotations

import numpy as np
import pytest

from forgebench.generator.render.layers import HEAD_SPHERE_CENTRE
from forgebench.generator.render.renderer import FaceRenderer
from forgebench.media.analyze import analyze_video
from forgebench.records import EXPRESSION_NAMES


@pytest.fixture(scope="module")
def renderer(source_face):
    return FaceRenderer(source_face)


def _psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0**2 / max(mse, 1e-12))


def test_rendering_the_source_state_reproduces_the_source(renderer, source_face):
    frame = renderer.render(*renderer.source_state)
    assert frame.shape == source_face.image.shape and frame.dtype == np.uint8
    assert _psnr(frame, source_face.image) > 40


def test_background_stays_put_while_the_head_moves(renderer, source_face):
    pose, expr, gaze = renderer.source_state
    pose[0] += 12
    expr[0] = 0.3
    frame = renderer.render(pose, expr, gaze)
    border = np.ones(frame.shape[:2], bool)
    border[8:-8, 8:-8] = False
    np.testing.assert_allclose(frame[border].mean(0), source_face.image[border].mean(0), atol=1.0)
    assert _psnr(frame, source_face.image) < 35  # but the face did change


def test_open_mouth_gets_a_dark_interior(renderer):
    pose, expr, gaze = renderer.source_state
    expr[EXPRESSION_NAMES.index("jaw_open")] = 0.4
    frame = renderer.render(pose, expr, gaze).astype(float)
    pts = renderer.vertices(pose, expr, gaze)
    # Between the inner lips, below the upper teeth: the cavity is darker than the lips around it.
    inside = ((pts[13, :2] + pts[14, :2]) / 2).round().astype(int)
    lip = pts[17, :2].round().astype(int)
    assert frame[inside[1], inside[0]].mean() < frame[lip[1], lip[0]].mean() - 30


def test_analyzer_measures_back_what_was_rendered(renderer):
    """Render a known jaw/blink/yaw sequence; MediaPipe on the frames must recover it."""
    n = 24
    t = np.arange(n)
    pose0, expr0, gaze0 = renderer.source_state
    jaw = 0.05 + 0.2 * (0.5 + 0.5 * np.sin(2 * np.pi * t / 12))
    yaw = pose0[0] + 8 * np.sin(2 * np.pi * t / n)
    frames = []
    for i in range(n):
        pose, expr = pose0.copy(), expr0.copy()
        pose[0] = yaw[i]
        # A head turns about the neck, behind the eyes, so the eye midpoint (the pose's centre) moves.
        pose[3] += HEAD_SPHERE_CENTRE[2] * pose0[5] * np.sin(np.radians(yaw[i] - pose0[0]))
        expr[EXPRESSION_NAMES.index("jaw_open")] = jaw[i]
        frames.append(renderer.render(pose, expr, gaze0))
    track = analyze_video(np.stack(frames), fps=25.0)
    assert track.valid.all()
    measured_jaw = track.expr("jaw_open")
    assert np.corrcoef(measured_jaw, jaw)[0, 1] > 0.9
    assert np.abs(measured_jaw - jaw).mean() < 0.05
    assert np.abs(track.pose_of("yaw") - yaw).max() < 2.0
    assert np.corrcoef(track.pose_of("yaw"), yaw)[0, 1] > 0.95


def test_analyzer_sees_rendered_blinks(renderer):
    """A fully closed rendered eye must read as closed (> 0.5) to the analyzer, an open one as open."""
    pose, expr, gaze = renderer.source_state
    closure = np.array([0, 0, 0, 0, 0.5, 1, 1, 1, 0.5, 0, 0, 0, 0, 0], float)
    frames = []
    for b in closure:
        e = expr.copy()
        e[EXPRESSION_NAMES.index("blink_left")] = e[EXPRESSION_NAMES.index("blink_right")] = b
        frames.append(renderer.render(pose, e, gaze))
    track = analyze_video(np.stack(frames), fps=25.0)
    measured = (track.expr("blink_left") + track.expr("blink_right")) / 2
    assert measured[closure == 1].min() > 0.5
    assert measured[closure == 0].max() < 0.2
