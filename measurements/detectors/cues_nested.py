"""Nested (leave-one-generator-out) check of the design choices of ``liveliness`` that saw the known fakes.

The deficit score's features, signs and grouping were chosen looking at single-statistic AUCs on the probe
segments of /work/shared/data (cues_motion_probe.py). Here every choice is made again without the generator it is
scored on: for each held-out generator g, the design is chosen by AUC on the other 7 generators' fakes (vs all real
segments), then g's fakes are scored with it. Two choice spaces:

* designs: the 9 designs compared during development (subsets and groupings of the prior-oriented statistics);
* greedy: all 36 statistics of the probe, sign from the other 7 generators, forward selection (each statistic its
  own group) by AUC on the other 7, up to 7 statistics: a choice space much larger than the one used.

Real statistics (median, MAD) always come from real segments of other identities (leave-identity-out).
Reads scratch/cues/motion_crf23.npz (cues_motion_probe.py) and scratch/cues/src/index.csv.

    python measurements/detectors/cues_nested.py
"""
import csv

import numpy as np

from forgebench.metrics.detection import roc_auc

z = np.load("/work/scratch/cues/motion_crf23.npz", allow_pickle=False)
X, keys, lab, gen = z["X"], list(z["keys"]), z["lab"], z["gen"]
ident = np.array([r["identity"] for r in csv.DictReader(open("/work/scratch/cues/src/index.csv"))])
GENS = sorted(set(gen[lab == 1]))
EYES = ["closure_max", "closure_p90", "blink_rate", "clos_vel_kurt"]
DESIGNS = {
    "eyes": {"e": EYES[:3] + ["lr_corr"]},
    "gaze": {"g": ["gaze_std", "gaze_vel_kurt"]},
    "eyes+gaze": {"e": ["closure_max", "blink_rate", "clos_vel_kurt", "gaze_std", "gaze_vel_kurt"]},
    "eyes+gaze+mouth": {"e": ["closure_max", "blink_rate", "clos_vel_kurt", "gaze_std", "gaze_vel_kurt",
                              "mouth_vel_kurt"]},
    "+head": {"e": ["closure_max", "blink_rate", "clos_vel_kurt", "gaze_std", "gaze_vel_kurt", "mouth_vel_kurt",
                    "head_ang_speed"]},
    "groups mean (chosen)": {"eyes": EYES, "gaze": ["gaze_std", "gaze_vel_kurt"], "mouth": ["mouth_vel_kurt"]},
    "groups max": {"eyes": EYES, "gaze": ["gaze_std", "gaze_vel_kurt"], "mouth": ["mouth_vel_kurt"], "max": []},
    "3 single": {"e": ["closure_max"], "g": ["gaze_std"], "m": ["mouth_vel_kurt"]},
    "5 grouped": {"e": ["closure_max", "blink_rate"], "g": ["gaze_std", "gaze_vel_kurt"], "m": ["mouth_vel_kurt"]},
}


def loo_z():
    """[N, F] robust z of every statistic vs the real segments of other identities."""
    out = np.zeros_like(X)
    for i in range(len(X)):
        ref = (lab == 0) & (ident != ident[i])
        mu = np.nanmedian(X[ref], 0)
        sd = 1.4826 * np.nanmedian(np.abs(X[ref] - mu), 0)
        sd = np.where(sd > 1e-9, sd, np.nanstd(X[ref], 0) + 1e-9)
        out[i] = (X[i] - mu) / sd
    return np.nan_to_num(out)


Z = loo_z()
SOFT = np.logaddexp(0, np.clip(-Z, -6, 6))  # "less = fake" orientation
SOFT_UP = np.logaddexp(0, np.clip(Z, -6, 6))


def design_score(d, soft=SOFT):
    groups = {g: fs for g, fs in d.items() if g != "max"}
    per = [soft[:, [keys.index(f) for f in fs]].mean(1) for fs in groups.values()]
    return np.max(per, 0) if "max" in d else np.mean(per, 0)


def auc_on(score, gens):
    m = (lab == 0) | np.isin(gen, gens)
    return roc_auc(lab[m], score[m])


def weighted(per):
    n = {g: int(((gen == g) & (lab == 1)).sum()) for g in GENS}
    return sum(per[g] * n[g] for g in GENS) / sum(n.values())


scores = {name: design_score(d) for name, d in DESIGNS.items()}
plain = {g: auc_on(scores["groups mean (chosen)"], [g]) for g in GENS}
nested, chosen = {}, {}
for g in GENS:
    rest = [h for h in GENS if h != g]
    best = max(DESIGNS, key=lambda name: auc_on(scores[name], rest))
    chosen[g] = best
    nested[g] = auc_on(scores[best], [g])
greedy, picked = {}, {}
for g in GENS:
    rest = [h for h in GENS if h != g]
    cols = []
    for j in range(len(keys)):
        up = auc_on(SOFT_UP[:, j], rest)
        down = auc_on(SOFT[:, j], rest)
        cols.append(SOFT[:, j] if down >= up else SOFT_UP[:, j])
    cols = np.stack(cols, 1)
    sel, best_auc = [], 0.0
    while len(sel) < 7:
        cand = [(auc_on(cols[:, sel + [j]].mean(1), rest), j) for j in range(len(keys)) if j not in sel]
        a, j = max(cand)
        if a <= best_auc + 1e-9:
            break
        sel.append(j)
        best_auc = a
    picked[g] = [keys[j] for j in sel]
    greedy[g] = auc_on(cols[:, sel].mean(1), [g])
print(f"{'generator':11s} {'plain':>6s} {'nested (9 designs)':>19s} {'nested greedy (36 stats)':>25s}")
for g in GENS:
    print(f"{g:11s} {plain[g]:6.3f} {nested[g]:8.3f} ({chosen[g]})  {greedy[g]:8.3f} ({', '.join(picked[g])})")
print(f"{'all (fake-weighted)':20s} plain {weighted(plain):.3f}  nested {weighted(nested):.3f}  "
      f"greedy {weighted(greedy):.3f}  | pooled plain AUC {roc_auc(lab, scores['groups mean (chosen)']):.3f}")
