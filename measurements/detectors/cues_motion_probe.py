"""Blink, gaze, head-motion, lip-audio and background-coupling statistics of the probe clips, real vs known fakes
(no training: each statistic's AUC alone, overall and per generator; 'fake>' means larger in fakes).

    python measurements/detectors/cues_motion_probe.py [crf23]
"""
import csv
import sys
from pathlib import Path

import numpy as np
from scipy.stats import kurtosis

from forgebench.metrics.detection import roc_auc
from forgebench.media.analyze import track_from_landmarks

SRC, FEAT = Path("/work/scratch/cues/src"), Path("/work/scratch/cues/feat")


def runs(mask):
    e = np.diff(np.concatenate([[0], mask.astype(int), [0]]))
    return np.flatnonzero(e == 1), np.flatnonzero(e == -1)


def corr(a, b):
    if len(a) < 3 or np.std(a) < 1e-12 or np.std(b) < 1e-12:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def stats(z):
    fps = float(z["fps"])
    tr = track_from_landmarks(z["landmarks"], z["valid"], fps, int(z["width"]), int(z["height"]))
    T = tr.n_frames
    dur = T / fps
    f = {}
    bl, br = tr.expr("blink_left").astype(float), tr.expr("blink_right").astype(float)
    clos = 0.5 * (bl + br)
    s, e = runs(clos > 0.5)
    f["blink_rate"] = len(s) / dur * 60
    f["blink_dur"] = float(np.mean(e - s) / fps) if len(s) else 0.0
    f["closure_max"] = float(clos.max())
    f["closure_p90"] = float(np.percentile(clos, 90))
    f["lr_corr"] = corr(bl, br)
    f["lr_absdiff"] = float(np.mean(np.abs(bl - br)))
    # closing vs opening speed around the deepest blink
    v = np.diff(clos) * fps
    f["clos_vel_kurt"] = float(kurtosis(v))
    f["close_open_ratio"] = float(np.percentile(v, 99) / max(-np.percentile(v, 1), 1e-6))
    # gaze
    g = tr.gaze.astype(float)
    gv = np.linalg.norm(np.diff(g, axis=0), axis=1) * fps
    gv_open = gv[(clos[1:] < 0.3) & (clos[:-1] < 0.3)] if ((clos[1:] < 0.3) & (clos[:-1] < 0.3)).sum() > 5 else gv
    f["gaze_std"] = float(g.std(0).mean())
    f["gaze_vel_med"] = float(np.median(gv_open))
    f["gaze_vel_kurt"] = float(kurtosis(gv_open))
    thr = np.median(gv_open) + 3 * np.median(np.abs(gv_open - np.median(gv_open))) * 1.4826 + 1e-9
    f["saccade_rate"] = float(len(runs(gv_open > thr)[0]) / dur)
    pose = tr.pose.astype(float)
    yawv, pitchv = np.diff(pose[:, 0]), np.diff(pose[:, 1])
    f["vor_x"] = corr(np.diff(g[:, 0]), yawv)  # gaze-in-face vs head yaw velocity
    f["vor_y"] = corr(np.diff(g[:, 1]), pitchv)
    # head motion
    ang = np.diff(pose[:, :3], axis=0) * fps
    angs = np.linalg.norm(ang, axis=1)
    f["head_ang_speed"] = float(np.median(angs))
    f["head_ang_kurt"] = float(kurtosis(angs))
    acc = np.diff(pose[:, :3], n=2, axis=0) * fps * fps
    f["head_jerk_ratio"] = float(np.median(np.linalg.norm(acc, axis=1)) / max(np.median(angs) * fps, 1e-6))
    iod = pose[:, 5]
    txv, tyv = np.diff(pose[:, 3]) / iod[1:], np.diff(pose[:, 4]) * (int(z["height"]) / int(z["width"])) / iod[1:]
    f["yaw_tx_corr"] = corr(yawv, txv)
    f["pitch_ty_corr"] = corr(pitchv, tyv)
    trans = np.hypot(txv, tyv) * fps
    f["trans_over_rot"] = float(np.median(trans) / max(np.median(angs), 1e-6))
    f["scale_std"] = float(np.std(np.log(iod)))
    f["roll_std"] = float(pose[:, 2].std())
    # head spectrum slope: log power vs log freq of yaw
    from forgebench.detectors.pulse import power_spectrum
    fr, p = power_spectrum(pose[:, 0], fps, 512)
    sel = (fr > 0.3) & (fr < 8)
    f["yaw_slope"] = float(np.polyfit(np.log(fr[sel]), np.log(p[sel] + 1e-12), 1)[0])
    # mouth and audio
    mouth = tr.expr("jaw_open").astype(float)
    bands = z["bands"].astype(float)
    en = bands[:, 0]
    has_audio = bool(z["has_audio"]) and en.std() > 1e-6
    m_n = (mouth - mouth.min()) / max(np.ptp(mouth), 1e-9)
    mv = np.diff(mouth) * fps
    f["mouth_vel_kurt"] = float(kurtosis(mv))
    f["mouth_closed_frac"] = float(np.mean(m_n < 0.1))
    f["mouth_min_over_range"] = float(np.percentile(mouth, 5) / max(np.ptp(mouth), 1e-9))
    if has_audio:
        speech = en > np.percentile(en, 30) + 0.3 * (np.percentile(en, 95) - np.percentile(en, 30))
        f["mouth_closed_in_speech"] = float(np.mean(m_n[speech] < 0.15)) if speech.sum() > 5 else 0.0
        sil = ~speech
        f["mouth_open_in_silence"] = float(np.mean(m_n[sil])) - float(np.mean(m_n[speech])) if sil.sum() > 5 else 0.0
        ev = np.diff(en)
        lags = range(-6, 7)
        cc = [corr(mv[max(0, -l):len(mv) - max(0, l)], ev[max(0, l):len(ev) - max(0, -l)]) for l in lags]
        f["onset_corr_peak"] = float(max(cc))
        f["onset_lag"] = float(list(lags)[int(np.argmax(cc))])
        cc2 = [corr(m_n[max(0, -l):len(m_n) - max(0, l)], en[max(0, l):len(en) - max(0, -l)]) for l in lags]
        f["env_corr_peak"] = float(max(cc2))
        f["env_lag"] = float(list(lags)[int(np.argmax(cc2))])
        f["env_corr_sharp"] = float(max(cc2) - np.mean(cc2))
    else:
        for k in ("mouth_closed_in_speech", "mouth_open_in_silence", "onset_corr_peak", "onset_lag", "env_corr_peak",
                  "env_lag", "env_corr_sharp"):
            f[k] = np.nan
    # background coupling
    bg = z["bgmotion"].astype(float)
    okb = [b for b in range(bg.shape[1]) if np.isfinite(bg[1:, b, 0]).all()]
    if okb:
        bvx = np.mean([bg[1:, b, 0] for b in okb], 0)
        bvy = np.mean([bg[1:, b, 1] for b in okb], 0)
        hvx = np.diff(pose[:, 3]) * int(z["width"])
        hvy = np.diff(pose[:, 4]) * int(z["height"])
        f["bg_head_corr"] = 0.5 * (corr(bvx, hvx) + corr(bvy, hvy))
        f["bg_speed_over_head"] = float(np.median(np.hypot(bvx, bvy)) / max(np.median(np.hypot(hvx, hvy)), 1e-6))
        f["bg_speed"] = float(np.median(np.hypot(bvx, bvy)))
        f["bg_resp"] = float(np.median(bg[1:, okb, 2]))
    else:
        f.update(bg_head_corr=np.nan, bg_speed_over_head=np.nan, bg_speed=np.nan, bg_resp=np.nan)
    return f


