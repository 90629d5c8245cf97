"""CLI: ``forgebench train motion`` and ``forgebench bench motion``.

``forgebench/group_commands.py`` calls :func:`add_train_motion`; ``forgebench/bench_commands.py`` calls
:func:`add_bench_motion`. (``forgebench eval motion`` scores generators, so it lives with the benchmarks:
:mod:`forgebench.benchmarks.eval_commands`.) Training options are generated from
the fields of :class:`.config.ModelConfig` and :class:`.config.TrainConfig` (one source of defaults).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import MISSING, fields
from pathlib import Path

from forgebench.config_cli import number
from forgebench.errors import InputError
from forgebench.generator.motion.diffusion.config import ModelConfig, SampleConfig, TrainConfig

_SKIP = {"motion_dim", "audio_dim", "control_dim", "prediction"}


def _add_dataclass_args(p: argparse.ArgumentParser, cls: type, title: str) -> None:
    group = p.add_argument_group(title)
    for f in fields(cls):
        if f.name in _SKIP or f.default is MISSING:
            continue
        flag = "--" + f.name.replace("_", "-")
        group.add_argument(flag, dest=f"{cls.__name__}.{f.name}", type=type(f.default), default=f.default,
                           metavar=type(f.default).__name__.upper(), help=f"(default {f.default})")


def _dataclass_from_args(cls: type, args: argparse.Namespace):  # noqa: ANN202
    prefix = cls.__name__ + "."
    return cls(**{k[len(prefix):]: v for k, v in vars(args).items() if k.startswith(prefix)})


# -- train ------------------------------------------------------------------------------------------------
def add_train_motion(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "motion", help="train the diffusion motion model on videos and/or a synthesised TTS corpus",
        description="Train the VASA-style motion diffusion transformer. Data: folders of talking-face videos with "
        "audio (--data; motion measured by the analyzer, cached) and/or N utterances of text-to-speech that "
        "forgebench synthesises itself (--tts N; mouth targets from phoneme timings, head/blink/gaze targets "
        "from the procedural baseline). Writes a checkpoint folder: weights.safetensors, config.json, "
        "model_card.md. Use --device cuda for a GPU; launch with torchrun for several GPUs.",
    )
    p.add_argument("--data", nargs="*", default=[], metavar="PATH", help="video files or folders of videos")
    p.add_argument("--tts", type=number(int, 0), default=None, metavar="N",
                   help="synthesised utterances to add (default 100 without --data, 0 with it)")
    p.add_argument("--voice", default="joe", help="Piper voice for the TTS corpus (default joe)")
    p.add_argument("--corpus-seed", type=number(int, 0), default=0, help="seed of the TTS sentences and styles")
    p.add_argument("--augment", type=number(int, 0), default=1, metavar="N",
                   help="degraded-recording copies (reverberation, noise, band limit) of each TTS utterance whose "
                   "targets stay the clean ones, so the model works on real recordings (default 1; 0: none)")
    p.add_argument("--val-every", type=number(int, 0), default=10, metavar="K",
                   help="every K-th clip is held out for the validation loss (default 10; 0: none)")
    p.add_argument("--out", required=True, metavar="DIR", help="checkpoint folder to write")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    p.add_argument("--fps", type=number(float, 1.0, 120.0), default=SampleConfig.fps,
                   help="frame rate of the motion (default 25)")
    _add_dataclass_args(p, ModelConfig, "model")
    _add_dataclass_args(p, TrainConfig, "training")
    p.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    import os

    from forgebench.generator.motion.diffusion.card import training_card
    from forgebench.generator.motion.diffusion.checkpoint_io import save_checkpoint
    from forgebench.generator.motion.diffusion.data import build_dataset, clip_group
    from forgebench.generator.motion.diffusion.train import train

    model_cfg = _dataclass_from_args(ModelConfig, args)
    train_cfg = _dataclass_from_args(TrainConfig, args)
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise InputError("--device cuda was given but torch sees no CUDA device: use --device cpu")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {str(out)!r} exists and is not a folder")
    n_tts = args.tts if args.tts is not None else (0 if args.data else 100)
    clips, report = build_dataset(args.data, n_tts, fps=args.fps, seed=args.corpus_seed, voice=args.voice,
                                  augment=args.augment)
    for f, why in report.skipped:
        print(f"skipped {f}: {why}", file=sys.stderr)
    k = args.val_every
    # Every k-th utterance or video is held out together with its augmented copies (no leak into the val loss).
    groups = list(dict.fromkeys(clip_group(c.name) for c in clips))
    held = {g for i, g in enumerate(groups) if k > 0 and i % k == k - 1} if len(groups) >= 5 else set()
    val = [c for c in clips if clip_group(c.name) in held]
    tr = [c for c in clips if clip_group(c.name) not in held]
    result = train(tr, model_cfg, train_cfg, device=args.device, val_clips=val)
    if int(os.environ.get("RANK", "0")) != 0:
        return 0
    command = "forgebench train motion " + shlex.join(sys.argv[3:] if sys.argv[1:3] == ["train", "motion"]
                                                      else sys.argv[1:])
    extra = {
        "train": train_cfg.__dict__, "data": {"sources": report.sources, "clips": report.clips,
                                               "seconds": report.seconds, "skipped": report.skipped,
                                               "train_clips": len(tr), "val_clips": len(val)},
        "result": {"steps": result.steps, "seconds": round(result.seconds, 1), "val_loss": result.val_loss,
                   "history": result.history},
        "command": command,
    }
    card = training_card(model_cfg, train_cfg, extra)
    save_checkpoint(out, result.model, result.norm, SampleConfig(fps=args.fps), extra=extra, card=card)
    print(f"wrote {out} (train loss {result.history[-1][1]:.4f}, val loss {result.val_loss:.4f}, "
          f"{result.seconds / 60:.1f} min)")
    return 0


# -- bench ---------------------------------------------------------------------------------------------------
def add_bench_motion(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("motion", help="time motion sampling for 10 s of audio (diffusion vs procedural)",
                              description="Time how long each motion generator takes for --seconds of speech.")
    p.add_argument("--checkpoint", default=None, metavar="DIR", help="checkpoint folder (default: the shipped one)")
    p.add_argument("--seconds", type=number(float, 1.0, 3600.0), default=10.0, help="audio length (default 10)")
    p.add_argument("--repeats", type=number(int, 1), default=5, help="timed runs, the median is reported (default 5)")
    p.add_argument("--threads", type=number(int, 1), default=None, help="torch threads (default: torch's)")
    p.set_defaults(func=run_bench)


def run_bench(args: argparse.Namespace) -> int:
    from forgebench.generator.motion.diffusion.bench import bench_motion

    for name, seconds in bench_motion(args.checkpoint, args.seconds, args.repeats, args.threads).items():
        print(f"{name:>12}: {seconds * 1000:8.1f} ms for {args.seconds:g} s of audio "
              f"({args.seconds / seconds:7.1f}x real time)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m forgebench.generator.motion.diffusion.commands {train,bench} ...`` (before CLI wiring)."""
    from forgebench.errors import ForgebenchError

    parser = argparse.ArgumentParser(prog="forgebench-motion")
    sub = parser.add_subparsers(dest="what", required=True)
    for add, name in ((add_train_motion, "train"), (add_bench_motion, "bench")):
        grp = sub.add_parser(name).add_subparsers(dest="x", required=True)
        add(grp)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ForgebenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
