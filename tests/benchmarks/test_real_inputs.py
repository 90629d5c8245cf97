"""Identities and speech taken from real clips: one portrait per person, own speech, the --real wiring."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from forgebench.benchmarks.inputs import identities
from forgebench.benchmarks.spec import load_spec


def labels(root: Path, rows: list[tuple[str, str, str]]) -> None:
    (root / "labels.csv").write_text("path,label,source_id\n" + "".join(f"{p},{lab},{s}\n" for p, lab, s in rows))


def test_video_frames_one_portrait_per_person_from_the_first_clip_in_path_order(tmp_path, video_factory):
    from forgebench.media.video import read_video

    data = tmp_path / "data"
    for name, seed in (("b.mp4", 1), ("a.mp4", 2), ("c.mp4", 3)):
        video_factory(data / name, seed=seed, frames=6, size=64)
    # person p has clips b and a (listed b first), person q has c
    labels(data, [("b.mp4", "real", "p"), ("a.mp4", "real", "p"), ("c.mp4", "real", "q")])
    spec = tmp_path / "s.yaml"
    spec.write_text("name: v\nidentities: {video_frames: [{path: data, at: 0.0}]}\n")
    items = identities(load_spec(spec), tmp_path / "run")
    assert [i.source_id for i in items] == ["generic:p", "generic:q"]  # one each, however many clips
    first_of_a = read_video(data / "a.mp4").frames[0]
    np.testing.assert_array_equal(np.load(tmp_path / "run" / items[0].file), first_of_a)  # a < b: path order
    spec.write_text("name: v\nidentities: {video_frames: [{path: data, at: 0.0, per_identity: 2}]}\n")
    two = identities(load_spec(spec), tmp_path / "run2")
    assert [i.id for i in two] == ["frame-generic-p-0", "frame-generic-p-1", "frame-generic-q-0", "frame-generic-q-1"]
    p0, p1 = (np.load(tmp_path / "run2" / i.file) for i in two[:2])
    np.testing.assert_array_equal(p1, read_video(data / "b.mp4").frames[0])  # portrait 2 of p: its second clip
    q0, q1 = (np.load(tmp_path / "run2" / i.file) for i in two[2:])
    assert not np.array_equal(q0, q1)  # q has one clip: its second portrait is another moment of it


def test_detector_training_from_real_dir(tmp_path, face_clip_factory):
    """``corpus build SPEC --real DIR``: DIR gives the real clips, the portraits and the speech (own pairing)."""
    from forgebench.benchmarks.build import build_corpus
    from forgebench.manifest import read_manifest
    from forgebench.media.video import probe_video, read_metadata

    data = tmp_path / "data"
    face_clip_factory(data / "p1.mp4", seed=1, frames=20, canvas=(140, 120), face=110, at=(20, 5))
    face_clip_factory(data / "p2.mp4", seed=2, frames=20, canvas=(120, 140), face=110, at=(5, 20))
    labels(data, [("p1.mp4", "real", "p1"), ("p2.mp4", "real", "p2")])
    spec = tmp_path / "s.yaml"  # the bundled spec at test size: one motion model, one blend region
    spec.write_text("include: detector-training\nname: dt-small\n"
                    "generators:\n  - {name: procedural-96, kind: forgebench, params: {motion: procedural, size: 96, "
                    "crop: full}}\n  - {name: sbi, kind: selfblend}\n"
                    "normalize: {crop: face, size: 96, fps: 25, crf: 23, segment_seconds: 0.4, max_segments: 2, "
                    "generated: true}\nsplits: {train: 0.5, val: 0.5, test: 0.0}\n")
    res = build_corpus(load_spec(spec), tmp_path / "run", real_dirs=[data], progress=False)
    m = read_manifest(tmp_path / "run")
    assert res.n_failed == 0 and len(m) == 12  # 2 people x 2 segments x (real, fake, pseudo-fake)
    assert (m.groupby(["source_id", "generator"]).size() == 2).all()
    assert set(m["split"]) == {"train", "val"} and m.groupby("source_id")["split"].nunique().max() == 1
    fakes = m[m["generator"] == "procedural-96"]
    assert all(a.startswith(f"real-{s.replace(':', '-')}-") for a, s in zip(fakes["audio_id"], fakes["source_id"]))
    for row in m.itertuples():  # every clip framed, sized and timed like the real segments
        info = probe_video(tmp_path / "run" / row.path)
        assert (info.width, info.height) == (96, 96) and row.duration == pytest.approx(0.4, abs=0.05)
    gen = fakes.iloc[0]
    assert "forgebench_normalize" in read_metadata(tmp_path / "run" / gen["path"])  # the common final encode


def test_detector_training_families_are_framed_sized_and_timed_like_their_real_segments(tmp_path, face_clip_factory):
    """Reenactment and dubbing in ``detector-training`` (own pairing, normalised real segments as videos): each dub
    is its real segment with a new mouth (same square, size, rate and frame count: the pixels above the mouth
    agree), each reenactment is as long as its driving segment and shows the face framed like it; every row
    depends on its own person only (the plan over one person is the subset of the plan over both)."""
    from forgebench.benchmarks.build import build_corpus
    from forgebench.benchmarks.datasets import scan_dataset
    from forgebench.benchmarks.framing import face_boxes
    from forgebench.benchmarks.inputs import speech
    from forgebench.benchmarks.plan import plan
    from forgebench.benchmarks.video_inputs import real_track_id
    from forgebench.manifest import read_manifest
    from forgebench.media.video import probe_video, read_video

    data = tmp_path / "data"
    face_clip_factory(data / "p1.mp4", seed=1, frames=50, canvas=(150, 120), face=100, at=(40, 10))
    face_clip_factory(data / "p2.mp4", seed=2, frames=50, canvas=(120, 150), face=100, at=(10, 40))
    labels(data, [("p1.mp4", "real", "p1"), ("p2.mp4", "real", "p2")])
    spec_file = tmp_path / "s.yaml"  # the bundled spec at test size: the two video-driven families only
    spec_file.write_text(
        "include: detector-training\nname: dt-families\ngenerators:\n"
        "  - {name: reenactment-96, kind: reenactment, params: {driving: real, pairing: own, size: 96, crop: full,"
        " max_seconds: 1.0}}\n"
        "  - {name: dubbing-procedural, kind: dubbing, params: {videos: real, pairing: own}}\n"
        "normalize: {crop: face, size: 96, fps: 25, crf: 23, segment_seconds: 1.0, max_segments: 2, "
        "generated: true}\nsplits: {train: 0.5, val: 0.5, test: 0.0}\n")
    spec = load_spec(spec_file)
    run = tmp_path / "run"
    res = build_corpus(spec, run, real_dirs=[data], progress=False)
    m = read_manifest(run).set_index("clip_id")
    assert res.n_failed == 0, m[m["status"] == "failed"]["reason"].tolist()
    assert (m.groupby(["source_id", "generator"]).size() == 2).all() and len(m) == 12
    reals = m[m["label"] == "real"]
    for _, row in m[m["label"] == "fake"].iterrows():
        parent = reals.loc[row["parent"]]  # the real segment it was made from
        assert parent["source_id"] == row["source_id"] and parent["split"] == row["split"]
        fake_info, real_info = probe_video(run / row["path"]), probe_video(run / parent["path"])
        assert (fake_info.width, fake_info.height, fake_info.fps) == (96, 96, 25.0)
        assert fake_info.n_frames == real_info.n_frames == 25 and row["duration"] == pytest.approx(1.0, abs=0.05)
        fake, real = read_video(run / row["path"]).frames, read_video(run / parent["path"]).frames
        fb, _ = face_boxes(fake[::4])
        rb, _ = face_boxes(real[::4])
        # the face sits where it sits in the real segment: same centre, same width (1.8x framing)
        assert np.median(fb, axis=0) == pytest.approx(np.median(rb, axis=0), abs=4)
        if row["generator"] == "dubbing-procedural":
            # only the mouth is re-rendered: above the nose the dub is its real segment (two more encodes apart)
            top = int(np.median(rb[:, 1]))  # the face centre's row
            above = np.abs(fake[:, :top - 4].astype(int) - real[:, :top - 4].astype(int)).mean()
            below = np.abs(fake[:, top + 8:].astype(int) - real[:, top + 8:].astype(int)).mean()
            assert above < 5.0 and above < below  # grey levels: the sensor noise through two more encodes
        file, start = parent["origin"].rsplit("@", 1)
        own = real_track_id(row["source_id"], file, int(float(start) > 0))
        other = real_track_id(row["source_id"], file, int(float(start) == 0))
        # a reenactment carries its driving segment's sound; a dub says the person's words of the other segment
        assert row["audio_id"] == (other if row["generator"] == "dubbing-procedural" else own)
    # fold locality: planning over p1 alone gives exactly p1's rows
    solo = tmp_path / "solo"
    labels(data, [("p1.mp4", "real", "p1")])
    clips = scan_dataset("generic", data)
    rows = plan(spec, identities(spec, solo, clips), speech(spec, solo, clips), clips)
    assert {r["clip_id"] for r in rows} == set(m.index[m["source_id"] == "generic:p1"])
