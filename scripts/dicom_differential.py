#!/usr/bin/env python3
"""Differential conformance of cxr's DICOM decoding against pydicom, over the public test
corpora: pydicom's own test files and the `pydicom-data` package (issue 18, kind 6).

For every file that pydicom decodes to an image (first frame of a multi-frame), a *native twin*
is written: Explicit VR Little Endian, uncompressed, holding pydicom's decoded values with the
attributes that give them their meaning (Photometric Interpretation, Pixel Representation,
Bits Stored, the Modality LUT / Rescale, Presentation LUT Shape). Originals and twins are
ingested together by `cxr-prep ingest uka` (default options), and the stored pixels of each
original are compared with its twin's:

* lossless or native transfer syntaxes: byte-identical;
* lossy ones (JPEG baseline/extended, JPEG-LS near-lossless, JPEG 2000, HTJ2K lossy, and
  any file whose Lossy Image Compression is 01): mean |diff| <= 2 and 99th percentile <= 8;
* or the original is rejected with a reason (counted by reason).

Anything else is *differing*: stored pixels outside the tolerance, a twin that cxr rejects,
or a row neither stored nor rejected. The script prints the counts and writes them with every
file's outcome as JSON; it exits 1 when any file differs, 0 otherwise, 3 when pydicom or its
decoders are not installed (the Rust test skips then, unless CI requires it).

Usage:
    python3 scripts/dicom_differential.py CXR_PREP_BINARY WORK_DIR [--json OUT.json]

Requires: pydicom 3, pydicom-data, numpy, pylibjpeg with -libjpeg, -openjpeg and -rle,
pyarrow (.ci/run installs them; nothing is downloaded at run time).
"""

import csv
import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

try:
    import numpy as np
    import pyarrow.parquet as pq
    import pydicom
    import pydicom.data
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.pixels import pixel_array
    from pydicom.uid import ExplicitVRLittleEndian
    import data_store  # the pydicom-data package
    import libjpeg, openjpeg, rle  # noqa: F401  (pydicom's decoder plugins)
except ImportError as e:  # pragma: no cover
    print(f"missing Python package: {e}")
    sys.exit(3)

warnings.filterwarnings("ignore")

LOSSY_SYNTAXES = {
    "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.81",
    "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.203",
}
# The attributes copied from the original to its twin (they give the samples their meaning).
COPIED = ["PhotometricInterpretation", "RescaleSlope", "RescaleIntercept", "RescaleType",
          "ModalityLUTSequence", "PresentationLUTShape"]
UKA_HEADER = ("image_id,patient_id,split,image_path,view,sex,age,cardiomegaly,congestion,"
              "pleural_effusion_right,pleural_effusion_left,pneumonic_infiltrates_right,"
              "pneumonic_infiltrates_left,atelectasis_right,atelectasis_left,pneumothorax_right,"
              "pneumothorax_left,healthy")


def corpus() -> list:
    dirs = [Path(pydicom.data.__file__).parent / "test_files", Path(data_store.__file__).parent / "data"]
    files = []
    for d in dirs:
        files += sorted(p for p in d.rglob("*") if p.is_file() and p.suffix.lower() in (".dcm", ""))
    return files


def first_frame_of_pydicom(path: Path):
    """(dataset, first frame as pydicom returns it) or None when pydicom gives no image."""
    try:
        ds = pydicom.dcmread(path, force=True)
        if "PixelData" not in ds:
            return None
        # YBR is kept as YBR (raw): cxr takes its Y channel, the luminance by definition.
        raw = str(ds.get("PhotometricInterpretation", "")).startswith("YBR_FULL")
        arr = pixel_array(ds, index=0, raw=raw)
    except Exception:
        return None
    if arr.dtype.kind not in "iu" or arr.ndim not in (2, 3):
        return None
    if arr.ndim == 3 and arr.shape[2] != 3:
        return None
    return ds, arr


