#!/usr/bin/env python3
"""Reference values for cxr's subgroup and calibration analysis, computed with scikit-learn,
SciPy and numpy on a synthetic predictions set whose groups differ on purpose.

Writes tests/fixtures/stats/subgroups.json, read by tests/it/subgroups.rs (the tests need no
Python). Pinned versions as scripts/gen_stats_fixtures.py (pip install scikit-learn==1.9.1
scipy==1.17.1 numpy==2.4.6).

Data: 240 test and 120 validation images, two per patient; sex (F/M/null), age (float32 years,
some exactly on the band edges 20/40/60/80, some null), view (PA/AP/AP_SUPINE/null), dataset
(nih/chexpert/null); findings Effusion (common), No Finding (common) and Nodule (rare: some groups
have no positive). Model a separates the classes well for men, PA films and ages below 80, badly
for women, AP_SUPINE and 80+; model b is even across groups. Probabilities are overconfident
(model a) and have values exactly 0, 0.5 and 1 and on other bin edges. Nodule has 2 % positives
on test and none on AP_SUPINE test films (8 % on validation, so that it has a threshold).

References:
  thresholds   Youden's J on the validation rows: roc_curve(val) at the first argmax(tpr - fpr).
  calibration  bins: sklearn.calibration.calibration_curve(strategy="uniform") (mean_p, frac_pos
               of the non-empty bins) with counts from numpy.searchsorted on numpy.linspace edges;
               ECE: numpy, sum over bins of n_bin/N * |mean_p - frac_pos|; Brier:
               sklearn.metrics.brier_score_loss; 10 and 7 bins; intervals: cxr's replicates of
               the test images (scripts/cxr_stream.py) materialised with numpy.repeat.
  recalibration  temperature: the root of d NLL / d beta (beta = 1/T) by scipy.optimize.brentq;
               Platt: the root of the gradient of the NLL against Platt's smoothed targets by
               scipy.optimize.root; both checked against sklearn's own fits (_TemperatureScaling,
               _sigmoid_calibration) to 1e-3; ECE/Brier after on test with intervals.
  subgroups    per attribute and group: roc_auc_score, TPR/FPR/FNR of (p >= threshold) from the
               stated labels, the macro mean over the findings with both classes in every known
               group, the difference from the rest of the known groups; intervals from cxr's
               stratified replicates (each group resampled within itself from its own stream),
               p-values as src/evaluate/compare.rs, q by scipy.stats.false_discovery_control.
               Images resampling (seed 11) and patient resampling (seed 12).
  gaps         compare --by: per model and group the macro AUROC, gap = macro(group) -
               macro(rest), and gap(b) - gap(a) on the same replicates, p, BH q across groups.

Usage: python3 scripts/gen_subgroup_fixtures.py [OUT_JSON]
"""

import json
import os
import sys
import warnings

import numpy as np
import scipy
import scipy.optimize
import scipy.special
import scipy.stats
import sklearn
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss, roc_auc_score, roc_curve

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cxr_stream import p_two_sided, pct, stratified_weights, weights  # noqa: E402

OUT = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/stats/subgroups.json"
rng = np.random.default_rng(20261204)
FINDINGS = ["Effusion", "No Finding", "Nodule"]
ATTRIBUTES = ["sex", "age", "view", "dataset"]
B, LEVEL, ALPHA, MIN_POS = 200, 0.95, 0.05, 10
AGE_BANDS = [(0.0, "0-20"), (20.0, "20-40"), (40.0, "40-60"), (60.0, "60-80"), (80.0, "80+")]


def f32(x):
    return float(np.float32(x))


def make_rows(n, prefix, patient_offset):
    rows = []
    for i in range(n):
        pat = patient_offset + i // 2
        prng = np.random.default_rng(1000 + pat)  # per patient: sex, base age, dataset
        sex = ["F", "M", None][int(prng.choice(3, p=[0.45, 0.45, 0.10]))]
        base = float(prng.uniform(3, 97))
        dataset = ["nih", "chexpert", None][int(prng.choice(3, p=[0.5, 0.45, 0.05]))]
        r = rng.random()
        if r < 0.08:
            age = None
        elif r < 0.16:
            age = float(rng.choice([20.0, 40.0, 60.0, 80.0]))  # exactly on a band edge
        else:
            age = f32(base + (i % 2) * 0.5)
        view = ["PA", "AP", "AP_SUPINE", None][int(rng.choice(4, p=[0.5, 0.3, 0.15, 0.05]))]
        rows.append({"image_id": f"{prefix}{i:04d}", "patient_id": f"pat{pat:04d}", "sex": sex, "age": age,
                     "view": view, "dataset": dataset})
    return rows


