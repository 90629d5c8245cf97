"""Face regions: polygon means against an independent rasteriser, region layout on a tracked face."""

from __future__ import annotations

import numpy as np
import pytest

from forgebench.media.face_regions import (
    BACKGROUND_NAMES,
    N_REGIONS,
    SKIN_NAMES,
    background_boxes,
    polygon_mean,
    region_means,
    skin_polygons,
)


def test_polygon_mean_against_skimage():
    from skimage.draw import polygon2mask

    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (64, 80, 3)).astype(np.uint8)
    for poly in (np.array([[10.3, 20.2], [30.7, 21.1], [28.4, 40.6], [12.2, 37.9]]),
                 np.array([[40.0, 5.5], [70.2, 30.1], [45.6, 50.3]])):
        mean, n = polygon_mean(img, poly)
        ref_mask = polygon2mask(img.shape[:2], poly[:, ::-1])  # (row, col) vertices
        ref = img[ref_mask].mean(0)
        # rasterisation rules differ only on boundary pixels: counts within a perimeter's worth, means close
        perimeter = np.linalg.norm(np.diff(np.vstack([poly, poly[:1]]), axis=0), axis=1).sum()
        assert abs(n - ref_mask.sum()) <= perimeter
        np.testing.assert_allclose(mean, ref, atol=4.0)
    # a constant image: exactly its colour; a polygon off the frame: NaN and no pixels
    flat = np.full((32, 32, 3), (10, 20, 30), np.uint8)
    np.testing.assert_allclose(polygon_mean(flat, np.array([[2.0, 2.0], [20.0, 3.0], [10.0, 25.0]]))[0], [10, 20, 30])
    mean, n = polygon_mean(flat, np.array([[-20.0, -20.0], [-5.0, -20.0], [-10.0, -5.0]]))
    assert n == 0 and np.isnan(mean).all()


def test_regions_on_a_tracked_face():
    import cv2

    from forgebench.generator.defaults import default_portrait
    from forgebench.media.face_mesh import FaceMeshTracker

    img = cv2.resize(default_portrait(), (256, 256), interpolation=cv2.INTER_AREA)
    with FaceMeshTracker(video=False) as tracker:
        pts = tracker(img)
    means = region_means(img, pts)
    assert means.shape == (N_REGIONS, 3) == (len(SKIN_NAMES) + len(BACKGROUND_NAMES), 3)
    assert np.isfinite(means).all()
    polys = dict(zip(SKIN_NAMES, skin_polygons(pts)))
    # anatomy: foreheads above the eyes, cheeks below; subject's right (image left) has the smaller x
    eye_y = pts[[33, 263], 1].mean()
    assert polys["forehead_r"][:, 1].max() < eye_y < polys["cheek_r"][:, 1].min()
    assert polys["cheek_r"][:, 0].mean() < polys["nose"][:, 0].mean() < polys["cheek_l"][:, 0].mean()
    # background boxes lie outside the face's horizontal extent, inside the frame
    (r0, _, r1, _), (l0, _, l1, _) = background_boxes(pts, 256, 256)
    assert r1 <= pts[:, 0].min() and l0 >= pts[:, 0].max() and r0 >= 0 and l1 <= 256
    # a face at the frame's edge: the clipped-away box is empty and gives NaN, the skin stays finite
    shifted = pts.copy()
    shifted[:, 0] -= pts[:, 0].min() - 1
    edge = region_means(img, shifted)
    assert np.isnan(edge[len(SKIN_NAMES)]).all() and np.isfinite(edge[:len(SKIN_NAMES)]).all()


@pytest.mark.parametrize("n_points", [468, 478])
def test_both_meshes_work(n_points):
    rng = np.random.default_rng(1)
    pts = np.column_stack([rng.uniform(60, 200, n_points), rng.uniform(60, 200, n_points), np.zeros(n_points)])
    assert region_means(np.zeros((256, 256, 3), np.uint8), pts).shape == (N_REGIONS, 3)
