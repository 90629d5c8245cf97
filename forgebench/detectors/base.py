"""The detector contract (sklearn-style), the clip sets it sees, and safe persistence.

A detector is one registered class:

* ``__init__(**hyperparams)`` stores and cheaply validates them (one-line errors);
* ``fit(train, val) -> self`` learns from the train split; the val split is for
  early stopping, checkpoint choice and threshold choice only. Fitted state ends in ``_``;
* ``predict_proba(clips) -> [N]`` P(fake) per clip; frame-based detectors also give
  ``predict_frames(clips) -> list of [K_i]`` per-frame scores;
* ``save(dir)`` writes ``config.json`` (registry name, params, versions, preprocessing)
  and ``weights.safetensors`` (every fitted array; nothing is pickled);
* ``Detector.load(dir)`` goes name -> class -> ``cls(**params)`` -> arrays.

Test labels are never reachable from ``fit``: a :class:`ClipSet` built for the test
split carries no labels, and ``fit`` refuses any set whose split is ``test``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from forgebench import __version__
from forgebench.atomic import atomic_output
from forgebench.errors import InputError
from forgebench.registry import Registry

FORMAT_VERSION = 1  # layout of a detector directory; bump when config.json or the weights change shape
CONFIG_NAME, WEIGHTS_NAME = "config.json", "weights.safetensors"
RUNTIME_PARAMS = {"device"}  # parameters a trained detector may change at load time


class LabelsHiddenError(InputError):
    """Something tried to read the labels of a clip set that carries none (a test split)."""


@dataclass
class ClipSet:
    """Clips of one split: manifest rows (no labels unless allowed) plus the manifest's location.

    ``rows`` has at least ``clip_id`` and ``path`` (relative to ``root``); ``labels`` is an int array
    (1 = fake) or None when hidden. ``groups`` (identities) may be used for grouped resampling.
    """

    rows: pd.DataFrame
    root: Path
    split: str
    labels_: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def from_manifest(cls, df: pd.DataFrame, manifest_path: str | Path, split: str, *, with_labels: bool | None = None,
                      only_ok: bool = True) -> ClipSet:
        """The clips of ``split``; test sets get no labels unless ``with_labels`` says otherwise explicitly."""
        with_labels = split != "test" if with_labels is None else with_labels
        sel = df[df["split"] == split]
        if only_ok and "status" in sel.columns:
            sel = sel[sel["status"] == "ok"]
        keep = [c for c in ("clip_id", "path", "content_sha256", "source_id", "generator", "perturbation", "level",
                            "dataset", "audio_id") if c in sel.columns]
        rows = sel[keep].reset_index(drop=True)
        labels = sel["is_fake"].to_numpy(np.int64) if with_labels else None
        base = Path(manifest_path)
        return cls(rows=rows, root=base if base.is_dir() else base.parent, split=split, labels_=labels)

    @classmethod
    def from_paths(cls, paths: Sequence[str | Path], labels: Sequence[int] | None = None,
                   split: str = "test") -> ClipSet:
        """Clips given as files (absolute paths), e.g. for ``forgebench detect``."""
        rows = pd.DataFrame({"clip_id": [Path(p).stem for p in paths],
                             "path": [str(Path(p).resolve()) for p in paths]})
        lab = None if labels is None else np.asarray(labels, np.int64)
        return cls(rows=rows, root=Path("/"), split=split, labels_=lab)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def labels(self) -> np.ndarray:
        if self.labels_ is None:
            raise LabelsHiddenError(f"the {self.split} clips carry no labels: detectors may not read them")
        return self.labels_

    @property
    def has_labels(self) -> bool:
        return self.labels_ is not None

    def path(self, i: int) -> Path:
        p = Path(str(self.rows["path"].iloc[i]))
        return p if p.is_absolute() else self.root / p

    def subset(self, index: np.ndarray) -> ClipSet:
        index = np.asarray(index)
        lab = None if self.labels_ is None else self.labels_[index]
        return ClipSet(self.rows.iloc[index].reset_index(drop=True), self.root, self.split, lab)

    def without_labels(self) -> ClipSet:
        return ClipSet(self.rows, self.root, self.split, None)


def check_fit_inputs(train: ClipSet, val: ClipSet) -> None:
    """Fit may see train and val labels only; both need both classes."""
    for name, s in (("train", train), ("val", val)):
        if s.split == "test":
            raise InputError(f"fit was given the test split as {name}: test is scored once, after fit, by the "
                             "evaluation module")
        if len(s) == 0:
            raise InputError(f"the {name} split is empty: the manifest needs {name} clips of both classes")
        classes = set(np.unique(s.labels).tolist())
        if classes != {0, 1}:
            have = "real" if classes == {0} else "fake"
            raise InputError(f"the {name} split has only {have} clips: a detector needs real and fake clips in "
                             f"{name}")


class Detector:
    """Base class; subclasses set ``param_defaults`` and implement ``_fit``/``_predict``/arrays.

    Class attributes: ``registry_name`` (set by :func:`register_detector`), ``version`` (of the
    architecture/feature definition; a saved directory of another version is refused),
    ``forensic`` (False for the provenance check, which reads a watermark instead),
    ``frame_based`` (whether :meth:`predict_frames` gives per-frame scores).
    """

    registry_name: ClassVar[str] = ""
    version: ClassVar[int] = 1
    forensic: ClassVar[bool] = True
    frame_based: ClassVar[bool] = False
    param_defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, **params: Any) -> None:
        unknown = sorted(set(params) - set(self.param_defaults))
        if unknown:
            known = ", ".join(sorted(self.param_defaults)) or "none"
            raise InputError(f"{self.registry_name or type(self).__name__} has no parameter {unknown[0]!r} "
                             f"(known: {known})")
        self.params: dict[str, Any] = {}
        for key, default in self.param_defaults.items():
            value = params.get(key, default)
            if default is not None and value is not None and not isinstance(value, type(default)):
                try:  # CLI values arrive as strings
                    value = _coerce(value, type(default))
                except (TypeError, ValueError):
                    raise InputError(f"parameter {key}={value!r} should be a {type(default).__name__}") from None
            self.params[key] = value
        self._validate()
        self.log_: list[dict[str, float]] = []

    def _validate(self) -> None:
        """Cheap checks of ``self.params``; raise :class:`InputError` with one line."""

    # -- the contract -------------------------------------------------------------
    def fit(self, train: ClipSet, val: ClipSet) -> Detector:
        check_fit_inputs(train, val)
        self._fit(train, val)
        self.fitted_ = True
        return self

    def predict_proba(self, clips: ClipSet) -> np.ndarray:
        """P(fake) per clip, [N] float64 in [0, 1].

        NaN marks a clip that could not be preprocessed; ``skipped_`` lists those as (clip_id, reason).
        """
        self._check_fitted()
        self.skipped_: list[tuple[str, str]] = []
        p = np.asarray(self._predict(clips.without_labels()), np.float64)
        if p.shape != (len(clips),):
            raise InputError(f"{self.registry_name} returned {p.shape[0] if p.ndim else 0} scores for {len(clips)} "
                             "clips")
        if int((~np.isfinite(p)).sum()) != len(self.skipped_):
            raise InputError(f"{self.registry_name} produced NaN scores for clips it did not skip: a bug or a "
                             "degenerate input; check the clips with 'forgebench detect'")
        return np.clip(p, 0.0, 1.0)

    def predict_frames(self, clips: ClipSet) -> list[np.ndarray]:
        """Per-frame P(fake) for frame-based detectors (list of [K_i]); others give one value per clip."""
        return [np.array([p]) for p in self.predict_proba(clips)]

    def _fit(self, train: ClipSet, val: ClipSet) -> None:
        raise NotImplementedError

    def _predict(self, clips: ClipSet) -> np.ndarray:
        raise NotImplementedError

    def _check_fitted(self) -> None:
        if not getattr(self, "fitted_", False):
            raise InputError(f"{self.registry_name} is not fitted: call fit() or load a trained detector directory")

    # -- persistence ----------------------------------------------------------------
    def get_arrays(self) -> dict[str, np.ndarray]:
        """Every fitted array, by name (stored in weights.safetensors)."""
        raise NotImplementedError

    def set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    def fitted_config(self) -> dict[str, Any]:
        """JSON-able fitted scalars (e.g. the val threshold); restored by :meth:`set_fitted_config`."""
        return {"threshold_": float(getattr(self, "threshold_", 0.5))}

    def set_fitted_config(self, cfg: dict[str, Any]) -> None:
        self.threshold_ = float(cfg.get("threshold_", 0.5))

    def preprocessing_config(self) -> dict[str, Any]:
        return {}

    def save_parts(self, directory: Path) -> None:
        """Write what does not fit in one weights file (e.g. a fusion's member folders); before config.json."""

    def load_parts(self, directory: Path, **runtime: Any) -> None:
        """Read what :meth:`save_parts` wrote, after the arrays and the fitted config are set."""

    def save(self, directory: str | Path) -> Path:
        from safetensors.numpy import save_file

        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.save_parts(directory)
        arrays = {k: np.ascontiguousarray(v) for k, v in self.get_arrays().items()}
        config = {"detector": self.registry_name, "detector_version": self.version, "format_version": FORMAT_VERSION,
                  "forgebench_version": __version__, "forensic": self.forensic, "params": self.params,
                  "preprocessing": self.preprocessing_config(), "fitted": self.fitted_config()}
        with atomic_output(directory / WEIGHTS_NAME) as tmp:
            save_file(arrays, str(tmp))
        with atomic_output(directory / CONFIG_NAME) as tmp:
            tmp.write_text(json.dumps(config, indent=2, sort_keys=True))
        return directory

    @classmethod
    def load(cls, directory: str | Path, **runtime: Any) -> Detector:
        """Rebuild a saved detector; ``Detector.load`` dispatches by the registered name.

        ``runtime`` may override parameters that do not change the model (:data:`RUNTIME_PARAMS`,
        e.g. ``device="cpu"`` for a detector trained on a GPU).
        """
        from safetensors.numpy import load_file

        config = read_config(directory)
        name = config["detector"]
        target = detector_registry.get(name)
        if cls is not Detector and cls is not target:
            raise InputError(f"{str(directory)!r} holds a {name!r} detector, not {cls.registry_name!r}")
        if config.get("detector_version") != target.version:
            raise InputError(f"{str(directory)!r} holds {name} version {config.get('detector_version')}, this "
                             f"forgebench has version {target.version}: retrain it with 'forgebench train detector'")
        bad = sorted(set(runtime) - RUNTIME_PARAMS)
        if bad:
            raise InputError(f"{bad[0]!r} cannot be changed on a trained detector (only {sorted(RUNTIME_PARAMS)})")
        params = {**config["params"], **{k: v for k, v in runtime.items() if k in config["params"]}}
        det = target(**params)
        det.set_arrays(load_file(str(Path(directory) / WEIGHTS_NAME)))
        det.set_fitted_config(config.get("fitted", {}))
        det.load_parts(Path(directory), **runtime)
        det.fitted_ = True
        return det


def read_config(directory: str | Path) -> dict[str, Any]:
    """The checked config.json of a detector directory (one-line errors for anything else)."""
    directory = Path(directory)
    cfg_path, w_path = directory / CONFIG_NAME, directory / WEIGHTS_NAME
    if not cfg_path.is_file() or not w_path.is_file():
        raise InputError(f"{str(directory)!r} is not a detector directory (needs {CONFIG_NAME} and {WEIGHTS_NAME}): "
                         "train one with 'forgebench train detector NAME --manifest M --out DIR'")
    try:
        config = json.loads(cfg_path.read_text())
    except json.JSONDecodeError:
        raise InputError(f"{str(cfg_path)!r} is not valid JSON: retrain the detector") from None
    if not isinstance(config, dict) or "detector" not in config:
        raise InputError(f"{str(cfg_path)!r} names no detector: it was not written by forgebench")
    if config.get("format_version") != FORMAT_VERSION:
        raise InputError(f"{str(directory)!r} uses detector format {config.get('format_version')}, this forgebench "
                         f"reads format {FORMAT_VERSION}: retrain the detector")
    return config


def _coerce(value: Any, kind: type) -> Any:
    if kind is bool and isinstance(value, str):
        if value.lower() in ("1", "true", "yes"):
            return True
        if value.lower() in ("0", "false", "no"):
            return False
        raise ValueError(value)
    if kind is float and isinstance(value, int):
        return float(value)
    if kind is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return kind(value)
    raise TypeError(value)


def _load_detectors() -> None:
    from forgebench.detectors import load_detectors

    load_detectors()


detector_registry: Registry[Detector] = Registry("detector", Detector, load=_load_detectors)


def register_detector(name: str):
    """Class decorator: ``@register_detector("meso4")``."""
    return detector_registry.register(name)
