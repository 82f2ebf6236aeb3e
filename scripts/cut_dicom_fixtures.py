#!/usr/bin/env python3
"""Cut the DICOM fixtures under tests/fixtures/dicom/ from the pydicom-data wheel.

Pinned versions (what produced the committed files):
    python 3.11, pydicom==3.0.1, numpy==2.4.6, pylibjpeg==2.0.1,
    pylibjpeg-openjpeg==2.4.0, pylibjpeg-libjpeg==2.3.0, opencv-python-headless==4.10.0.84
Source data: pydicom-data==1.0.0 (PyPI wheel), files data_store/data/RG1_UNCR.dcm and RG1_J2KR.dcm
(a real computed-radiography chest PA, MONOCHROME1, 1841 x 1955, 15 of 16 bits).

Usage:
    pip download pydicom-data==1.0.0 --no-deps -d /tmp/pdd
    unzip -q /tmp/pdd/pydicom_data-1.0.0-py3-none-any.whl -d /tmp/pdd/x
    python3 scripts/cut_dicom_fixtures.py /tmp/pdd/x/data_store/data tests/fixtures/dicom

De-identification: every output is a *new* data set built from a whitelist of technical tags
(image pixel module, modality, body part, view, window); patient, study, institution, date and
device tags are never copied. UIDs are regenerated deterministically. The pixel data of the
full-size file is the original JPEG 2000 code stream, byte for byte.
"""

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLSLossless,
    RLELossless,
    generate_uid,
)

# Tags copied from the source (technical only, nothing that identifies a person, place or time).
WHITELIST = [
    "SOPClassUID", "Modality", "BodyPartExamined", "ViewPosition", "ImageType",
    "SamplesPerPixel", "PhotometricInterpretation", "Rows", "Columns",
    "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation",
    "WindowCenter", "WindowWidth",
]

# Crop of RG1 (columns x rows) covering right lung, mediastinum and spine.
CROP_X, CROP_Y, CROP_W, CROP_H = 520, 480, 384, 320