def twin(ds: Dataset, arr: np.ndarray, path: Path) -> None:
    t = Dataset()
    t.file_meta = FileMetaDataset()
    t.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    t.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    t.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    t.SOPClassUID = t.file_meta.MediaStorageSOPClassUID
    t.SOPInstanceUID = t.file_meta.MediaStorageSOPInstanceUID
    for kw in COPIED:
        if kw in ds:
            t[kw] = ds[kw]
    # Pixel Value Transformation of an enhanced object: its first frame's rescale.
    for fg in ("PerFrameFunctionalGroupsSequence", "SharedFunctionalGroupsSequence"):
        item = ds.get(fg, [None])[0] if ds.get(fg) else None
        pvt = item.get("PixelValueTransformationSequence") if item is not None else None
        if pvt and "RescaleSlope" not in t:
            t.RescaleSlope, t.RescaleIntercept = pvt[0].RescaleSlope, pvt[0].RescaleIntercept
    colour = arr.ndim == 3
    if colour:
        # RGB as pydicom returns it; YBR_FULL / YBR_FULL_422 read raw (full-resolution YBR).
        ybr = str(ds.get("PhotometricInterpretation", "")).startswith("YBR_FULL")
        t.PhotometricInterpretation = "YBR_FULL" if ybr else "RGB"
        t.PlanarConfiguration = 0
    t.SamplesPerPixel = 3 if colour else 1
    t.Rows, t.Columns = arr.shape[0], arr.shape[1]
    signed = arr.dtype.kind == "i"
    t.PixelRepresentation = 1 if signed else 0
    t.BitsAllocated = arr.dtype.itemsize * 8
    lo, hi = int(arr.min()), int(arr.max())
    need = max(1, int(hi).bit_length() + (1 if signed else 0), (int(-lo - 1).bit_length() + 1) if lo < 0 else 1)
    stored = int(ds.get("BitsStored", t.BitsAllocated) or t.BitsAllocated)
    t.BitsStored = min(t.BitsAllocated, max(stored, need))
    t.HighBit = t.BitsStored - 1
    t.PixelData = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()
    t.save_as(path, enforce_file_format=True)


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    prep, work = Path(sys.argv[1]), Path(sys.argv[2])
    out_json = Path(sys.argv[sys.argv.index("--json") + 1]) if "--json" in sys.argv else None
    if work.exists():
        shutil.rmtree(work)
    root = work / "root"
    (root / "dicom").mkdir(parents=True)
    cases, rows, skipped = {}, [], 0
    for i, f in enumerate(corpus()):
        got = first_frame_of_pydicom(f)
        if got is None:
            skipped += 1
            continue
        ds, arr = got
        name = f"{i:03d}_{f.stem}"
        shutil.copyfile(f, root / "dicom" / f"{name}.dcm")
        twin(ds, arr, root / "dicom" / f"{name}.twin.dcm")
        ts = str(ds.file_meta.get("TransferSyntaxUID", "")) if hasattr(ds, "file_meta") else ""
        lossy = ts in LOSSY_SYNTAXES or str(ds.get("LossyImageCompression", "00")).strip() == "01"
        cases[name] = {"file": f.name, "transfer_syntax": ts, "lossy": lossy}
        for kind in ("o", "t"):
            image = f"dicom/{name}.dcm" if kind == "o" else f"dicom/{name}.twin.dcm"
            rows.append([f"{kind}_{name}", f"p_{name}", "train", image] + [""] * 14)
    with open(root / "UKA_CXR_labels.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(UKA_HEADER.split(","))
        w.writerows(rows)
    store = work / "store"
    run = subprocess.run([str(prep), "ingest", "uka", "--root", str(root), "--out", str(store),
                          "--max-reject-fraction", "1"], capture_output=True, text=True)
    if run.returncode not in (0, 1):
        print(run.stdout, run.stderr)
        return 1
    table = pq.read_table(sorted(store.glob("dataset=uka/*.parquet"))).to_pydict()
    stored = {i: np.frombuffer(b, np.uint8) for i, b in zip(table["image_id"], table["image"])}
    rejects = {}
    rej_path = store / "_rejects" / "uka.csv"
    if rej_path.exists():
        with open(rej_path, newline="") as fh:
            for r in csv.DictReader(fh):
                rejects[r["image_id"]] = r["reason"].split(": ", 1)[-1]
    counts = {"identical": 0, "within lossy tolerance": 0, "rejected": 0, "differing": 0}
    by_reason = {}
    for name, c in sorted(cases.items()):
        o, t = f"o_{name}", f"t_{name}"
        if o in rejects:
            c["outcome"], c["detail"] = "rejected", rejects[o]
            key = rejects[o][:140]
            by_reason[key] = by_reason.get(key, 0) + 1
        elif t not in stored:
            c["outcome"], c["detail"] = "differing", f"twin not stored: {rejects.get(t, 'lost')}"
        elif o not in stored:
            c["outcome"], c["detail"] = "differing", "neither stored nor rejected"
        else:
            d = np.abs(stored[o].astype(int) - stored[t].astype(int))
            mean, p99 = float(d.mean()), float(np.percentile(d, 99))
            c["mean"], c["p99"], c["max"] = round(mean, 3), p99, int(d.max())
            if d.max() == 0:
                c["outcome"] = "identical"
            elif c["lossy"] and mean <= 2 and p99 <= 8:
                c["outcome"] = "within lossy tolerance"
            else:
                c["outcome"] = "differing"
        counts[c["outcome"]] += 1
    report = {"files_in_corpus": len(cases) + skipped, "not_an_image_for_pydicom": skipped,
              "compared": len(cases), "counts": counts, "rejected_by_reason": by_reason, "files": cases}
    print(f"{len(cases)} files pydicom decodes to an image ({skipped} others skipped)")
    for k, v in counts.items():
        print(f"  {k}: {v}")
    for reason, n in sorted(by_reason.items(), key=lambda kv: -kv[1]):
        print(f"    rejected ({n}): {reason}")
    for name, c in sorted(cases.items()):
        if c["outcome"] == "differing":
            print(f"  DIFFERING {c['file']} ({c['transfer_syntax']}): {c.get('detail') or c}")
    if out_json:
        out_json.write_text(json.dumps(report, indent=1, sort_keys=True))
    return 1 if counts["differing"] else 0


if __name__ == "__main__":
    sys.exit(main())