def band(age):
    if age is None or age < 0:
        return "unknown"
    return [b for lo, b in AGE_BANDS if age >= lo][-1]


def group_of(row, attr):
    v = band(row["age"]) if attr == "age" else row[attr]
    return "unknown" if v is None else v


def labels_and_scores(rows, nodule_prev, no_nodule_on_supine):
    n = len(rows)
    y = [[], [], []]
    pa, pb = [[], [], []], [[], [], []]
    for i, r in enumerate(rows):
        hard = r["sex"] == "F" or r["view"] == "AP_SUPINE" or (r["age"] is not None and r["age"] >= 80)
        sep_a = 0.4 if hard else 2.2
        for f in range(3):
            u = rng.random()
            if f == 2:
                lab = int(u < nodule_prev)
            else:
                lab = 1 if u < (0.3 if f == 0 else 0.4) else 0
                if rng.random() < 0.04:
                    lab = -1 if rng.random() < 0.5 else None
            if f == 2 and lab == 1 and no_nodule_on_supine and r["view"] == "AP_SUPINE":
                lab = 0  # no Nodule positive on AP_SUPINE films: the view's macro leaves Nodule out
            y[f].append(lab)
            pos = lab == 1
            za = (sep_a if pos else 0.0) - sep_a / 2 + rng.normal(0, 1.0)
            zb = (1.3 if pos else 0.0) - 0.65 + rng.normal(0, 1.0)
            pa[f].append(scipy.special.expit(2.5 * za))  # overconfident
            pb[f].append(scipy.special.expit(zb))
    # Exact bin edges and extremes.
    for f in range(3):
        for k, v in zip(range(0, n, 37), [0.0, 0.5, 1.0, 0.25, 0.75, 0.5, 0.0]):
            pa[f][k] = v
        for k in range(5, n, 23):
            pa[f][k] = round(pa[f][k], 1)
    return y, [[f32(v) for v in c] for c in pa], [[f32(v) for v in c] for c in pb]


test_rows = make_rows(240, "t", 0)
val_rows = make_rows(120, "v", 1000)
ty, tpa, tpb = labels_and_scores(test_rows, 0.02, True)
vy, vpa, vpb = labels_and_scores(val_rows, 0.08, False)
N = len(test_rows)
patients = [r["patient_id"] for r in test_rows]


def stated(y, p, idx):
    keep = [i for i in idx if y[i] in (0, 1)]
    return np.array([y[i] for i in keep]), np.array([p[i] for i in keep], dtype=np.float64)


def auc(y, p, idx):
    ys, ps = stated(y, p, idx)
    if len(set(ys.tolist())) < 2:
        return None
    return round(float(roc_auc_score(ys, ps)), 14)  # see gen_stats_fixtures.py auc_or_none


def threshold(y, p):
    ys, ps = stated(y, p, range(len(y)))
    fpr, tpr, thr = roc_curve(ys, ps)
    t = float(thr[int(np.argmax(tpr - fpr))])
    return None if np.isinf(t) else t


def rates(y, p, idx, t):
    ys, ps = stated(y, p, idx)
    pred = (ps >= t) if t is not None else np.zeros(len(ps), dtype=bool)
    pos, neg = ys == 1, ys == 0
    tpr = float((pred & pos).sum() / pos.sum()) if pos.sum() else None
    fpr = float((pred & neg).sum() / neg.sum()) if neg.sum() else None
    fnr = float((~pred & pos).sum() / pos.sum()) if pos.sum() else None
    return [tpr, fpr, fnr]


def mean_all(vals):
    return None if not vals or any(v is None for v in vals) else sum(vals) / len(vals)


