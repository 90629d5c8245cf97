"""rPPG statistics of the probe clips, real vs known fakes, per encoding (no training: single-feature AUCs).

    python measurements/detectors/cues_rppg_probe.py crf23 crf12
"""
import csv
import itertools
import sys
from pathlib import Path

import numpy as np

from forgebench.metrics.detection import roc_auc
from forgebench.detectors.pulse import (band_coherence, band_correlation, peak_snr, pos_signal, chrom_signal,
                                        spectral_flatness)

SRC, FEAT = Path("/work/scratch/cues/src"), Path("/work/scratch/cues/feat")
NS = 5  # skin regions first, then 2 background boxes


def fill(x):
    """Linear interpolation over NaN rows of [T, 3]."""
    x = x.copy()
    t = np.arange(len(x))
    for c in range(x.shape[1]):
        ok = np.isfinite(x[:, c])
        x[:, c] = np.interp(t, t[ok], x[ok, c]) if ok.any() else 0.0
    return x


def clip_stats(z, method=pos_signal):
    fps = float(z["fps"])
    reg = z["regions"]
    sig = [method(fill(reg[:, r]), fps) for r in range(reg.shape[1])]
    skin = sig[:NS]
    allskin = method(fill(np.nanmean(reg[:, :NS], 1)), fps)
    snrs = [peak_snr(s, fps) for s in skin]
    f0 = np.array([f for _, f in snrs])
    pairs = list(itertools.combinations(range(NS), 2))
    corr = np.mean([band_correlation(skin[a], skin[b], fps) for a, b in pairs])
    coh = np.mean([band_coherence(skin[a], skin[b], fps) for a, b in pairs])
    bg = [s for s, r in zip(sig[NS:], range(NS, reg.shape[1])) if np.isfinite(reg[:, r]).any()]
    bgcorr = np.mean([abs(band_correlation(s, b, fps)) for s in skin for b in bg]) if bg else 0.0
    return {"snr_mean": np.mean([s for s, _ in snrs]), "snr_all": peak_snr(allskin, fps)[0],
            "f0_std": f0.std(), "f0_agree": np.mean(np.abs(f0 - np.median(f0)) < 0.15),
            "corr": corr, "coh": coh, "bg_corr": bgcorr, "corr_minus_bg": corr - bgcorr,
            "flat": np.mean([spectral_flatness(s, fps) for s in skin]),
            "amp": np.log(np.std(allskin) + 1e-9)}


def main():
    rows = list(csv.DictReader(open(SRC / "index.csv")))
    for variant in sys.argv[1:]:
        for mname, method in (("POS", pos_signal), ("CHROM", chrom_signal)):
            stats, lab, gen = [], [], []
            for r in rows:
                z = np.load(FEAT / variant / (r["path"].replace("/", "__")[:-4] + ".npz"))
                stats.append(clip_stats(z, method))
                lab.append(int(r["label"] == "fake"))
                gen.append(r["generator"])
            lab, gen = np.array(lab), np.array(gen)
            keys = list(stats[0])
            X = np.array([[s[k] for k in keys] for s in stats])
            print(f"\n== {variant} {mname}: {int((lab == 0).sum())} real, {int(lab.sum())} fake segments")
            print(f"{'feature':14s} {'real med':>9s} {'fake med':>9s} {'AUC(fake>)':>10s}  per generator (AUC vs all real)")
            for j, k in enumerate(keys):
                per = []
                for g in sorted(set(gen[lab == 1])):
                    m = (lab == 0) | (gen == g)
                    per.append(f"{g[:6]}={roc_auc(lab[m], X[m, j]):.2f}")
                print(f"{k:14s} {np.median(X[lab == 0, j]):9.3f} {np.median(X[lab == 1, j]):9.3f} "
                      f"{roc_auc(lab, X[:, j]):10.3f}  {' '.join(per)}")


if __name__ == "__main__":
    main()
