"""Typed records shared by every part: the face-motion spine.

A :class:`MotionTrack` is what the analyzer measures on any video, what motion
generators produce from audio, what the renderer consumes, and what metrics and
detectors read. Units are fixed here, once:

* ``pose[:, 0:3]`` — yaw, pitch, roll in degrees (yaw > 0: the face turns toward
  image right; pitch > 0: chin down / face tilts toward the ground; roll > 0:
  clockwise in the image).
* ``pose[:, 3:5]`` — face centre x, y as fractions of frame width and height.
* ``pose[:, 5]`` — scale: inter-ocular distance (eye centre to eye centre) as a
  fraction of frame width.
* ``expression`` — the named coefficients in :data:`EXPRESSION_NAMES`, measured on
  the pose-normalised mesh in units of inter-ocular distance (IOD), except the
  blinks, which are closure fractions (0 open as in the reference, 1 shut).
* ``gaze`` — iris offset from the eye centre as a fraction of eye width (x right,
  y down in the face frame), averaged over both eyes.

On disk a track is ``.npz`` (lossless, with landmarks) or ``.parquet`` (one row
per frame, columns named, metadata as JSON in the schema).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from forgebench.errors import InputError

POSE_NAMES: tuple[str, ...] = ("yaw", "pitch", "roll", "tx", "ty", "scale")
EXPRESSION_NAMES: tuple[str, ...] = (
    "jaw_open",  # inner-lip gap / IOD
    "mouth_width",  # mouth-corner distance / IOD
    "pucker",  # forward protrusion of the lip centres over the corners / IOD
    "smile",  # height of the mouth corners above the lip centre / IOD
    "blink_left",  # subject's left eye closure, 0 open .. 1 shut
    "blink_right",  # subject's right eye closure
    "brow_raise",  # brow-to-eye distance / IOD, mean of both sides
)
GAZE_NAMES: tuple[str, ...] = ("gaze_x", "gaze_y")
N_LANDMARKS = 478


@dataclass
class MotionTrack:
    """Pose, expression and gaze per frame at a fixed frame rate.

    Shapes (``T`` frames): ``pose`` [T, 6], ``expression`` [T, 7], ``gaze`` [T, 2],
    ``valid`` [T] (False where no face was found; other rows there are
    interpolated or zero), optional ``landmarks`` [T, 478, 3] in pixels (x, y, and
    MediaPipe's relative depth scaled like x).

    >>> t = MotionTrack.zeros(3, fps=25.0)
    >>> t.n_frames, t.expr("jaw_open").shape
    (3, (3,))
    """

    fps: float
    pose: np.ndarray
    expression: np.ndarray
    gaze: np.ndarray
    valid: np.ndarray
    landmarks: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.pose = np.asarray(self.pose, dtype=np.float32)
        self.expression = np.asarray(self.expression, dtype=np.float32)
        self.gaze = np.asarray(self.gaze, dtype=np.float32)
        self.valid = np.asarray(self.valid, dtype=bool)
        n = len(self.pose)
        expected = {
            "pose": (n, len(POSE_NAMES)),
            "expression": (n, len(EXPRESSION_NAMES)),
            "gaze": (n, len(GAZE_NAMES)),
            "valid": (n,),
        }
        for name, shape in expected.items():
            if getattr(self, name).shape != shape:
                raise ValueError(f"MotionTrack.{name} has shape {getattr(self, name).shape}, expected {shape}")
        if self.landmarks is not None:
            self.landmarks = np.asarray(self.landmarks, dtype=np.float32)
            if self.landmarks.shape != (n, N_LANDMARKS, 3):
                expected_shape = (n, N_LANDMARKS, 3)
                raise ValueError(f"MotionTrack.landmarks has shape {self.landmarks.shape}, expected {expected_shape}")
        if not self.fps > 0:
            raise ValueError(f"MotionTrack.fps must be positive, got {self.fps}")

    # -- construction -------------------------------------------------------
    @classmethod
    def zeros(cls, n_frames: int, fps: float, **meta: Any) -> MotionTrack:
        return cls(
            fps=fps,
            pose=np.zeros((n_frames, len(POSE_NAMES)), np.float32),
            expression=np.zeros((n_frames, len(EXPRESSION_NAMES)), np.float32),
            gaze=np.zeros((n_frames, len(GAZE_NAMES)), np.float32),
            valid=np.ones(n_frames, bool),
            meta=dict(meta),
        )

    # -- access ---------------------------------------------------------------
    @property
    def n_frames(self) -> int:
        return len(self.pose)

    @property
    def duration(self) -> float:
        return self.n_frames / self.fps

    def expr(self, name: str) -> np.ndarray:
        """One expression coefficient over time, by name."""
        return self.expression[:, EXPRESSION_NAMES.index(name)]

    def pose_of(self, name: str) -> np.ndarray:
        """One pose component over time, by name."""
        return self.pose[:, POSE_NAMES.index(name)]

    def slice(self, start: int, stop: int) -> MotionTrack:
        """Frames ``start:stop`` as a new track (arrays copied)."""
        return MotionTrack(
            fps=self.fps,
            pose=self.pose[start:stop].copy(),
            expression=self.expression[start:stop].copy(),
            gaze=self.gaze[start:stop].copy(),
            valid=self.valid[start:stop].copy(),
            landmarks=None if self.landmarks is None else self.landmarks[start:stop].copy(),
            meta=dict(self.meta),
        )

    def features(self) -> np.ndarray:
        """[T, 15] pose + expression + gaze, the vector motion models and metrics use."""
        return np.concatenate([self.pose, self.expression, self.gaze], axis=1)

    @staticmethod
    def feature_names() -> tuple[str, ...]:
        return POSE_NAMES + EXPRESSION_NAMES + GAZE_NAMES

    # -- persistence ----------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write ``.npz`` or ``.parquet`` (by suffix) atomically."""
        from forgebench.atomic import atomic_output

        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".npz", ".parquet"):
            raise InputError(f"cannot save a MotionTrack as {path.name!r}: use a .npz or .parquet file name")
        with atomic_output(path) as tmp:
            if suffix == ".npz":
                arrays = dict(
                    fps=np.float64(self.fps),
                    pose=self.pose,
                    expression=self.expression,
                    gaze=self.gaze,
                    valid=self.valid,
                    meta=np.frombuffer(json.dumps(self.meta).encode(), dtype=np.uint8),
                )
                if self.landmarks is not None:
                    arrays["landmarks"] = self.landmarks
                with open(tmp, "wb") as fh:
                    np.savez_compressed(fh, **arrays)
            else:
                self._to_parquet(tmp)
        return path

    @classmethod
    def load(cls, path: str | Path) -> MotionTrack:
        path = Path(path)
        if not path.is_file():
            raise InputError(f"motion track {str(path)!r} does not exist")
        suffix = path.suffix.lower()
        try:
            if suffix == ".npz":
                with np.load(path, allow_pickle=False) as z:
                    return cls(
                        fps=float(z["fps"]),
                        pose=z["pose"],
                        expression=z["expression"],
                        gaze=z["gaze"],
                        valid=z["valid"],
                        landmarks=z["landmarks"] if "landmarks" in z.files else None,
                        meta=json.loads(z["meta"].tobytes().decode() or "{}"),
                    )
            if suffix == ".parquet":
                return cls._from_parquet(path)
        except (KeyError, ValueError, OSError) as exc:
            raise InputError(f"{str(path)!r} is not a readable MotionTrack ({exc})") from None
        raise InputError(f"cannot read a MotionTrack from {path.name!r}: expected .npz or .parquet")

    def to_frame(self):  # -> pandas.DataFrame
        """One row per frame: ``frame``, ``time``, ``valid`` and a column per named value."""
        import pandas as pd

        data: dict[str, Any] = {
            "frame": np.arange(self.n_frames, dtype=np.int64),
            "time": np.arange(self.n_frames) / self.fps,
            "valid": self.valid,
        }
        for i, name in enumerate(self.feature_names()):
            data[name] = self.features()[:, i]
        return pd.DataFrame(data)

    def _to_parquet(self, path: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(self.to_frame(), preserve_index=False)
        if self.landmarks is not None:
            flat = pa.array(self.landmarks.reshape(-1), type=pa.float32())
            table = table.append_column("landmarks", pa.FixedSizeListArray.from_arrays(flat, N_LANDMARKS * 3))
        header = {"fps": self.fps, "meta": self.meta, "format": "forgebench.MotionTrack/1"}
        table = table.replace_schema_metadata({b"forgebench": json.dumps(header).encode()})
        pq.write_table(table, path)

    @classmethod
    def _from_parquet(cls, path: Path) -> MotionTrack:
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        raw = (table.schema.metadata or {}).get(b"forgebench")
        if raw is None:
            raise ValueError("no forgebench header in the Parquet schema")
        header = json.loads(raw)
        df = table.drop_columns([c for c in ("landmarks",) if c in table.column_names]).to_pandas()
        landmarks = None
        if "landmarks" in table.column_names:
            flat = table.column("landmarks").combine_chunks().flatten().to_numpy(zero_copy_only=False)
            landmarks = flat.reshape(len(df), N_LANDMARKS, 3)
        return cls(
            fps=float(header["fps"]),
            pose=df[list(POSE_NAMES)].to_numpy(),
            expression=df[list(EXPRESSION_NAMES)].to_numpy(),
            gaze=df[list(GAZE_NAMES)].to_numpy(),
            valid=df["valid"].to_numpy(),
            landmarks=landmarks,
            meta=header.get("meta", {}),
        )
