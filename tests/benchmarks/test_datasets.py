"""Dataset adapters on tiny replicas of each public layout, built here from generated videos."""

from __future__ import annotations

import json

import pytest

from forgebench.benchmarks.datasets import dataset_registry, scan_dataset
from forgebench.errors import InputError


def by_path(clips):
    return {c.path.rsplit("/", 1)[-1]: c for c in clips}


def test_faceforensics(tmp_path, video_factory):
    for name in ("000", "003"):
        video_factory(tmp_path / f"original_sequences/youtube/c23/videos/{name}.mp4")
    video_factory(tmp_path / "manipulated_sequences/Deepfakes/c23/videos/000_003.mp4")
    video_factory(tmp_path / "manipulated_sequences/Face2Face/c23/videos/003_000.mp4")
    (tmp_path / "splits").mkdir()
    (tmp_path / "splits/train.json").write_text(json.dumps([["000", "003"]]))
    clips = by_path(scan_dataset("faceforensics", tmp_path))
    assert clips["000.mp4"].label == "real" and clips["000.mp4"].source_id == "ffpp:000"
    fake = clips["000_003.mp4"]
    assert (fake.label, fake.generator, fake.source_id, fake.donor_id) == ("fake", "Deepfakes", "ffpp:000", "ffpp:003")
    assert {c.official_split for c in clips.values()} == {"train"}
    with pytest.raises(InputError, match="found no original_sequences/youtube/c40/videos/"):
        scan_dataset("faceforensics", tmp_path, compression="c40")
    with pytest.raises(InputError, match="expected original_sequences"):
        scan_dataset("faceforensics", tmp_path / "splits")


def test_celebdf(tmp_path, video_factory):
    video_factory(tmp_path / "Celeb-real/id0_0000.mp4")
    video_factory(tmp_path / "Celeb-synthesis/id0_id16_0000.mp4")
    video_factory(tmp_path / "YouTube-real/00000.mp4")
    (tmp_path / "List_of_testing_videos.txt").write_text("0 Celeb-synthesis/id0_id16_0000.mp4\n")
    clips = by_path(scan_dataset("celebdf", tmp_path))
    fake = clips["id0_id16_0000.mp4"]
    assert (fake.label, fake.source_id, fake.donor_id, fake.official_split) == (
        "fake", "celebdf:id0", "celebdf:id16", "test")
    assert clips["id0_0000.mp4"].official_split == "train" and clips["00000.mp4"].source_id == "celebdf:yt00000"


def test_dfdc(tmp_path, video_factory):
    part = tmp_path / "dfdc_train_part_0"
    video_factory(part / "real1.mp4")
    video_factory(part / "fake1.mp4")
    (part / "metadata.json").write_text(json.dumps({
        "real1.mp4": {"label": "REAL", "split": "train"},
        "fake1.mp4": {"label": "FAKE", "split": "train", "original": "real1.mp4"}}))
    clips = by_path(scan_dataset("dfdc", tmp_path))
    assert clips["fake1.mp4"].label == "fake" and clips["fake1.mp4"].source_id == clips["real1.mp4"].source_id


def test_fakeavceleb(tmp_path, video_factory):
    video_factory(tmp_path / "RealVideo-RealAudio/African/men/id00076/00109.mp4")
    video_factory(tmp_path / "FakeVideo-FakeAudio/African/men/id00076/00109_fake.mp4")
    (tmp_path / "meta_data.csv").write_text(
        "source,target1,target2,method,category,type,race,gender,filename,path\n"
        "id00076,-,-,real,A,RealVideo-RealAudio,African,men,00109.mp4,FakeAVCeleb/RealVideo-RealAudio/African/men/id00076\n"
        "id00076,id00166,-,fsgan-wav2lip,D,FakeVideo-FakeAudio,African,men,00109_fake.mp4,"
        "FakeAVCeleb/FakeVideo-FakeAudio/African/men/id00076\n")
    clips = by_path(scan_dataset("fakeavceleb", tmp_path))
    assert clips["00109.mp4"].label == "real" and clips["00109_fake.mp4"].av_label == "FakeVideo-FakeAudio"
    assert clips["00109_fake.mp4"].generator == "fsgan-wav2lip"
    assert all(__import__("os").path.isfile(c.path) for c in clips.values())


def test_hdtf_and_voxceleb2(tmp_path, video_factory):
    video_factory(tmp_path / "hdtf/WDA_BarackObama_000.mp4")
    video_factory(tmp_path / "hdtf/WDA_BarackObama_001.mp4")
    ids = {c.source_id for c in scan_dataset("hdtf", tmp_path / "hdtf")}
    assert ids == {"hdtf:BarackObama"}
    video_factory(tmp_path / "vox/dev/mp4/id00012/abc/00001.mp4")
    video_factory(tmp_path / "vox/test/mp4/id00099/xyz/00001.mp4")
    vox = scan_dataset("voxceleb2", tmp_path / "vox")
    assert {(c.source_id, c.official_split) for c in vox} == {("voxceleb2:id00012", "train"),
                                                              ("voxceleb2:id00099", "test")}
    video_factory(tmp_path / "bad/clip.mp4")
    with pytest.raises(InputError, match="expected id folders.*found clip.mp4 outside"):
        scan_dataset("voxceleb2", tmp_path / "bad")


def test_deepfakebench_json(tmp_path, video_factory):
    video_factory(tmp_path / "v/000.mp4")
    video_factory(tmp_path / "v/000_003.mp4")
    (tmp_path / "FF.json").write_text(json.dumps({"FaceForensics++": {
        "FF-real": {"train": {"c23": {"000": {"label": "FF-real", "video_path": "v/000.mp4"}}}},
        "FF-DF": {"train": {"c23": {"000_003": {"label": "FF-DF", "video_path": "v/000_003.mp4"}}}}}}))
    clips = by_path(scan_dataset("deepfakebench", tmp_path))
    assert clips["000.mp4"].label == "real" and clips["000_003.mp4"].generator == "FF-DF"


def test_generic_folder_and_csv(tmp_path, video_factory):
    video_factory(tmp_path / "g/real/alice/a.mp4")
    video_factory(tmp_path / "g/fake/b.mp4")
    clips = by_path(scan_dataset("generic", tmp_path / "g"))
    assert clips["a.mp4"].source_id == "generic:alice" and clips["b.mp4"].label == "fake"
    video_factory(tmp_path / "c/x.mp4")
    (tmp_path / "c/labels.csv").write_text("path,label,source_id\nx.mp4,real,bob\n")
    assert scan_dataset("generic", tmp_path / "c")[0].source_id == "generic:bob"


@pytest.mark.parametrize("name", ["faceforensics", "celebdf", "dfdc", "fakeavceleb", "hdtf", "voxceleb2",
                                  "deepfakebench", "generic"])
def test_wrong_layout_is_one_line_saying_expected_and_found(tmp_path, name):
    (tmp_path / "random.txt").write_text("x")
    with pytest.raises(InputError) as e:
        scan_dataset(name, tmp_path)
    msg = str(e.value)
    assert "expected" in msg and "found" in msg and "\n" not in msg
    assert name in dataset_registry
