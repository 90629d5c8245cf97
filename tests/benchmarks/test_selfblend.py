"""Self-blended pseudo-fakes: the blend stays inside its mask, does not flicker, and is reproducible."""

from __future__ import annotations

import numpy as np
import pytest

from forgebench.benchmarks.selfblend import BlendConfig, blend_frame, draw, region_points, self_blend
from forgebench.errors import InputError


def ellipse_face(cx: float = 64, cy: float = 60, a: float = 30, b: float = 38, n: int = 468) -> np.ndarray:
    """[n, 3] points filling an ellipse (a stand-in mesh: its hull is the ellipse); point 1 is the 'nose tip'."""
    rng = np.random.default_rng(0)
    t = rng.uniform(0, 2 * np.pi, n)
    r = np.sqrt(rng.uniform(0, 1, n))
    pts = np.stack([cx + a * r * np.cos(t), cy + b * r * np.sin(t), np.zeros(n)], 1)
    pts[:8, :2] = [[cx - a, cy], [cx, cy + 2], [cx + a, cy], [cx, cy - b], [cx, cy + b], [cx - a * 0.7, cy + b * 0.7],
                   [cx + a * 0.7, cy + b * 0.7], [cx, cy]]
    return pts


def distance_outside(mask_region: np.ndarray, hull_pts: np.ndarray) -> float:
    """Largest distance (px) from a pixel of ``mask_region`` to the convex hull of ``hull_pts``."""
    import cv2

    hull = cv2.convexHull(np.round(hull_pts[:, :2]).astype(np.float32))
    ys, xs = np.nonzero(mask_region)
    d = [cv2.pointPolygonTest(hull, (float(x), float(y)), True) for x, y in zip(xs, ys)]
    return float(max(0.0, -min(d))) if d else 0.0


@pytest.mark.parametrize("region", ["face", "mouth"])
def test_blend_changes_pixels_only_inside_the_bounded_mask(region):
    rng = np.random.default_rng(3)
    frame = rng.integers(0, 255, (128, 128, 3), dtype=np.uint8)
    pts = ellipse_face()
    cfg = BlendConfig(region=region, blend=(0.6, 1.0))
    d = draw(cfg, np.random.default_rng(7))
    out, mask = blend_frame(frame, pts, d.at(0.0), region, d.sharpen, d.field)
    changed = np.any(out != frame, axis=2)
    assert changed.any()
    assert not (changed & (mask == 0)).any()  # outside the mask: bit-identical
    face_w = np.ptp(pts[:, 0])
    # the mask reaches past the region's hull by at most elastic field + growth + feather (3 sigma) + 2 px
    reach = (0.04 * np.sqrt(2) + d.max_grow + 3 * max(d.a["blur"][0], d.b["blur"][0])) * face_w + 2
    assert distance_outside(mask > 0, region_points(pts, region)) <= reach
    if region == "mouth":  # the lower face only: nothing above the nose tip (minus the reach) changes
        assert not changed[: int(pts[1, 1] - reach)].any()


def test_parameters_drift_slowly_so_the_clip_does_not_flicker():
    cfg = BlendConfig(drift=0.2)
    d = draw(cfg, np.random.default_rng(1))
    for k, lo_hi in {"scale": cfg.scale, "dx": cfg.shift, "ratio": 0.75}.items():
        assert np.all(np.abs(d.b[k] - d.a[k]) <= 0.2 * 2 * lo_hi + 1e-12)  # end - start <= drift x range
    frame = np.random.default_rng(0).integers(0, 255, (96, 96, 3), dtype=np.uint8)
    pts = ellipse_face(48, 48, 22, 28)
    frames = [frame] * 10
    masks = [m for _, m in self_blend(frames, cfg, seed=5, n_frames=10, landmarks=[pts] * 10)]
    steps = [np.abs(masks[i + 1] - masks[i]).max() for i in range(9)]
    assert max(steps) < 0.05  # consecutive masks of a still face barely change
    constant = [m for _, m in self_blend(frames, BlendConfig(drift=0.0), seed=5, n_frames=10, landmarks=[pts] * 10)]
    assert all(np.array_equal(constant[0], m) for m in constant)


