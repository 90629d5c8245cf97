"""Image loading and saving: formats, alpha, grayscale, 16-bit, EXIF orientation, errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from skimage import data

from forgebench.errors import InputError
from forgebench.media.image import load_image, save_image


@pytest.fixture(scope="module")
def rgb() -> np.ndarray:
    return np.ascontiguousarray(data.astronaut()[100:196, 150:278])  # 96x128 real photo content


def test_png_and_bmp_lossless(tmp_path, rgb):
    for name in ("a.png", "a.bmp"):
        save_image(tmp_path / name, rgb)
        got = load_image(tmp_path / name)
        assert got.dtype == np.uint8 and got.shape == rgb.shape
        np.testing.assert_array_equal(got, rgb)


@pytest.mark.parametrize("name", ["a.jpg", "a.jpeg", "a.webp"])
def test_lossy_formats_close(tmp_path, rgb, name):
    save_image(tmp_path / name, rgb)
    got = load_image(tmp_path / name)
    assert got.shape == rgb.shape
    assert np.mean(np.abs(got.astype(int) - rgb)) < 4.0


def test_rgba_composited_on_white(tmp_path):
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[..., 0] = 200  # red-ish everywhere
    rgba[:, :32, 3] = 0  # left half fully transparent
    rgba[:, 32:, 3] = 128  # right half half transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    got = load_image(tmp_path / "a.png").astype(int)
    assert np.all(got[:, :32] == 255)
    alpha = 128 / 255
    want = np.round(alpha * np.array([200, 0, 0]) + (1 - alpha) * 255)
    assert np.max(np.abs(got[:, 32:] - want)) <= 1


def test_grayscale_and_16_bit(tmp_path, rgb):
    grey = rgb.mean(axis=2).astype(np.uint8)
    Image.fromarray(grey, "L").save(tmp_path / "g.png")
    got = load_image(tmp_path / "g.png")
    assert got.shape == grey.shape + (3,)
    np.testing.assert_array_equal(got, np.repeat(grey[..., None], 3, axis=2))
    wide = grey.astype(np.uint16) * 257  # 8-bit values spread over the 16-bit range
    Image.fromarray(wide).save(tmp_path / "g16.png")
    np.testing.assert_array_equal(load_image(tmp_path / "g16.png")[..., 1], grey)


def test_exif_orientation_applied(tmp_path, rgb):
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    Image.fromarray(rgb).save(tmp_path / "phone.jpg", exif=exif, quality=95)
    got = load_image(tmp_path / "phone.jpg")
    want = np.rot90(rgb, k=-1)  # clockwise
    assert got.shape == want.shape
    assert np.mean(np.abs(got.astype(int) - want)) < 4.0


def test_missing(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_image(tmp_path / "nope.png")


def test_not_an_image(tmp_path):
    (tmp_path / "face.png").write_text("this is a text file")
    with pytest.raises(InputError, match=r"is not an image: give a PNG, JPEG"):
        load_image(tmp_path / "face.png")


def test_too_small(tmp_path):
    Image.new("RGB", (40, 40), (10, 20, 30)).save(tmp_path / "tiny.png")
    with pytest.raises(InputError, match="is 40x40 px; give a portrait at least 64 px on each side, ideally >= 256"):
        load_image(tmp_path / "tiny.png")


def test_save_rejects_bad_input(tmp_path, rgb):
    with pytest.raises(InputError, match="cannot save an image"):
        save_image(tmp_path / "a.gifx", rgb)
    with pytest.raises(ValueError, match="uint8"):
        save_image(tmp_path / "a.png", rgb.astype(np.float32))
    assert list(tmp_path.iterdir()) == []
