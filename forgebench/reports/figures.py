"""Report figures as Display objects: ``from_predictions`` (or ``from_results``) computes, ``plot(ax)`` draws.

The sklearn ``RocCurveDisplay`` idea: the numbers are computed once, kept as
attributes you can test or reuse, and drawing is separate. matplotlib is
imported only when drawing, with the Agg backend (no display needed).
``save(path)`` writes PNG (or SVG by suffix) atomically.

Predictions are per clip: labels [N] (1 = fake) and fake-scores [N].
Bands are percentile-bootstrap 95% intervals over clips.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from forgebench.atomic import atomic_output


def pyplot():
    """matplotlib.pyplot on the Agg backend, imported on first use."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


class Display:
    """Shared drawing and saving. Subclasses implement ``plot(ax)`` and may set ``figsize``."""

    figsize: tuple[float, float] = (4.5, 4.0)

    def plot(self, ax=None):  # pragma: no cover - abstract
        raise NotImplementedError

    def _ax(self, ax):
        if ax is None:
            _, ax = pyplot().subplots(figsize=self.figsize)
        return ax

    def draw(self, fig) -> None:
        """Lay out axes on an empty figure and plot; one axes unless a subclass needs a grid."""
        self.plot(fig.add_subplot(1, 1, 1))

    def save(self, path: str | Path, dpi: int = 110) -> Path:
        """Draw on a new figure and write it (``.png`` or ``.svg``) atomically; returns the path."""
        plt = pyplot()
        fig = plt.figure(figsize=self.figsize)
        try:
            self.draw(fig)
            fig.tight_layout()
            path = Path(path)
            with atomic_output(path) as tmp:
                fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip(".") or "png")
        finally:
            plt.close(fig)
        return path


def _boot_indices(y: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """[n_boot, N] resample indices, stratified by label so each resample has both classes."""
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    return np.concatenate([pos[rng.integers(0, pos.size, (n_boot, pos.size))],
                           neg[rng.integers(0, neg.size, (n_boot, neg.size))]], axis=1)


class RocCurveDisplay(Display):
    """ROC curve with a bootstrap band. Attributes: ``fpr``, ``tpr``, ``thresholds`` (sklearn's), ``auc``,
    ``grid`` [G] and ``tpr_low``/``tpr_high`` [G] (the band's TPR at each grid FPR)."""

    def __init__(self, fpr, tpr, thresholds, auc, grid, tpr_low, tpr_high, name=""):
        self.fpr, self.tpr, self.thresholds, self.auc = fpr, tpr, thresholds, auc
        self.grid, self.tpr_low, self.tpr_high, self.name = grid, tpr_low, tpr_high, name

    @classmethod
    def from_predictions(cls, y_true, y_score, name: str = "", n_boot: int = 200, seed: int = 0,
                         grid_size: int = 101) -> RocCurveDisplay:
        from sklearn.metrics import roc_auc_score, roc_curve

        y, s = np.asarray(y_true, np.int64), np.asarray(y_score, np.float64)
        fpr, tpr, thr = roc_curve(y, s)
        grid = np.linspace(0, 1, grid_size)
        curves = []
        for idx in _boot_indices(y, n_boot, seed):
            f, t, _ = roc_curve(y[idx], s[idx])
            curves.append(np.interp(grid, f, t))
        lo, hi = (np.percentile(curves, [2.5, 97.5], axis=0) if curves else (np.full(grid_size, np.nan),) * 2)
        return cls(fpr, tpr, thr, float(roc_auc_score(y, s)), grid, lo, hi, name)

    def plot(self, ax=None):
        ax = self._ax(ax)
        (line,) = ax.plot(self.fpr, self.tpr, lw=1.6, label=f"{self.name} (AUC {self.auc:.3f})".strip())
        ax.fill_between(self.grid, self.tpr_low, self.tpr_high, color=line.get_color(), alpha=0.2, lw=0)
        ax.plot([0, 1], [0, 1], ls=":", c="grey", lw=0.8)
        ax.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.01), title="ROC")
        ax.legend(loc="lower right", fontsize=8)
        return ax


