"""Checkpoint folder: ``weights.safetensors`` (network + normalisation statistics), ``config.json``, ``model_card.md``.

Nothing is unpickled: weights are read with :mod:`safetensors` only. A folder whose config does not
build this version's model, or whose tensors do not match that config, is refused with one line.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from forgebench.atomic import atomic_output
from forgebench.errors import InputError
from forgebench.generator.motion.diffusion.config import FORMAT, ModelConfig, SampleConfig
from forgebench.generator.motion.diffusion.model import MotionDenoiser
from forgebench.generator.motion.diffusion.space import Normaliser

WEIGHTS, CONFIG, CARD = "weights.safetensors", "config.json", "model_card.md"


def save_checkpoint(out: str | Path, model: MotionDenoiser, norm: Normaliser, sample: SampleConfig,
                    extra: dict[str, Any] | None = None, card: str | None = None) -> Path:
    """Write the folder ``out`` (each file atomically). ``extra`` (JSON-able) goes into config.json."""
    from safetensors.torch import save_file

    from forgebench import __version__

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tensors.update({k: torch.from_numpy(v.copy()) for k, v in norm.tensors().items()})
    with atomic_output(out / WEIGHTS) as tmp:
        save_file(tensors, str(tmp), metadata={"format": FORMAT})
    config = {"format": FORMAT, "forgebench_version": __version__, "model": asdict(model.config),
              "sample": asdict(sample), **(extra or {})}
    with atomic_output(out / CONFIG) as tmp:
        tmp.write_text(json.dumps(config, indent=2, sort_keys=True))
    if card is not None:
        with atomic_output(out / CARD) as tmp:
            tmp.write_text(card)
    return out


def load_checkpoint(folder: str | Path) -> tuple[MotionDenoiser, Normaliser, SampleConfig, dict[str, Any]]:
    """(model in eval mode, normaliser, sampling defaults, the whole config dict) from a checkpoint folder."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    cfg_path, w_path = folder / CONFIG, folder / WEIGHTS
    if not cfg_path.is_file() or not w_path.is_file():
        raise InputError(f"{str(folder)!r} is not a motion checkpoint: it needs {CONFIG} and {WEIGHTS}")
    try:
        config = json.loads(cfg_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{cfg_path} is not valid JSON ({exc}); retrain or re-copy the checkpoint") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        got = config.get("format") if isinstance(config, dict) else None
        raise InputError(f"{cfg_path} has format {got!r}, expected {FORMAT!r}: not a forgebench motion checkpoint")
    try:
        model_cfg = ModelConfig.from_dict(dict(config.get("model", {})))
        sample = SampleConfig(**config.get("sample", {}))
    except (InputError, TypeError) as exc:
        raise InputError(f"checkpoint {str(folder)!r}: config does not match this forgebench's model: {exc}") from None
    try:
        tensors = load_file(str(w_path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise InputError(f"{w_path} is corrupt or not a safetensors file ({exc}); re-copy or retrain it") from None
    model = MotionDenoiser(model_cfg)
    state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        detail = (f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}" if unexpected
                  else f"shape of {wrong[:3]}")
        raise InputError(f"checkpoint {str(folder)!r}: weights do not match its config.json ({detail}); "
                         "the config was edited or the files come from different runs")
    model.load_state_dict(state, strict=True)
    model.eval()
    try:
        norm = Normaliser.from_tensors({k: v.numpy() for k, v in tensors.items() if k.startswith("norm.")})
    except TypeError:
        raise InputError(f"checkpoint {str(folder)!r}: normalisation statistics are missing") from None
    for name, value in norm.__dict__.items():
        if not np.isfinite(value).all():
            raise InputError(f"checkpoint {str(folder)!r}: {name} has non-finite values; retrain it")
    return model, norm, sample, config