def sub(a, b):
    return None if a is None or b is None else a - b


def bh(ps):
    return [float(q) for q in scipy.stats.false_discovery_control(ps, method="bh")] if ps else []


# ---- calibration -------------------------------------------------------------------------

def ece_numpy(ys, ps, bins):
    edges = np.linspace(0.0, 1.0, bins + 1)
    ids = np.searchsorted(edges[1:-1], ps)
    n = np.bincount(ids, minlength=bins)
    sp = np.bincount(ids, weights=ps, minlength=bins)
    sy = np.bincount(ids, weights=ys, minlength=bins)
    nz = n > 0
    return float(np.sum(n[nz] / n.sum() * np.abs(sp[nz] / n[nz] - sy[nz] / n[nz]))), edges, n


def calibration(y, p, bins, reps_w):
    ys, ps = stated(y, p, range(N))
    ece, edges, n = ece_numpy(ys, ps, bins)
    prob_true, prob_pred = calibration_curve(ys, ps, n_bins=bins, strategy="uniform")
    out_bins, k = [], 0
    for b in range(bins):
        if n[b] > 0:
            out_bins.append({"lo": float(edges[b]), "hi": float(edges[b + 1]), "n": int(n[b]),
                             "mean_p": float(prob_pred[k]), "frac_pos": float(prob_true[k])})
            k += 1
        else:
            out_bins.append({"lo": float(edges[b]), "hi": float(edges[b + 1]), "n": 0, "mean_p": None, "frac_pos": None})
    eces, briers = [], []
    for w in reps_w:
        idx = np.repeat(np.arange(N), w)
        yr, pr = stated(y, p, idx)
        if len(yr) == 0:
            eces.append(None); briers.append(None)
            continue
        eces.append(ece_numpy(yr, pr, bins)[0])
        briers.append(float(brier_score_loss(yr, pr)))
    return {"n": int(len(ys)), "ece": ece, "brier": float(brier_score_loss(ys, ps)), "bins": out_bins,
            "ece_ci": pct(eces, LEVEL), "brier_ci": pct(briers, LEVEL)}


def logit(p):
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-12, 1 - 1e-12)
    return np.log(p) - np.log1p(-p)


def fit_temperature(y, p):
    ys, ps = stated(y, p, range(len(y)))
    z = logit(ps)
    grad = lambda beta: float(np.sum(z * (scipy.special.expit(beta * z) - ys)))
    beta = scipy.optimize.brentq(grad, 1e-6, 1e3, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500)
    try:  # sklearn's own temperature scaling (binary: logits (-x, x), so x = z / 2)
        from sklearn.calibration import _TemperatureScaling
        sk = float(_TemperatureScaling().fit(z / 2, ys).beta_)
        assert abs(sk - beta) < 1e-3 * beta, (sk, beta)
    except ImportError:
        pass
    return 1.0 / beta


def fit_platt(y, p):
    ys, ps = stated(y, p, range(len(y)))
    z = logit(ps)
    npos, nneg = int((ys == 1).sum()), int((ys == 0).sum())
    t = np.where(ys == 1, (npos + 1) / (npos + 2), 1 / (nneg + 2))

    def grad(ab):
        r = scipy.special.expit(ab[0] * z + ab[1]) - t
        return [float(np.sum(r * z)), float(np.sum(r))]
    sol = scipy.optimize.root(grad, [1.0, 0.0], tol=1e-15)
    # hybr may report "xtol too small" once the gradient is at rounding level: check it instead.
    assert max(abs(g) for g in grad(sol.x)) < 1e-9, sol
    a, b = float(sol.x[0]), float(sol.x[1])
    from sklearn.calibration import _sigmoid_calibration
    A, Bk = _sigmoid_calibration(z, ys)
    assert abs(-A - a) < 1e-3 and abs(-Bk - b) < 1e-3, (A, Bk, a, b)
    return a, b