class DetCurveDisplay(Display):
    """DET curve (FNR vs FPR on normal-deviate axes) with a bootstrap band on FNR at grid FPRs."""

    def __init__(self, fpr, fnr, grid, fnr_low, fnr_high, name=""):
        self.fpr, self.fnr, self.grid, self.fnr_low, self.fnr_high, self.name = fpr, fnr, grid, fnr_low, fnr_high, name

    @classmethod
    def from_predictions(cls, y_true, y_score, name: str = "", n_boot: int = 200, seed: int = 0) -> DetCurveDisplay:
        from sklearn.metrics import det_curve

        y, s = np.asarray(y_true, np.int64), np.asarray(y_score, np.float64)
        fpr, fnr, _ = det_curve(y, s)
        grid = np.logspace(-3, 0, 61)
        curves = []
        for idx in _boot_indices(y, n_boot, seed):
            f, n, _ = det_curve(y[idx], s[idx])
            order = np.argsort(f)
            curves.append(np.interp(grid, f[order], n[order]))
        lo, hi = (np.percentile(curves, [2.5, 97.5], axis=0) if curves else (np.full(grid.size, np.nan),) * 2)
        return cls(fpr, fnr, grid, lo, hi, name)

    def plot(self, ax=None):
        from scipy.stats import norm

        ax = self._ax(ax)
        eps = 1e-4
        z = lambda p: norm.ppf(np.clip(p, eps, 1 - eps))  # noqa: E731  (probit axis)
        (line,) = ax.plot(z(self.fpr), z(self.fnr), lw=1.6, label=self.name or None)
        ax.fill_between(z(self.grid), z(self.fnr_low), z(self.fnr_high), color=line.get_color(), alpha=0.2, lw=0)
        ticks = np.array([0.001, 0.01, 0.05, 0.2, 0.5, 0.8, 0.95])
        ax.set_xticks(z(ticks), [f"{t:g}" for t in ticks])
        ax.set_yticks(z(ticks), [f"{t:g}" for t in ticks])
        ax.set(xlabel="false positive rate", ylabel="false negative rate", title="DET",
               xlim=(z(0.0005), z(0.99)), ylim=(z(0.0005), z(0.99)))
        if self.name:
            ax.legend(fontsize=8)
        return ax


class ReliabilityDisplay(Display):
    """Reliability diagram: fraction of fakes vs mean score per equal-width bin (sklearn ``calibration_curve``)."""

    def __init__(self, prob_true, prob_pred, counts, name=""):
        self.prob_true, self.prob_pred, self.counts, self.name = prob_true, prob_pred, counts, name

    @classmethod
    def from_predictions(cls, y_true, y_score, n_bins: int = 10, name: str = "") -> ReliabilityDisplay:
        y, s = np.asarray(y_true, np.float64), np.asarray(y_score, np.float64)
        b = np.minimum((s * n_bins).astype(int), n_bins - 1)
        counts = np.bincount(b, minlength=n_bins)
        keep = counts > 0
        prob_true = np.bincount(b, weights=y, minlength=n_bins)[keep] / counts[keep]
        prob_pred = np.bincount(b, weights=s, minlength=n_bins)[keep] / counts[keep]
        return cls(prob_true, prob_pred, counts[keep], name)

    def plot(self, ax=None):
        ax = self._ax(ax)
        if not any(line.get_label() == "perfectly calibrated" for line in ax.get_lines()):
            ax.plot([0, 1], [0, 1], ls=":", c="grey", lw=0.8, label="perfectly calibrated")
        ax.plot(self.prob_pred, self.prob_true, "o-", ms=4, label=self.name or "model")
        ax.set(xlabel="mean fake score", ylabel="fraction fake", xlim=(0, 1), ylim=(0, 1), title="Reliability")
        ax.legend(fontsize=8, loc="upper left")
        return ax


