#!/usr/bin/env python3
"""Write the JPEG 2000 DICOM fixtures under tests/fixtures/j2k/ and their reference values.

Source pixels: the committed real radiograph tests/fixtures/dicom/rg1_j2kr.dcm (pydicom-data
RG1, CR chest PA, MONOCHROME1, 1841 x 1955, 15 bits), decoded by pydicom, cropped to 125 x 93
(odd sizes, so the reduced sizes are ceil(125 / 2^r) x ceil(93 / 2^r)).

Encoder: OpenJPEG's opj_compress (Debian libopenjp2-tools 2.5.0), from PGM/PPM files.
Reference decoders (independent of cxr's pure-Rust openjp2 port):
  * reduced resolution: opj_decompress -r R (C OpenJPEG 2.5.0), PGM output;
  * full resolution: pydicom 3 + pylibjpeg-openjpeg (C OpenJPEG), `ds.pixel_array`, which uses
    the code stream's precision when it differs from Bits Stored;
  * colour: pydicom's RGB output reduced with OpenCV's fixed-point BGR2GRAY weights
    (4899 R + 9617 G + 1868 B + 8192) >> 14.

Files (tests/fixtures/j2k/):
  reduce_lossless.dcm   .90, 5/3 reversible, 5 levels, 15-bit, MONOCHROME1
  reduce_lossy.dcm      .91, 9/7 irreversible (-I -r 20), same crop
  precision.dcm         .90, code stream precision 15 but Bits Stored 12 / High Bit 11
  rct_grey.dcm          .90, YBR_RCT: the grey crop as R = G = B, lossless with MCT
  ict_grey.dcm          .91, YBR_ICT: the grey crop >> 7 (8-bit) as R = G = B, lossy with MCT
  sign.dcm              .90, Pixel Representation 1, Bits Stored 13, but an *unsigned* 13-bit
                        code stream of the two's complement bit patterns (pydicom's example)
  fragments.dcm         .90, one frame split over three fragments
  two_frames.dcm        .90, two frames with a Basic Offset Table: the crop, then its negative
  htj2k.dcm             .201, HTJ2K lossless written by OpenJPH's ojph_compress (Debian
                        openjph-tools 0.9); references: ojph_expand (full) and opj_decompress -r
  expected.json "rg1_r3": opj_decompress -r 3 of the full RG1 code stream (231 x 245, the level
                        the ingest decodes for --size 224); no new DICOM file
  expected.json         reference values (see the keys)

Usage: python3 scripts/gen_j2k_fixtures.py  (writes into tests/fixtures/j2k/)
Tested with python 3.11, pydicom 3.0.2, pylibjpeg 2.1.0, pylibjpeg-openjpeg 2.6.0,
numpy 2.4.6, opencv-python-headless 5.0.0.93, opj_compress/opj_decompress 2.5.0.

De-identification: new data sets with technical tags only (as scripts/cut_dicom_fixtures.py).
"""

import hashlib
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate, generate_frames
from pydicom.uid import HTJ2KLossless, JPEG2000, JPEG2000Lossless, generate_uid

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "tests" / "fixtures" / "j2k"
X, Y, W, H = 700, 620, 125, 93


def dataset(name: str, rows: int, cols: int, bits: int, pi: str, spp: int = 1) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.1"  # CR Image Storage
    ds.Modality = "CR"
    ds.BodyPartExamined = "CHEST"
    ds.PatientName = ""
    ds.PatientID = ""
    ds.SOPInstanceUID = generate_uid(entropy_srcs=["cxr-j2k-fixture", name])
    ds.StudyInstanceUID = generate_uid(entropy_srcs=["cxr-j2k-fixture", "study"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=["cxr-j2k-fixture", "series"])
    ds.SamplesPerPixel = spp
    ds.PhotometricInterpretation = pi
    if spp == 3:
        ds.PlanarConfiguration = 0
    ds.Rows, ds.Columns = rows, cols
    ds.BitsAllocated = 16 if bits > 8 else 8
    ds.BitsStored, ds.HighBit = bits, bits - 1
    ds.PixelRepresentation = 0
    return ds


def save(ds: Dataset, codestream: bytes | None, ts, name: str) -> Path:
    """Write `ds` with `codestream` as its one fragment (None: PixelData already encapsulated)."""
    if codestream is not None:
        ds.PixelData = encapsulate([codestream])
    ds["PixelData"].VR = "OB"
    ds.LossyImageCompression = "00" if ts == JPEG2000Lossless else "01"
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ts
    meta.ImplementationClassUID = generate_uid(entropy_srcs=["cxr-fixture-impl"])
    ds.file_meta = meta
    ds.preamble = b"\0" * 128
    out = OUT / name
    ds.save_as(out, enforce_file_format=True)
    print(f"{name}: {out.stat().st_size} bytes")
    return out


def write_pnm(path: Path, arr: np.ndarray, maxval: int) -> None:
    magic = b"P6" if arr.ndim == 3 else b"P5"
    dtype = ">u2" if maxval > 255 else "u1"
    head = b"%s\n%d %d\n%d\n" % (magic, arr.shape[1], arr.shape[0], maxval)
    path.write_bytes(head + arr.astype(dtype).tobytes())


def read_pgm(path: Path) -> np.ndarray:
    data = path.read_bytes()
    parts, pos = [], 0
    while len(parts) < 4:  # magic, width, height, maxval; '#' comments skipped
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos)
            continue
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        parts.append(data[pos:end])
        pos = end
    pos += 1
    w, h, maxval = int(parts[1]), int(parts[2]), int(parts[3])
    dtype = ">u2" if maxval > 255 else "u1"
    return np.frombuffer(data[pos:], dtype=dtype, count=w * h).reshape(h, w).astype(np.int64)


