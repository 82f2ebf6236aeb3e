#!/usr/bin/env python3
"""Fixtures for the robustness tests (tests/it/robust.rs): a tiny DICOM to mutate, and a cxr part
file as polars / pyarrow rewrite it.

1. `tests/fixtures/robust/tiny_mono2.dcm`: 16x16, 16-bit unsigned, 12 bits stored, MONOCHROME2,
   Explicit VR Little Endian, with preamble and File Meta (pydicom). The DICOM fuzz test mutates
   its bytes and feeds them to the decoder.
2. `tests/fixtures/robust/original.parquet`: a part written by cxr (copied verbatim from the
   store given on the command line), and `rewritten_large.parquet`: the same table rewritten by
   pyarrow with other Arrow encodings of the same values -- large_string for every text column,
   large_binary image, int16 / int32 / int64 finding columns (cycling), uint32 height/width,
   int64 source_row, float64 age, every field nullable (what `polars.read_parquet(...).write_parquet`
   and `pq.write_table(tbl.cast(...))` produce). `rewritten_view.parquet`: string_view /
   binary_view and dictionary-encoded split/view/sex.

Usage (from the repository root; the store is made from the committed NIH case fixture):
    cargo run --bin cxr-prep -- ingest nih --root tests/fixtures/cases/nih-kaggle-csv-age-outliers/root \
        --out /tmp/robust-store --size 16
    python3 scripts/gen_robust_fixtures.py /tmp/robust-store/dataset=nih/part-00000.parquet tests/fixtures/robust

Tested with pydicom 3.0.2, pyarrow 26.0.1, numpy 2.x.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

FIXED = {"image_id", "patient_id", "study_id", "view", "split", "source_path", "source_row",
         "sex", "age", "height", "width", "image", "source_labels"}


def tiny_dicom(path: Path) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image Storage
    meta.MediaStorageSOPInstanceUID = "1.2.3.4.5.6.7.8.9"
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.Rows, ds.Columns = 16, 16
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PixelRepresentation = 0
    ds.RescaleSlope, ds.RescaleIntercept = "1", "0"
    ds.WindowCenter, ds.WindowWidth = "2048", "4096"
    y, x = np.mgrid[0:16, 0:16]
    ds.PixelData = ((x * 200 + y * 50) % 4096).astype("<u2").tobytes()
    ds.save_as(path, enforce_file_format=True)


def rewrite(src: Path, out: Path) -> None:
    table = pq.read_table(src)
    fields, i = [], 0
    for f in table.schema:
        t = f.type
        if f.name in ("height", "width"):
            t = pa.uint32()
        elif f.name == "source_row":
            t = pa.int64()
        elif f.name == "age":
            t = pa.float64()
        elif f.name == "image":
            t = pa.large_binary()
        elif pa.types.is_string(t):
            t = pa.large_string()
        elif f.name not in FIXED:
            t = [pa.int16(), pa.int32(), pa.int64()][i % 3]
            i += 1
        fields.append(pa.field(f.name, t, nullable=True))
    pq.write_table(table.cast(pa.schema(fields)), out / "rewritten_large.parquet", compression="zstd")

    cols = []
    for f in table.schema:
        c = table.column(f.name)
        if f.name in ("split", "view", "sex"):
            c = c.dictionary_encode()
        elif pa.types.is_string(f.type):
            c = c.cast(pa.string_view())
        elif f.name == "image":
            c = c.cast(pa.binary_view())
        cols.append(c)
    names = [f.name for f in table.schema]
    pq.write_table(pa.table(cols, names=names), out / "rewritten_view.parquet", compression="zstd")
    shutil.copyfile(src, out / "original.parquet")


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        sys.exit(__doc__)
    out = Path(argv[1])
    out.mkdir(parents=True, exist_ok=True)
    tiny_dicom(out / "tiny_mono2.dcm")
    rewrite(Path(argv[0]), out)


if __name__ == "__main__":
    main(sys.argv[1:])