class RobustnessDisplay(Display):
    """A metric vs perturbation level, one line per detector, one panel per perturbation.

    ``table`` has columns perturbation, level, detector, value (level 0 = clean, shared by all panels).
    """

    def __init__(self, table: pd.DataFrame, metric: str = "auc"):
        self.table, self.metric = table, metric
        n = max(1, table["perturbation"].nunique())
        self.figsize = (3.6 * min(n, 3), 3.2 * math.ceil(n / 3))

    @classmethod
    def from_predictions(cls, df: pd.DataFrame, metric: str = "auc") -> RobustnessDisplay:
        """``df``: label, score, detector, perturbation ("none" for clean), level; computes AUC per cell."""
        from sklearn.metrics import roc_auc_score

        rows = []
        clean = df[df["perturbation"].isin(["none", ""])]
        for pert in sorted(set(df["perturbation"]) - {"none", ""}):
            part = pd.concat([clean.assign(level=0), df[df["perturbation"] == pert]])
            for (det, level), g in part.groupby(["detector", "level"]):
                if g["label"].nunique() == 2:
                    rows.append({"perturbation": pert, "level": int(level), "detector": det,
                                 "value": float(roc_auc_score(g["label"], g["score"]))})
        return cls(pd.DataFrame(rows, columns=["perturbation", "level", "detector", "value"]), metric)

    def _perturbations(self) -> list[str]:
        return sorted(self.table["perturbation"].unique())

    def draw(self, fig) -> None:
        n = max(1, len(self._perturbations()))
        self.plot(np.atleast_1d(fig.subplots(math.ceil(n / 3), min(n, 3))).ravel())

    def plot(self, ax=None):
        """``ax``: one axes per perturbation (an array); None makes a new figure."""
        if ax is None:
            fig = pyplot().figure(figsize=self.figsize)
            self.draw(fig)
            return fig.axes
        axes = np.atleast_1d(ax).ravel()
        perts = self._perturbations()
        if axes.size < len(perts):
            raise ValueError(f"need {len(perts)} axes (one per perturbation), got {axes.size}")
        for a, pert in zip(axes, perts):
            for det, g in self.table[self.table["perturbation"] == pert].groupby("detector"):
                g = g.sort_values("level")
                a.plot(g["level"], g["value"], "o-", ms=3, label=str(det))
            a.set(title=pert, xlabel="level", ylabel=self.metric.upper())
            a.legend(fontsize=7)
        for a in axes[len(perts):]:
            a.set_axis_off()
        return axes


class CrossGeneratorDisplay(Display):
    """Heatmap of a metric: rows the generator trained on, columns the generator tested on."""

    def __init__(self, matrix: pd.DataFrame, metric: str = "auc"):
        self.matrix, self.metric = matrix, metric

    @classmethod
    def from_results(cls, df: pd.DataFrame, metric: str = "auc", subject: str | None = None) -> CrossGeneratorDisplay:
        """Rows of the tidy table whose condition reads ``train=A|test=B``."""
        rows = df[(df["metric"] == metric) & df["condition"].str.startswith("train=")]
        if subject is not None:
            rows = rows[rows["subject"] == subject]
        parts = rows["condition"].str.extract(r"train=([^|]*)\|test=(.*)")
        m = pd.DataFrame({"train": parts[0], "test": parts[1], "value": rows["value"].to_numpy()})
        return cls(m.pivot_table(index="train", columns="test", values="value", aggfunc="mean"), metric)

    def plot(self, ax=None):
        ax = self._ax(ax)
        m = self.matrix
        im = ax.imshow(m.to_numpy(float), vmin=0.5 if self.metric == "auc" else None,
                       vmax=1.0 if self.metric == "auc" else None, cmap="viridis")
        ax.set_xticks(range(m.shape[1]), m.columns, rotation=30, ha="right", fontsize=8)
        ax.set_yticks(range(m.shape[0]), m.index, fontsize=8)
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                v = m.iat[i, j]
                if np.isfinite(v):
                    ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=8,
                            color="white" if v < np.nanmean(m.to_numpy(float)) else "black")
        ax.set(xlabel="tested on", ylabel="trained on", title=f"cross-generator {self.metric.upper()}")
        ax.figure.colorbar(im, ax=ax, fraction=0.046)
        return ax


class MetricBarsDisplay(Display):
    """One bar per subject for a metric, with its 95% interval as an error bar."""

    def __init__(self, subjects, values, ci_low, ci_high, metric: str, higher_is_better: bool = True):
        self.subjects, self.values, self.ci_low, self.ci_high = list(subjects), values, ci_low, ci_high
        self.metric, self.higher_is_better = metric, higher_is_better

    @classmethod
    def from_results(cls, df: pd.DataFrame, metric: str) -> MetricBarsDisplay:
        rows = df[(df["metric"] == metric) & (df["status"] == "ok")]
        return cls(rows["subject"].astype(str), rows["value"].to_numpy(float), rows["ci_low"].to_numpy(float),
                   rows["ci_high"].to_numpy(float), metric, bool(rows["higher_is_better"].iloc[0]) if len(rows)
                   else True)

    def plot(self, ax=None):
        ax = self._ax(ax)
        x = np.arange(len(self.subjects))
        v = self.values
        err = np.vstack([np.nan_to_num(v - self.ci_low), np.nan_to_num(self.ci_high - v)])
        ax.bar(x, v, yerr=err, capsize=3, color="#4c78a8")
        ax.set_xticks(x, self.subjects, rotation=30, ha="right", fontsize=8)
        ax.set(ylabel=f"{self.metric} {'↑' if self.higher_is_better else '↓'}", title=self.metric)
        return ax