test_w = [weights(N, None, 11, r) for r in range(B)]
thresholds = [threshold(vy[f], vpa[f]) for f in range(3)]
cal = {"seed": 11, "bins10": [], "bins7": [], "temperature": [], "platt": []}
for f in range(3):
    cal["bins10"].append({"finding": FINDINGS[f], **calibration(ty[f], tpa[f], 10, test_w)})
    cal["bins7"].append({"finding": FINDINGS[f], **calibration(ty[f], tpa[f], 7, test_w)})
    T = fit_temperature(vy[f], vpa[f])
    q = [float(v) for v in scipy.special.expit(logit(tpa[f]) / T)]
    cal["temperature"].append({"finding": FINDINGS[f], "temperature": T, **calibration(ty[f], q, 10, test_w)})
    a, b = fit_platt(vy[f], vpa[f])
    q = [float(v) for v in scipy.special.expit(a * logit(tpa[f]) + b)]
    cal["platt"].append({"finding": FINDINGS[f], "slope": a, "intercept": b, **calibration(ty[f], q, 10, test_w)})


# ---- subgroups ---------------------------------------------------------------------------

def partition(attr):
    groups = [group_of(r, attr) for r in test_rows]
    names = sorted(set(groups), key=lambda g: (g == "unknown", [b for _, b in AGE_BANDS].index(g) if attr == "age" and g in [b for _, b in AGE_BANDS] else 0, g))
    rows = {g: [i for i in range(N) if groups[i] == g] for g in names}
    return names, rows


def subgroup_case(resample, seed, models):
    """Per attribute: groups of the test rows with, per model, the group statistics."""
    out = []
    for attr in ATTRIBUTES:
        names, rows = partition(attr)
        known = [g for g in names if g != "unknown"]
        rest = {g: [i for h in known if h != g for i in rows[h]] for g in known}
        over = [f for f in range(3) if all(auc(ty[f], tpa[f], rows[g]) is not None for g in known)]
        strata = {f"{attr}={g}": rows[g] for g in names}
        reps = [stratified_weights(patients, strata, resample, seed, r) for r in range(B)]

        def stats(p, w):
            res = {}
            for g in names:
                idx = np.repeat(rows[g], w[rows[g]]) if w is not None else rows[g]
                a = [auc(ty[f], p[f], idx) for f in range(3)]
                rt = [rates(ty[f], p[f], idx, thresholds[f]) for f in range(3)]
                ra = [None] * 3
                if g in rest and rest[g]:
                    ridx = np.repeat(rest[g], w[rest[g]]) if w is not None else rest[g]
                    ra = [auc(ty[f], p[f], ridx) for f in range(3)]
                mac = mean_all([a[f] for f in over]) if over else None
                rmac = mean_all([ra[f] for f in over]) if over else None
                res[g] = {"auroc": a, "rates": rt, "rest": ra, "macro": mac, "rest_macro": rmac}
            return res

        per_model = {m: (stats(p, None), [stats(p, w) for w in reps]) for m, p in models.items()}
        out.append({"attribute": attr, "names": names, "over": over, "rows": rows, "known": known,
                    "rest": rest, "per_model": per_model})
    return out