def opj_compress(tmp: Path, arr: np.ndarray, maxval: int, *args: str) -> bytes:
    src = tmp / ("in.ppm" if arr.ndim == 3 else "in.pgm")
    write_pnm(src, arr, maxval)
    out = tmp / "out.j2k"
    subprocess.run(["opj_compress", "-i", str(src), "-o", str(out), *args], check=True, capture_output=True)
    return out.read_bytes()


def opj_reduced(tmp: Path, codestream: bytes, r: int) -> np.ndarray:
    src, out = tmp / "ref.j2k", tmp / "ref.pgm"
    src.write_bytes(codestream)
    subprocess.run(["opj_decompress", "-i", str(src), "-o", str(out), "-r", str(r)], check=True, capture_output=True)
    return read_pgm(out)


def ojph(tmp: Path, arr: np.ndarray, maxval: int) -> bytes:
    src, out = tmp / "in.pgm", tmp / "out.j2c"
    write_pnm(src, arr, maxval)
    subprocess.run(["ojph_compress", "-i", str(src), "-o", str(out), "-reversible", "true", "-num_decomps", "5"],
                   check=True, capture_output=True)
    return out.read_bytes()


def ojph_expand(tmp: Path, codestream: bytes) -> np.ndarray:
    src, out = tmp / "ref.j2c", tmp / "ref_ojph.pgm"
    src.write_bytes(codestream)
    subprocess.run(["ojph_expand", "-i", str(src), "-o", str(out)], check=True, capture_output=True)
    return read_pgm(out)


def luma(rgb: np.ndarray) -> np.ndarray:
    r, g, b = (rgb[..., i].astype(np.int64) for i in range(3))
    return (4899 * r + 9617 * g + 1868 * b + 8192) >> 14


