"""Container provenance metadata: written by the media writer, read back unchanged."""

from __future__ import annotations

import hashlib

import numpy as np

from forgebench.media.video import write_video
from forgebench.provenance.metadata import provenance_metadata, read_provenance, sha256_file


def test_metadata_round_trip(tmp_path):
    md = provenance_metadata(generator="forgebench", version="0.1.0", motion_model="procedural", seed=7,
                             config_hash="cfg123", image_sha256="a" * 64, audio_sha256="b" * 64,
                             clip_id="0badf00d", created="2024-05-01T12:00:00Z", watermark_key="k")
    assert all(k.startswith("forgebench_") for k in md if k not in ("comment", "synthetic"))
    path = write_video(tmp_path / "m.mp4", np.zeros((3, 64, 64, 3), np.uint8), fps=25, metadata=md)
    prov = read_provenance(path)
    assert prov is not None
    assert prov["synthetic"] == "true" and prov["seed"] == "7" and prov["clip_id"] == "0badf00d"
    assert prov["created"] == "2024-05-01T12:00:00Z" and "AI-generated" in prov["comment"]


def test_no_metadata_reads_as_none(tmp_path):
    path = write_video(tmp_path / "plain.mp4", np.zeros((3, 64, 64, 3), np.uint8), fps=25)
    assert read_provenance(path) is None


def test_sha256_file(tmp_path):
    p = tmp_path / "x.bin"
    p.write_bytes(b"forgebench" * 1000)
    assert sha256_file(p, chunk=100) == hashlib.sha256(b"forgebench" * 1000).hexdigest()
