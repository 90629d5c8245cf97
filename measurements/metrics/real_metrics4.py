"""FID, KID, FVD16, CSIM and I3D Kinetics top-5 with the real standard weights: 10 real clips vs 12 generated clips.

Inputs: the 10 real clips in /work/shared/data; the clips from gen_clips.py; the PNG frames from
extract_fid_frames.py (1,000 real = 100 per real clip in index.csv order, 1,000 generated).
Run: .venv/bin/python measurements/metrics/real_metrics4.py [inception|i3d|csim|report ...] (default: all)
Numbers go to scratch/metrics4/real_metrics4.json (features cached in *.npz next to it).
"""
import csv, json, sys, time
from pathlib import Path
import numpy as np, torch, cv2
torch.set_num_threads(2)
D = Path("/work/shared/data"); HERE = Path(__file__).parent
REAL = [D / r["file"] for r in csv.DictReader(open(D / "index.csv")) if r["kind"] == "real_video"]
GEN = sorted((HERE / "gen").glob("*.mp4"))
OUT = HERE / "real_metrics4.json"
res = json.loads(OUT.read_text()) if OUT.exists() else {}
steps = sys.argv[1:] or ["inception", "i3d", "csim", "report"]
rng = np.random.default_rng(0)

def square(f, size):
    h, w = f.shape[:2]; s = min(h, w)
    f = f[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    return cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA if s > size else cv2.INTER_CUBIC)

def frames_of(path, size):
    from forgebench.media.video import iter_frames
    return np.stack([square(f, size) for f in iter_frames(path)])

