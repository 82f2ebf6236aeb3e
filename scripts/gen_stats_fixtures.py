#!/usr/bin/env python3
"""Reference values for cxr's evaluation statistics, computed with scikit-learn, SciPy and numpy.

Writes tests/fixtures/stats/reference.json, read by tests/it/evaluate.rs (the tests need no
Python). Pinned versions (pip install --quiet scikit-learn==1.9.1 scipy==1.17.1 numpy==2.4.6):
  scikit-learn 1.9.1, scipy 1.17.1, numpy 2.4.6, Python 3.11.

Cases:
  auroc       sklearn.metrics.roc_auc_score on the stated labels (1/0; -1 and null left out),
              including ties, constant predictions, perfect / inverted scores and single-class
              findings (sklearn returns nan with a warning
              there, or raises in older versions -> expected null).
  youden      threshold = roc_curve(val).thresholds[argmax(tpr - fpr)] (first maximum; +inf -> null),
              then sensitivity / specificity / accuracy / F1 of (p >= threshold) on test with
              sklearn.metrics.{recall_score, accuracy_score, f1_score}.
  bh          scipy.stats.false_discovery_control(p, method="bh").
  percentile  numpy.percentile(values, [2.5, 97.5]) (method "linear").
  rng         the replicate generator of src/evaluate/bootstrap.rs re-implemented (scripts/cxr_stream.py: rand 0.10's
              Xoshiro256++ seeded with SHA-256 of the key (seed, "boot", replicate) as src/rng.rs
              does, rand's `random_range` by Canon's method): raw words and bounded draws.
  bootstrap   cxr's replicate draws (the generator above), each replicate
              materialised as a resampled data set and scored with roc_auc_score; single-class
              replicates skipped; percentile CIs of two models' AUROCs, their macro means and the
              paired differences, and the two-sided p-value formula of src/evaluate/compare.rs.

Scores are float32 values (written as the exact float64 of each float32), as in predictions files.

Usage: python3 scripts/gen_stats_fixtures.py [OUT_JSON]
"""

import json
import os
import sys
import warnings

import numpy as np
import scipy
import scipy.stats
import sklearn
from sklearn.metrics import accuracy_score, f1_score, recall_score, roc_auc_score, roc_curve

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cxr_stream import M32, M64, p_two_sided, pct, replicate_rng, weights  # noqa: E402

OUT = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/stats/reference.json"
rng = np.random.default_rng(20260126)


def f32(x):
    return [float(v) for v in np.asarray(x, dtype=np.float32)]


def stated(y, p):
    keep = [i for i, v in enumerate(y) if v in (0, 1)]
    return np.array([y[i] for i in keep]), np.array([p[i] for i in keep], dtype=np.float64)


def auroc_case(name, y, p):
    p = f32(p)
    ys, ps = stated(y, p)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sklearn >= 1.8 warns and returns nan on one class
            expected = float(roc_auc_score(ys, ps))
    except ValueError:  # older sklearn raises on one class
        expected = float("nan")
    if np.isnan(expected):
        assert len(set(ys.tolist())) < 2, name
        expected = None
    return {"name": name, "y": y, "p": p, "expected": expected,
            "n_pos": int((ys == 1).sum()), "n_neg": int((ys == 0).sum())}


def labels(n, prev, unstated=0.0):
    y = [int(v) for v in (rng.random(n) < prev)]
    for i in range(n):
        r = rng.random()
        if r < unstated / 2:
            y[i] = -1
        elif r < unstated:
            y[i] = None
    return y


def scores(y, sep, decimals=None):
    s = np.array([rng.normal(sep if v == 1 else 0.0, 1.0) for v in y])
    s = 1 / (1 + np.exp(-s))
    return np.round(s, decimals) if decimals is not None else s


