"""CLI: ``forgebench train detector``, ``forgebench eval detector|cross-generator``, ``forgebench detect``,
``forgebench bench preprocess``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from forgebench.config_cli import number
from forgebench.errors import InputError


def _params(pairs: list[str] | None) -> dict[str, str]:
    out = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise InputError(f"--param {pair!r} is not KEY=VALUE: e.g. --param crop_size=256")
        k, v = pair.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _cache(args: argparse.Namespace) -> Path | None:
    return Path(args.cache_dir) if getattr(args, "cache_dir", None) else None


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--manifest", required=True, help="corpus manifest (Parquet, or a run folder holding one)")
    p.add_argument("--seed", type=number(int, 0), default=0,
                   help="seed of initialisation, shuffling and bootstrap (default 0)")
    p.add_argument("--epochs", type=number(int, 1), default=None,
                   help="maximum epochs for CNN detectors (early stopping on val)")
    p.add_argument("--device", default=None, help="cpu (default) or cuda, for CNN detectors")
    p.add_argument("--param", action="append", metavar="KEY=VALUE",
                   help="detector hyperparameter, repeatable (e.g. crop_size=256, n_frames=16, lr=1e-4)")
    p.add_argument("--cache-dir", default=None,
                   help="preprocessing cache (default $FORGEBENCH_HOME/cache/detector-inputs)")


def _cmd_train(args: argparse.Namespace) -> int:
    from forgebench.detectors.training import train_detector
    from forgebench.manifest import read_manifest

    det, info = train_detector(args.name, read_manifest(args.manifest), args.manifest, args.out,
                               params=_params(args.param), seed=args.seed,
                               epochs=args.epochs, device=args.device, cache_dir=_cache(args), progress=True)
    print(f"trained {args.name} on {info['n_train']} clips (val {info['n_val']}) in {info['seconds']:.1f} s; "
          f"val threshold {info['threshold']:.3f}; saved to {args.out}")
    for item in info["skipped"]:
        print(f"skipped {item['clip_id']}: {item['reason']}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    import pandas as pd

    from forgebench.atomic import atomic_output
    from forgebench.detectors.base import Detector
    from forgebench.detectors.evaluation import evaluate_predictions
    from forgebench.detectors.training import predict_manifest, write_csv
    from forgebench.manifest import read_manifest
    from forgebench.metrics.detection import reliability_bins
    from forgebench.results import write_results

    det = Detector.load(args.detector, **({"device": args.device} if args.device else {}))
    if _cache(args):
        det.cache_dir = _cache(args)
    det.progress = True
    df = read_manifest(args.manifest)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    pred, frames, skipped = predict_manifest(det, df, args.manifest, tuple(args.splits))
    for split in args.splits:
        if not ((df["split"] == split) & (df["status"] == "ok")).any():
            print(f"split {split} has no usable clips in {args.manifest}: it is not evaluated")
    write_csv(pd.DataFrame(skipped, columns=["clip_id", "reason"]), out / "skipped.csv")
    for cid, reason in skipped:
        print(f"skipped {cid}: {reason}")
    pred = pred.dropna(subset=["score"])
    with atomic_output(out / "predictions.parquet") as tmp:
        pred.to_parquet(tmp, index=False)
    if frames is not None:
        with atomic_output(out / "frame_predictions.parquet") as tmp:
            frames.to_parquet(tmp, index=False)
    name = det.registry_name
    results = evaluate_predictions(pred, subject=name, threshold=float(det.threshold_), n_boot=args.n_boot,
                                   seed=args.seed, frames=frames, extra={"task": "detection" if det.forensic
                                                                          else "provenance"})
    write_results(results, out / "metrics.csv")
    rel = []
    for split in sorted(set(pred["split"])):
        clean = pred[(pred["split"] == split) & (pred.get("perturbation", "none") == "none")]
        if len(clean):
            rel.append(reliability_bins(clean["label"].to_numpy(), clean["score"].to_numpy()).assign(split=split))
    if rel:
        write_csv(pd.concat(rel, ignore_index=True), out / "reliability.csv")
    show = results[(results["condition"] == "clean") & results["metric"].isin(["auc", "eer", "acc@val", "ece"])]
    for r in show.itertuples():
        print(f"{r.split:5s} {r.metric:8s} {r.value:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}] n={r.n}")
    print(f"wrote {out / 'predictions.parquet'} and {out / 'metrics.csv'}")
    return 0


def _cmd_cross(args: argparse.Namespace) -> int:
    from forgebench.detectors.training import cross_generator
    from forgebench.manifest import read_manifest
    from forgebench.results import write_results

    res = cross_generator(args.name, read_manifest(args.manifest), args.manifest, Path(args.output) / "models",
                          params=_params(args.param),
                          seed=args.seed, epochs=args.epochs, device=args.device, n_boot=args.n_boot,
                          cache_dir=_cache(args), progress=True)
    write_results(res, Path(args.output) / "cross_generator.csv")
    auc = res[res["metric"] == "auc"]
    print(auc.pivot(index="condition", columns="metric", values="value").to_string())
    return 0


def _cmd_detect(args: argparse.Namespace) -> int:
    import numpy as np

    from forgebench.detectors.base import ClipSet, Detector

    det = Detector.load(args.detector, **({"device": args.device} if args.device else {}))
    if _cache(args):
        det.cache_dir = _cache(args)
    clips = ClipSet.from_paths([args.video])
    frames = det.predict_frames(clips)[0]
    if np.isnan(frames).all():
        raise InputError(f"{args.video!r} could not be scored: {getattr(det, 'skipped_', [('', 'no face')])[0][1]}")
    score = float(np.mean(frames))
    verdict = "fake" if score >= det.threshold_ else "real"
    print(json.dumps({"file": args.video, "detector": det.registry_name, "score": round(score, 4),
                      "threshold": round(float(det.threshold_), 4), "verdict": verdict, "forensic": det.forensic}))
    # Default in the working directory, not beside the video: datasets are often read-only or shared.
    plot = Path(args.plot) if args.plot else Path(f"{Path(args.video).stem}.{det.registry_name}.png")
    write_frame_plot(frames, score, float(det.threshold_), det.registry_name, plot)
    print(f"per-frame plot: {plot}")
    return 0


def write_frame_plot(frames, score: float, threshold: float, name: str, path: Path) -> Path:
    """PNG of per-frame P(fake) with the clip score and the val threshold (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from forgebench.atomic import atomic_output

    fig, ax = plt.subplots(figsize=(6, 2.5), dpi=100)
    ax.plot(range(len(frames)), frames, marker="o", label="frame P(fake)")
    ax.axhline(score, color="C1", label=f"clip score {score:.3f}")
    ax.axhline(threshold, color="gray", ls="--", label=f"val threshold {threshold:.3f}")
    ax.set(ylim=(0, 1), xlabel="sampled frame", ylabel="P(fake)", title=name)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path


def add_train_detector(train_subparsers: argparse._SubParsersAction) -> None:
    p = train_subparsers.add_parser(
        "detector", help="train a forensic detector on a corpus manifest",
        description="Fit on the train split; early stopping, checkpoint and threshold choice use val only.")
    p.add_argument("name", help="registered detector name ('forgebench list detectors' prints them)")
    _common(p)
    p.add_argument("--out", required=True, help="folder for config.json, weights.safetensors and train_log.csv")
    p.set_defaults(func=_cmd_train)


def add_eval_detector(eval_subparsers: argparse._SubParsersAction) -> None:
    p = eval_subparsers.add_parser(
        "detector", help="score a trained detector on a manifest: predictions.parquet + metrics.csv",
        description="Scores val and test clips (label-free), then computes AUC, AP, EER, accuracy, log loss and "
                    "ECE with 95% bootstrap intervals over videos (grouped by identity), per split, generator and "
                    "perturbation level.")
    p.add_argument("detector", help="trained detector folder")
    p.add_argument("--manifest", required=True, help="corpus manifest")
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.add_argument("--splits", nargs="+", default=["val", "test"], choices=["train", "val", "test"])
    p.add_argument("--n-boot", type=number(int, 0, 100000), default=1000, help="bootstrap resamples (default 1000)")
    p.add_argument("--seed", type=number(int, 0), default=0, help="bootstrap seed")
    p.add_argument("--device", default=None, help="run a CNN detector on cpu or cuda (default: as trained)")
    p.add_argument("--cache-dir", default=None, help="preprocessing cache folder")
    p.set_defaults(func=_cmd_eval)
    c = eval_subparsers.add_parser(
        "cross-generator", help="train on each generator, test on every other: cross_generator.csv",
        description="For each generator G: fit on real + G fakes (train/val), score test real + H fakes for each H.")
    c.add_argument("name", help="registered detector name")
    _common(c)
    c.add_argument("-o", "--output", required=True, help="output folder")
    c.add_argument("--n-boot", type=number(int, 0, 100000), default=1000, help="bootstrap resamples")
    c.set_defaults(func=_cmd_cross)


def _cmd_bench_preprocess(args: argparse.Namespace) -> int:
    from forgebench.detectors.bench import cmd_bench_preprocess

    return cmd_bench_preprocess(args)


def add_bench_preprocess(bench_subparsers: argparse._SubParsersAction) -> None:
    p = bench_subparsers.add_parser(
        "preprocess", help="face detect + landmarks + align per frame: forgebench (MediaPipe mesh) vs dlib",
        description="Times both preprocessing pipelines on the same decoded frames (decoding excluded, "
                    "timed separately; the load average is printed because the machine may be shared).")
    p.add_argument("videos", nargs="+", help="video files with a face")
    p.add_argument("--frames", type=number(int, 1), default=100, help="frames per video (default 100)")
    p.add_argument("--frame-size", type=number(int, 0, 4096), default=512,
                   help="resize frames to this square size first (0: keep)")
    p.add_argument("--crop", type=number(int, 16, 2048), default=256, help="aligned crop side (default 256)")
    p.add_argument("--chunk", type=number(int, 1), default=10,
                   help="frames per pipeline turn when interleaving (default 10)")
    p.add_argument("--threads", type=number(int, 1), default=1,
                   help="LiteRT interpreter threads of the forgebench tracker (default 1: one core, as dlib)")
    p.set_defaults(func=_cmd_bench_preprocess)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("detect", help="score one video with a trained detector and plot per-frame scores",
                              description="Prints P(fake) as JSON and writes a PNG of per-frame scores.")
    p.add_argument("video", help="video file")
    p.add_argument("--detector", required=True, help="trained detector folder")
    p.add_argument("--plot", default=None, help="PNG path (default: VIDEO-NAME.<detector>.png in the current folder)")
    p.add_argument("--device", default=None, help="run a CNN detector on cpu or cuda (default: as trained)")
    p.add_argument("--cache-dir", default=None, help="preprocessing cache folder")
    p.set_defaults(func=_cmd_detect)
