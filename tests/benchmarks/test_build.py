"""Corpus builder: determinism, resume after an interruption, Dask = local, real + fake, failures, commands."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

import forgebench.benchmarks.build as build_mod
from forgebench.benchmarks.build import build_corpus
from forgebench.benchmarks.executors import DaskExecutor
from forgebench.benchmarks.manifest import identities_in_several_splits, read_manifest
from forgebench.benchmarks.spec import load_spec
from forgebench.errors import InputError
from forgebench.paths import sha256_file as file_sha256


def file_hashes(run: Path) -> dict[str, str]:
    return {str(p.relative_to(run)): file_sha256(p) for p in sorted(run.rglob("*.mp4"))}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    run = tmp_path_factory.mktemp("ref")
    res = build_corpus(load_spec("tiny"), run, progress=False)
    return run, res


def test_tiny_builds_with_expected_rows(reference):
    run, res = reference
    m = read_manifest(run)
    assert res.n_failed == 0 and len(m) == 9 == res.n_done
    assert set(m["perturbation"]) == {"none", "jpeg", "blur+noise"}
    assert (m["status"] == "ok").all() and m["synthetic_variant"].all()
    assert m["duration"].between(0.9, 1.1).all()
    assert not identities_in_several_splits(m) and set(m["split"]) == {"train", "val", "test"}
    for row in m.itertuples():  # content hashes are of the files on disk
        assert file_sha256(run / row.path) == row.content_sha256
    assert res.notes  # builtin variants are one person: the build says so


def test_same_spec_twice_gives_identical_manifest_and_bytes(reference, tmp_path):
    run, _ = reference
    build_corpus(load_spec("tiny"), tmp_path, progress=False)
    pd.testing.assert_frame_equal(read_manifest(run), read_manifest(tmp_path))
    assert file_hashes(run) == file_hashes(tmp_path)
    assert file_sha256(run / "manifest.parquet") == file_sha256(tmp_path / "manifest.parquet")


def test_resume_after_interruption(reference, tmp_path, monkeypatch):
    run, _ = reference
    real_run_row, calls = build_mod.run_row, []

    def dying(row, **kw):
        if len(calls) == 4:
            raise KeyboardInterrupt  # the build dies after four clips
        calls.append(row["clip_id"])
        return real_run_row(row, **kw)

    monkeypatch.setattr(build_mod, "run_row", dying)
    with pytest.raises(KeyboardInterrupt):
        build_corpus(load_spec("tiny"), tmp_path, progress=False)
    assert not (tmp_path / "manifest.parquet").exists()
    # A writer killed mid-file leaves a temporary; the next build sweeps it.
    stray = tmp_path / "clips" / "00" / ".abc.partial.mp4"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"half")
    monkeypatch.setattr(build_mod, "run_row", real_run_row)
    res = build_corpus(load_spec("tiny"), tmp_path, progress=False)
    assert res.swept == 1 and res.n_skipped == 4 and res.n_done == 5
    pd.testing.assert_frame_equal(read_manifest(run), read_manifest(tmp_path))
    assert file_hashes(run) == file_hashes(tmp_path)
    assert not list(tmp_path.rglob("*.partial*"))


def test_damaged_clip_is_redone(reference, tmp_path):
    run, _ = reference
    shutil.copytree(run, tmp_path, dirs_exist_ok=True)
    m = read_manifest(tmp_path)
    victim = tmp_path / m["path"].iloc[0]
    victim.write_bytes(b"garbage")
    res = build_corpus(load_spec("tiny"), tmp_path, progress=False)
    assert res.n_done == 1 and res.n_skipped == 8 and file_hashes(run) == file_hashes(tmp_path)


def test_dask_local_cluster_equals_local_build(reference, tmp_path):
    run, _ = reference
    executor = DaskExecutor(workers=2, processes=False, progress=False)
    build_corpus(load_spec("tiny"), tmp_path, executor=executor, progress=False)
    pd.testing.assert_frame_equal(read_manifest(run), read_manifest(tmp_path))
    assert file_hashes(run) == file_hashes(tmp_path)


def test_real_and_fake_with_corrupt_clip_and_disjoint_splits(tmp_path, video_factory):
    data = tmp_path / "data"
    for i in range(5):
        video_factory(data / f"v{i}.mp4", seed=i)
    (data / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video")
    (data / "labels.csv").write_text("path,label,source_id\n" + "".join(
        f"v{i}.mp4,{'fake' if i == 4 else 'real'},{p}\n" for i, p in enumerate(["ann", "ann", "bob", "cid", "dee"]))
        + "broken.mp4,real,eve\n")
    spec_file = tmp_path / "mix.yaml"
    spec_file.write_text(
        "include: tiny\nname: mix\ngenerators: []\nperturbations: [{name: jpeg, levels: [1]}]\n"
        "real: [{adapter: generic, path: data}]\nsplits: {train: 0.5, val: 0.25, test: 0.25, seed: 1}\n")
    res = build_corpus(load_spec(spec_file), tmp_path / "run", progress=False)
    m = read_manifest(tmp_path / "run")
    assert len(m) == 12 and res.n_failed == 2  # the corrupt clip and its perturbed child
    failed = m[m["status"] == "failed"]
    assert set(failed["source_id"]) == {"generic:eve"} and failed["reason"].str.len().gt(0).all()
    assert "FAILED" in (tmp_path / "run" / "build.log").read_text()
    assert not identities_in_several_splits(m)
    ann = m[m["source_id"] == "generic:ann"]
    assert len(ann) == 4 and ann["split"].nunique() == 1
    assert set(m["label"]) == {"real", "fake"}


def test_external_command_needs_permission(tmp_path, video_factory):
    made = video_factory(tmp_path / "made.mp4")
    spec_file = tmp_path / "cmd.yaml"
    spec_file.write_text(
        "include: tiny\nname: cmd\nidentities: {builtin: {variants: [original]}}\nperturbations: []\n"
        f"generators: [{{name: copier, kind: command, params: {{cmd: [cp, '{made}', '{{out}}'], timeout: 30}}}}]\n")
    spec = load_spec(spec_file)
    res = build_corpus(spec, tmp_path / "run", progress=False)
    m = read_manifest(tmp_path / "run")
    assert res.n_failed == 1 and "--allow-commands" in m["reason"].iloc[0]
    build_corpus(spec, tmp_path / "run", allow_commands=True, progress=False)
    m = read_manifest(tmp_path / "run")
    assert (m["status"] == "ok").all() and m["content_sha256"].iloc[0] == file_sha256(made)
    assert m["generator"].iloc[0] == "copier"


def test_unregistered_motion_fails_before_work(tmp_path):
    spec_file = tmp_path / "d.yaml"
    spec_file.write_text("include: tiny\nname: d\ngenerators: [{name: g, kind: forgebench, "
                         "params: {motion: no-such-model, size: 96}}]\n")
    with pytest.raises(InputError, match="motion model 'no-such-model' is not available"):
        build_corpus(load_spec(spec_file), tmp_path / "run", progress=False)
    assert not list((tmp_path / "run").rglob("*.mp4"))
