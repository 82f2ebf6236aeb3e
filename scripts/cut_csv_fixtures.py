#!/usr/bin/env python3
"""Cut small, byte-exact excerpts of the real label CSVs into tests/fixtures/csv/.

Source: the metadata CSVs bundled in the torchxrayvision 1.5.7 wheel from PyPI
(`pip download torchxrayvision==1.5.7 --no-deps -d /tmp/xrv && cd /tmp/xrv && unzip -q *.whl`),
directory `torchxrayvision/data/`.

Every excerpt consists of the original header line followed by a subset of the original
*records*, copied as raw bytes in their original order (a PadChest record can span several
physical lines because `labelCUIS`/`LocalizationsCUIS` hold quoted newlines). Nothing is
re-encoded or re-quoted. Rows are chosen by a deterministic greedy set cover over edge-case
"needs" (see the NEEDS tables below); ties are broken by the unit key, so re-running the script
on the same wheel reproduces the same bytes (gzip is written with mtime=0 and no file name).

Usage:
    python3 scripts/cut_csv_fixtures.py /tmp/xrv/torchxrayvision/data tests/fixtures/csv

Pinned versions (tested with): Python 3.11, pandas==3.1.1, numpy==2.4.6.
"""

from __future__ import annotations

import ast
import collections
import csv
import gzip
import io
import sys
from pathlib import Path

import pandas as pd

NIH_FINDINGS = [
    "Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Effusion", "Emphysema", "Fibrosis",
    "Hernia", "Infiltration", "Mass", "Nodule", "Pleural_Thickening", "Pneumonia", "Pneumothorax",
]
CHEX_COLS = [
    "No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion",
    "Edema", "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion",
    "Pleural Other", "Fracture", "Support Devices",
]
# PadChest: the study's 17 labels, each with the raw terms (lower-cased, stripped) that must be
# represented in the excerpt by at least one image (mirrors schemas/padchest_terms.toml).
PC_STUDY_TERMS = {
    "cardiomegaly": ["cardiomegaly"],
    "pleural_effusion": ["pleural effusion", "loculated pleural effusion"],
    "pneumonia": ["pneumonia"],
    "atelectasis": ["atelectasis", "laminar atelectasis", "lobar atelectasis"],
    "no_finding": ["normal"],
    "consolidation": ["consolidation"],
    "pneumothorax": ["pneumothorax"],
    "emphysema": ["emphysema"],
    "hernia": ["hiatal hernia"],
    "scoliosis": ["scoliosis"],
    "congestion": ["vascular redistribution", "hilar congestion"],
    "aortic_elongation": ["aortic elongation", "supra aortic elongation"],
    "kyphosis": ["kyphosis"],
    "copd_signs": ["copd signs"],
    "pleural_thickening": ["pleural thickening", "apical pleural thickening"],
    "nodule_mass": ["nodule", "pulmonary mass"],
    "infiltration": ["infiltrates", "interstitial pattern", "alveolar pattern"],
}
# Substring traps that must appear (each maps to [] in the term table).
PC_TRAP_TERMS = ["pericardial effusion", "subcutaneous emphysema", "pseudonodule", "breast mass"]
# Other terms worth one image each: raw mixed-case spellings, non-finding terms, judgement calls.
PC_EXTRA_TERMS = [
    "nsg tube", "chilaiditi sign", "double j stent", "unchanged", "exclude", "suboptimal study",
    "calcified pleural thickening", "hydropneumothorax", "air bronchogram", "pleural plaques",
    "mediastinal mass", "dai", "tuberculosis sequelae", "lung metastasis", "multiple nodules",
    "mass", "pulmonary edema", "descendent aortic elongation", "ground glass pattern",
    "air trapping", "aortic button enlargement", "pulmonary fibrosis", "tuberculosis",
    "bronchiectasis", "calcified granuloma", "clavicle fracture", "mediastinal enlargement",
]