def evaluate_expected(case):
    out = []
    for c in case:
        point, reps = c["per_model"]["a"]
        groups = []
        for g in c["names"]:
            compared = g in c["rest"] and bool(c["rest"][g])
            fs = []
            for f in range(3):
                ys, _ = stated(ty[f], tpa[f], c["rows"][g])
                d = None
                if compared:
                    ds = [sub(r[g]["auroc"][f], r[g]["rest"][f]) for r in reps]
                    dv = sub(point[g]["auroc"][f], point[g]["rest"][f])
                    d = {"delta": dv, "ci": pct(ds, LEVEL) if dv is not None else None,
                         "p": p_two_sided(ds) if dv is not None else None}
                fs.append({"finding": FINDINGS[f], "n_pos": int((ys == 1).sum()), "n_neg": int((ys == 0).sum()),
                           "auroc": point[g]["auroc"][f],
                           "auroc_ci": pct([r[g]["auroc"][f] for r in reps], LEVEL) if point[g]["auroc"][f] is not None else None,
                           "rates": point[g]["rates"][f],
                           "rates_ci": [pct([r[g]["rates"][f][k] for r in reps], LEVEL) if point[g]["rates"][f][k] is not None else None for k in range(3)],
                           "vs_rest": d})
            md = None
            if compared:
                ds = [sub(r[g]["macro"], r[g]["rest_macro"]) for r in reps]
                dv = sub(point[g]["macro"], point[g]["rest_macro"])
                md = {"delta": dv, "ci": pct(ds, LEVEL) if dv is not None else None, "p": p_two_sided(ds) if dv is not None else None}
            groups.append({"group": g, "n_images": len(c["rows"][g]), "n_patients": len({patients[i] for i in c["rows"][g]}),
                           "compared": g != "unknown", "macro": point[g]["macro"],
                           "macro_ci": pct([r[g]["macro"] for r in reps], LEVEL) if point[g]["macro"] is not None else None,
                           "macro_vs_rest": md, "findings": fs})
        # BH: per-finding differences of all groups, and the macro differences, separately.
        fam = [d for gr in groups for fd in gr["findings"] for d in [fd["vs_rest"]] if d and d["p"] is not None]
        for d, q in zip(fam, bh([d["p"] for d in fam])):
            d["q"] = q
        fam = [gr["macro_vs_rest"] for gr in groups if gr["macro_vs_rest"] and gr["macro_vs_rest"]["p"] is not None]
        for d, q in zip(fam, bh([d["p"] for d in fam])):
            d["q"] = q
        out.append({"attribute": c["attribute"], "macro_over": [FINDINGS[f] for f in c["over"]], "groups": groups})
    return out


def gaps_expected(case):
    out = []
    for c in case:
        (pa_, ra), (pb_, rb) = c["per_model"]["a"], c["per_model"]["b"]
        groups = []
        for g in c["names"]:
            gap = lambda s: sub(s[g]["macro"], s[g]["rest_macro"])
            entry = {"group": g, "macro_a": pa_[g]["macro"], "macro_b": pb_[g]["macro"],
                     "macro_b_ci": pct([r[g]["macro"] for r in rb], LEVEL) if pb_[g]["macro"] is not None else None,
                     "gap_a": gap(pa_), "gap_b": gap(pb_),
                     "gap_b_ci": pct([gap(r) for r in rb], LEVEL) if gap(pb_) is not None else None, "delta": None}
            if g in c["rest"] and c["rest"][g]:
                ds = [sub(gap(x), gap(y)) for x, y in zip(rb, ra)]
                dv = sub(gap(pb_), gap(pa_))
                entry["delta"] = {"delta": dv, "ci": pct(ds, LEVEL) if dv is not None else None,
                                  "p": p_two_sided(ds) if dv is not None else None}
            groups.append(entry)
        fam = [e["delta"] for e in groups if e["delta"] and e["delta"]["p"] is not None]
        for d, q in zip(fam, bh([d["p"] for d in fam])):
            d["q"] = q
        out.append({"attribute": c["attribute"], "groups": groups})
    return out


with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    images = subgroup_case("images", 11, {"a": tpa, "b": tpb})
    patients_case = subgroup_case("patients", 12, {"a": tpa})

out = {
    "generator": "scripts/gen_subgroup_fixtures.py",
    "versions": {"scikit-learn": sklearn.__version__, "scipy": scipy.__version__, "numpy": np.__version__},
    "findings": FINDINGS,
    "test": {**{k: [r[k] for r in test_rows] for k in test_rows[0]}, "y": ty, "p_a": tpa, "p_b": tpb},
    "val": {**{k: [r[k] for r in val_rows] for k in val_rows[0]}, "y": vy, "p_a": vpa, "p_b": vpb},
    "bootstrap": B, "level": LEVEL, "alpha": ALPHA, "min_positives": MIN_POS,
    "thresholds": thresholds,
    "calibration": cal,
    "subgroups": {"images": {"seed": 11, "attributes": evaluate_expected(images)},
                  "patients": {"seed": 12, "attributes": evaluate_expected(patients_case)}},
    "gaps": {"seed": 11, "attributes": gaps_expected(images)},
}
with open(OUT, "w") as fh:
    json.dump(out, fh, indent=None, separators=(",", ":"), allow_nan=False)
    fh.write("\n")
print(f"wrote {OUT}: {N} test images, {len(val_rows)} validation images, {B} replicates")
