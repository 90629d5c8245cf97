"""CLI end to end on the tiny corpus: train detector, eval detector, detect; bad input."""

from __future__ import annotations

import argparse

import pandas as pd
import pytest

from forgebench.detectors import commands
from forgebench.errors import InputError
from forgebench.manifest import read_manifest, write_manifest
from forgebench.results import read_results


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd")
    commands.register(sub)
    train = sub.add_parser("train").add_subparsers(dest="what")
    commands.add_train_detector(train)
    ev = sub.add_parser("eval").add_subparsers(dest="what")
    commands.add_eval_detector(ev)
    args = parser.parse_args(argv)
    return args.func(args)


PARAMS = ["--param", "crop_size=64", "--param", "n_frames=2", "--param", "max_frames=30"]


def test_train_eval_detect(corpus, cache_dir, tmp_path, capsys, monkeypatch):
    # one clip of the test split is corrupt: it is skipped and reported, never scored
    df = read_manifest(corpus / "manifest.parquet")
    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 100)
    bad = df.iloc[[0]].assign(clip_id="broken", path=str(tmp_path / "broken.mp4"), split="test",
                              source_id="test-broken")
    manifest = write_manifest(pd.concat([df, bad], ignore_index=True), tmp_path / "manifest.parquet")
    for p in corpus.glob("*.mp4"):
        (tmp_path / p.name).symlink_to(p)
    model = tmp_path / "model"
    assert cli(["train", "detector", "spectrum", "--manifest", str(manifest), "--out", str(model),
                "--cache-dir", str(cache_dir), *PARAMS]) == 0
    log = pd.read_csv(model / "train_log.csv")
    assert {"C", "val_log_loss", "threshold"} <= set(log.columns)
    out = tmp_path / "results"
    assert cli(["eval", "detector", str(model), "--manifest", str(manifest), "-o", str(out), "--n-boot", "50",
                "--cache-dir", str(cache_dir)]) == 0
    pred = pd.read_parquet(out / "predictions.parquet")
    assert {"clip_id", "split", "label", "score", "generator", "perturbation", "level", "source_id"} <= set(pred)
    assert set(pred.split) == {"val", "test"} and "broken" not in set(pred.clip_id)
    assert pred.label.sum() == 4 and pred.score.between(0, 1).all()
    assert list(pd.read_csv(out / "skipped.csv").clip_id) == ["broken"]
    res = read_results(out / "metrics.csv")
    auc = res[(res.metric == "auc") & (res.split == "test") & (res.condition == "clean")].iloc[0]
    assert auc.n == 4 and auc.status == "ok" and auc.task == "detection"
    assert "frame_auc" in set(res.metric) and (out / "reliability.csv").is_file()
    capsys.readouterr()
    plot = tmp_path / "frames.png"
    assert cli(["detect", str(corpus / "test_fake_0.mp4"), "--detector", str(model), "--plot", str(plot),
                "--cache-dir", str(cache_dir)]) == 0
    assert '"score"' in capsys.readouterr().out and plot.read_bytes()[:4] == b"\x89PNG"
    # without --plot the PNG goes to the working folder, never beside the video (datasets may be read-only)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    before = set(corpus.iterdir())
    video = str(corpus / "test_fake_0.mp4")
    assert cli(["detect", video, "--detector", str(model), "--cache-dir", str(cache_dir)]) == 0
    assert [p.name for p in work.iterdir()] == ["test_fake_0.spectrum.png"] and set(corpus.iterdir()) == before


def test_one_class_manifest_is_refused(corpus, tmp_path):
    df = read_manifest(corpus / "manifest.parquet")
    only_fake = df[df.is_fake == 1].assign(path=lambda d: [str(corpus / p) for p in d.path])
    manifest = write_manifest(only_fake, tmp_path / "m.parquet")
    with pytest.raises(InputError, match="only fake"):
        cli(["train", "detector", "dynamics", "--manifest", str(manifest), "--out", str(tmp_path / "o"), *PARAMS])
    with pytest.raises(InputError, match="KEY=VALUE"):
        cli(["train", "detector", "dynamics", "--manifest", str(manifest), "--out", str(tmp_path / "o"),
             "--param", "oops"])


def test_cross_generator_matrix(corpus, cache_dir, tmp_path):
    from forgebench.detectors.training import cross_generator

    df = read_manifest(corpus / "manifest.parquet")
    fakes = df.index[df.is_fake == 1]
    df.loc[fakes[::2], "generator"] = "other"  # two labelled "generators" (same real generator underneath)
    df["path"] = [str(corpus / p) for p in df.path]
    manifest = write_manifest(df, tmp_path / "m.parquet")
    res = cross_generator("dynamics", read_manifest(manifest), manifest, tmp_path / "models",
                          params={"crop_size": 64, "n_frames": 2, "max_frames": 30}, n_boot=20, cache_dir=cache_dir)
    cells = set(res.condition)
    assert cells == {f"train={a}|test={b}" for a in ("other", "procedural") for b in ("other", "procedural")}
    auc = res[res.metric == "auc"]
    assert auc.n.min() >= 3 and (auc.status == "ok").all()
    assert (tmp_path / "models" / "train=other" / "config.json").is_file()


def test_empty_splits_are_reported(corpus, cache_dir, tmp_path, capsys):
    df = read_manifest(corpus / "manifest.parquet").assign(path=lambda d: [str(corpus / p) for p in d.path])
    no_val = write_manifest(df[df.split != "val"], tmp_path / "no_val.parquet")
    with pytest.raises(InputError, match="the val split is empty"):
        cli(["train", "detector", "dynamics", "--manifest", str(no_val), "--out", str(tmp_path / "x"), *PARAMS])
    model = tmp_path / "model"
    cli(["train", "detector", "dynamics", "--manifest", str(corpus / "manifest.parquet"), "--out", str(model),
         "--cache-dir", str(cache_dir), *PARAMS])
    no_test = write_manifest(df[df.split != "test"], tmp_path / "no_test.parquet")
    capsys.readouterr()
    assert cli(["eval", "detector", str(model), "--manifest", str(no_test), "-o", str(tmp_path / "r"),
                "--n-boot", "20", "--cache-dir", str(cache_dir)]) == 0
    assert "split test has no usable clips" in capsys.readouterr().out
    assert set(read_results(tmp_path / "r" / "metrics.csv").split) == {"val"}
    with pytest.raises(InputError, match="no usable clips .* in split test"):
        cli(["eval", "detector", str(model), "--manifest", str(no_test), "-o", str(tmp_path / "r2"),
             "--splits", "test", "--cache-dir", str(cache_dir)])