auroc = []
y = labels(60, 0.4)
auroc.append(auroc_case("random_continuous", y, scores(y, 1.0)))
y = labels(80, 0.3)
auroc.append(auroc_case("ties_one_decimal", y, scores(y, 1.2, 1)))
y = labels(2000, 0.1, unstated=0.2)
auroc.append(auroc_case("large_ties_two_decimals_uncertain", y, scores(y, 0.8, 2)))
y = labels(40, 0.5)
auroc.append(auroc_case("constant_predictions", y, [0.5] * 40))
auroc.append(auroc_case("perfect", [0, 0, 0, 1, 1], [0.1, 0.2, 0.3, 0.7, 0.9]))
auroc.append(auroc_case("inverted", [1, 1, 0, 0], [0.1, 0.2, 0.3, 0.7]))
auroc.append(auroc_case("single_class_positive", [1, 1, 1, None, -1], [0.1, 0.5, 0.9, 0.2, 0.3]))
auroc.append(auroc_case("single_class_negative", [0] * 10, list(rng.random(10))))
auroc.append(auroc_case("uncertain_and_null", [1, -1, 0, None, 1, 0, -1, 0], [0.8, 0.9, 0.3, 0.1, 0.4, 0.4, 0.0, 0.6]))

youden = []


def youden_case(name, vy, vp, ty, tp):
    vp, tp = f32(vp), f32(tp)
    vys, vps = stated(vy, vp)
    fpr, tpr, thr = roc_curve(vys, vps)
    k = int(np.argmax(tpr - fpr))
    # drop_intermediate only removes collinear points; the first maximum must not move.
    fpr2, tpr2, thr2 = roc_curve(vys, vps, drop_intermediate=False)
    assert thr2[int(np.argmax(tpr2 - fpr2))] == thr[k]
    t = float(thr[k])
    tys, tps = stated(ty, tp)
    pred = (tps >= t).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        case = {
            "name": name, "val_y": vy, "val_p": vp, "test_y": ty, "test_p": tp,
            "threshold": None if np.isinf(t) else t,
            "j": float(tpr[k] - fpr[k]),
            "sensitivity": float(recall_score(tys, pred, pos_label=1)),
            "specificity": float(recall_score(tys, pred, pos_label=0)),
            "accuracy": float(accuracy_score(tys, pred)),
            "f1": float(f1_score(tys, pred, zero_division=0.0)),
        }
    return case


vy, ty = labels(120, 0.35, 0.1), labels(150, 0.35, 0.1)
youden.append(youden_case("continuous", vy, scores(vy, 1.5), ty, scores(ty, 1.5)))
vy, ty = labels(200, 0.2), labels(300, 0.2)
youden.append(youden_case("ties", vy, scores(vy, 1.0, 1), ty, scores(ty, 1.0, 1)))
youden.append(youden_case("inverted_val_gives_infinite_threshold", [1, 1, 0, 0], [0.1, 0.2, 0.3, 0.7],
                          [1, 0, 1, 0], [0.4, 0.5, 0.6, 0.9]))

bh = []
for p in ([0.01, 0.04, 0.03, 0.2],
          [0.001, 0.001, 0.5, 1.0, 0.049, 0.05],
          list(rng.random(14)),
          list(rng.random(14) ** 4),
          [1.0, 1.0, 1.0],
          [0.002]):
    p = [float(v) for v in p]
    bh.append({"p": p, "q": [float(v) for v in scipy.stats.false_discovery_control(p, method="bh")]})

percentile = []
for n in (1, 2, 7, 1000):
    v = [float(x) for x in rng.random(n)]
    lo, hi = np.percentile(v, [2.5, 97.5])
    percentile.append({"values": v, "level": 0.95, "lo": float(lo), "hi": float(hi)})

def auc_or_none(y, p):
    """AUROC of one replicate, rounded to 14 decimals: sklearn's trapezoid sum can land one ulp
    off the exact rational value (0.9999999999999999 for a perfect ranking), and the paired
    p-value counts the sign of a difference, so two equal AUROCs must differ by exactly 0 (as
    cxr's exact rank count gives). The rounding moves no value by more than 5e-15."""
    ys, ps = stated(y, p)
    if len(set(ys.tolist())) < 2:
        return None
    return round(float(roc_auc_score(ys, ps)), 14)


