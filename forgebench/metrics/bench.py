"""``forgebench bench metrics``: FID speed against the stock ``python -m pytorch_fid`` CLI, at equal value.

Both sides score the same two folders of PNG frames (N vs N, 256x256 by
default) with the same weights: ours loads ``fid_inception`` from the registry;
the stock CLI gets those weights too, written in pytorch-fid's own
``pt_inception`` layout to a temporary file that its download function is
pointed at (the reference digest cannot match a re-saved file, so the state
dict is loaded directly, strictly, by pytorch-fid itself). Frames come from
real videos (``--videos A.mp4 B.mp4 ...``: the first fills set A, the rest set
B), from two existing folders of PNG frames (``--dirs A B``, all PNGs in each,
scored as they are) or, by default, synthetic smooth images. Both times are
wall clock, including model loading and PNG decoding; both FID values are
reported, with the 1-minute load average before and after (the machine may be
shared).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np

from forgebench.errors import ForgebenchError, InputError


def _synthetic(n: int, size: int, seed: int, shift: float) -> np.ndarray:
    import torch

    rng = np.random.default_rng(seed)
    base = torch.from_numpy(rng.normal(size=(n, 3, 8, 8)) + shift)
    up = torch.nn.functional.interpolate(base, size=(size, size), mode="bicubic").permute(0, 2, 3, 1).numpy()
    return (up * 40 + 128).clip(0, 255).astype(np.uint8)


def _video_frames(paths: list[Path], n: int, size: int) -> np.ndarray:
    from forgebench.media.video import iter_frames

    frames: list[np.ndarray] = []
    for p in paths:
        for f in iter_frames(p, size=(size, size)):
            frames.append(f)
            if len(frames) == n:
                return np.stack(frames)
    raise InputError(f"{', '.join(map(str, paths))} give only {len(frames)} frames; {n} are needed (lower --frames)")


def _write_pngs(folder: Path, frames: np.ndarray) -> None:
    from PIL import Image

    folder.mkdir(parents=True)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: Image.fromarray(frames[i]).save(folder / f"{i:05d}.png"), range(len(frames))))


def pt_inception_state(model: Any) -> dict[str, Any]:
    """``model`` (pytorch-fid InceptionV3) as a ``pt_inception-*.pth`` state dict (torchvision names, fc zeroed)."""
    import pytorch_fid.inception as pfi
    import torch

    built: dict[str, Any] = {}
    real_builder = pfi._inception_v3

    def capture(*a: Any, **k: Any) -> Any:
        built["m"] = real_builder(*a, **k)
        return built["m"]

    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(pfi, "_inception_v3", capture))
        stack.enter_context(mock.patch.object(pfi, "load_state_dict_from_url", lambda *a, **k: built["m"].state_dict()))
        fresh = pfi.InceptionV3([3])
    # The wrapper and the torchvision model share modules: match names through tensor identity.
    by_ptr = {t.data_ptr(): k for k, t in built["m"].state_dict().items()}
    ours = model.state_dict()
    out = {by_ptr[t.data_ptr()]: ours[k] for k, t in fresh.state_dict().items()}
    out["fc.weight"] = torch.zeros_like(built["m"].fc.weight)  # pool3 FID never uses the 1008-class head
    out["fc.bias"] = torch.zeros_like(built["m"].fc.bias)
    return out


_STOCK = (
    "import sys, torch, pytorch_fid.inception as pi, pytorch_fid.fid_score as fs\n"
    "w = sys.argv[1]\n"
    "pi.load_state_dict_from_url = lambda *a, **k: torch.load(w, map_location='cpu', weights_only=True)\n"
    "sys.argv = ['pytorch_fid', sys.argv[2], sys.argv[3], '--device', 'cpu']\n"
    "fs.main()\n"
)


def run_stock_cli(weights_file: Path, dir_a: Path, dir_b: Path) -> tuple[float, float]:
    """(FID, seconds) of the stock pytorch-fid CLI with ``weights_file`` in place of its download."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _STOCK, str(weights_file), str(dir_a), str(dir_b)], capture_output=True, text=True
    )
    dt = time.perf_counter() - t0
    match = re.search(r"FID:\s+([-0-9.eE+]+)", proc.stdout)
    if proc.returncode != 0 or not match:
        raise ForgebenchError(f"the stock pytorch-fid CLI failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
    return float(match.group(1)), dt


def run_ours(dir_a: Path, dir_b: Path, batch_size: int = 50) -> tuple[float, float]:
    """(FID, seconds) of forgebench's FID on two PNG folders, from loading the network to the value."""
    from forgebench.metrics.frechet import StreamingGaussianStats, frechet_distance
    from forgebench.metrics.inception import InceptionFeatures, load_fid_inception
    from forgebench.metrics.inputs import read_image

    t0 = time.perf_counter()
    model, _ = load_fid_inception("fid_inception")
    ex = InceptionFeatures(model, batch_size=batch_size)
    stats = []
    with ThreadPoolExecutor(2) as pool:  # decode the next batch of PNGs while the network runs
        for folder in (dir_a, dir_b):
            files = sorted(folder.glob("*.png"))
            s = StreamingGaussianStats()
            chunks = [files[i : i + batch_size] for i in range(0, len(files), batch_size)]
            pending = pool.submit(lambda c: np.stack([read_image(f) for f in c]), chunks[0])
            for nxt in [*chunks[1:], None]:
                batch = pending.result()
                if nxt is not None:
                    pending = pool.submit(lambda c: np.stack([read_image(f) for f in c]), nxt)
                s.update(ex(batch))
            stats.append(s.mean_cov())
    value = frechet_distance(*stats[0], *stats[1])
    return value, time.perf_counter() - t0


def _time_both(dir_a: Path, dir_b: Path, skip_stock: bool, weights_dir: Path) -> dict[str, Any]:
    """Our FID then the stock CLI's on two PNG folders: values, seconds, speed-up, load average."""
    import os

    import torch

    from forgebench.metrics.inception import load_fid_inception

    result: dict[str, Any] = {"torch_threads": torch.get_num_threads(), "load_1min_before": os.getloadavg()[0]}
    ours_value, ours_s = run_ours(dir_a, dir_b)
    result.update(ours_fid=ours_value, ours_s=ours_s)
    if not skip_stock:
        weights = weights_dir / "pt_inception-mapped.pth"
        torch.save(pt_inception_state(load_fid_inception("fid_inception")[0]), weights)
        stock_value, stock_s = run_stock_cli(weights, dir_a, dir_b)
        result.update(
            stock_fid=stock_value,
            stock_s=stock_s,
            speedup=stock_s / ours_s,
            rel_diff=abs(ours_value - stock_value) / max(abs(stock_value), 1e-12),
        )
    result["load_1min_after"] = os.getloadavg()[0]
    return result


def run_metrics_bench(
    frames: int = 1000,
    size: int = 256,
    videos: list[Path] | None = None,
    skip_stock: bool = False,
    workdir: Path | None = None,
    dirs: list[Path] | None = None,
) -> dict[str, Any]:
    """Build the two PNG sets (or take ``dirs``), time both FID implementations, return the numbers."""
    with tempfile.TemporaryDirectory(prefix="forgebench-bench-", dir=workdir) as td:
        tmp = Path(td)
        if dirs:
            if len(dirs) != 2:
                raise InputError("--dirs needs exactly two folders of PNG frames")
            n = [len(list(Path(d).glob("*.png"))) for d in dirs]
            if min(n) < 2:
                raise InputError(f"--dirs: {dirs[0]} has {n[0]} and {dirs[1]} has {n[1]} PNG files; each needs >= 2")
            result: dict[str, Any] = {"frames": n, "size": None, "source": f"dirs {dirs[0]} {dirs[1]}"}
            result.update(_time_both(Path(dirs[0]), Path(dirs[1]), skip_stock, tmp))
            return result
        if videos:
            if len(videos) < 2:
                raise InputError("--videos needs at least two files: the first fills set A, the others set B")
            a, b = _video_frames(videos[:1], frames, size), _video_frames(videos[1:], frames, size)
        else:
            a, b = _synthetic(frames, size, 0, 0.0), _synthetic(frames, size, 1, 0.5)
        _write_pngs(tmp / "a", a)
        _write_pngs(tmp / "b", b)
        result = {"frames": frames, "size": size, "source": "videos" if videos else "synthetic"}
        result.update(_time_both(tmp / "a", tmp / "b", skip_stock, tmp))
        return result


def cmd_bench_metrics(args: argparse.Namespace) -> int:
    from forgebench.weights import require_weights

    require_weights("fid_inception")  # one-line fix if missing, before any work
    r = run_metrics_bench(args.frames, args.size, args.videos, args.skip_stock, dirs=args.dirs)
    frames = r["frames"] if isinstance(r["frames"], list) else [r["frames"]] * 2
    shape = f" {r['size']}x{r['size']}" if r["size"] else ""
    print(
        f"FID {frames[0]} vs {frames[1]} frames{shape} ({r['source']}), {r['torch_threads']} torch threads, "
        f"load {r['load_1min_before']:.2f} -> {r['load_1min_after']:.2f}"
    )
    rate = sum(frames) / r["ours_s"]
    print(f"  forgebench:       FID {r['ours_fid']:.6f} in {r['ours_s']:.1f} s ({rate:.2f} img/s)")
    if "stock_fid" in r:
        print(
            f"  pytorch-fid CLI:  FID {r['stock_fid']:.6f} in {r['stock_s']:.1f} s "
            f"({sum(frames) / r['stock_s']:.2f} img/s)"
        )
        print(f"  speed-up {r['speedup']:.2f}x, relative difference {r['rel_diff']:.2e}")
    return 0