def test_frames_before_the_first_face_wait_for_it_and_a_faceless_clip_is_refused():
    frame = np.zeros((64, 64, 3), np.uint8)
    pts = ellipse_face(32, 32, 12, 16)
    out = list(self_blend([frame] * 4, BlendConfig(), 0, 4, landmarks=[None, None, pts, None]))
    assert len(out) == 4 and all(m.any() for _, m in out)
    with pytest.raises(InputError, match="no face"):
        list(self_blend([frame] * 3, BlendConfig(), 0, 3, landmarks=[None] * 3))
    with pytest.raises(InputError, match="blend range"):
        BlendConfig(blend=(0.0, 0.5))


def test_selfblend_video_same_seed_same_bytes_and_differs_from_its_real_clip(tmp_path, face_clip_factory):
    from forgebench.benchmarks.perturb import normalize_video
    from forgebench.benchmarks.selfblend import selfblend_video
    from forgebench.media.video import read_video
    from forgebench.paths import sha256_file

    src = face_clip_factory(tmp_path / "src.mp4", frames=10, canvas=(120, 120), face=110, at=(5, 5))
    kw = dict(size=96, fps=25, crf=23, crop="face")
    a = selfblend_video(str(src), tmp_path / "a.mp4", BlendConfig(blend=(0.8, 1.0)), 11, **kw)
    b = selfblend_video(str(src), tmp_path / "b.mp4", BlendConfig(blend=(0.8, 1.0)), 11, **kw)
    c = selfblend_video(str(src), tmp_path / "c.mp4", BlendConfig(blend=(0.8, 1.0)), 12, **kw)
    assert sha256_file(a) == sha256_file(b) != sha256_file(c)
    real = read_video(normalize_video(src, tmp_path / "r.mp4", **kw)).frames.astype(int)
    fake = read_video(a).frames.astype(int)
    assert real.shape == fake.shape  # same framing, length and size as its real clip
    diff = np.abs(real - fake).mean(axis=(0, 3))
    centre, corner = diff[30:66, 30:66].mean(), np.concatenate([diff[:8, :8].ravel(), diff[-8:, -8:].ravel()]).mean()
    assert centre > 3 * max(corner, 0.3)  # the face changed; the far background only by coding noise


def test_lag_takes_the_copy_from_another_moment_of_the_clip():
    """With ``lag`` the blended region shows frame t +- lag: on frames of constant grey 10 t, with no geometric,
    colour or (on flat frames) frequency jitter, pixel = (1 - m) 10 t + m 10 (t +- lag)."""
    n, lag = 12, 3
    frames = [np.full((96, 96, 3), 10 * t, np.uint8) for t in range(n)]
    pts = ellipse_face(48, 48, 22, 28)
    cfg = BlendConfig(region="face", scale=0.0, shift=0.0, color=0.0, blend=(1.0, 1.0), lag=(lag, lag))
    out = list(self_blend(frames, cfg, seed=2, n_frames=n, landmarks=[pts] * n))
    shifts = []
    for t, (f, m) in enumerate(out):
        y, x = np.unravel_index(np.argmax(m), m.shape)
        shifts.append((float(f[y, x, 0]) - 10 * t) / (10 * m[y, x]))
    sign = np.sign(shifts[n // 2])
    for t, s in enumerate(shifts):
        inside = 0 <= t + sign * lag < n
        assert s == pytest.approx(sign * lag if inside else -sign * lag, abs=0.2)
    none = list(self_blend(frames, BlendConfig(scale=0.0, shift=0.0, color=0.0), 2, n, landmarks=[pts] * n))
    assert all(np.abs(f.astype(int) - 10 * t).max() <= 1 for t, (f, _) in enumerate(none))  # no lag: own frame
    with pytest.raises(InputError, match="lag range"):
        BlendConfig(lag=(3, 1))
