"""The static site: builds from run folders (broken parts included), needs no network, renders in Chromium."""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess

import pytest

from forgebench.errors import InputError
from forgebench.reports import commands
from forgebench.reports.site import build_site

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _cli(argv):
    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)


def _site(run_factory, tmp_path):
    good = run_factory(name="run-a")
    bad = run_factory(name="run-b", failed=True, clips=False)
    (bad / "results.csv").write_text("not,a,results\n1,2,3\n")
    (bad / "predictions" / "broken.parquet").write_bytes(b"nope")
    assert _cli(["report", str(good), str(bad), "-o", str(tmp_path / "site"), "--n-boot", "20", "-q"]) == 0
    return tmp_path / "site"


def test_site_pages_tables_figures_and_failures(run_factory, tmp_path):
    site = _site(run_factory, tmp_path)
    index = (site / "index.html").read_text()
    assert 'href="runs/run-a/index.html"' in index and "1 failed: metrics" in index
    page = (site / "runs/run-a/index.html").read_text()
    assert page.count('<table class="fb-sortable"') >= 3 and "<strong>" in page
    for fig in ("roc.png", "det.png", "reliability.png", "robustness.png", "frames.png"):
        assert f'src="fig/{fig}"' in page and (site / "runs/run-a/fig" / fig).stat().st_size > 1000
    md = (site / "runs/run-a/tables/01-detection-test.md").read_text()
    auc = re.search(r"\| xception_like \| \*\*(\d\.\d{3})", md).group(1)
    assert f"<strong>{auc} " in page  # Markdown file and HTML page show the same number
    bad = (site / "runs/run-b/index.html").read_text()
    assert 'id="failed-stages"' in bad and "SyncNet weights missing" in bad
    assert "results.csv is unreadable" in bad and "broken.parquet is unreadable" in bad
    # Offline: no absolute URLs in any page; assets are local files.
    for html_file in site.rglob("*.html"):
        text = html_file.read_text()
        assert not re.search(r"(src|href)=\"(https?:)?//", text), html_file
    assert (site / "assets/sortable.js").is_file() and (site / "assets/style.css").is_file()


def test_rebuild_replaces_the_site_and_refuses_foreign_folders(run_factory, tmp_path):
    run = run_factory(name="r", clips=False)
    out = tmp_path / "site"
    build_site([run], out, n_boot=10, progress=False)
    (out / "stale.txt").write_text("x")
    build_site([run], out, n_boot=10, progress=False)
    assert not (out / "stale.txt").exists() and (out / "index.html").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".site")]  # no temp folders left
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("keep me")
    with pytest.raises(InputError, match="not a forgebench site"):
        build_site([run], foreign, progress=False)
    assert (foreign / "thesis.tex").read_text() == "keep me"


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; .ci/run does)")
def test_site_renders_in_headless_chromium(run_factory, tmp_path):
    site = _site(run_factory, tmp_path)
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'ud'}"]
    for page, shot in ((site / "index.html", "index.png"), (site / "runs/run-a/index.html", "run.png")):
        url = page.resolve().as_uri()
        dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120)
        assert dom.returncode == 0, dom.stderr[-1000:]
        assert "<table" in dom.stdout
        if shot == "run.png":
            imgs = re.findall(r'<img src="fig/([^"]+)"', dom.stdout)
            assert {"roc.png", "det.png", "frames.png"} <= set(imgs)
        r = subprocess.run([CHROMIUM, *flags, f"--screenshot={tmp_path / shot}", "--window-size=1200,1600", url],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and (tmp_path / shot).stat().st_size > 10_000, r.stderr[-1000:]


def test_run_page_leads_with_sample_sizes_folds_conditions_and_ranks_nothing_from_few_clips(run_factory, tmp_path):
    from forgebench.reports.run_data import MIN_CLIPS, load_run
    from forgebench.results import results_frame, write_results

    run = run_factory(name="small", clips=False)
    rows = [dict(task="detection", subject=det, metric="auc", condition=cond, value=v, ci_low=v - 0.3,
                 ci_high=1.0, n=4, higher_is_better=True, split="test")
            for det, v in (("a", 0.9), ("b", 0.6)) for cond in ("clean", "jpeg:3", "h264:2")]
    rows += [dict(task="generation", subject=g, metric="lipsync_landmark", value=v, ci_low=v - 0.1, ci_high=v + 0.1,
                  n=3, higher_is_better=True, split="all") for g, v in (("procedural", 0.8), ("diffusion", 0.7))]
    write_results(results_frame(rows), run / "results.csv")
    build_site([run], tmp_path / "site", n_boot=10, progress=False)
    page = (tmp_path / "site/runs/small/index.html").read_text()
    summary = page[page.index('id="summary"'):page.index("</section>")]
    assert f"rests on 4 clips, fewer than the {MIN_CLIPS}" in summary and "a 0.90" in summary
    assert page.index('id="summary"') < page.index("Motion models compared") < page.index("Detection: real vs fake")
    detection = page[page.index("Detection: real vs fake"):]
    assert detection.count('<table class="fb-sortable"') >= 1 and "jpeg:3" in detection and "h264:2" in detection
    assert page.count("detection · test") == 1  # one table for all conditions, not one per perturbation
    assert "<strong>" not in page.split('id="summary"')[1].split("Run record")[0]  # nothing bold from 3-4 clips
    assert load_run(run).headline().startswith("no headline")
