"""Spec generator kinds of the video-driven families: reenactment and dubbing corpora, deterministic and resumable."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

import forgebench.benchmarks.build as build_mod
from forgebench.benchmarks.build import build_corpus
from forgebench.benchmarks.spec import load_spec
from forgebench.errors import InputError
from forgebench.generator.render.renderer import FaceRenderer
from forgebench.manifest import read_manifest
from forgebench.media.video import probe_video, write_video
from forgebench.paths import sha256_file
from forgebench.provenance.metadata import read_provenance
from tests.conftest import speech_like


@pytest.fixture(scope="module")
def data(tmp_path_factory, source_face):
    """A generic dataset folder with two real talking clips (the built-in face turning, with sound), 1.0 s each."""
    import cv2

    root = tmp_path_factory.mktemp("families")
    renderer = FaceRenderer(source_face)
    pose, expr, gaze = renderer.source_state
    for name, sign in (("anna", 1.0), ("ben", -1.0)):
        frames = []
        for i in range(25):
            p, e = pose.copy(), expr.copy()
            p[0] += sign * 6 * np.sin(2 * np.pi * i / 25)
            e[0] += 0.1 * (i % 10 > 5)
            frames.append(cv2.resize(renderer.render(p, e, gaze), (128, 128), interpolation=cv2.INTER_AREA))
        write_video(root / "real" / f"{name}.mp4", np.stack(frames), fps=25.0, audio=speech_like(1.0, seed=len(name)))
    return root


def _spec(data, tmp_path, **generator_params) -> object:
    spec = {
        "name": "families", "seed": 0,
        "identities": {"builtin": {"variants": ["original", "mirror"]}},
        "speech": {"synthetic": {"count": 2, "seconds": 1.0}},
        "real": [{"adapter": "generic", "path": str(data)}],
        "generators": [
            {"name": "reenactment-64", "kind": "reenactment",
             "params": {"driving": [{"path": str(data / "real")}], "size": 64, "max_seconds": 0.6, "crf": 23,
                        **generator_params}},
            {"name": "dubbing-procedural", "kind": "dubbing", "params": {"videos": "real", "crf": 23}},
        ],
        "pairing": "cycle",
        "splits": {"train": 0.34, "val": 0.33, "test": 0.33, "seed": 0},
    }
    path = tmp_path / "families.yaml"
    path.write_text(yaml.safe_dump(spec))
    return load_spec(path, roots=[data])


@pytest.fixture(scope="module")
def built(data, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("built")
    run = tmp / "run"
    res = build_corpus(_spec(data, tmp), run, progress=False)
    return run, res


def test_rows_say_their_family_and_videos_are_made(built, data):
    run, res = built
    m = read_manifest(run)
    assert res.n_failed == 0, m[m["status"] == "failed"]["reason"].tolist()
    fakes = m[m["label"] == "fake"].set_index("generator")
    assert sorted(m["family"]) == ["", "", "dubbing", "dubbing", "reenactment", "reenactment"]
    re_rows, dub_rows = fakes.loc[["reenactment-64"]], fakes.loc[["dubbing-procedural"]]
    # Reenactment: each portrait moved by one driving clip (cycle), whose clip id is the audio column.
    assert sorted(re_rows["source_id"]) == ["builtin:astronaut-mirror", "builtin:astronaut-original"]
    assert sorted(re_rows["audio_id"]) == ["video:anna", "video:ben"]
    # Dubbing: each real person re-synced to a speech track; the person stays the identity (same split).
    assert sorted(dub_rows["source_id"]) == ["generic:anna", "generic:ben"]
    for row in m.itertuples():
        same = m[m["source_id"] == row.source_id]
        assert same["split"].nunique() == 1
    for row in m[m["label"] == "fake"].itertuples():
        info = probe_video(run / row.path)
        prov = read_provenance(run / row.path)
        assert prov["family"] == row.family
        if row.family == "reenactment":
            assert (info.width, info.height) == (64, 64) and info.n_frames == 15  # max_seconds 0.6 of 1.0 s
        else:
            assert (info.width, info.height) == (128, 128) and info.n_frames == 25  # the 1.0 s speech


def test_same_spec_same_bytes_and_resume(built, data, tmp_path):
    run, _ = built
    again = tmp_path / "again"
    build_corpus(_spec(data, tmp_path), again, progress=False)
    pd.testing.assert_frame_equal(read_manifest(run), read_manifest(again))
    assert sha256_file(run / "manifest.parquet") == sha256_file(again / "manifest.parquet")
    # A rebuild in place redoes nothing.
    calls = []
    real_run_row = build_mod.run_row

    def counting(row, **kw):
        out = real_run_row(row, **kw)
        calls.append(out["skipped"])
        return out

    build_mod.run_row = counting
    try:
        res = build_corpus(_spec(data, tmp_path), again, progress=False)
    finally:
        build_mod.run_row = real_run_row
    assert all(calls) and res.n_skipped == res.n_planned


def test_a_family_without_videos_makes_no_clips_and_says_so(data, tmp_path):
    spec = _spec(data, tmp_path)
    spec.real = []
    spec.generators = [g for g in spec.generators if g.kind == "dubbing"]
    res = build_corpus(spec, tmp_path / "run", progress=False)
    assert res.n_planned == 0 and any("dubbing-procedural" in n and "no videos" in n for n in res.notes)


def test_spec_errors_are_one_line(data, tmp_path):
    with pytest.raises(InputError, match="size: must be even"):
        _spec(data, tmp_path, size=95)
    with pytest.raises(InputError, match="unknown key"):
        _spec(data, tmp_path, seeds=[0])  # reenactment has no randomness: no seeds
