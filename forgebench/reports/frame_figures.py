"""Frame figures: strips of sample frames from real and generated clips, and per-frame detector scores.

Same Display contract as :mod:`forgebench.reports.figures`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from forgebench.reports.figures import Display


def sample_frames(path: str | Path, n: int = 4, size: tuple[int, int] = (160, 160)) -> np.ndarray:
    """``n`` frames [n, H, W, 3] uint8 evenly spaced through a clip (decoded once, one frame deep in memory)."""
    from forgebench.media.video import iter_frames, probe_video

    total = max(1, int(getattr(probe_video(path), "n_frames", 0) or 0))
    want = set(np.linspace(0, total - 1, n).round().astype(int).tolist()) if total > 1 else None
    frames = []
    for i, f in enumerate(iter_frames(path, size=size)):
        if want is None or i in want:
            frames.append(f)
        if want is not None and len(frames) >= len(want):
            break
        if want is None and len(frames) >= n:
            break
    return np.stack(frames)


class FrameStripDisplay(Display):
    """Rows of frames, one row per clip, titled with its label (real / generator name).

    ``frames`` is a list of [n_i, H, W, 3] uint8 arrays; ``titles`` one string per row.
    """

    def __init__(self, frames: list[np.ndarray], titles: list[str]):
        self.frames, self.titles = frames, titles
        cols = max((len(f) for f in frames), default=1)
        self.figsize = (1.6 * cols, 1.75 * max(1, len(frames)))

    @classmethod
    def from_clips(cls, paths, titles, n_frames: int = 4, size: tuple[int, int] = (160, 160)) -> FrameStripDisplay:
        return cls([sample_frames(p, n_frames, size) for p in paths], list(titles))

    def draw(self, fig) -> None:
        rows, cols = max(1, len(self.frames)), max((len(f) for f in self.frames), default=1)
        self.plot(np.asarray(fig.subplots(rows, cols, squeeze=False)))

    def plot(self, ax=None):
        """``ax``: a [rows, cols] array of axes (None makes a figure)."""
        if ax is None:
            from forgebench.reports.figures import pyplot

            fig = pyplot().figure(figsize=self.figsize)
            self.draw(fig)
            return fig.axes
        axes = np.asarray(ax).reshape(len(self.frames) or 1, -1)
        for r, (clip, title) in enumerate(zip(self.frames, self.titles)):
            for c in range(axes.shape[1]):
                a = axes[r, c]
                a.set_axis_off()
                if c < len(clip):
                    a.imshow(clip[c])
            axes[r, 0].set_title(title, loc="left", fontsize=8)
        return axes


class FrameScoresDisplay(Display):
    """Per-frame fake scores over time, one line per clip or detector; ``scores`` maps name -> [T]."""

    figsize = (6.0, 2.8)

    def __init__(self, scores: dict[str, np.ndarray], fps: float = 25.0, threshold: float | None = 0.5):
        self.scores = {k: np.asarray(v, np.float64) for k, v in scores.items()}
        self.fps, self.threshold = fps, threshold

    @classmethod
    def from_predictions(cls, frame_scores, fps: float = 25.0, threshold: float | None = 0.5) -> FrameScoresDisplay:
        """``frame_scores``: a dict name -> [T], or a frame with columns name, frame, score."""
        if isinstance(frame_scores, dict):
            return cls(frame_scores, fps, threshold)
        df = frame_scores.sort_values(["name", "frame"])
        return cls({str(k): g["score"].to_numpy() for k, g in df.groupby("name")}, fps, threshold)

    def plot(self, ax=None):
        ax = self._ax(ax)
        for name, s in self.scores.items():
            ax.plot(np.arange(len(s)) / self.fps, s, lw=1.2, label=name)
        if self.threshold is not None:
            ax.axhline(self.threshold, ls=":", c="grey", lw=0.8)
        ax.set(xlabel="time (s)", ylabel="fake score", ylim=(-0.02, 1.02), title="per-frame scores")
        ax.legend(fontsize=7, loc="upper right")
        return ax
