#!/usr/bin/env python3
"""Independent pandas re-implementation of cxr's label harmonization, used to check the Rust ingest.

Given a dataset name and a label CSV (plain or .gz), print JSON:
    {"rows": N, "rejected": R, "findings": {finding: {"pos": .., "neg": .., "unc": .., "null": ..}}}
`findings` counts only kept (non-rejected) rows; keys are sorted.

Rules (kept deliberately simple and written from the spec, not from the Rust code):
  nih       `Finding Labels` split on '|', tokens stripped (an empty cell: every finding null); 14 findings + `No Finding` -> no_finding,
            Effusion -> pleural_effusion, Pleural_Thickening -> pleural_thickening, others lower-case.
            Each finding 1 if its token is present else 0. Any other token -> row rejected.
  chexpert  14 label columns (snake_case names); 1.0 pos, 0.0 neg, -1.0 unc, blank null.
            Every row kept (a value outside these four would reject the row).
  padchest  `Labels` empty or the literal `nan` (103 rows of the 160K file): kept, every finding
            null (the publisher gives no labels). Otherwise parsed with ast.literal_eval;
            unparseable -> rejected; terms stripped,
            '' ignored, looked up case-insensitively in schemas/padchest_terms.toml; unknown term ->
            rejected. Findings = union of the table's findings; 1 if any term maps to it else 0.
  vindr-kaggle
            Kaggle train.csv grouped by image_id; for each of the 15 classes count DISTINCT rad_ids
            that marked it; pos iff >= 2 (majority of 3 readers) else neg. rows = images; an image
            with an unknown class_name is rejected.

Usage:
    python3 scripts/count_labels.py nih path/to/Data_Entry_2017_v2020.csv[.gz]
    python3 scripts/count_labels.py padchest path/to/PADCHEST_...csv[.gz] [--terms schemas/padchest_terms.toml]
    python3 scripts/count_labels.py --all-full /tmp/xrv/torchxrayvision/data > scripts/expected_counts_full.json
    python3 scripts/count_labels.py --all-excerpts tests/fixtures/csv > tests/fixtures/csv/expected_counts_excerpts.json

Pinned versions (tested with): Python 3.11 (tomllib), pandas==3.1.1, numpy==2.4.6.
"""

from __future__ import annotations

import ast
import json
import sys
import tomllib
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parent.parent
DEFAULT_TERMS = REPO / "schemas" / "padchest_terms.toml"

NIH_TOKENS = {
    "Atelectasis": "atelectasis", "Cardiomegaly": "cardiomegaly", "Consolidation": "consolidation",
    "Edema": "edema", "Effusion": "pleural_effusion", "Emphysema": "emphysema",
    "Fibrosis": "fibrosis", "Hernia": "hernia", "Infiltration": "infiltration", "Mass": "mass",
    "Nodule": "nodule", "Pleural_Thickening": "pleural_thickening", "Pneumonia": "pneumonia",
    "Pneumothorax": "pneumothorax", "No Finding": "no_finding",
}
CHEX_COLS = {
    "No Finding": "no_finding", "Enlarged Cardiomediastinum": "enlarged_cardiomediastinum",
    "Cardiomegaly": "cardiomegaly", "Lung Opacity": "lung_opacity", "Lung Lesion": "lung_lesion",
    "Edema": "edema", "Consolidation": "consolidation", "Pneumonia": "pneumonia",
    "Atelectasis": "atelectasis", "Pneumothorax": "pneumothorax",
    "Pleural Effusion": "pleural_effusion", "Pleural Other": "pleural_other",
    "Fracture": "fracture", "Support Devices": "support_devices",
}
VINDR_CLASSES = {
    "Aortic enlargement": "aortic_enlargement", "Atelectasis": "atelectasis",
    "Calcification": "calcification", "Cardiomegaly": "cardiomegaly",
    "Consolidation": "consolidation", "ILD": "ild", "Infiltration": "infiltration",
    "Lung Opacity": "lung_opacity", "Nodule/Mass": "nodule_mass", "Other lesion": "other_lesion",
    "Pleural effusion": "pleural_effusion", "Pleural thickening": "pleural_thickening",
    "Pneumothorax": "pneumothorax", "Pulmonary fibrosis": "fibrosis", "No finding": "no_finding",
}


