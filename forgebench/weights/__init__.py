"""Standard metric weights: a registry of named files with sources, SHA-256 and a local cache.

See :mod:`forgebench.weights.registry` for the API and :mod:`forgebench.weights.catalog`
for the entries. ``forgebench weights list|fetch|import|verify`` is the CLI.
"""

from __future__ import annotations

from forgebench.weights.registry import (
    PackageMember,
    Source,
    UrlSource,
    WeightsEntry,
    fetch,
    forgebench_home,
    get_entry,
    import_file,
    list_entries,
    register_weights,
    require_weights,
    verify,
    weights_available,
    weights_path,
)

__all__ = [
    "PackageMember",
    "Source",
    "UrlSource",
    "WeightsEntry",
    "fetch",
    "forgebench_home",
    "get_entry",
    "import_file",
    "list_entries",
    "register_weights",
    "require_weights",
    "verify",
    "weights_available",
    "weights_path",
]