def bootstrap_case(name, n, per_patient, resample, seed, B):
    patients = [f"pat{i // per_patient}" for i in range(n)]
    ys = [labels(n, 0.3, 0.05), [int(i % 37 == 3) for i in range(n)]]  # common, rare (few positives)
    pa = [f32(scores(y, 0.7)) for y in ys]
    pb = [f32(scores(y, 1.4)) for y in ys]
    units = None
    if resample == "patients":
        order = list(dict.fromkeys(patients))
        units = [[i for i in range(n) if patients[i] == u] for u in order]
    reps = []
    for r in range(B):
        w = weights(n, units, seed, r)
        idx = np.repeat(np.arange(n), w)
        a = [auc_or_none([y[i] for i in idx], [p[i] for i in idx]) for y, p in zip(ys, pa)]
        b = [auc_or_none([y[i] for i in idx], [p[i] for i in idx]) for y, p in zip(ys, pb)]
        reps.append((a, b))
    mac = lambda v: None if any(x is None for x in v) else sum(v) / len(v)
    sub = lambda x, y: None if x is None or y is None else x - y
    out = {"name": name, "patient_id": patients, "y": ys, "p_a": pa, "p_b": pb,
           "resample": resample, "seed": seed, "bootstrap": B, "level": 0.95,
           "a": [], "b": [], "delta": [], "p_value": []}
    for k in range(2):
        out["a"].append(pct([a[k] for a, _ in reps], 0.95))
        out["b"].append(pct([b[k] for _, b in reps], 0.95))
        ds = [sub(b[k], a[k]) for a, b in reps]
        out["delta"].append(pct(ds, 0.95))
        out["p_value"].append(p_two_sided(ds))
    out["macro_a"] = pct([mac(a) for a, _ in reps], 0.95)
    ds = [sub(mac(b), mac(a)) for a, b in reps]
    out["macro_delta"] = pct(ds, 0.95)
    out["macro_p_value"] = p_two_sided(ds)
    return out


# Raw draws of the replicate generator, checked one by one by tests/it/evaluate.rs. Bounds: the
# bootstrap's (150 images, 50 patients), a u32 bound near 2^32 and a u64 bound near 2^64 (where
# Canon's second draw and its carry happen often), and a bound just above u32::MAX (64-bit path).
rng_cases = []
for seed, rep in ((7, 0), (1234567890123, 199), (M64, M64)):
    g = replicate_rng(seed, rep)
    words = [g.next_u64() for _ in range(8)]
    below = []
    for n in (1, 2, 50, 150, 3_000_000_000, M32, (1 << 32) + 7, 0xF000_0000_0000_0000):
        g = replicate_rng(seed, rep)
        below.append({"n": n, "draws": [g.below(n) for _ in range(16)]})
    rng_cases.append({"seed": seed, "replicate": rep, "next_u64": words, "below": below})

bootstrap = [bootstrap_case("images", 150, 1, "images", 7, 200),
             bootstrap_case("patients", 150, 3, "patients", 1234567890123, 200)]

out = {
    "generator": "scripts/gen_stats_fixtures.py",
    "versions": {"scikit-learn": sklearn.__version__, "scipy": scipy.__version__, "numpy": np.__version__},
    "auroc": auroc, "youden": youden, "bh": bh, "percentile": percentile,
    "bootstrap": bootstrap, "rng": rng_cases,
}
with open(OUT, "w") as f:
    json.dump(out, f, indent=None, separators=(",", ":"), allow_nan=False)
    f.write("\n")
print(f"wrote {OUT}: {len(auroc)} AUROC, {len(youden)} Youden, {len(bh)} BH, {len(percentile)} percentile, {len(bootstrap)} bootstrap cases")
