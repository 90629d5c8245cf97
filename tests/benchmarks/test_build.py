"""Corpus builder: determinism, resume after an interruption, Dask = local, real + fake, failures, commands."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

import forgebench.benchmarks.build as build_mod
from forgebench.benchmarks.build import build_corpus
from forgebench.benchmarks.executors import DaskExecutor
from forgebench.benchmarks.spec import load_spec
from forgebench.errors import InputError
from forgebench.manifest import identities_in_several_splits, read_manifest
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


def test_each_clip_has_its_own_motion_seed(reference):
    from forgebench.benchmarks.plan import clip_seed

    run, _ = reference
    m = read_manifest(run)
    fakes = m[(m["family"] == "audio-driven") & (m["perturbation"] == "none")]
    assert fakes["seed"].nunique() == len(fakes) > 1  # not the spec's one seed for all: no shared blink times
    assert clip_seed(0, "a", "b") == clip_seed(0, "a", "b") != clip_seed(1, "a", "b")
    assert len({clip_seed(0, "a", "b"), clip_seed(0, "c", "b"), clip_seed(0, "a", "d")}) == 3
    assert all(0 <= s < 2**31 for s in fakes["seed"])


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


def test_full_disk_stops_cleanly_and_resumes(reference, tmp_path, monkeypatch):
    """The disk fills while the third clip is being written: one-line error, nothing partial, resumable."""
    import errno

    import forgebench.benchmarks.tasks as tasks_mod
    from forgebench.atomic import atomic_output
    from forgebench.errors import DiskFullError

    run, _ = reference
    real_generate, calls = tasks_mod._generate, []

    def filling(row, run_dir, out, one_core):
        calls.append(row["clip_id"])
        if len(calls) < 3:
            return real_generate(row, run_dir, out, one_core)
        with atomic_output(out) as tmp:
            tmp.write_bytes(b"\0" * 1000)  # half a video, then the device is full
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tasks_mod, "_generate", filling)
    with pytest.raises(DiskFullError, match="no space left .* rerun the same command to resume") as err:
        build_corpus(load_spec("tiny"), tmp_path, progress=False)
    assert "\n" not in str(err.value)
    assert not list(tmp_path.rglob("*.partial*")) and not (tmp_path / "manifest.parquet").exists()
    assert len(list(tmp_path.rglob("*.mp4"))) == 2  # the finished clips are kept
    monkeypatch.setattr(tasks_mod, "_generate", real_generate)
    res = build_corpus(load_spec("tiny"), tmp_path, progress=False)
    assert res.n_skipped == 2 and res.n_failed == 0
    pd.testing.assert_frame_equal(read_manifest(run), read_manifest(tmp_path))
    assert file_hashes(run) == file_hashes(tmp_path)


def test_disk_full_recognises_numpy_short_writes():
    import errno

    from forgebench.errors import is_disk_full

    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert is_disk_full(OSError(errno.EDQUOT, "Disk quota exceeded"))
    assert is_disk_full(OSError("786432 requested and 737152 written"))  # ndarray.tofile on a full disk
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied"))
    assert not is_disk_full(OSError("something else"))


def test_one_core_workers_write_the_same_bytes(reference, tmp_path, monkeypatch):
    """Inline rendering (a worker owning one core) gives the bytes of the two-thread path."""
    import forgebench.benchmarks.tasks as tasks_mod

    class OneCoreInline:  # an executor whose tasks own one core, run in this process
        one_task_per_core = True

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

        def map(self, fn, items, desc=""):
            return map(fn, items)

    pinned = []
    monkeypatch.setattr(tasks_mod, "pin_to_one_core", lambda: pinned.append(1))  # keep this process's threads
    monkeypatch.setattr(tasks_mod, "_PIPELINES", {})
    run, _ = reference
    build_corpus(load_spec("tiny"), tmp_path, executor=OneCoreInline(), progress=False)
    assert pinned and all(not p.render_in_thread for p in tasks_mod._PIPELINES.values())
    assert file_hashes(run) == file_hashes(tmp_path)


def test_pin_to_one_core_limits_every_library():
    import subprocess
    import sys

    code = ("from forgebench.benchmarks.tasks import pin_to_one_core; pin_to_one_core(); import cv2, torch; "
            "from threadpoolctl import threadpool_info; "
            "print(cv2.getNumThreads(), torch.get_num_threads(), max([p['num_threads'] for p in threadpool_info()] "
            "or [1]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["1", "1", "1"]


def test_normalize_reencodes_file_clips_deterministically(tmp_path, video_factory):
    """``normalize:`` turns every file row into a corpus clip at the generator's size, rate and CRF."""
    from forgebench.media.video import probe_video

    data = tmp_path / "data"
    for i, side in enumerate([72, 96, 80]):
        video_factory(data / "real" / f"p{i}.mp4", seed=i, frames=10, size=side, audio=True)
    spec_file = tmp_path / "norm.yaml"
    spec_file.write_text(
        "include: tiny\nname: norm\ngenerators: []\nperturbations: [{name: jpeg, levels: [1]}]\n"
        "real: [{adapter: generic, path: data}]\nnormalize: {size: 64, fps: 25, crf: 23}\n"
        "splits: {train: 0.34, val: 0.33, test: 0.33}\n")
    spec = load_spec(spec_file)
    build_corpus(spec, tmp_path / "a", progress=False)
    m = read_manifest(tmp_path / "a")
    assert len(m) == 6 and (m["status"] == "ok").all() and set(m["label"]) == {"real"}
    for row in m.itertuples():
        assert row.path.startswith("clips/")  # inside the run folder, content-addressed
        info = probe_video(tmp_path / "a" / row.path)
        assert (info.width, info.height) == (64, 64) and info.has_audio
    build_corpus(spec, tmp_path / "b", progress=False)
    pd.testing.assert_frame_equal(m, read_manifest(tmp_path / "b"))
    assert file_hashes(tmp_path / "a") == file_hashes(tmp_path / "b")
    with pytest.raises(Exception, match="normalize"):
        load_spec_text = spec_file.read_text().replace("crf: 23", "crf: 99")
        bad = tmp_path / "bad.yaml"
        bad.write_text(load_spec_text)
        load_spec(bad)
