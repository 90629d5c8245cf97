"""``provenance check``: marked files read back; bad inputs give one clear line; folder runs keep going."""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import pytest

from forgebench.errors import InputError
from forgebench.media.video import write_video
from forgebench.provenance import commands
from forgebench.provenance.check import check_paths
from forgebench.provenance.ecc import Payload
from forgebench.provenance.metadata import provenance_metadata
from forgebench.provenance.watermark import Watermarker

PAYLOAD = Payload(generator_id=1, version=4, clip_id=0x12345678, timestamp_min=600000)


def _frames(n: int, size: int = 128) -> np.ndarray:
    rng = np.random.default_rng(0)
    base = rng.normal(128, 20, (size, size, 3))
    return np.clip(base[None] + rng.normal(0, 2, (n, size, size, 3)), 0, 255).astype(np.uint8)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="forgebench")
    commands.register(parser.add_subparsers(dest="command"))
    return parser


@pytest.fixture()
def folder(tmp_path):
    wm = Watermarker()
    md = provenance_metadata(generator="forgebench", version="0.1.0", motion_model="procedural", seed=1,
                             config_hash="c", image_sha256="0" * 64, audio_sha256="0" * 64, clip_id="12345678")
    write_video(tmp_path / "marked.mp4", wm.embed_frames(_frames(40), PAYLOAD), fps=25, metadata=md)
    write_video(tmp_path / "short.mp4", _frames(10), fps=25)
    (tmp_path / "notavideo.mp4").write_text("hello")
    return tmp_path


def test_folder_run_reports_each_file(folder):
    table = check_paths([folder], progress=False).set_index(pd.Index(["marked", "notavideo", "short"]))
    ok = table.loc["marked"]
    assert ok.status == "ok" and ok.metadata_present and ok.synthetic_flag and ok.watermark_present
    assert ok.clip_id == "12345678" and ok.ber == 0.0
    bad = table.loc["notavideo"]
    assert bad.status == "error" and "not a video" in bad.reason and "\n" not in bad.reason
    short = table.loc["short"]
    assert short.status == "error" and "needs at least 1.0 s" in short.reason


def test_cli_writes_table_and_single_bad_file_is_one_line(folder, tmp_path, capsys):
    args = _parser().parse_args(["provenance", "check", str(folder), "-o", str(tmp_path / "out" / "r.csv")])
    assert args.func(args) == 0
    assert len(pd.read_csv(tmp_path / "out" / "r.csv")) == 3
    args = _parser().parse_args(["provenance", "check", str(folder / "short.mp4")])
    with pytest.raises(InputError, match=r"0\.40 s long .* at least 1\.0 s \(25 frames at 25 fps\)"):
        args.func(args)
