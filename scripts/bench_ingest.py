#!/usr/bin/env python3
"""Ingest speed: `cxr-prep ingest` against a Python/OpenCV baseline doing the same work on the
same files with the same number of workers, plus the decode-only time of cxr's own decoders.

Inputs at real sizes, written once into --work:
  * CheXpert layout: N 8-bit JPEGs of 2500x2048 (quality 95, like CheXpert/MIMIC originals);
  * PadChest layout: N 16-bit PNGs of 2800x2800 holding 12-bit values.
The baseline (2 processes): cv2.imread(IMREAD_UNCHANGED) -> cv2.resize(224x224, INTER_AREA) ->
per-image min-max to uint8 -> cv2.equalizeHist -> Parquet via pyarrow (zstd).
cxr (2 threads): `cxr-prep ingest <dataset> --threads 2` (release build), whole command timed.
Decode-only: `decode_only` bench binary (the decoders the ingest uses — JPEG at the reduced DCT
scale covering 224, PNG at full resolution — 2 threads).

`--mode j2k`: N copies of the real RG1 chest CR (tests/fixtures/dicom/rg1_j2kr.dcm, JPEG 2000
lossless, 1841 x 1955, 15 bits stored, MONOCHROME1) in the UKA-CXR template layout.
cxr: `cxr-prep ingest uka --threads 2` (reduced-resolution J2K decode, the default) and the
same with `--full-res-j2k`. Baseline (2 processes): pydicom + pylibjpeg-openjpeg `pixel_array`
-> cv2.resize(224x224, INTER_AREA) -> min-max to uint8 -> MONOCHROME1 inversion ->
cv2.equalizeHist -> Parquet. Also reported: Pearson correlation and mean absolute difference
(grey levels) of each stored image between the reduced and the full-resolution ingest.

Usage:
    cargo build --release --bins --benches
    python3 scripts/bench_ingest.py --work /tmp/cxr-bench --n 64 [--workers 2] [--repeat 3]
    cargo build --release --bin cxr-prep
    python3 scripts/bench_ingest.py --mode j2k --n 16 [--workers 2] [--repeat 3]
Prints a table and a JSON line with seconds, images/s and the ratios; peak RSS of each ingest is
measured with /usr/bin/time -v. Tested with opencv-python-headless 4.10.0.84, numpy 2.4,
pyarrow 26.0.1; J2K mode with pydicom 3.0.2, pylibjpeg 2.1.0, pylibjpeg-openjpeg 2.6.0.
"""

from __future__ import annotations

import argparse
import glob
import json
import multiprocessing as mp
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
CHEXPERT_HEADER = "Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,Enlarged Cardiomediastinum,Cardiomegaly,Lung Opacity,Lung Lesion,Edema,Consolidation,Pneumonia,Atelectasis,Pneumothorax,Pleural Effusion,Pleural Other,Fracture,Support Devices"
PADCHEST_HEADER = ",ImageID,ImageDir,StudyDate_DICOM,StudyID,PatientID,PatientBirth,PatientSex_DICOM,ViewPosition_DICOM,Projection,MethodProjection,Pediatric,Modality_DICOM,Manufacturer_DICOM,PhotometricInterpretation_DICOM,PixelRepresentation_DICOM,PixelAspectRatio_DICOM,SpatialResolution_DICOM,BitsStored_DICOM,WindowCenter_DICOM,WindowWidth_DICOM,Rows_DICOM,Columns_DICOM,XRayTubeCurrent_DICOM,Exposure_DICOM,ExposureInuAs_DICOM,ExposureTime,RelativeXRayExposure_DICOM,ReportID,Report,MethodLabel,Labels,Localizations,LabelsLocalizationsBySentence,labelCUIS,LocalizationsCUIS"