def main():
    variant = sys.argv[1] if len(sys.argv) > 1 else "crf23"
    rows = list(csv.DictReader(open(SRC / "index.csv")))
    S, lab, gen = [], [], []
    for r in rows:
        z = np.load(FEAT / variant / (r["path"].replace("/", "__")[:-4] + ".npz"))
        S.append(stats(z))
        lab.append(int(r["label"] == "fake"))
        gen.append(r["generator"])
    lab, gen = np.array(lab), np.array(gen)
    keys = list(S[0])
    X = np.array([[s[k] for k in keys] for s in S], float)
    np.savez(f"/work/scratch/cues/motion_{variant}.npz", X=X, keys=keys, lab=lab, gen=gen)
    print(f"{variant}: {int((lab == 0).sum())} real, {int(lab.sum())} fake segments")
    print(f"{'feature':22s} {'real med':>9s} {'fake med':>9s} {'AUC':>6s}  per generator (AUC fake> vs all real)")
    for j, k in enumerate(keys):
        ok = np.isfinite(X[:, j])
        per = []
        for g in sorted(set(gen[lab == 1])):
            m = ok & ((lab == 0) | (gen == g))
            per.append(f"{g[:6]}={roc_auc(lab[m], X[m, j]):.2f}" if lab[m].sum() and (lab[m] == 0).sum() else
                       f"{g[:6]}=n/a")
        print(f"{k:22s} {np.median(X[ok & (lab == 0), j]):9.3f} {np.median(X[ok & (lab == 1), j]):9.3f} "
              f"{roc_auc(lab[ok], X[ok, j]):6.3f}  {' '.join(per)}")


if __name__ == "__main__":
    main()