def read_records(path: Path) -> tuple[bytes, list[bytes]]:
    """Split a CSV file into raw records (bytes, line ending included).

    A record ends at a newline outside double quotes; a `""` escape contributes two quote
    characters, so quote parity decides whether a newline is inside a field (RFC 4180).
    """
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    if not raw.endswith(b"\n"):
        raise ValueError(f"{path}: no final newline")
    records: list[bytes] = []
    pending: list[bytes] = []
    quotes = 0
    for line in raw[:-1].split(b"\n"):
        pending.append(line)
        quotes += line.count(b'"')
        if quotes % 2 == 0:
            records.append(b"\n".join(pending) + b"\n")
            pending, quotes = [], 0
    if pending:
        raise ValueError(f"{path}: unterminated quoted field at end of file")
    if b"".join(records) != raw:
        raise AssertionError(f"{path}: record split lost bytes")
    return records[0], records[1:]


def check_records(records: list[bytes], df: pd.DataFrame, rows: list[int], name: str) -> None:
    """Assert that the raw records parse to the same fields pandas read (dtype=str, no NA)."""
    for i in rows:
        fields = next(csv.reader(io.StringIO(records[i].decode("utf-8"), newline="")))
        expected = [str(v) for v in df.iloc[i].tolist()]
        if fields != expected:
            raise AssertionError(f"{name}: record {i} does not match pandas row")


def greedy(units: dict, needs: dict[str, int], size, limit: int) -> list:
    """Pick units (key -> Counter of features) until every need is met or `limit` rows.

    Gain = features still needed that the unit supplies; best gain per row wins, ties → key.
    """
    need = dict(needs)
    chosen: list = []
    rows = 0
    while any(v > 0 for v in need.values()) and rows < limit:
        best, best_score = None, 0.0
        for key in sorted(units):
            if key in chosen:
                continue
            gain = sum(min(need[f], c) for f, c in units[key].items() if need.get(f, 0) > 0)
            if gain == 0:
                continue
            score = gain / size(key)
            if score > best_score:
                best, best_score = key, score
        if best is None:
            break
        chosen.append(best)
        rows += size(best)
        for f, c in units[best].items():
            if f in need:
                need[f] = max(0, need[f] - c)
    missing = {f: v for f, v in need.items() if v > 0}
    if missing:
        print(f"  unmet needs: {missing}", file=sys.stderr)
    return chosen


def write_excerpt(out: Path, header: bytes, records: list[bytes], rows: list[int]) -> None:
    """Write header + selected records (original order); gzip if `out` ends in .gz."""
    body = header + b"".join(records[i] for i in sorted(rows))
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".gz":
        buf = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
            gz.write(body)
        out.write_bytes(buf.getvalue())
    else:
        out.write_bytes(body)
    print(f"  {out}: {len(rows)} rows, {len(body)} bytes uncompressed")


def cut_nih(src: Path, dst: Path) -> None:
    path = src / "Data_Entry_2017_v2020.csv.gz"
    header, recs = read_records(path)
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert len(df) == len(recs)
    units: dict[int, collections.Counter] = {}
    rows_of: dict[int, list[int]] = {}
    for pid, grp in df.groupby(df["Patient ID"].astype(int)):
        if not 2 <= len(grp) <= 4:  # several images per patient, but small
            continue
        c: collections.Counter = collections.Counter()
        for _, r in grp.iterrows():
            toks = r["Finding Labels"].split("|")
            c.update(toks)
            c["multi"] += len(toks) > 1
            c[r["View Position"]] += 1
            c["child"] += int(r["Patient Age"]) < 18
        c["mixed_views"] = int(grp["View Position"].nunique() > 1)
        units[pid] = c
        rows_of[pid] = list(grp.index)
    needs = {f: 6 for f in NIH_FINDINGS}
    needs.update({"No Finding": 12, "multi": 18, "PA": 25, "AP": 25, "mixed_views": 5, "child": 2})
    chosen = greedy(units, needs, lambda k: len(rows_of[k]), 60)
    rows = sorted(i for k in chosen for i in rows_of[k])
    check_records(recs, df, rows, "nih")
    write_excerpt(dst / "nih" / "Data_Entry_2017_v2020.csv.gz", header, recs, rows)
    # Patient-wise split lists (the official lists are not in the wheel): a patient is in the
    # test list iff Patient ID % 4 == 0; image names sorted, one per line, LF-terminated.
    sel = df.loc[rows]
    test = sel["Patient ID"].astype(int) % 4 == 0
    assert test.any() and (~test).any(), "split rule left one side empty"
    for name, mask in (("test_list.txt", test), ("train_val_list.txt", ~test)):
        names = sorted(sel.loc[mask, "Image Index"])
        (dst / "nih" / name).write_text("".join(n + "\n" for n in names))
        print(f"  {dst / 'nih' / name}: {len(names)} images")