def phantom(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A chest-like float image in [0, 1]: smooth background, two dark lungs, noise."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = 0.55 + 0.15 * np.sin(x / w * 3.1) * np.cos(y / h * 2.3)
    for cx in (0.3, 0.7):
        lung = ((x / w - cx) / 0.17) ** 2 + ((y / h - 0.5) / 0.32) ** 2 < 1
        img[lung] -= 0.35
    small = rng.normal(0, 1, (h // 16 + 1, w // 16 + 1)).astype(np.float32)
    img += 0.04 * cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    img += rng.normal(0, 0.02, (h, w)).astype(np.float32)
    return np.clip(img, 0, 1)


def make_inputs(work: Path, n: int) -> None:
    rng = np.random.default_rng(0)
    cx = work / "chexpert"
    px = work / "padchest"
    if (cx / "CheXpert-v1.0" / "train.csv").exists() and (px / "PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv").exists():
        return
    (cx / "CheXpert-v1.0").mkdir(parents=True, exist_ok=True)
    rows = [CHEXPERT_HEADER]
    for i in range(n):
        rel = f"CheXpert-v1.0/train/patient{i:05d}/study1/view1_frontal.jpg"
        (cx / rel).parent.mkdir(parents=True, exist_ok=True)
        img = (phantom(2500, 2048, rng) * 255).astype(np.uint8)
        cv2.imwrite(str(cx / rel), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
        rows.append(f"{rel},Female,60,Frontal,AP,,,1.0,,,,,,,,0.0,,,")
    (cx / "CheXpert-v1.0" / "train.csv").write_text("\n".join(rows) + "\n")
    (px / "0").mkdir(parents=True, exist_ok=True)
    rows = [PADCHEST_HEADER]
    for i in range(n):
        name = f"{i:038d}_abc{i:03d}.png"
        img = (phantom(2800, 2800, rng) * 4095).astype(np.uint16)
        cv2.imwrite(str(px / "0" / name), img, [cv2.IMWRITE_PNG_COMPRESSION, 3])
        cells = [str(i), name, "0", "20140101", f"s{i}", f"{10**37 + i}", "1950.0", "M", "POSTEROANTERIOR", "PA",
                 "Manual review of DICOM fields", "No", "CR", "X", "MONOCHROME2", "0", "", "0.1", "12", "", "", "2800",
                 "2800", "", "", "", "", "", f"r{i}", "", "Physician", "\"['cardiomegaly']\"", "[]", "[]", "[]", "[]"]
        rows.append(",".join(cells))
    (px / "PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv").write_text("\n".join(rows) + "\n")


def baseline_one(path: str) -> tuple[str, bytes]:
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    small = cv2.resize(img, (224, 224), interpolation=cv2.INTER_AREA).astype(np.float32)
    lo, hi = float(small.min()), float(small.max())
    u8 = np.zeros((224, 224), np.uint8) if hi <= lo else np.rint((small - lo) * (255.0 / (hi - lo))).astype(np.uint8)
    return os.path.basename(path), cv2.equalizeHist(u8).tobytes()


def decode_one(path: str) -> int:
    return int(cv2.imread(path, cv2.IMREAD_UNCHANGED).shape[0])


def baseline(files: list[str], workers: int, out: Path) -> float:
    import pyarrow as pa
    import pyarrow.parquet as pq

    t = time.perf_counter()
    with mp.get_context("fork").Pool(workers) as pool:
        res = pool.map(baseline_one, files, chunksize=1)
    table = pa.table({"image_id": [r[0] for r in res], "image": pa.array([r[1] for r in res], pa.binary())})
    pq.write_table(table, out, compression="zstd", row_group_size=256, write_statistics=["image_id"])
    return time.perf_counter() - t


def opencv_decode(files: list[str], workers: int) -> float:
    t = time.perf_counter()
    with mp.get_context("fork").Pool(workers) as pool:
        pool.map(decode_one, files, chunksize=1)
    return time.perf_counter() - t


def timed(cmd: list[str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (KiB, via /usr/bin/time -v when present) and stdout of a command."""
    use_time = Path("/usr/bin/time").exists()
    full = (["/usr/bin/time", "-v"] if use_time else []) + cmd
    t = time.perf_counter()
    r = subprocess.run(full, capture_output=True, text=True)
    s = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stdout}\n{r.stderr}")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
    return s, int(m.group(1)) if m else -1, r.stdout


UKA_HEADER = "image_id,patient_id,split,image_path,view,sex,age,cardiomegaly,congestion,pleural_effusion_right,pleural_effusion_left,pneumonic_infiltrates_right,pneumonic_infiltrates_left,atelectasis_right,atelectasis_left,pneumothorax_right,pneumothorax_left,healthy"


def make_j2k_inputs(work: Path, n: int) -> Path:
    """N copies of the real RG1 J2K chest in the UKA-CXR template layout."""
    root = work / "j2k-uka"
    src = REPO / "tests" / "fixtures" / "dicom" / "rg1_j2kr.dcm"
    (root / "images").mkdir(parents=True, exist_ok=True)
    rows = [UKA_HEADER]
    for i in range(n):
        dst = root / "images" / f"rg1_{i:03d}.dcm"
        if not dst.exists():
            shutil.copyfile(src, dst)
        rows.append(f"rg1_{i:03d},P{i},train,images/rg1_{i:03d}.dcm,PA,M,61,0,0,0,0,0,0,0,0,0,0,1")
    (root / "UKA_CXR_labels.csv").write_text("\n".join(rows) + "\n")
    return root


def pydicom_one(path: str) -> tuple[str, bytes]:
    from pydicom import dcmread
    from pydicom.pixels import pixel_array

    ds = dcmread(path, stop_before_pixels=True)
    img = pixel_array(path, decoding_plugin="pylibjpeg")
    small = cv2.resize(img, (224, 224), interpolation=cv2.INTER_AREA).astype(np.float32)
    lo, hi = float(small.min()), float(small.max())
    u8 = np.zeros((224, 224), np.uint8) if hi <= lo else np.rint((small - lo) * (255.0 / (hi - lo))).astype(np.uint8)
    if ds.PhotometricInterpretation == "MONOCHROME1":
        u8 = 255 - u8
    return os.path.basename(path), cv2.equalizeHist(u8).tobytes()


def pydicom_baseline(files: list[str], workers: int, out: Path) -> float:
    import pyarrow as pa
    import pyarrow.parquet as pq

    t = time.perf_counter()
    with mp.get_context("fork").Pool(workers) as pool:
        res = pool.map(pydicom_one, files, chunksize=1)
    table = pa.table({"image_id": [r[0] for r in res], "image": pa.array([r[1] for r in res], pa.binary())})
    pq.write_table(table, out, compression="zstd", row_group_size=256, write_statistics=["image_id"])
    return time.perf_counter() - t


def stored_images(store: Path, dataset: str) -> dict[str, np.ndarray]:
    import pyarrow.parquet as pq

    out = {}
    for part in sorted((store / f"dataset={dataset}").glob("*.parquet")):
        t = pq.read_table(part, columns=["image_id", "image"]).to_pydict()
        for i, img in zip(t["image_id"], t["image"]):
            out[i] = np.frombuffer(img, np.uint8).astype(np.float64)
    return out


def main_j2k(args: argparse.Namespace) -> int:
    root = make_j2k_inputs(args.work, args.n)
    files = sorted(str(p) for p in (root / "images").glob("*.dcm"))
    best: dict = {}
    for _ in range(args.repeat):
        for key, extra in [("cxr_reduced_s", []), ("cxr_full_res_s", ["--full-res-j2k"])]:
            store = args.work / ("store-" + key)
            shutil.rmtree(store, ignore_errors=True)
            secs, rss, _ = timed([str(args.bin), "ingest", "uka", "--root", str(root), "--out", str(store), "--threads", str(args.workers), *extra])
            best[key] = min(best.get(key, 1e9), secs)
            best[key.replace("_s", "_peak_rss_mib")] = max(best.get(key.replace("_s", "_peak_rss_mib"), 0), rss / 1024)
        py_s = pydicom_baseline(files, args.workers, args.work / "baseline-j2k.parquet")
        best["pydicom_baseline_s"] = min(best.get("pydicom_baseline_s", 1e9), py_s)
    reduced = stored_images(args.work / "store-cxr_reduced_s", "uka")
    full = stored_images(args.work / "store-cxr_full_res_s", "uka")
    corr = [float(np.corrcoef(reduced[k], full[k])[0, 1]) for k in sorted(full)]
    mad = [float(np.abs(reduced[k] - full[k]).mean()) for k in sorted(full)]
    best.update({
        "files": len(files),
        "speedup_vs_pydicom": best["pydicom_baseline_s"] / best["cxr_reduced_s"],
        "full_res_speedup_vs_pydicom": best["pydicom_baseline_s"] / best["cxr_full_res_s"],
        "reduced_vs_full_corr_min": min(corr),
        "reduced_vs_full_mean_abs_diff": sum(mad) / len(mad),
    })
    print(f"{'input':14} {'files':>5} {'reduced s':>9} {'full s':>7} {'pydicom s':>9} {'x pydicom':>9} {'full x':>7} {'corr min':>8} {'MAD':>6}")
    print(f"{'j2k rg1 1841²':14} {best['files']:5d} {best['cxr_reduced_s']:9.2f} {best['cxr_full_res_s']:7.2f} {best['pydicom_baseline_s']:9.2f} "
          f"{best['speedup_vs_pydicom']:9.2f} {best['full_res_speedup_vs_pydicom']:7.2f} {best['reduced_vs_full_corr_min']:8.4f} {best['reduced_vs_full_mean_abs_diff']:6.2f}")
    print(json.dumps({"mode": "j2k", "workers": args.workers, "repeat": args.repeat, "results": best}))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path, default=Path("/tmp/cxr-bench"))
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--bin", type=Path, default=REPO / "target" / "release" / "cxr-prep")
    ap.add_argument("--decode-bin", type=Path, default=None, help="decode_only bench executable (default: newest target/release/deps/decode_only-*)")
    ap.add_argument("--mode", choices=["raster", "j2k"], default="raster", help="raster: JPEG + 16-bit PNG (default); j2k: JPEG 2000 DICOM (RG1)")
    args = ap.parse_args()
    if args.mode == "j2k":
        return main_j2k(args)
    make_inputs(args.work, args.n)
    decode_bin = args.decode_bin or max(
        (Path(p) for p in glob.glob(str(args.bin.parent / "deps" / "decode_only-*")) if os.access(p, os.X_OK) and not p.endswith(".d")),
        key=lambda p: p.stat().st_mtime,
    )
    results = {}
    for dataset, pattern in [("chexpert", "**/*.jpg"), ("padchest", "**/*.png")]:
        root = args.work / dataset
        files = sorted(str(p) for p in root.glob(pattern))
        best = {}
        for _ in range(args.repeat):
            store = args.work / "store"
            shutil.rmtree(store, ignore_errors=True)
            cxr_s, rss, _ = timed([str(args.bin), "ingest", dataset, "--root", str(root), "--out", str(store), "--threads", str(args.workers)])
            # Decode-only with the decoder the ingest uses (DCT-scaled JPEG, full PNG).
            dec_s, _, out = timed([str(decode_bin), str(root), "--threads", str(args.workers), "--dct"])
            py_s = baseline(files, args.workers, args.work / "baseline.parquet")
            cvdec_s = opencv_decode(files, args.workers)
            for k, v in [("cxr_ingest_s", cxr_s), ("cxr_decode_only_s", dec_s), ("opencv_baseline_s", py_s), ("opencv_decode_only_s", cvdec_s)]:
                best[k] = min(best.get(k, 1e9), v)
            best["cxr_peak_rss_mib"] = max(best.get("cxr_peak_rss_mib", 0), rss / 1024)
        best["files"] = len(files)
        best["speedup_vs_opencv"] = best["opencv_baseline_s"] / best["cxr_ingest_s"]
        best["ingest_over_decode_only"] = best["cxr_ingest_s"] / best["cxr_decode_only_s"]
        results[dataset] = best
    print(f"{'input':10} {'files':>5} {'cxr s':>7} {'decode s':>8} {'opencv s':>8} {'cv dec s':>8} {'x opencv':>8} {'/decode':>7} {'RSS MiB':>7}")
    for d, r in results.items():
        print(f"{d:10} {r['files']:5d} {r['cxr_ingest_s']:7.2f} {r['cxr_decode_only_s']:8.2f} {r['opencv_baseline_s']:8.2f} "
              f"{r['opencv_decode_only_s']:8.2f} {r['speedup_vs_opencv']:8.2f} {r['ingest_over_decode_only']:7.2f} {r['cxr_peak_rss_mib']:7.0f}")
    print(json.dumps({"workers": args.workers, "repeat": args.repeat, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
