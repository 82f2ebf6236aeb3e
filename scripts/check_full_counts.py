#!/usr/bin/env python3
"""Check the metadata-only ingest of the FULL public metadata files against an independent count.

The torchxrayvision 1.5.7 wheel on PyPI bundles the real NIH, CheXpert, PadChest and VinBigData
metadata files. This script lays each out under its official name, runs
`cxr-prep ingest <dataset> --metadata-only` into one store, reads `cxr-prep stats --format json`
(polars over the Parquet parts), and compares every per-finding count with
`scripts/count_labels.py` (pandas, written from the spec, not from the Rust code).

Usage:
    pip download torchxrayvision==1.5.7 --no-deps -d /tmp/xrv && unzip -q -o /tmp/xrv/*.whl -d /tmp/xrv
    python3 scripts/check_full_counts.py /tmp/xrv/torchxrayvision/data [--bin target/release/cxr-prep]

Exit code 0 when every count agrees. Needs pandas (tested with pandas 3.1.1, numpy 2.4.6).
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

LAYOUT = {
    # dataset: (wheel file, official path under the root, gunzip?, count_labels name)
    "nih": ("Data_Entry_2017_v2020.csv.gz", "Data_Entry_2017_v2020.csv.gz", False, "nih"),
    "chexpert": ("chexpert_train.csv.gz", "CheXpert-v1.0-small/train.csv", True, "chexpert"),
    "padchest": (
        "PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv.gz",
        "PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv.gz",
        False,
        "padchest",
    ),
    "vindr": ("vinbigdata-train.csv.gz", "train.csv", True, "vindr-kaggle"),
}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("data", type=Path, help="torchxrayvision/data folder of the unpacked wheel")
    ap.add_argument("--bin", default=str(HERE.parent / "target" / "debug" / "cxr-prep"))
    args = ap.parse_args()
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        store = tmp / "store"
        for dataset, (src, official, gunzip, counter_name) in LAYOUT.items():
            root = tmp / dataset
            dst = root / official
            dst.parent.mkdir(parents=True, exist_ok=True)
            if gunzip:
                with gzip.open(args.data / src, "rb") as f, open(dst, "wb") as g:
                    shutil.copyfileobj(f, g)
            else:
                shutil.copy(args.data / src, dst)
            t0 = time.time()
            run = subprocess.run(
                [args.bin, "ingest", dataset, "--root", str(root), "--out", str(store), "--metadata-only",
                 "--max-reject-fraction", "1", "--json"],
                capture_output=True, text=True,
            )
            if run.returncode != 0:
                print(f"{dataset}: ingest failed\n{run.stderr}", file=sys.stderr)
                return 2
            summary = json.loads(run.stdout)
            secs = time.time() - t0
            stats = json.loads(
                subprocess.run([args.bin, "stats", str(store), "--dataset", dataset, "--format", "json"],
                               capture_output=True, text=True, check=True).stdout
            )
            expected = json.loads(
                subprocess.run([sys.executable, str(HERE / "count_labels.py"), counter_name, str(dst)],
                               capture_output=True, text=True, check=True).stdout
            )
            got = {f["finding"]: f for f in stats["findings"]}
            bad = []
            if summary["rejects"] != expected["rejected"]:
                bad.append(f"rejects {summary['rejects']} != {expected['rejected']}")
            if summary["rows"] + summary["rejects"] != expected["rows"]:
                bad.append(f"rows {summary['rows']}+{summary['rejects']} != {expected['rows']}")
            if set(got) != set(expected["findings"]):
                bad.append(f"findings differ: {sorted(set(got) ^ set(expected['findings']))}")
            for name, want in expected["findings"].items():
                g = got.get(name)
                if g is None:
                    continue
                pairs = [("pos", "positive"), ("neg", "negative"), ("unc", "uncertain"), ("null", "unstated")]
                for k, gk in pairs:
                    if g[gk] != want[k]:
                        bad.append(f"{name}.{k}: store {g[gk]} != pandas {want[k]}")
            status = "OK" if not bad else "MISMATCH"
            print(f"{dataset:9} {status}: {summary['rows']} rows stored, {summary['rejects']} rejected, "
                  f"{len(got)} findings compared, ingest {secs:.1f} s")
            for b in bad:
                print("   ", b)
            failures += bool(bad)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
