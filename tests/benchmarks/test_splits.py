"""Identity-disjoint splits, stratified so each split gets real and fake clips when there are enough groups."""

from __future__ import annotations

from forgebench.benchmarks.plan import assign_splits
from forgebench.benchmarks.spec import load_spec


def _rows(n_fake_ids: int, n_real_ids: int, per_id: int = 3) -> list[dict]:
    rows = []
    for label, n in (("fake", n_fake_ids), ("real", n_real_ids)):
        for i in range(n):
            rows += [{"source_id": f"{label}{i}", "label": label} for _ in range(per_id)]
    return rows


def test_each_split_gets_both_classes_and_no_identity_is_shared():
    rows = _rows(3, 6)
    assign_splits(load_spec("tiny"), rows)
    for split in ("train", "val", "test"):
        assert {r["label"] for r in rows if r["split"] == split} == {"real", "fake"}, split
    by_id: dict[str, set[str]] = {}
    for r in rows:
        by_id.setdefault(r["source_id"], set()).add(r["split"])
    assert all(len(s) == 1 for s in by_id.values())


def test_one_class_corpus_splits_as_before():
    rows = _rows(3, 0)
    assign_splits(load_spec("tiny"), rows)
    assert sorted({r["split"] for r in rows}) == ["test", "train", "val"]