def read_str_csv(path: Path) -> pd.DataFrame:
    """Every cell as the raw string; empty cells stay '' (no NaN inference)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def empty_counts(findings) -> dict:
    return {f: {"pos": 0, "neg": 0, "unc": 0, "null": 0} for f in sorted(findings)}


def count_binary(rows: list[set[str] | None], findings) -> dict:
    """`None` is a row without labels: every finding null."""
    out = empty_counts(findings)
    for present in rows:
        for f in out:
            out[f]["null" if present is None else "pos" if f in present else "neg"] += 1
    return out


def count_nih(path: Path) -> dict:
    df = read_str_csv(path)
    kept: list[set[str] | None] = []
    for s in df["Finding Labels"]:
        if s.strip() == "":
            kept.append(None)  # no labels stated: every finding null
            continue
        toks = {t.strip() for t in s.split("|")}
        if not toks <= NIH_TOKENS.keys():
            continue
        kept.append({NIH_TOKENS[t] for t in toks})
    return {"rows": len(df), "rejected": len(df) - len(kept),
            "findings": count_binary(kept, NIH_TOKENS.values())}


def count_chexpert(path: Path) -> dict:
    df = read_str_csv(path)
    out = empty_counts(CHEX_COLS.values())
    cls = {1.0: "pos", 0.0: "neg", -1.0: "unc"}
    rejected = 0
    for _, r in df[list(CHEX_COLS)].iterrows():
        row: dict[str, str] = {}
        ok = True
        for col, f in CHEX_COLS.items():
            v = r[col].strip()
            if v == "":
                row[f] = "null"
                continue
            try:
                row[f] = cls[float(v)]
            except (ValueError, KeyError):
                ok = False
                break
        if not ok:
            rejected += 1
            continue
        for f, c in row.items():
            out[f][c] += 1
    return {"rows": len(df), "rejected": rejected, "findings": out}


def load_terms(path: Path) -> dict[str, list[str]]:
    with open(path, "rb") as fh:
        table = tomllib.load(fh)["terms"]
    return {k.strip().lower(): v for k, v in table.items()}


def count_padchest(path: Path, terms_path: Path = DEFAULT_TERMS) -> dict:
    terms = load_terms(terms_path)
    findings = {f for fs in terms.values() for f in fs}
    df = read_str_csv(path)
    kept: list[set[str] | None] = []
    for s in df["Labels"]:
        if s.strip() in ("", "nan"):
            kept.append(None)
            continue
        try:
            raw = ast.literal_eval(s)
        except (ValueError, SyntaxError):
            continue
        if not isinstance(raw, (list, tuple)):
            continue
        norm = {str(t).strip().lower() for t in raw} - {""}
        if not norm <= terms.keys():
            continue
        kept.append({f for t in norm for f in terms[t]})
    return {"rows": len(df), "rejected": len(df) - len(kept),
            "findings": count_binary(kept, findings)}


def count_vindr_kaggle(path: Path) -> dict:
    df = read_str_csv(path)
    kept: list[set[str]] = []
    groups = df.groupby("image_id", sort=True)
    for _, grp in groups:
        if not set(grp["class_name"]) <= VINDR_CLASSES.keys():
            continue
        readers = grp.groupby("class_name")["rad_id"].nunique()
        kept.append({VINDR_CLASSES[c] for c, k in readers.items() if k >= 2})
    n = groups.ngroups
    return {"rows": n, "rejected": n - len(kept),
            "findings": count_binary(kept, VINDR_CLASSES.values())}


COUNTERS = {"nih": count_nih, "chexpert": count_chexpert, "padchest": count_padchest,
            "vindr-kaggle": count_vindr_kaggle}
FULL = {  # file names inside torchxrayvision-1.5.7/torchxrayvision/data/
    "nih": "Data_Entry_2017_v2020.csv.gz",
    "chexpert": "chexpert_train.csv.gz",
    "padchest": "PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv.gz",
    "vindr-kaggle": "vinbigdata-train.csv.gz",
}
EXCERPTS = {  # fixture paths relative to tests/fixtures/csv/
    "nih/Data_Entry_2017_v2020.csv.gz": "nih",
    "chexpert/train.csv.gz": "chexpert",
    "padchest/PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv.gz": "padchest",
    "padchest_plain/PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv": "padchest",
    "vindr/train.csv.gz": "vindr-kaggle",
}


def main(argv: list[str]) -> None:
    if len(argv) >= 2 and argv[0] == "--all-full":
        src = Path(argv[1])
        out = {name: {"file": fn, "dataset": name, **COUNTERS[name](src / fn)}
               for name, fn in FULL.items()}
    elif len(argv) >= 2 and argv[0] == "--all-excerpts":
        src = Path(argv[1])
        out = {rel: {"dataset": ds, **COUNTERS[ds](src / rel)} for rel, ds in EXCERPTS.items()}
    elif len(argv) in (2, 4) and argv[0] in COUNTERS:
        path = Path(argv[1])
        if argv[0] == "padchest" and len(argv) == 4 and argv[2] == "--terms":
            out = count_padchest(path, Path(argv[3]))
        elif len(argv) == 2:
            out = COUNTERS[argv[0]](path)
        else:
            sys.exit(__doc__)
    else:
        sys.exit(__doc__)
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