def clean_dataset(src: Dataset, name: str) -> Dataset:
    ds = Dataset()
    for kw in WHITELIST:
        if kw in src:
            setattr(ds, kw, src.data_element(kw).value)
    # Type-2 identifying attributes present but empty.
    ds.PatientName = ""
    ds.PatientID = ""
    ds.SOPInstanceUID = generate_uid(entropy_srcs=["cxr-fixture", name, "sop"])
    ds.StudyInstanceUID = generate_uid(entropy_srcs=["cxr-fixture", "study"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=["cxr-fixture", "series"])
    return ds


def finish(ds: Dataset, ts: str, out: Path) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ts
    meta.ImplementationClassUID = generate_uid(entropy_srcs=["cxr-fixture-impl"])
    ds.file_meta = meta
    ds.preamble = b"\0" * 128
    ds.save_as(out, enforce_file_format=True)
    print(f"{out.name}: {out.stat().st_size} bytes, {ts.name}")


def with_pixels(src: Dataset, name: str, arr: np.ndarray) -> Dataset:
    ds = clean_dataset(src, name)
    ds.Rows, ds.Columns = arr.shape[-2], arr.shape[-1]
    ds.PixelData = arr.tobytes()
    ds["PixelData"].VR = "OW"
    # compress() needs to know the current (native) transfer syntax.
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds


def main() -> None:
    src_dir, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
    out_dir.mkdir(parents=True, exist_ok=True)
    unc = pydicom.dcmread(src_dir / "RG1_UNCR.dcm")
    j2k = pydicom.dcmread(src_dir / "RG1_J2KR.dcm")

    # 1. Full-size chest, original lossless J2K code stream, cleaned header.
    full = clean_dataset(j2k, "rg1_j2kr")
    full.PixelData = j2k.PixelData  # already encapsulated, unchanged bytes
    full["PixelData"].VR = "OB"
    full.LossyImageCompression = "00"
    finish(full, JPEG2000Lossless, out_dir / "rg1_j2kr.dcm")

    # 2. One crop, many encodings.
    px = unc.pixel_array  # uint16, raw stored values, MONOCHROME1
    crop = np.ascontiguousarray(px[CROP_Y:CROP_Y + CROP_H, CROP_X:CROP_X + CROP_W])
    assert crop.dtype == np.uint16

    finish(with_pixels(unc, "crop_le", crop), ExplicitVRLittleEndian, out_dir / "crop_explicit_le.dcm")

    ds = with_pixels(unc, "crop_rle", crop)
    ds.compress(RLELossless, encoding_plugin="pydicom", generate_instance_uid=False)
    finish(ds, RLELossless, out_dir / "crop_rle.dcm")

    ds = with_pixels(unc, "crop_j2kr", crop)
    ds.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg", generate_instance_uid=False)
    finish(ds, JPEG2000Lossless, out_dir / "crop_j2kr.dcm")

    # MONOCHROME2 twin: stored values reflected in the 15-bit range; the decoder's MONOCHROME1
    # inversion of crop_explicit_le must give exactly these values.
    mono2 = (2**15 - 1 - crop).astype(np.uint16)
    ds = with_pixels(unc, "crop_mono2", mono2)
    ds.PhotometricInterpretation = "MONOCHROME2"
    finish(ds, ExplicitVRLittleEndian, out_dir / "crop_mono2.dcm")

    # Signed twin: stored = value - 16384 (int16, 15 bits stored), RescaleIntercept 16384
    # -> the modality LUT gives back the original values.
    signed = (crop.astype(np.int32) - 16384).astype(np.int16)
    ds = with_pixels(unc, "crop_signed", signed)
    ds.PixelRepresentation = 1
    ds.RescaleIntercept = "16384"
    ds.RescaleSlope = "1"
    ds.RescaleType = "US"
    finish(ds, ExplicitVRLittleEndian, out_dir / "crop_signed.dcm")

    # Two frames: frame 0 is the crop, frame 1 is its MONOCHROME2 twin (first frame wins).
    ds = with_pixels(unc, "crop_2frames", np.stack([crop, mono2]))
    ds.NumberOfFrames = 2
    finish(ds, ExplicitVRLittleEndian, out_dir / "crop_2frames.dcm")

    # 8-bit JPEG baseline (lossy): top 8 of the 15 bits, MONOCHROME2, quality 95.
    crop8 = (mono2 >> 7).astype(np.uint8)
    ok, jpg = cv2.imencode(".jpg", crop8, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    ds = clean_dataset(unc, "crop_jpeg8")
    ds.Rows, ds.Columns = crop8.shape
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.PixelData = encapsulate([jpg.tobytes()])
    ds["PixelData"].VR = "OB"
    ds.LossyImageCompression = "01"
    finish(ds, JPEGBaseline8Bit, out_dir / "crop_jpeg_baseline.dcm")
    jpg_back = cv2.imdecode(jpg, cv2.IMREAD_UNCHANGED)

    # Colour (RGB, 8 bit, interleaved) 64 x 48: three different transforms of the 8-bit crop.
    g = crop8[:48, :64]
    rgb = np.ascontiguousarray(np.stack([g, g // 2, 255 - g], axis=-1))
    ds = clean_dataset(unc, "crop_rgb")
    ds.Rows, ds.Columns = g.shape
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "RGB"
    ds.PlanarConfiguration = 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.PixelData = rgb.tobytes()
    ds["PixelData"].VR = "OB"
    finish(ds, ExplicitVRLittleEndian, out_dir / "crop_rgb.dcm")
    rgb_gray = cv2.cvtColor(rgb[:, :, ::-1].copy(), cv2.COLOR_BGR2GRAY)

    # JPEG-LS label with a junk fragment: the decoder has no JPEG-LS codec (no `jpegls` feature),
    # so this must give UnsupportedTransferSyntax, not a crash.
    ds = clean_dataset(unc, "crop_jpegls")
    ds.Rows, ds.Columns = 8, 8
    ds.PixelData = encapsulate([b"\xff\xd8\xff\xf7" + b"\0" * 60])
    ds["PixelData"].VR = "OB"
    finish(ds, JPEGLSLossless, out_dir / "crop_jpegls_junk.dcm")

    # Image header without PixelData.
    ds = clean_dataset(unc, "no_pixels")
    ds.Rows, ds.Columns = CROP_H, CROP_W
    finish(ds, ExplicitVRLittleEndian, out_dir / "no_pixel_data.dcm")

    # Reference statistics (numpy on pydicom's decode) for the tests.
    stats = {
        "crop": {"x": CROP_X, "y": CROP_Y, "width": CROP_W, "height": CROP_H,
                 "min": int(crop.min()), "max": int(crop.max()),
                 "sum": int(crop.astype(np.int64).sum()),
                 "first_row_head": [int(v) for v in crop[0, :8]]},
        "full": {"width": int(px.shape[1]), "height": int(px.shape[0]),
                 "min": int(px.min()), "max": int(px.max()),
                 "sum": int(px.astype(np.int64).sum())},
        # mean of the 8-bit source and of libjpeg's (OpenCV) decode of the embedded JPEG
        "jpeg8_source_mean": float(crop8.astype(np.float64).mean()),
        "jpeg8_libjpeg_mean": float(jpg_back.astype(np.float64).mean()),
        # cv2.cvtColor(BGR2GRAY) of crop_rgb.dcm
        "rgb_gray_sum": int(rgb_gray.astype(np.int64).sum()),
        "rgb_gray_head": [int(v) for v in rgb_gray[0, :8]],
    }
    (out_dir / "expected.json").write_text(json.dumps(stats, indent=1) + "\n")

    # Cross-check: every lossless file decodes (pydicom) to the crop.
    for name in ["crop_explicit_le", "crop_rle", "crop_j2kr"]:
        got = pydicom.dcmread(out_dir / f"{name}.dcm").pixel_array
        assert np.array_equal(got, crop), name


if __name__ == "__main__":
    main()
