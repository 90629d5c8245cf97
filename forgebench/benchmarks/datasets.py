"""Dataset adapters: a user's local copy of a public dataset -> source clips for the manifest.

No adapter downloads anything. Each reads its dataset's own layout and label
files, and a folder that does not match says, in one line, what was expected and
what was found. Identity comes from each dataset's own naming of people, and a
face-swap fake also names its *donor* (the identity whose face was pasted in):
the splitter keeps target and donor in the same split, so no person straddles two.

>>> sorted(dataset_registry.names())[:3]
['celebdf', 'deepfakebench', 'dfdc']
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path

from forgebench.errors import InputError
from forgebench.registry import Registry

VIDEO_EXT = (".mp4", ".avi", ".mov", ".mkv", ".webm")


@dataclass(frozen=True)
class SourceClip:
    """One clip found in a dataset. ``path`` is absolute; ``official_split`` is "" when the dataset has none."""

    path: str
    label: str  # "real" | "fake"
    source_id: str
    dataset: str
    generator: str = ""
    audio_id: str = ""
    donor_id: str = ""
    official_split: str = ""
    av_label: str = ""  # FakeAVCeleb's audio-visual category


class DatasetAdapter:
    """Base: ``scan(root) -> list[SourceClip]``; ``layout`` says what it expects."""

    layout = ""

    def __init__(self, **params: object) -> None:
        self.params = params

    def scan(self, root: Path) -> list[SourceClip]:
        raise NotImplementedError

    def mismatch(self, root: Path, found: str) -> InputError:
        return InputError(f"{root} does not look like {self.registry_name}: expected {self.layout}; found {found}")

    def check_root(self, root: Path) -> Path:
        root = Path(root)
        if not root.is_dir():
            raise InputError(f"dataset folder {str(root)!r} does not exist or is not a folder: check the path")
        return root.resolve()


dataset_registry: Registry[DatasetAdapter] = Registry("dataset", DatasetAdapter)


def register_dataset(name: str):
    return dataset_registry.register(name)


def _listing(root: Path, n: int = 6) -> str:
    items = sorted(p.name + ("/" if p.is_dir() else "") for p in root.iterdir())
    return (", ".join(items[:n]) + (", ..." if len(items) > n else "")) if items else "an empty folder"


def _videos(folder: Path, recursive: bool = False) -> list[Path]:
    it = folder.rglob("*") if recursive else folder.glob("*")
    return sorted(p for p in it if p.is_file() and p.suffix.lower() in VIDEO_EXT)


@register_dataset("faceforensics")
class FaceForensics(DatasetAdapter):
    """FaceForensics++: ``original_sequences/youtube/<c>/videos/000.mp4``,
    ``manipulated_sequences/<method>/<c>/videos/000_003.mp4`` (target 000, donor 003),
    official splits ``splits/{train,val,test}.json`` (lists of id pairs). params: compression (c0, c23, c40)."""

    layout = "original_sequences/youtube/<c23>/videos and manipulated_sequences/<method>/<c23>/videos"

    def scan(self, root: Path) -> list[SourceClip]:
        root = self.check_root(root)
        comp = str(self.params.get("compression", "c23"))
        if comp not in ("c0", "raw", "c23", "c40"):
            raise InputError(f"faceforensics compression {comp!r} is unknown: use c0, c23 or c40")
        real_dir = root / "original_sequences" / "youtube" / comp / "videos"
        if not real_dir.is_dir():
            raise self.mismatch(root, f"no {real_dir.relative_to(root)}/ (top level: {_listing(root)})")
        split_of: dict[str, str] = {}
        split_dir = Path(self.params.get("splits_dir", root / "splits"))
        for split in ("train", "val", "test"):
            f = split_dir / f"{split}.json"
            if f.is_file():
                for pair in json.loads(f.read_text()):
                    for vid in pair:
                        split_of[str(vid)] = split
        out = [SourceClip(str(p), "real", f"ffpp:{p.stem}", "faceforensics", official_split=split_of.get(p.stem, ""))
               for p in _videos(real_dir)]
        manip = root / "manipulated_sequences"
        methods = self.params.get("methods") or (sorted(d.name for d in manip.iterdir() if d.is_dir())
                                                 if manip.is_dir() else [])
        for method in methods:
            for p in _videos(manip / method / comp / "videos"):
                target, _, donor = p.stem.partition("_")
                out.append(SourceClip(str(p), "fake", f"ffpp:{target}", "faceforensics", generator=method,
                                      donor_id=f"ffpp:{donor}" if donor else "",
                                      official_split=split_of.get(target, "")))
        return out


@register_dataset("celebdf")
class CelebDF(DatasetAdapter):
    """Celeb-DF v2: ``Celeb-real/id0_0000.mp4``, ``Celeb-synthesis/id0_id16_0000.mp4``, ``YouTube-real/00000.mp4``
    and ``List_of_testing_videos.txt`` (``<1 real | 0 fake> <folder>/<file>``): listed videos are test."""

    layout = "Celeb-real/, Celeb-synthesis/, YouTube-real/ and List_of_testing_videos.txt"

    def scan(self, root: Path) -> list[SourceClip]:
        root = self.check_root(root)
        if not (root / "Celeb-real").is_dir() or not (root / "Celeb-synthesis").is_dir():
            raise self.mismatch(root, _listing(root))
        test: set[str] = set()
        lst = root / "List_of_testing_videos.txt"
        if lst.is_file():
            for line in lst.read_text().splitlines():
                parts = line.split()
                if len(parts) == 2:
                    test.add(parts[1])
        out = []
        for folder, label in (("Celeb-real", "real"), ("YouTube-real", "real"), ("Celeb-synthesis", "fake")):
            for p in _videos(root / folder) if (root / folder).is_dir() else []:
                parts = p.stem.split("_")
                if folder == "YouTube-real":
                    sid, donor = f"celebdf:yt{p.stem}", ""
                elif folder == "Celeb-real":
                    sid, donor = f"celebdf:{parts[0]}", ""
                else:
                    sid, donor = f"celebdf:{parts[0]}", (f"celebdf:{parts[1]}" if len(parts) > 2 else "")
                split = "test" if f"{folder}/{p.name}" in test else ("train" if lst.is_file() else "")
                out.append(SourceClip(str(p), label, sid, "celebdf", generator="celebdf-v2" if label == "fake" else "",
                                      donor_id=donor, official_split=split))
        return out


@register_dataset("dfdc")
class DFDC(DatasetAdapter):
    """DFDC: part folders (``dfdc_train_part_0/``) each with ``metadata.json``:
    ``{"abc.mp4": {"label": "FAKE", "split": "train", "original": "xyz.mp4"}}``. A fake's identity is its original's."""

    layout = "part folders each holding metadata.json (or metadata.json at the top)"

    def scan(self, root: Path) -> list[SourceClip]:
        root = self.check_root(root)
        metas = sorted(root.glob("metadata.json")) + sorted(root.glob("*/metadata.json"))
        if not metas:
            raise self.mismatch(root, _listing(root))
        out = []
        for meta in metas:
            try:
                entries = json.loads(meta.read_text())
            except json.JSONDecodeError as exc:
                raise InputError(f"{meta}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
            for name, e in sorted(entries.items()):
                label = "fake" if str(e.get("label", "")).upper() == "FAKE" else "real"
                original = Path(e.get("original") or name).stem if label == "fake" else Path(name).stem
                out.append(SourceClip(str(meta.parent / name), label, f"dfdc:{original}", "dfdc",
                                      generator="dfdc" if label == "fake" else "",
                                      official_split={"train": "train", "test": "test"}.get(e.get("split", ""), "")))
        return out


@register_dataset("fakeavceleb")
class FakeAVCeleb(DatasetAdapter):
    """FakeAVCeleb: ``meta_data.csv`` with columns source, method, type (RealVideo-RealAudio, RealVideo-FakeAudio,
    FakeVideo-RealAudio, FakeVideo-FakeAudio), path, filename. Only RealVideo-RealAudio is real."""

    layout = "meta_data.csv with columns source, method, type, path, filename"
    need = ("source", "method", "type", "path", "filename")

    def scan(self, root: Path) -> list[SourceClip]:
        root = self.check_root(root)
        meta = root / "meta_data.csv"
        if not meta.is_file():
            raise self.mismatch(root, _listing(root))
        with meta.open(newline="") as f:
            rows = list(csv.DictReader(f))
        cols = list(rows[0].keys()) if rows else []
        missing = [c for c in self.need if c not in cols]
        if missing:
            raise self.mismatch(root, f"meta_data.csv with columns {', '.join(c for c in cols if c) or 'none'}")
        out = []
        for r in rows:
            rel = Path(r["path"]) / r["filename"]
            p = root / rel
            if not p.exists() and len(rel.parts) > 1:  # paths in the CSV start with the dataset's own folder name
                p = root / Path(*rel.parts[1:])
            label = "real" if r["type"] == "RealVideo-RealAudio" else "fake"
            out.append(SourceClip(str(p), label, f"fakeavceleb:{r['source']}", "fakeavceleb",
                                  generator=r["method"] if label == "fake" else "",
                                  donor_id=f"fakeavceleb:{r['target1']}" if r.get("target1", "-") not in ("-", "")
                                  else "", av_label=r["type"]))
        return out


@register_dataset("hdtf")
class HDTF(DatasetAdapter):
    """HDTF (real): ``WDA_BarackObama_000.mp4``-style files (or one folder per person); identity = the name."""

    layout = "videos named <WDA|WRA|RD>_<Name>_<index>.mp4, or one folder per identity"
    pattern = re.compile(r"^(?:WDA|WRA|RD)_(.+?)_\d+$")

    def scan(self, root: Path) -> list[SourceClip]:
        root = self.check_root(root)
        out = []
        for p in _videos(root, recursive=True):
            m = self.pattern.match(p.stem)
            sid = m.group(1) if m else (p.parent.name if p.parent != root else None)
            if sid is None:
                raise self.mismatch(root, f"a video named {p.name!r} at the top level")
            out.append(SourceClip(str(p), "real", f"hdtf:{sid}", "hdtf"))
        if not out:
            raise self.mismatch(root, _listing(root))
        return out


@register_dataset("voxceleb2")
class VoxCeleb2(DatasetAdapter):
    """VoxCeleb2 (real): ``[dev|test/][mp4/]id00012/<youtube id>/00001.mp4``; identity = the id folder."""

    layout = "id folders (id00012/<youtube id>/00001.mp4), optionally under dev/mp4 or test/mp4"

    def scan(self, root: Path) -> list[SourceClip]:
        root = self.check_root(root)
        out = []
        for p in _videos(root, recursive=True):
            ids = [part for part in p.relative_to(root).parts[:-1] if re.fullmatch(r"id\d+", part)]
            if not ids:
                raise self.mismatch(root, f"{p.relative_to(root)} outside an idNNNNN folder")
            split = {"dev": "train", "test": "test"}.get(p.relative_to(root).parts[0], "")
            out.append(SourceClip(str(p), "real", f"voxceleb2:{ids[0]}", "voxceleb2", official_split=split))
        if not out:
            raise self.mismatch(root, _listing(root))
        return out


@register_dataset("deepfakebench")
class DeepfakeBenchJSON(DatasetAdapter):
    """A DeepfakeBench dataset JSON: ``{dataset: {label: {split: {compression: {video: {"label": ..,
    "video_path" | "path": ..}}}}}}``. params: file (default: the only ``*.json`` in the folder).
    Labels containing "real" are real. Frame-only entries (no video path) are refused: forgebench reads videos."""

    layout = "one DeepfakeBench-style .json whose video entries have a video_path or path"

    def scan(self, root: Path) -> list[SourceClip]:
        root = self.check_root(root)
        files = [root / self.params["file"]] if "file" in self.params else sorted(root.glob("*.json"))
        if len(files) != 1 or not files[0].is_file():
            raise self.mismatch(root, _listing(root))
        data = json.loads(files[0].read_text())
        out = []
        for ds, by_label in data.items():
            for label_name, by_split in by_label.items():
                for split, by_comp in by_split.items():
                    for _comp, videos in by_comp.items():
                        for vid, e in sorted(videos.items()):
                            rel = e.get("video_path") or e.get("path")
                            if not rel:
                                raise self.mismatch(root, f"entry {ds}/{label_name}/{vid} without video_path")
                            label = "real" if "real" in str(e.get("label", label_name)).lower() else "fake"
                            sid = str(e.get("source_id") or vid.split("_")[0])
                            p = Path(rel) if Path(rel).is_absolute() else root / rel
                            out.append(SourceClip(str(p), label, f"{ds}:{sid}", "deepfakebench",
                                                  generator=label_name if label == "fake" else "",
                                                  official_split={"train": "train", "val": "val",
                                                                  "test": "test"}.get(split, "")))
        return out


@register_dataset("generic")
class GenericFolder(DatasetAdapter):
    """A folder with ``real/`` and/or ``fake/`` subfolders (identity = the sub-folder under them, else the file
    stem), or a ``labels.csv`` with columns path, label, source_id (optional: audio_id, generator, split)."""

    layout = "real/ and/or fake/ subfolders of videos, or labels.csv with columns path,label,source_id"

    def scan(self, root: Path) -> list[SourceClip]:
        root = self.check_root(root)
        csv_path = root / str(self.params.get("csv", "labels.csv"))
        if csv_path.is_file():
            return self._from_csv(root, csv_path)
        out = []
        for label in ("real", "fake"):
            folder = root / label
            for p in _videos(folder, recursive=True) if folder.is_dir() else []:
                sid = p.parent.name if p.parent != folder else p.stem
                out.append(SourceClip(str(p), label, f"generic:{sid}", "generic",
                                      generator="unknown" if label == "fake" else ""))
        if not out:
            raise self.mismatch(root, _listing(root))
        return out

    def _from_csv(self, root: Path, csv_path: Path) -> list[SourceClip]:
        with csv_path.open(newline="") as f:
            rows = list(csv.DictReader(f))
        cols = list(rows[0].keys()) if rows else []
        if not {"path", "label", "source_id"} <= set(cols):
            raise self.mismatch(root, f"{csv_path.name} with columns {', '.join(cols) or 'none'}")
        out = []
        for i, r in enumerate(rows, start=2):
            if r["label"] not in ("real", "fake"):
                raise InputError(f"{csv_path}:{i}: label must be real or fake, found {r['label']!r}")
            p = Path(r["path"]) if Path(r["path"]).is_absolute() else root / r["path"]
            out.append(SourceClip(str(p), r["label"], f"generic:{r['source_id']}", "generic",
                                  generator=r.get("generator") or ("unknown" if r["label"] == "fake" else ""),
                                  audio_id=r.get("audio_id") or "", official_split=r.get("split") or ""))
        return out


def scan_dataset(adapter: str, root: str | Path, **params: object) -> list[SourceClip]:
    """Run one adapter over a folder."""
    return dataset_registry.build(adapter, **params).scan(Path(root))
