"""Spec schema and loader: strict keys, types, path roots, include inheritance, bundled specs."""

from __future__ import annotations

from pathlib import Path

import pytest

from forgebench.benchmarks.spec import bundled_specs, deep_merge, load_spec
from forgebench.errors import InputError

MINIMAL = """
name: mini
identities: {builtin: {variants: [original]}}
speech: {synthetic: {count: 1, seconds: 0.5}}
"""


def write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_bundled_specs_validate():
    assert {"tiny", "quickstart", "standard"} <= set(bundled_specs())
    for name in bundled_specs():
        assert load_spec(name).name == name
    quick = load_spec("quickstart")
    assert {g.params.motion for g in quick.generators} == {"procedural", "diffusion"}


def test_unknown_key_names_file_and_key_path(tmp_path):
    p = write(tmp_path, MINIMAL + "generators:\n  - {name: g, kind: forgebench, params: {sise: 96}}\n")
    with pytest.raises(InputError) as e:
        load_spec(p)
    msg = str(e.value)
    assert str(p) in msg and "generators[0].params.sise" in msg and "unknown key" in msg
    assert "\n" not in msg


def test_wrong_type_says_what_was_expected(tmp_path):
    p = write(tmp_path, MINIMAL + "seed: banana\n")
    with pytest.raises(InputError, match=r"spec.yaml: seed: .*integer"):
        load_spec(p)
    p = write(tmp_path, MINIMAL + "perturbations: [{name: jpeg, levels: [7]}]\n")
    with pytest.raises(InputError, match=r"perturbations\[0\]\.levels: levels must be"):
        load_spec(p)
    p = write(tmp_path, MINIMAL + "perturbations: [{name: jpg}]\n")
    with pytest.raises(InputError, match=r"perturbations\[0\]\.name: unknown perturbation 'jpg'.*jpeg"):
        load_spec(p)


def test_missing_key_and_invalid_yaml(tmp_path):
    with pytest.raises(InputError, match=r"name: required key is missing"):
        load_spec(write(tmp_path, "identities: {builtin: {}}\n"))
    with pytest.raises(InputError, match=r"generator 'g' animates portraits with speech: the spec needs 'speech:'"):
        load_spec(write(tmp_path, "name: x\nidentities: {builtin: {}}\ngenerators: [{name: g, kind: forgebench}]\n"))
    with pytest.raises(InputError, match=r"invalid YAML at line"):
        load_spec(write(tmp_path, "name: [unclosed\n"))


def test_path_escapes_are_refused(tmp_path):
    inner = tmp_path / "specs"
    inner.mkdir()
    (tmp_path / "outside").mkdir()
    for bad in ("../outside", str(tmp_path / "outside")):
        p = write(inner, MINIMAL + f"real: [{{adapter: generic, path: {bad}}}]\n")
        with pytest.raises(InputError, match=r"real\[0\]\.path: path .* outside the declared roots"):
            load_spec(p)
    # Declaring the root (in the spec or on the command line) allows it.
    ok = write(inner, MINIMAL + "roots: [../outside]\nreal: [{adapter: generic, path: ../outside}]\n")
    assert load_spec(ok).real[0].path == str((tmp_path / "outside").resolve())
    p = write(inner, MINIMAL + "real: [{adapter: generic, path: ../outside}]\n")
    assert load_spec(p, roots=[tmp_path / "outside"]).real[0].path.endswith("outside")


def test_include_deep_merges_child_wins(tmp_path):
    child = write(tmp_path, "include: tiny\nname: child\nseed: 5\nsplits: {train: 0.5, val: 0.25, test: 0.25}\n"
                  "generators:\n  - {name: g2, kind: forgebench, params: {size: 64}}\n")
    spec, parent = load_spec(child), load_spec("tiny")
    assert spec.name == "child" and spec.seed == 5
    assert spec.splits.train == 0.5 and spec.splits.seed == parent.splits.seed  # merged, not replaced
    assert [g.name for g in spec.generators] == ["g2"]  # lists are replaced
    assert spec.identities == parent.identities and spec.perturbations == parent.perturbations
    assert deep_merge({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}}) == {"a": {"b": 1, "c": 3}}


def test_include_cycle_and_missing(tmp_path):
    write(tmp_path, "include: b.yaml\n" + MINIMAL, "a.yaml")
    write(tmp_path, "include: a.yaml\n" + MINIMAL, "b.yaml")
    with pytest.raises(InputError, match="include cycle"):
        load_spec(tmp_path / "a.yaml")
    with pytest.raises(InputError, match="no spec file or bundled spec named 'nope'"):
        load_spec("nope")


def test_command_generator_needs_out_placeholder(tmp_path):
    p = write(tmp_path, MINIMAL + "generators:\n  - {name: c, kind: command, params: {cmd: [run, '{image}']}}\n")
    with pytest.raises(InputError, match=r"generators\[0\]\.params\.cmd: .*\{out\}"):
        load_spec(p)


def test_real_only_spec_needs_no_identities_or_speech(tmp_path):
    (tmp_path / "data").mkdir()
    spec = load_spec(write(tmp_path, "name: r\nreal: [{adapter: generic, path: data}]\n"
                                     "generators: [{name: sbi, kind: selfblend, params: {region: mouth}}]\n"))
    assert spec.identities is None and spec.speech is None and spec.generators[0].params.region == "mouth"
    bundled = load_spec("detector-training")
    assert bundled.identities.from_real.crop == "face" and bundled.speech.from_real is not None
    assert bundled.normalize.crop == "face" and bundled.pairing == "own"
    assert {g.kind for g in bundled.generators} == {"forgebench", "selfblend"}
    families = load_spec("detector-training-families")  # the same plus every video-driven family, own pairing
    assert families.normalize == bundled.normalize and families.pairing == "own"
    assert {g.kind for g in families.generators} == {"forgebench", "selfblend", "reenactment", "dubbing"}
    assert all(g.params.pairing == "own" for g in families.generators if g.kind in ("reenactment", "dubbing"))
    with pytest.raises(InputError, match=r"generators\[0\]\.params\.region: Input should be 'face' or 'mouth'"):
        load_spec(write(tmp_path, "name: r\ngenerators: [{name: s, kind: selfblend, params: {region: eyes}}]\n"))
    with pytest.raises(InputError, match=r"normalize\.crop: Input should be 'centre' or 'face'"):
        load_spec(write(tmp_path, "name: r\nnormalize: {crop: body}\n"))