def cut_chexpert(src: Path, dst: Path) -> None:
    path = src / "chexpert_train.csv.gz"
    header, recs = read_records(path)
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert len(df) == len(recs)
    pid = df["Path"].str.extract(r"(patient\d+)")[0]
    study = df["Path"].str.extract(r"(patient\d+/study\d+)")[0]
    cls = {"1.0": "pos", "0.0": "neg", "-1.0": "unc", "": "null"}
    units: dict[str, collections.Counter] = {}
    rows_of: dict[str, list[int]] = {}
    for p, grp in df.groupby(pid):
        if len(grp) > 5:
            continue
        c: collections.Counter = collections.Counter()
        for _, r in grp.iterrows():
            for col in CHEX_COLS:
                c[f"{col}:{cls[r[col]]}"] += 1
            c[f"view:{r['Frontal/Lateral']}:{r['AP/PA']}"] += 1
            c[f"sex:{r['Sex']}"] += 1
            c["age0"] += r["Age"] == "0"
            c["nofinding+devices"] += r["No Finding"] == "1.0" and r["Support Devices"] == "1.0"
            c["lateral_file_view1"] += r["Path"].endswith("view1_lateral.jpg")
        c["multi_study"] = int(study[grp.index].nunique() > 1)
        units[p] = c
        rows_of[p] = list(grp.index)
    needs = {f"{col}:{v}": 4 for col in CHEX_COLS for v in ("pos", "neg", "unc", "null")}
    for v in ("neg", "unc"):
        del needs[f"No Finding:{v}"]  # No Finding is only ever 1.0 or blank
    needs.update({
        "view:Frontal:RL": 1, "view:Frontal:LL": 1, "view:Lateral:": 8, "view:Frontal:PA": 8,
        "view:Frontal:AP": 8, "sex:Unknown": 1, "age0": 1, "multi_study": 8,
        "nofinding+devices": 1, "lateral_file_view1": 1,
    })
    chosen = greedy(units, needs, lambda k: len(rows_of[k]), 60)
    rows = sorted(i for k in chosen for i in rows_of[k])
    check_records(recs, df, rows, "chexpert")
    write_excerpt(dst / "chexpert" / "train.csv.gz", header, recs, rows)


def pc_terms(labels: str) -> list[str] | None:
    if labels == "nan":
        return None
    return [t for t in ast.literal_eval(labels)]


