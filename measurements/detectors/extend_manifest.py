"""manifest_full.parquet = the built corpus + test-only perturbed copies (real and fake alike, same
perturb_video as the builder) + known fakes of other generators from /work/shared/data, re-encoded like
the corpus (face square -> 256x256, 25 fps, CRF 23, 4 s segments) as extra test rows."""
import hashlib, sys
from pathlib import Path
import pandas as pd
sys.path.insert(0, str(Path(__file__).parent))
from forgebench.manifest import read_manifest, write_manifest
from forgebench.benchmarks.perturb import perturb_video
from make_sources import write_segments  # noqa: E402  (runs nothing at import: guarded)
C = Path("scratch/det8/corpus"); D = Path("/work/shared/data"); EXT = Path("scratch/det8/src_ext")
df = read_manifest(C / "manifest.parquet")
sha = lambda p: hashlib.sha256(Path(p).read_bytes()).hexdigest()
rows = []
PERTS = [("jpeg", 1), ("jpeg", 3), ("jpeg", 5), ("h264", 1), ("h264", 3), ("h264", 5), ("blur", 3), ("noise", 3)]
test = df[(df.split == "test") & (df.perturbation == "none")]
for r in test.itertuples(index=False):
    for name, lv in PERTS:
        dst = C / "pert" / f"{r.clip_id}__{name}{lv}.mp4"; dst.parent.mkdir(parents=True, exist_ok=True)
        if not dst.is_file():
            perturb_video(C / r.path, dst, name, lv, seed=int(r.clip_id[:6], 16))
        d = r._asdict(); d.update(clip_id=f"{r.clip_id}__{name}{lv}", perturbation=name, level=lv,
                                  path=str(dst.relative_to(C)), content_sha256=sha(dst), parent=r.clip_id)
        rows.append(d)
    print("perturbed", r.clip_id, flush=True)
KNOWN = {"sadtalker": ["sadtalker_art_2__RD_Radio31_000.mp4", "sadtalker_camera_qRrq9DqY_0000__RD_Radio31_000.mp4",
                       "sadtalker_still_full_e.mp4"], "emo": ["vexpress_emo_talk_emotion_gt.mp4"]}
proto = test.iloc[0].to_dict()
for gen, files in KNOWN.items():
    for v in files:
        for p in write_segments(D / v, EXT / gen, 28):
            rows.append({**proto, "clip_id": f"ext_{p.stem}", "label": "fake", "is_fake": 1, "source_id": f"ext:{Path(v).stem}",
                         "audio_id": "", "generator": gen, "seed": -1, "perturbation": "none", "level": 0, "split": "test",
                         "path": str(p.resolve()), "content_sha256": sha(p), "dataset": "shared-data-known-fakes",
                         "parent": ""})
            print("known fake", gen, p.name, flush=True)
full = pd.concat([df, pd.DataFrame(rows)], ignore_index=True)
write_manifest(full, C / "manifest_full.parquet")
print(full.groupby(["split", "label", "generator", "perturbation"]).size().to_string())
