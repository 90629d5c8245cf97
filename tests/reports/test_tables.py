"""Tables: Markdown, LaTeX and HTML carry the same numbers; bold goes to the best cell in either direction."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

from forgebench.reports import tables as tb
from forgebench.results import results_frame

NUM = re.compile(r"-?\d+\.\d+")


def _frame():
    rows = []
    rng = np.random.default_rng(3)
    for s in ("det_a", "b&c", "x%y"):
        for m, hib in (("auc", True), ("eer", False)):
            v = float(rng.uniform(0.1, 0.9))
            rows.append(dict(subject=s, metric=m, value=v, ci_low=v - 0.02, ci_high=v + 0.04, n=50,
                             higher_is_better=hib))
    rows.append(dict(subject="det_a", metric="lse_c", value=float("nan"), status="unavailable",
                     note="weights missing: forgebench weights fetch syncnet", higher_is_better=True))
    return results_frame(rows)


def _numbers(text: str) -> list[float]:
    return [float(x) for x in NUM.findall(text)]


def _md_cells(md: str) -> list[list[str]]:
    lines = [ln for ln in md.splitlines() if ln.startswith("|")][2:]
    return [[c.strip() for c in ln.strip("|").split(" | ")] for ln in lines]


def _html_cells(h: str) -> list[list[str]]:
    rows = re.findall(r"<tr>(.*?)</tr>", h.split("<tbody>")[1])
    return [[re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r)] for r in rows]


def _tex_cells(tex: str) -> list[list[str]]:
    body = tex.split(r"\midrule")[1].split(r"\bottomrule")[0]
    return [[c.strip() for c in ln.rstrip("\\ ").split(" & ")] for ln in body.strip().splitlines()]


def test_renderings_carry_the_same_numbers():
    t = tb.pivot(_frame())
    md, tex, h = _md_cells(tb.to_markdown(t)), _tex_cells(tb.to_latex(t)), _html_cells(tb.to_html(t))
    assert len(md) == len(tex) == len(h) == 3
    for rm, rt, rh in zip(md, tex, h):
        for cm, ct, ch in zip(rm[1:], rt[1:], rh[1:]):
            assert _numbers(cm) == _numbers(ct) == _numbers(ch.replace("±", " ")), (cm, ct, ch)
    # And they are the table's own numbers: value and half-width of the interval.
    cell = t.cell("det_a", "auc")
    assert _numbers(md[0][1]) == [round(cell.value, 3), round((cell.ci_high - cell.ci_low) / 2, 3)]
    csv = tb.to_frame(t)
    assert np.isclose(csv.loc[0, "auc"], cell.value) and np.isnan(csv.loc[0, "lse_c"])


@pytest.mark.parametrize("hib", [True, False])
def test_bold_goes_to_the_best_cell_in_either_direction(hib):
    df = results_frame([dict(subject=s, metric="m", value=v, higher_is_better=hib)
                        for s, v in (("low", 0.2), ("mid", 0.5), ("high", 0.8))])
    t = tb.pivot(df)
    want = "high" if hib else "low"
    md = tb.to_markdown(t)
    assert [ln for ln in md.splitlines() if "**" in ln][0].startswith(f"| {want} ")
    assert "↑" in md if hib else "↓" in md
    tex = tb.to_latex(t)
    assert [ln for ln in tex.splitlines() if r"\mathbf" in ln][0].startswith(want)
    h = tb.to_html(t)
    assert re.search(rf'data-sort="{want}">{want}</th><td[^>]*><strong>', h)
    assert h.count("<strong>") == 1 and md.count("**") == 2


def test_unavailable_is_na_with_a_footnote_and_intervals_as_brackets():
    t = tb.pivot(_frame())
    md = tb.to_markdown(t)
    assert "n/a[^1]" in md and "[^1]: weights missing: forgebench weights fetch syncnet" in md
    assert "[^2]: not computed" in md  # b&c and x%y have no lse_c row
    tex = tb.to_latex(t, interval="bracket")
    assert "n/a$^{1}$" in tex and re.search(r"\$0\.\d{3}\\ \[0\.\d{3}, 0\.\d{3}\]\$", tex)


def test_a_value_without_an_interval_is_said_under_the_table():
    t = tb.pivot(_frame())
    assert tb.NO_INTERVAL not in tb.to_markdown(t) + tb.to_html(t) + tb.to_latex(t)  # every value has one
    rows = [dict(subject="one_identity", metric="auc", value=0.75, n=4, higher_is_better=True),
            dict(subject="many", metric="auc", value=0.8, ci_low=0.7, ci_high=0.9, n=40, higher_is_better=True)]
    t = tb.pivot(results_frame(rows))
    md, h, tex = tb.to_markdown(t), tb.to_html(t), tb.to_latex(t)
    assert tb.NO_INTERVAL in md and f'<p class="fb-remark">{tb.NO_INTERVAL}</p>' in h
    assert "fewer than two identities" in tex
    assert "| one_identity | 0.750 |" in md  # the bare value, no ±
    assert tb.NO_INTERVAL not in tb.to_markdown(t, interval="none")


def test_latex_is_compile_shaped_and_escaped():
    tex = tb.to_latex(tb.pivot(_frame(), title="a_b & 50%"), label="tab:x")
    assert r"b\&c" in tex and r"x\%y" in tex and r"det\_a" in tex and r"a\_b \& 50\%" in tex
    depth = 0
    for ch in re.sub(r"\\[{}]", "", tex):
        depth += (ch == "{") - (ch == "}")
        assert depth >= 0
    assert depth == 0 and tex.count("$") % 2 == 0
    assert tex.count(r"\begin{") == tex.count(r"\end{") == 2
    assert all(k in tex for k in (r"\toprule", r"\midrule", r"\bottomrule"))


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed (optional check)")
def test_latex_compiles(tmp_path):
    doc = ("\\documentclass{article}\\usepackage{booktabs}\\usepackage[utf8]{inputenc}\\begin{document}"
           + tb.to_latex(tb.pivot(_frame())) + "\\end{document}")
    (tmp_path / "t.tex").write_text(doc)
    r = subprocess.run(["pdflatex", "-interaction=nonstopmode", "t.tex"], cwd=tmp_path, capture_output=True,
                       timeout=60)
    assert r.returncode == 0, r.stdout[-2000:]


def test_seeds_get_their_own_rows_and_ambiguous_rows_are_refused():
    df = results_frame([dict(subject="a", metric="auc", value=v, seed=s, higher_is_better=True)
                        for s, v in ((0, 0.8), (1, 0.9))])
    assert tb.pivot(df).subjects == ["a (seed 0)", "a (seed 1)"]
    df2 = results_frame([dict(subject="a", metric="auc", value=v, condition=c, higher_is_better=True)
                         for c, v in (("clean", 0.8), ("jpeg:3", 0.7))])
    with pytest.raises(Exception, match="filter"):
        tb.pivot(df2)
    assert [title for title, _ in tb.split_groups(df2)] == ["clean", "jpeg:3"]


def test_conditions_fold_into_one_table_and_small_samples_are_never_bold():
    rows = []
    for cond, n in (("clean", 40), ("jpeg:3", 40), ("h264:2", 6)):
        for s, v in (("a", 0.9), ("b", 0.7)):
            rows.append(dict(subject=s, metric="lipsync_landmark", condition=cond, value=v - 0.1 * (cond != "clean"),
                             ci_low=v - 0.2, ci_high=v, n=n, higher_is_better=True))
    t = tb.pivot(results_frame(rows), index=["subject", "condition"], min_n=20)
    md = tb.to_markdown(t)
    assert md.splitlines()[0].startswith("| subject | condition | lipsync_landmark")
    cells = _md_cells(md)
    assert [c[:2] for c in cells] == [["a", "clean"], ["b", "clean"], ["a", "jpeg:3"], ["b", "jpeg:3"],
                                      ["a", "h264:2"], ["b", "h264:2"]]  # in the order given
    # Bold: the best of each condition among values from at least min_n clips (n = 40), never from n = 6.
    assert [c[2].startswith("**") for c in cells] == [True, False, True, False, False, False]
    h = tb.to_html(t)
    assert h.count("<strong>") == 2 and "lipsync_<wbr>landmark" in h and len(_html_cells(h)[0]) == 3
    assert list(tb.to_frame(t).columns[:2]) == ["subject", "condition"]
    small = tb.pivot(results_frame([r for r in rows if r["condition"] == "h264:2"]), min_n=20)
    assert "**" not in tb.to_markdown(small) and "<strong>" not in tb.to_html(small)