def splits(n_videos, n_rep=20):
    for _ in range(n_rep):
        p = rng.permutation(n_videos); yield p[: n_videos // 2], p[n_videos // 2:]

def spread(v):
    return {"mean": float(np.mean(v)), "min": float(np.min(v)), "max": float(np.max(v)), "n": len(v)}

if "inception" in steps:
    from forgebench.metrics.inception import InceptionFeatures, load_fid_inception
    from forgebench.metrics.inputs import read_image
    t0 = time.perf_counter()
    ex = InceptionFeatures(load_fid_inception("fid_inception")[0], batch_size=50)
    feats = {}
    for side in ("real", "gen"):
        files = sorted((HERE / "fid_frames" / side).glob("*.png"))[::2]  # 500 a side (time); 50 per real clip
        feats[side] = np.concatenate([ex(np.stack([read_image(f) for f in files[i:i + 50]])) for i in range(0, len(files), 50)])
    np.savez(HERE / "inception_feats.npz", **feats)
    print("inception features", {k: v.shape for k, v in feats.items()}, f"{time.perf_counter() - t0:.0f}s", flush=True)

if "i3d" in steps:
    from forgebench.metrics.fvd import i3d_model, i3d_logits
    from forgebench.metrics.i3d import kinetics400_labels
    model, labels = i3d_model(), kinetics400_labels()
    K = {"real": 5, "gen": 4}
    cache = HERE / "i3d_feats.npz"
    out = {k.replace("__", "/", 1): v for k, v in np.load(cache).items()} if cache.exists() else {}
    top5 = res.get("kinetics_top5_mean_over_windows", {})
    t0 = time.perf_counter()
    for side, vids in (("real", REAL), ("gen", GEN)):
        for v in vids:
            if f"{side}/{v.name}" in out:
                continue
            fr = frames_of(v, 224)
            k = min(K[side], len(fr) // 16)
            starts = np.linspace(0, len(fr) - 16, k).round().astype(int)  # non-overlapping, spread over the clip
            lg = i3d_logits(model, [fr[s:s + 16] for s in starts])
            out[f"{side}/{v.name}"] = lg
            p = torch.from_numpy(lg).softmax(1).mean(0)
            t = p.topk(5)
            top5[v.name] = [(labels[int(i)], round(float(x), 3)) for x, i in zip(t.values, t.indices)]
            print(side, v.name[:40], lg.shape, f"{time.perf_counter() - t0:.0f}s", top5[v.name][:3], flush=True)
            np.savez(cache, **{k.replace("/", "__"): x for k, x in out.items()})
            res["kinetics_top5_mean_over_windows"] = top5
            OUT.write_text(json.dumps(res, indent=1))

PORTRAITS = [D / "sadtalker_art_2.png", D / "sadtalker_happy.png", D / "sadtalker_full_body_2.png"] + [
    HERE / "portraits" / f"{n}_f0.png" for n in ("sadtalker_WDA_AlexandriaOcasioCortez_000", "liveportrait_d6",
    "liveportrait_d20", "real3dportrait_May_5s", "pcavs_Audio_Source_00015", "pcavs_Input_00098",
    "videoretalking_face_2", "latentsync_demo1_video", "vexpress_short_case_AOC_gt")]  # gen_clips.py JOBS order

if "csim" in steps:
    from PIL import Image
    from forgebench.metrics.identity import csim
    t0 = time.perf_counter()
    cs = {"real_frame0_vs_rest": {}, "gen_portrait_vs_frames": {}, "impostor_portrait_vs_other_real": {}}
    real_frames = {}
    for v in REAL:
        fr = frames_of(v, 256)
        real_frames[v.name] = fr
        cs["real_frame0_vs_rest"][v.name] = csim(fr[0], fr[1:])
    for g in GEN:
        k = int(g.name[1:3])
        src = np.asarray(Image.open(PORTRAITS[k]).convert("RGB"))
        cs["gen_portrait_vs_frames"][g.name] = csim(src, frames_of(g, 256))
        # impostor baseline: the same portrait against a real clip of another person (next AOC-free clip in the list)
        other = REAL[(k + 3) % len(REAL)]
        cs["impostor_portrait_vs_other_real"][f"{PORTRAITS[k].name} vs {other.name}"] = csim(src, real_frames[other.name])
    for k2, d in cs.items():
        vals = [v[0] for v in d.values()]
        print(k2, f"mean {np.mean(vals):.3f} [min {np.min(vals):.3f}, max {np.max(vals):.3f}] n={len(vals)}", flush=True)
    res["csim"] = {k2: {n: [round(a, 4), round(b, 3)] for n, (a, b) in d.items()} for k2, d in cs.items()}
    res["csim_summary"] = {k2: spread([v[0] for v in d.values()]) for k2, d in cs.items()}
    print(f"csim {time.perf_counter() - t0:.0f}s")
    OUT.write_text(json.dumps(res, indent=1))

if "report" in steps:
    from forgebench.metrics.fid import kid_from_features
    from forgebench.metrics.frechet import frechet_distance, gaussian_stats
    from forgebench.metrics.fvd import fvd_from_features
    fd = lambda a, b: frechet_distance(*gaussian_stats(a), *gaussian_stats(b))
    z = np.load(HERE / "inception_feats.npz")
    real, gen = z["real"], z["gen"]
    vid = np.repeat(np.arange(len(REAL)), len(real) // len(REAL))  # 50 frames per real clip, index.csv order
    r = {"inception_frames": [len(real), len(gen)], "fid_real_vs_gen_500": fd(real, gen),
         "kid_real_vs_gen_500": kid_from_features(real, gen, num_subsets=100, max_subset_size=250)}
    rr, rg, kr, kg = [], [], [], []
    for a, b in splits(len(REAL), 6):  # 6 splits: each FID is a 2048-d sqrtm (minutes on this shared CPU)
        fa, fb = real[np.isin(vid, a)], real[np.isin(vid, b)]
        g = gen[rng.choice(len(gen), len(fb), replace=False)]  # same sizes: same small-sample bias
        rr.append(fd(fa, fb)); rg.append(fd(fa, g))
        kr.append(kid_from_features(fa, fb, num_subsets=50, max_subset_size=200)[0])
        kg.append(kid_from_features(fa, g, num_subsets=50, max_subset_size=200)[0])
    r["fid_real_half_vs_real_half_by_video"] = spread(rr)
    r["fid_real_half_vs_gen_same_size"] = spread(rg)
    r["kid_real_half_vs_real_half_by_video"] = spread(kr)
    r["kid_real_half_vs_gen_same_size"] = spread(kg)
    z = np.load(HERE / "i3d_feats.npz")
    keys = list(z.files)
    rk = [k for k in keys if k.startswith("real__")]; gk = [k for k in keys if k.startswith("gen__")]
    R = np.concatenate([z[k] for k in rk]); G = np.concatenate([z[k] for k in gk])
    r["fvd16_windows"] = {"real": len(R), "gen": len(G)}
    r["fvd16_real_vs_gen"] = fvd_from_features(R, G)
    rr, rg = [], []
    for a, b in splits(len(rk)):
        A = np.concatenate([z[rk[i]] for i in a]); B = np.concatenate([z[rk[i]] for i in b])
        rr.append(fvd_from_features(A, B))
        rg.append(fvd_from_features(A, G[rng.choice(len(G), len(B), replace=False)]))
    r["fvd16_real_half_vs_real_half_by_video"] = spread(rr)
    r["fvd16_real_half_vs_gen_same_size"] = spread(rg)
    # bootstrap over videos of FVD real vs gen
    bs = []
    for _ in range(50):
        A = np.concatenate([z[rk[i]] for i in rng.integers(0, len(rk), len(rk))])
        B = np.concatenate([z[gk[i]] for i in rng.integers(0, len(gk), len(gk))])
        bs.append(fvd_from_features(A, B))
    r["fvd16_real_vs_gen_bootstrap_videos"] = {"p2.5": float(np.percentile(bs, 2.5)), "p97.5": float(np.percentile(bs, 97.5))}
    res["report"] = r
    OUT.write_text(json.dumps(res, indent=1))
    print(json.dumps(r, indent=1))
