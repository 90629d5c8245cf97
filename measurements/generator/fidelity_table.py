"""One before/after paired-fidelity table from several fidelity runs (their ``results.csv``).

    python measurements/generator/fidelity_table.py before=DIR after=DIR product=DIR ...

Each argument is ``LABEL=RUN_DIR``; rows are ``LABEL · mode`` for every mode a run has (and FOMM's
published VoxCeleb row once), columns the metrics; cells are mean ± the half-width of the 95% bootstrap
interval over identities. Printed as Markdown (the report tables' renderer). After it, the paired
change per clip from the first run to each other one, for the (mode, metric) cells both have: mean
difference (later - first) with a 95% bootstrap interval over identities (from ``per_clip.csv``).
"""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> None:
    import pandas as pd

    from forgebench.reports.tables import pivot, to_markdown
    from forgebench.results import read_results

    frames = []
    anchor = None
    for arg in sys.argv[1:]:
        label, _, folder = arg.partition("=")
        df = read_results(Path(folder) / "results.csv")
        fomm = df["subject"].str.startswith("FOMM")
        if anchor is None and fomm.any():
            anchor = df[fomm]
        df = df[~fomm].copy()
        df["subject"] = label + " · " + df["subject"]
        frames.append(df)
    table = pd.concat(frames + ([anchor] if anchor is not None else []), ignore_index=True)
    table["condition"] = ""
    table["split"] = ""
    print(to_markdown(pivot(table, title="Paired fidelity, 256²")))
    paired_changes([arg.partition("=") for arg in sys.argv[1:]])


def paired_changes(runs: list[tuple[str, str, str]]) -> None:
    import numpy as np
    import pandas as pd

    from forgebench.metrics.bootstrap import bootstrap_ci

    def load(folder: str) -> pd.DataFrame:
        df = pd.read_csv(Path(folder) / "per_clip.csv")
        return df[df["status"] == "ok"].set_index(["clip_id", "mode", "metric"])

    first_label, _, first_dir = runs[0]
    base = load(first_dir)
    for label, _, folder in runs[1:]:
        other = load(folder)
        for mode in sorted(set(other.index.get_level_values("mode"))):
            base_mode = mode if mode in set(base.index.get_level_values("mode")) else None
            if base_mode is None:
                continue
            cells = []
            for metric in sorted(set(other.xs(mode, level="mode").index.get_level_values("metric"))):
                a = base.xs((mode, metric), level=("mode", "metric"))
                b = other.xs((mode, metric), level=("mode", "metric"))
                both = a.index.intersection(b.index)
                if len(both) < 2:
                    continue
                d = b.loc[both, "value"].to_numpy() - a.loc[both, "value"].to_numpy()
                lo, hi = bootstrap_ci(d, groups=a.loc[both, "identity"].to_numpy())
                cells.append(f"{metric} {np.mean(d):+.4f} [{lo:+.4f}, {hi:+.4f}] (n={len(both)})")
            if cells:
                print(f"\n{label} - {first_label}, {mode}: " + "; ".join(cells))


if __name__ == "__main__":
    main()
