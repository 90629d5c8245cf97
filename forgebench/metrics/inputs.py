"""What metrics read: video files, folders, images, corpus manifests and reference sets.

``forgebench score`` takes videos, folders or a corpus manifest (a Parquet file
with a ``path`` column and optionally ``clip_id``, ``reference_path`` (the
ground-truth video) and ``source_image``; relative paths are relative to the
manifest); :func:`discover_inputs` turns them into :class:`InputItem` rows. A
folder is searched recursively for videos; a folder with no videos is taken as a
folder of images (pytorch-fid's everyday input), each image one single-frame
item. A reference set (``--reference DIR`` for FID/KID/FVD) is a folder of videos
or images; :func:`iter_reference_frames` yields it as uint8 frame batches ``[T, H,
W, 3]``, one batch per video or per image. Images are read as pytorch-fid reads
them (Pillow, ``convert("RGB")``), with the extensions pytorch-fid globs for.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from forgebench.errors import InputError

VIDEO_EXTS = frozenset({".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v"})
IMAGE_EXTS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".pgm", ".ppm", ".tif", ".tiff"})


@dataclass(frozen=True)
class InputItem:
    """One clip to score: its id, video path, optional ground-truth video and source portrait.

    ``image``: the path is a still image, scored as a one-frame clip (FID/KID on folders of images).
    """

    clip_id: str
    path: Path
    reference_path: Path | None = None
    source_image: Path | None = None
    image: bool = False


def _videos_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTS)


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTS)


def _manifest_items(path: Path) -> list[InputItem]:
    import pandas as pd

    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise InputError(f"cannot read the manifest {path} ({exc.__class__.__name__}): give a Parquet file") from None
    if "path" not in df.columns:
        raise InputError(f"manifest {path} has no 'path' column (columns: {', '.join(map(str, df.columns))})")
    items = []
    for i, row in enumerate(df.itertuples(index=False)):
        p = Path(str(row.path))
        if not p.is_absolute():
            p = path.parent / p
        cid = getattr(row, "clip_id", None)
        items.append(
            InputItem(
                str(cid) if cid is not None else f"{p.stem}-{i}",
                p,
                _optional_path(row, "reference_path", path.parent),
                _optional_path(row, "source_image", path.parent),
            )
        )
    return items


def _optional_path(row: object, column: str, base: Path) -> Path | None:
    value = getattr(row, column, None)
    if not isinstance(value, str) or not value:
        return None
    return Path(value) if Path(value).is_absolute() else base / value


def discover_inputs(inputs: Sequence[str | Path]) -> list[InputItem]:
    """Expand video files, folders (recursively) and ``.parquet`` manifests into clips.

    Clip ids are the manifest's ``clip_id``, else the file stem (made unique with a counter).
    """
    items: list[InputItem] = []
    for raw in inputs:
        p = Path(raw)
        if not p.exists():
            raise InputError(f"input {str(p)!r} does not exist: give video files, a folder or a .parquet manifest")
        if p.is_dir():
            found = _videos_in(p)
            if found:
                items += [InputItem(v.stem, v) for v in found]
            elif images := _images_in(p):
                items += [InputItem(i.stem, i, image=True) for i in images]
            else:
                raise InputError(f"folder {str(p)!r} has no videos ({', '.join(sorted(VIDEO_EXTS))}) or images "
                                 f"({', '.join(sorted(IMAGE_EXTS))})")
        elif p.suffix.lower() == ".parquet":
            items += _manifest_items(p)
        elif p.suffix.lower() in VIDEO_EXTS:
            items.append(InputItem(p.stem, p))
        elif p.suffix.lower() in IMAGE_EXTS:
            items.append(InputItem(p.stem, p, image=True))
        else:
            raise InputError(f"{str(p)!r} is not a video, image, folder or .parquet manifest")
    seen: dict[str, int] = {}
    unique = []
    for it in items:
        n = seen.get(it.clip_id, 0)
        seen[it.clip_id] = n + 1
        unique.append(it if n == 0 else InputItem(f"{it.clip_id}~{n}", it.path, it.reference_path, it.source_image,
                                                  it.image))
    return unique


def reference_files(folder: str | Path) -> list[Path]:
    """Videos and images under ``folder`` (sorted), or an error naming what was expected."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"reference set {str(folder)!r} is not a folder: give a folder of videos or images")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTS | IMAGE_EXTS)
    if not files:
        raise InputError(f"reference set {str(folder)!r} has no videos or images")
    return files


def check_reference(reference: str | Path) -> None:
    """A one-line error, before any scoring, for a reference set that cannot be one."""
    path = Path(reference)
    if not path.exists():
        raise InputError(f"reference set {str(path)!r} does not exist: give a folder of videos or images, or a "
                         "statistics .npz")
    if path.is_dir():
        reference_files(path)
    elif path.suffix.lower() != ".npz":
        raise InputError(f"reference set {str(path)!r} is neither a folder nor a statistics .npz")


def fingerprint(files: Sequence[Path], *extra: object) -> str:
    """A cache key for a file set: paths, sizes and mtimes, plus ``extra`` settings."""
    h = hashlib.sha256()
    for f in files:
        st = f.stat()
        h.update(f"{f.resolve()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    h.update(repr(extra).encode())
    return h.hexdigest()[:20]


def read_image(path: Path) -> np.ndarray:
    """An image file as uint8 RGB [H, W, 3] (as pytorch-fid: PIL ``convert('RGB')``)."""
    from PIL import Image

    from forgebench.media.image import check_pixels

    try:
        with Image.open(path) as im:
            check_pixels(im.size, path)
            return np.asarray(im.convert("RGB"))
    except Image.DecompressionBombError:
        raise InputError(f"cannot read image {path}: it claims more pixels than Pillow will decode") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"cannot read image {path} ({exc})") from None


def iter_reference_frames(
    folder: str | Path, max_frames_per_video: int | None = None, frame_stride: int = 1
) -> Iterator[np.ndarray]:
    """Yield uint8 frames [T, H, W, 3]: every ``frame_stride``-th frame of each video, or one image at a time."""
    from forgebench.media.video import read_video

    for f in reference_files(folder):
        if f.suffix.lower() in IMAGE_EXTS:
            yield read_image(f)[None]
        else:
            limit = None if max_frames_per_video is None else max_frames_per_video * frame_stride
            frames = read_video(f, max_frames=limit, with_audio=False).frames
            yield frames[::frame_stride]
