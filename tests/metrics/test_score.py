"""``forgebench score`` on tiny synthetic videos: per-clip rows, summary CIs, unavailable metrics."""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import pytest
from skimage.metrics import peak_signal_noise_ratio

from forgebench.errors import InputError
from forgebench.media.video import read_video, write_video
from forgebench.metrics.bootstrap import bootstrap_ci
from forgebench.metrics.commands import register
from forgebench.metrics.inputs import discover_inputs
from forgebench.metrics.score import score_clips, summary_path


@pytest.fixture()
def corpus(tmp_path, monkeypatch):
    """Three 'generated' clips with ground-truth videos, in a Parquet manifest; an empty weights cache."""
    monkeypatch.setenv("FORGEBENCH_HOME", str(tmp_path / "home"))
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:48, 0:48]
    rows = []
    for i in range(3):
        gt = np.stack(
            [np.stack([(xx * 4 + t * 3) % 256, (yy * 4) % 256, (xx + yy + 40 * i) % 256], -1) for t in range(6)]
        ).astype(np.uint8)
        gen = np.clip(gt + rng.normal(0, 6 + 6 * i, gt.shape), 0, 255).astype(np.uint8)
        write_video(tmp_path / f"gen{i}.mp4", gen, fps=25)
        write_video(tmp_path / f"gt{i}.mp4", gt, fps=25)
        rows.append({"clip_id": f"clip{i}", "path": f"gen{i}.mp4", "reference_path": f"gt{i}.mp4"})
    manifest = tmp_path / "corpus.parquet"
    pd.DataFrame(rows).to_parquet(manifest)
    return manifest


def test_score_manifest_rows_summary_and_unavailable(corpus, tmp_path):
    rows, summary = score_clips([corpus], ["psnr", "ssim", "lpips", "fid"], reference=None, progress=False)
    psnr = rows[(rows.metric == "psnr")].set_index("clip_id")
    assert list(psnr.status) == ["ok"] * 3
    # Independent check: skimage PSNR on the decoded videos, mean over frames.
    for i in range(3):
        gen = read_video(tmp_path / f"gen{i}.mp4", with_audio=False).frames
        gt = read_video(tmp_path / f"gt{i}.mp4", with_audio=False).frames
        expected = np.mean([peak_signal_noise_ratio(b, a, data_range=255) for a, b in zip(gen, gt)])
        assert psnr.loc[f"clip{i}", "value"] == pytest.approx(expected, rel=1e-10)
    s = summary.set_index("metric")
    lo, hi = bootstrap_ci(psnr.value.to_numpy())
    assert s.loc["psnr", "mean"] == pytest.approx(psnr.value.mean()) and s.loc["psnr", "n"] == 3
    assert (s.loc["psnr", "ci_low"], s.loc["psnr", "ci_high"]) == pytest.approx((lo, hi))
    # Missing weights / reference: one unavailable row each, with the command that fixes it.
    assert s.loc["lpips", "status"] == "unavailable"
    assert s.loc["lpips", "fix"] == "forgebench weights import lpips_alex FILE"
    assert s.loc["fid", "status"] == "unavailable" and s.loc["fid", "fix"] == "forgebench weights fetch fid_inception"
    assert np.isnan(s.loc["fid", "value"])
    assert rows[rows.metric == "lpips"].clip_id.tolist() == ["*"]


def test_cli_writes_parquet_and_summary_csv(corpus, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    out = tmp_path / "out" / "scores.parquet"
    args = parser.parse_args(["score", str(corpus), "--metrics", "psnr,ssim", "-o", str(out), "-q"])
    assert args.func(args) == 0
    table = pd.read_parquet(out)
    assert set(table.columns) >= {"clip_id", "path", "metric", "value", "status", "reason", "fix"}
    assert len(table) == 6
    assert pd.read_csv(summary_path(out)).metric.tolist() == ["psnr", "ssim"]
    assert "ssim" in capsys.readouterr().out


def test_clip_without_ground_truth_is_skipped_not_zero(tmp_path, monkeypatch):
    monkeypatch.setenv("FORGEBENCH_HOME", str(tmp_path / "home"))
    write_video(tmp_path / "a.mp4", np.zeros((3, 32, 32, 3), np.uint8), fps=25)
    rows, summary = score_clips([tmp_path], ["psnr"], progress=False)
    assert rows.status.tolist() == ["unavailable"]  # no clip could be scored at all
    assert "ground-truth" in rows.reason.iloc[0]


def test_bad_inputs_fail_with_one_line(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        discover_inputs([tmp_path / "nope.mp4"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="has no videos"):
        discover_inputs([tmp_path / "empty"])
    pd.DataFrame({"file": ["x.mp4"]}).to_parquet(tmp_path / "m.parquet")
    with pytest.raises(InputError, match="no 'path' column"):
        discover_inputs([tmp_path / "m.parquet"])
    with pytest.raises(Exception, match="Did you mean"):
        score_clips([tmp_path / "m.parquet"], ["pnsr"], progress=False)