def cut_padchest(src: Path, dst: Path) -> None:
    path = src / "PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv.gz"
    header, recs = read_records(path)
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert len(df) == len(recs)
    units: dict[str, collections.Counter] = {}
    rows_of: dict[str, list[int]] = {}
    term_to_finding = {t: f for f, ts in PC_STUDY_TERMS.items() for t in ts}
    for sid, grp in df.groupby("StudyID"):
        if len(grp) > 3:
            continue
        c: collections.Counter = collections.Counter()
        for _, r in grp.iterrows():
            raw = pc_terms(r["Labels"])
            c[f"proj:{r['Projection']}"] += 1
            c["cuis_newline"] += "\n" in r["labelCUIS"]
            c["loc_cuis_newline"] += "\n" in r["LocalizationsCUIS"]
            c[f"pid_len:{len(r['PatientID'])}"] += 1
            c[f"method:{r['MethodLabel']}"] += 1
            c["pediatric"] += r["Pediatric"] == "PED"
            if raw is None:
                c["labels_null"] += 1
                continue
            norm = [t.strip().lower() for t in raw]
            c["labels_only_empty"] += raw == [""]
            c["empty_with_other"] += "" in raw and len(raw) > 1
            c["leading_space"] += any(t != t.lstrip() for t in raw)
            c["mixed_case"] += any(t != t.lower() for t in raw)
            c["normal_plus_other"] += "normal" in norm and len(set(norm) - {"normal", ""}) > 0
            for t in set(norm):
                if t in PC_TRAP_TERMS:
                    c[f"trap:{t}"] += 1
                if t in PC_EXTRA_TERMS:
                    c[f"extra:{t}"] += 1
                if t in term_to_finding:
                    c[f"term:{t}"] += 1
            for f in {term_to_finding[t] for t in norm if t in term_to_finding}:
                c[f"finding:{f}"] += 1
        units[sid] = c
        rows_of[sid] = list(grp.index)
    needs = {f"finding:{f}": 5 for f in PC_STUDY_TERMS}
    needs.update({f"term:{t}": 2 for ts in PC_STUDY_TERMS.values() for t in ts})
    needs.update({f"trap:{t}": 1 for t in PC_TRAP_TERMS})
    needs.update({f"extra:{t}": 1 for t in PC_EXTRA_TERMS})
    needs.update({f"proj:{p}": 1 for p in ("PA", "L", "AP_horizontal", "AP", "COSTAL", "EXCLUDE", "UNK")})
    needs.update({
        "cuis_newline": 4, "loc_cuis_newline": 4, "labels_null": 2, "labels_only_empty": 3,
        "empty_with_other": 3, "leading_space": 12, "mixed_case": 8, "normal_plus_other": 3,
        "pid_len:39": 8, "pid_len:35": 1, "method:Physician": 8, "method:RNN_model": 8,
        "proj:PA": 20, "proj:L": 15, "proj:AP_horizontal": 5, "proj:AP": 4,
        "pediatric": 1,
    })
    chosen = greedy(units, needs, lambda k: len(rows_of[k]), 60)
    rows = sorted(i for k in chosen for i in rows_of[k])
    check_records(recs, df, rows, "padchest")
    name = "PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv"
    write_excerpt(dst / "padchest" / (name + ".gz"), header, recs, rows)
    write_excerpt(dst / "padchest_plain" / name, header, recs, rows)


def cut_vindr(src: Path, dst: Path) -> None:
    path = src / "vinbigdata-train.csv.gz"
    header, recs = read_records(path)
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert len(df) == len(recs)
    units: dict[str, collections.Counter] = {}
    rows_of: dict[str, list[int]] = {}
    for img, grp in df.groupby("image_id"):
        if len(grp) > 12:
            continue
        c: collections.Counter = collections.Counter()
        readers = grp.groupby("class_name")["rad_id"].nunique()
        for name, k in readers.items():
            c[f"{name}:{'majority' if k >= 2 else 'single'}"] += 1
            c[f"{name}:all3"] += k == 3
        c["all_normal"] = int(list(readers.index) == ["No finding"])
        c["dup_box"] = int(grp.groupby(["rad_id", "class_name"]).size().max() > 1
                           and list(readers.index) != ["No finding"])
        units[img] = c
        rows_of[img] = list(grp.index)
    classes = sorted(set(df["class_name"]) - {"No finding"})
    needs = {f"{c}:{k}": 1 for c in classes for k in ("single", "majority")}
    needs.update({f"{c}:all3": 1 for c in classes})
    needs.update({"all_normal": 4, "dup_box": 5})
    # size 1 per image: the cover is over images (all rows of an image are kept).
    chosen = greedy(units, needs, lambda k: 1, 16)
    rows = sorted(i for k in chosen for i in rows_of[k])
    check_records(recs, df, rows, "vindr")
    write_excerpt(dst / "vindr" / "train.csv.gz", header, recs, rows)
    print(f"  vindr: {len(chosen)} images")


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, dst = Path(sys.argv[1]), Path(sys.argv[2])
    for name, fn in (("nih", cut_nih), ("chexpert", cut_chexpert), ("padchest", cut_padchest),
                     ("vindr", cut_vindr)):
        print(name)
        fn(src, dst)


if __name__ == "__main__":
    main()
