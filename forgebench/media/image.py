"""Image I/O: any still image -> uint8 RGB ``[H, W, 3]``, and atomic PNG/JPEG/WebP writing.

Loading goes through Pillow: the EXIF orientation of phone photos is applied,
transparency is composited on white (a portrait with a cut-out background
should look like one on a plain backdrop, not on black), grayscale and palette
images become RGB, and 16-bit images are scaled down to 8 bits.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "grey.png"
>>> _ = save_image(p, np.full((64, 80, 3), 7, np.uint8))
>>> load_image(p).shape
(64, 80, 3)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from forgebench.atomic import atomic_output
from forgebench.errors import InputError

#: Smallest side accepted for a portrait; below this no face detector finds landmarks reliably.
MIN_SIDE = 64
#: Largest image accepted, in pixels (64 MP: any camera's photo; checked from the header, before decoding).
MAX_PIXELS = 64_000_000

_SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP"}


def _to_rgb(img: Image.Image) -> np.ndarray:
    """A Pillow image in any mode -> uint8 RGB array, alpha composited on white."""
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # Pillow's I->L conversion clips instead of scaling; scale the full range to 8 bits ourselves.
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        grey = np.clip(np.round(arr / top * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=-1)
    has_alpha = img.mode in ("RGBA", "LA", "La", "RGBa", "PA") or (img.mode == "P" and "transparency" in img.info)
    if has_alpha:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    return np.asarray(img.convert("RGB"))


def check_pixels(size: tuple[int, int], path: str | Path) -> None:
    """Refuse an image over :data:`MAX_PIXELS` from its header size, before anything is decoded."""
    width, height = size
    if width * height > MAX_PIXELS:
        raise InputError(f"{str(path)!r} is {width}x{height} px ({width * height / 1e6:.0f} megapixels): over the "
                         f"{MAX_PIXELS / 1e6:.0f} MP limit; downscale it (a portrait needs about 512 px)")


def load_image(path: str | Path, min_side: int = MIN_SIDE) -> np.ndarray:
    """Load a still image (PNG, JPEG, WebP, BMP, TIFF, GIF first frame, ...) as uint8 RGB ``[H, W, 3]``.

    Raises :class:`InputError` if the file is missing, is not an image, or is
    smaller than ``min_side`` pixels on a side.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"image {str(path)!r} does not exist: check the path")
    if path.is_dir():
        raise InputError(f"{str(path)!r} is a folder, not an image: give a PNG or JPEG file")
    try:
        with Image.open(path) as img:
            check_pixels(img.size, path)
            img.load()
            img = ImageOps.exif_transpose(img)  # phone photos store rotation in EXIF, not in the pixels
            rgb = _to_rgb(img)
    except Image.DecompressionBombError:
        raise InputError(f"{str(path)!r} claims more pixels than Pillow will decode (a decompression bomb?): "
                         f"give an image of at most {MAX_PIXELS / 1e6:.0f} megapixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        kind = "is not an image" if isinstance(exc, UnidentifiedImageError) else f"cannot be read ({exc})"
        raise InputError(f"{str(path)!r} {kind}: give a PNG, JPEG, WebP or BMP file") from None
    h, w = rgb.shape[:2]
    if min(h, w) < min_side:
        raise InputError(
            f"image {str(path)!r} is {w}x{h} px; give a portrait at least {min_side} px on each side, ideally >= 256"
        )
    return np.ascontiguousarray(rgb)


def save_image(path: str | Path, rgb: np.ndarray, quality: int = 95) -> Path:
    """Write uint8 RGB ``[H, W, 3]`` (or grey ``[H, W]``) atomically; the format follows the suffix.

    PNG and BMP are lossless; JPEG and WebP use ``quality`` (JPEG without chroma
    subsampling, so saved frames stay comparable to the video they came from).
    """
    path = Path(path)
    fmt = _SAVE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"cannot save an image as {path.suffix or 'no suffix'!r}: use .png, .jpg, .webp or .bmp")
    arr = np.asarray(rgb)
    if arr.dtype != np.uint8 or not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 3)):
        raise ValueError(f"image must be uint8 [H, W, 3] or [H, W], got {arr.dtype} {arr.shape}")
    img = Image.fromarray(np.ascontiguousarray(arr))
    options: dict = {}
    if fmt == "JPEG":
        options = {"quality": int(quality), "subsampling": 0}
    elif fmt == "WEBP":
        options = {"quality": int(quality)}
    with atomic_output(path) as tmp:
        img.save(tmp, format=fmt, **options)
    return path