def ref(a: np.ndarray) -> dict:
    """An exact, compact reference: SHA-256 of the values as little-endian u16, plus the size,
    sum, min, max and first row head for diagnostics."""
    a = np.asarray(a)
    assert a.min() >= 0 and a.max() < 2**16
    return {"width": int(a.shape[1]), "height": int(a.shape[0]),
            "sha256": hashlib.sha256(a.astype("<u2").tobytes()).hexdigest(),
            "sum": int(a.astype(np.int64).sum()), "min": int(a.min()), "max": int(a.max()),
            "head": [int(v) for v in a[0, :8]]}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    full = pydicom.dcmread(REPO / "tests" / "fixtures" / "dicom" / "rg1_j2kr.dcm").pixel_array
    crop = np.ascontiguousarray(full[Y:Y + H, X:X + W]).astype(np.uint16)
    assert crop.max() < 2**15
    exp: dict = {"crop": {"x": X, "y": Y, **ref(crop)}}
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        # 1. Reduced resolution, lossless and lossy; 6 resolutions = 5 decomposition levels.
        for name, ts, extra in [("reduce_lossless", JPEG2000Lossless, []), ("reduce_lossy", JPEG2000, ["-I", "-r", "20"])]:
            cs = opj_compress(tmp, crop, 2**15 - 1, "-n", "6", *extra)
            path = save(dataset(name, H, W, 15, "MONOCHROME1"), cs, ts, f"{name}.dcm")
            full_ref = pydicom.dcmread(path).pixel_array
            entry = {"levels": 5, "full": ref(full_ref)}
            for r in range(0, 6):
                red = opj_reduced(tmp, cs, r)
                assert r > 0 or np.array_equal(red, full_ref), "opj_decompress -r 0 == pydicom"
                entry[f"r{r}"] = ref(red)
            exp[name] = entry
        assert exp["reduce_lossless"]["full"]["sha256"] == exp["crop"]["sha256"]

        # 2. Precision 15 in the code stream, Bits Stored 12 in the data set.
        cs = opj_compress(tmp, crop, 2**15 - 1)
        path = save(dataset("precision", H, W, 12, "MONOCHROME1"), cs, JPEG2000Lossless, "precision.dcm")
        got = pydicom.dcmread(path).pixel_array  # pydicom 3: the code stream's precision
        assert np.array_equal(got, crop), "pydicom must use the code-stream precision"
        exp["precision"] = {"codestream_precision": 15, "bits_stored": 12, **ref(got)}

        # 3. YBR_RCT: grey crop as R = G = B, reversible colour transform (opj_compress -mct 1).
        rgb = np.repeat(crop[:, :, None], 3, axis=2)
        cs = opj_compress(tmp, rgb, 2**15 - 1, "-mct", "1")
        path = save(dataset("rct", H, W, 15, "YBR_RCT", spp=3), cs, JPEG2000Lossless, "rct_grey.dcm")
        ds = pydicom.dcmread(path)
        got = ds.pixel_array  # RGB after the inverse RCT
        assert np.array_equal(luma(got), crop), "RCT of a grey image must give the grey back"
        exp["rct_grey"] = ref(luma(got))

        # 4. YBR_ICT: 8-bit grey as R = G = B, irreversible colour transform, lossy.
        grey8 = (crop >> 7).astype(np.uint8)
        rgb8 = np.repeat(grey8[:, :, None], 3, axis=2)
        cs = opj_compress(tmp, rgb8, 255, "-mct", "1", "-I", "-r", "10")
        path = save(dataset("ict", H, W, 8, "YBR_ICT", spp=3), cs, JPEG2000, "ict_grey.dcm")
        got = pydicom.dcmread(path).pixel_array
        exp["ict_grey"] = {"source_grey8": ref(grey8), "luma": ref(luma(got)),
                           "mean_abs_diff_to_source": float(np.abs(luma(got) - grey8.astype(np.int64)).mean())}
        # 5. Pixel Representation 1 / Bits Stored 13 with an unsigned 13-bit code stream of the
        #    two's complement patterns: pydicom 3 reinterprets them as signed (sign correction).
        signed = (crop.astype(np.int32) >> 2) - 4096  # 13-bit signed range [-4096, 4095]
        assert signed.min() >= -4096 and signed.max() <= 4095
        patterns = (signed & 0x1FFF).astype(np.uint16)
        cs = opj_compress(tmp, patterns, 2**13 - 1)
        ds = dataset("sign", H, W, 13, "MONOCHROME2")
        ds.PixelRepresentation = 1
        path = save(ds, cs, JPEG2000Lossless, "sign.dcm")
        got = pydicom.dcmread(path).pixel_array
        assert np.array_equal(got, signed), "pydicom 3 corrects the sign"
        exp["sign"] = {"offset": 4096, **ref(got.astype(np.int64) + 4096)}

        # 6. One frame in three fragments; two frames with a Basic Offset Table.
        cs = opj_compress(tmp, crop, 2**15 - 1)
        ds = dataset("fragments", H, W, 15, "MONOCHROME1")
        ds.PixelData = encapsulate([cs], fragments_per_frame=3)
        save(ds, None, JPEG2000Lossless, "fragments.dcm")
        assert np.array_equal(pydicom.dcmread(OUT / "fragments.dcm").pixel_array, crop)
        negative = (2**15 - 1 - crop).astype(np.uint16)
        cs2 = opj_compress(tmp, negative, 2**15 - 1)
        ds = dataset("two_frames", H, W, 15, "MONOCHROME1")
        ds.NumberOfFrames = 2
        ds.PixelData = encapsulate([cs, cs2], fragments_per_frame=2, has_bot=True)
        save(ds, None, JPEG2000Lossless, "two_frames.dcm")
        both = pydicom.dcmread(OUT / "two_frames.dcm").pixel_array
        assert np.array_equal(both[0], crop) and np.array_equal(both[1], negative)

        # 7. HTJ2K lossless (OpenJPH), 5 decomposition levels.
        cs = ojph(tmp, crop, 2**15 - 1)
        path = save(dataset("htj2k", H, W, 15, "MONOCHROME1"), cs, HTJ2KLossless, "htj2k.dcm")
        full_ref = ojph_expand(tmp, cs)
        assert np.array_equal(full_ref, crop), "ojph_expand gives the crop back"
        entry = {"levels": 5, "full": ref(full_ref)}
        for r in range(1, 6):
            entry[f"r{r}"] = ref(opj_reduced(tmp, cs, r))
        exp["htj2k"] = entry
        # 8. The full RG1 at reduce 3 (what --size 224 decodes).
        rg1 = pydicom.dcmread(REPO / "tests" / "fixtures" / "dicom" / "rg1_j2kr.dcm")
        frame = next(generate_frames(rg1.PixelData, number_of_frames=1))
        exp["rg1_r3"] = ref(opj_reduced(tmp, frame, 3))
    (OUT / "expected.json").write_text(json.dumps(exp, indent=1) + "\n")
    print("expected.json written")


if __name__ == "__main__":
    main()
