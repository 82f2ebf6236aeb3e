#!/usr/bin/env python3
"""Write the DICOM fixtures of the real-world cases of issue 18 (round 3) under
tests/fixtures/cases/, each a UKA-template root, and check them against independent readers.

Pinned versions (what produced the committed files):
    python 3.11, pydicom==3.0.2, numpy==2.4.6, pylibjpeg==2.1.0, pylibjpeg-libjpeg==2.5.0,
    pylibjpeg-openjpeg==2.6.0, pylibjpeg-rle==2.2.0, imagecodecs==2026.3.6 (CharLS 2.4,
    libjpeg-turbo 3), pillow==13.0.0

Usage:
    python3 scripts/gen_round3_cases.py tests/fixtures/cases

1. `uka-dicom-16-allocated-8-stored`: one 8-bit 176 x 144 phantom as A native (Bits Allocated
   8, the reference), B native BA 16 / BS 8, C JPEG Lossless SV1 (precision 8, the T.81 encoder of
   gen_dicom_conformance.py), D JPEG-LS (CharLS, precision 8), E JPEG 2000 lossless (OpenJPEG,
   precision 8), F RLE (two PackBits byte segments, written here), all with BA 16 / BS 8; G JPEG
   baseline q95 (libjpeg-turbo through Pillow) with BA 16 and H the same code stream with BA 8.
   Checked here: pydicom 3 returns A's samples for B, D, E, F (it fails on C and G: "could not
   broadcast"; C's code stream decodes to the source in libjpeg-turbo);
   libjpeg-turbo's decode of the shared code stream is written as `G_expected_samples.u8`.
2. `uka-dicom-private-sequence-cp246`: one 12-bit 160 x 128 DX phantom as A clean; B with the
   Philips private sequences (2001,105F) and (2005,1084) as UN of undefined length (PS3.5 CP-246:
   implicit-VR items, one nested undefined-length sequence); C the same as proper explicit SQ;
   D UDI Sequence (0018,100A) as UN of defined length holding an implicit-VR item; E an Implicit
   VR file whose (0012,0064) De-identification Method Code Sequence holds the text "Siemens
   Healthcare Header Anonymizer"; F the same text in explicit VR with VR LO. Checked here:
   pydicom 3 `pixel_array` returns A's pixels for all six.
"""

import io
import struct
import sys
from pathlib import Path

import imagecodecs
import numpy as np
import openjpeg
import pydicom
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (ExplicitVRLittleEndian, ImplicitVRLittleEndian, JPEG2000Lossless,
                         JPEGBaseline8Bit, JPEGLSLossless, JPEGLosslessSV1, RLELossless, generate_uid)

sys.path.insert(0, str(Path(__file__).parent))
import gen_dicom_conformance as conf  # noqa: E402  (its T.81 lossless encoder)

OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/cases")
UKA_HEADER = ("image_id,patient_id,split,image_path,view,sex,age,cardiomegaly,congestion,"
              "pleural_effusion_right,pleural_effusion_left,pneumonic_infiltrates_right,"
              "pneumonic_infiltrates_left,atelectasis_right,atelectasis_left,pneumothorax_right,"
              "pneumothorax_left,healthy")


def phantom(w: int, h: int, bits: int, seed: int) -> np.ndarray:
    """A smooth ramp with a bright disc, a dark bar and noise, spanning most of `bits` bits."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    base = 0.1 + 0.55 * x / w + 0.2 * y / h
    base += 0.2 * (((x - 0.6 * w) ** 2 + (y - 0.4 * h) ** 2) < (0.15 * w) ** 2)
    base -= 0.08 * ((y > 0.7 * h) & (y < 0.8 * h))
    base += rng.normal(0, 0.015, (h, w))
    top = 2**bits - 1
    return np.clip(np.rint(base * top), 0, top)


def dataset(name: str, arr: np.ndarray, *, ba: int, bs: int, ts=ExplicitVRLittleEndian,
            modality="DX") -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ts
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=["cxr-round3", name])
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    ds.PatientName = ""
    ds.PatientID = ""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = arr.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = ba, bs, bs - 1
    ds.PixelRepresentation = 0
    ds.PixelData = arr.astype(np.uint8 if ba == 8 else np.uint16).tobytes()
    return ds


def encapsulated(ds: Dataset, ts, stream: bytes) -> Dataset:
    ds.file_meta.TransferSyntaxUID = ts
    ds.PixelData = encapsulate([stream])
    ds["PixelData"].VR = "OB"
    ds.LossyImageCompression = "01" if ts == JPEGBaseline8Bit else "00"
    return ds


def write_root(case: Path, names: list, patient0: int) -> None:
    (case / "root" / "dicom").mkdir(parents=True, exist_ok=True)
    rows = [f"{n},P{patient0 + i},train,dicom/{n}.dcm,AP,M,70,0,0,0,0,0,0,0,0,0,0,1" for i, n in enumerate(names)]
    (case / "root" / "UKA_CXR_labels.csv").write_text(UKA_HEADER + "\n" + "\n".join(rows) + "\n")


def allocated_16_stored_8() -> None:
    case = OUT / "uka-dicom-16-allocated-8-stored"
    d = case / "root" / "dicom"
    write_root(case, ["A_native_ba8", "B_native_ba16_bs8", "C_jpeg_lossless_sv1_ba16", "D_jpegls_ba16",
                      "E_j2k_lossless_ba16", "F_rle_ba16", "G_jpeg_baseline_ba16", "H_jpeg_baseline_ba8"], 1600)
    img = phantom(176, 144, 8, seed=16).astype(np.uint8)
    dataset("A", img, ba=8, bs=8).save_as(d / "A_native_ba8.dcm", enforce_file_format=True)
    dataset("B", img, ba=16, bs=8).save_as(d / "B_native_ba16_bs8.dcm", enforce_file_format=True)
    conf.H, conf.W = img.shape
    ll = conf.encode_lossless([img.astype(np.uint16)], 8, 1, 0)
    encapsulated(dataset("C", img, ba=16, bs=8), JPEGLosslessSV1, ll).save_as(d / "C_jpeg_lossless_sv1_ba16.dcm", enforce_file_format=True)
    jls = imagecodecs.jpegls_encode(img)
    encapsulated(dataset("D", img, ba=16, bs=8), JPEGLSLossless, jls).save_as(d / "D_jpegls_ba16.dcm", enforce_file_format=True)
    j2k = bytes(openjpeg.encode(img, photometric_interpretation=0, use_mct=False, codec_format=0))
    encapsulated(dataset("E", img, ba=16, bs=8), JPEG2000Lossless, j2k).save_as(d / "E_j2k_lossless_ba16.dcm", enforce_file_format=True)
    planes = [(img.astype(np.uint16) >> 8).astype(np.uint8), img.astype(np.uint8)]  # MSB, LSB (PS3.5 G.2)
    encapsulated(dataset("F", img, ba=16, bs=8), RLELossless, rle_frame(planes)).save_as(d / "F_rle_ba16.dcm", enforce_file_format=True)
    buf = io.BytesIO()
    Image.fromarray(img, "L").save(buf, format="JPEG", quality=95)
    jpg = buf.getvalue()
    encapsulated(dataset("G", img, ba=16, bs=8), JPEGBaseline8Bit, jpg).save_as(d / "G_jpeg_baseline_ba16.dcm", enforce_file_format=True)
    encapsulated(dataset("H", img, ba=8, bs=8), JPEGBaseline8Bit, jpg).save_as(d / "H_jpeg_baseline_ba8.dcm", enforce_file_format=True)

    # Independent checks: pydicom returns the source for A, B, D, E, F; for C (pydicom 3.0.2 with
    # pylibjpeg-libjpeg fails: "could not broadcast", its decoder returns 8-bit samples) the
    # code stream decodes to the source in libjpeg-turbo (imagecodecs.ljpeg_decode).
    for n in ["A_native_ba8", "B_native_ba16_bs8", "D_jpegls_ba16", "E_j2k_lossless_ba16", "F_rle_ba16"]:
        got = pydicom.dcmread(d / f"{n}.dcm").pixel_array
        assert np.array_equal(got.astype(np.int64), img.astype(np.int64)), n
    assert np.array_equal(imagecodecs.ljpeg_decode(ll), img), "C code stream"
    turbo = np.asarray(Image.open(io.BytesIO(jpg)))
    assert turbo.shape == img.shape
    (case / "G_expected_samples.u8").write_bytes(turbo.astype(np.uint8).tobytes())
    h = pydicom.dcmread(d / "H_jpeg_baseline_ba8.dcm").pixel_array
    print(f"{case.name}: pydicom H vs libjpeg-turbo max |diff| {np.abs(h.astype(int) - turbo.astype(int)).max()}")


def rle_frame(planes: list) -> bytes:
    """An RLE Lossless frame (PS3.5 G.3): one PackBits segment per byte plane, literal runs of
    up to 128 bytes, each segment padded to even length."""
    segments = []
    for p in planes:
        flat, seg = p.tobytes(), bytearray()
        for i in range(0, len(flat), 128):
            run = flat[i:i + 128]
            seg += bytes([len(run) - 1]) + run
        if len(seg) % 2:
            seg += b"\x80"  # a no-op header byte as padding
        segments.append(bytes(seg))
    header, off = struct.pack("<I", len(segments)), 64
    for s in segments:
        header += struct.pack("<I", off)
        off += len(s)
    return header.ljust(64, b"\0") + b"".join(segments)


def elements(b: bytes, start: int, explicit: bool):
    """(offset, group, element) of the top-level elements of a data set without sequences."""
    i = start
    while i + 8 <= len(b):
        g, e = struct.unpack_from("<HH", b, i)
        yield i, g, e
        if explicit:
            vr = b[i + 4:i + 6]
            if vr in (b"OB", b"OW", b"SQ", b"UN", b"UT", b"UC", b"UR", b"OL", b"OF", b"OD", b"OV"):
                ln = struct.unpack_from("<I", b, i + 8)[0]
                i += 12 + (0 if ln == 0xFFFFFFFF else ln)
            else:
                i += 8 + struct.unpack_from("<H", b, i + 6)[0]
        else:
            i += 8 + struct.unpack_from("<I", b, i + 4)[0]


def insert(path: Path, raw: bytes, before: tuple, explicit: bool = True) -> None:
    """Inserts `raw` (encoded elements) before the first data set element >= `before`."""
    b = path.read_bytes()
    meta_end = 132 + 12 + struct.unpack_from("<I", b, 132 + 8)[0]
    at = next(i for i, g, e in elements(b, meta_end, explicit) if (g, e) >= before)
    path.write_bytes(b[:at] + raw + b[at:])


def tag(g: int, e: int) -> bytes:
    return struct.pack("<HH", g, e)


def implicit(g: int, e: int, value: bytes) -> bytes:
    return tag(g, e) + struct.pack("<I", len(value)) + value


def explicit_short(g: int, e: int, vr: bytes, value: bytes) -> bytes:
    return tag(g, e) + vr + struct.pack("<H", len(value)) + value


ITEM_UNDEF = tag(0xFFFE, 0xE000) + b"\xff\xff\xff\xff"
ITEM_END = tag(0xFFFE, 0xE00D) + b"\0\0\0\0"
SEQ_END = tag(0xFFFE, 0xE0DD) + b"\0\0\0\0"


def private_sequences() -> None:
    case = OUT / "uka-dicom-private-sequence-cp246"
    d = case / "root" / "dicom"
    names = ["A_clean", "B_private_un_undefined_length", "C_private_sq_explicit", "D_un_defined_length_sequence",
             "E_implicit_deid_code_sequence_as_text", "F_explicit_deid_code_sequence_as_lo"]
    write_root(case, names, 1500)
    img = phantom(160, 128, 12, seed=15).astype(np.uint16)
    for n in names:
        ts = ImplicitVRLittleEndian if n.startswith("E_") else ExplicitVRLittleEndian
        dataset(n, img, ba=16, bs=12, ts=ts).save_as(d / f"{n}.dcm", enforce_file_format=True)

    # B: Philips private groups 2001 / 2005, each sequence UN with undefined length (CP-246).
    nested = tag(0x2001, 0x1070) + b"\xff\xff\xff\xff" + ITEM_UNDEF + implicit(0x2001, 0x1071, b"NESTED") + ITEM_END + SEQ_END
    seq_2001 = (tag(0x2001, 0x105F) + b"UN\0\0\xff\xff\xff\xff" + ITEM_UNDEF
                + implicit(0x2001, 0x1060, b"STACK 1 ") + implicit(0x2001, 0x1061, struct.pack("<H", 7) + b"\0\0")
                + nested + ITEM_END + SEQ_END)
    seq_2005 = (tag(0x2005, 0x1084) + b"UN\0\0\xff\xff\xff\xff" + ITEM_UNDEF
                + implicit(0x2005, 0x1085, b"1.5 ") + ITEM_END + SEQ_END)
    creator = lambda g: explicit_short(g, 0x0010, b"LO", b"Philips Imaging DD 001 ")  # noqa: E731
    insert(d / f"{names[1]}.dcm", creator(0x2001) + seq_2001 + creator(0x2005) + seq_2005, (0x7FE0, 0x0010))

    # C: the same content as proper explicit-VR private sequences (pydicom writes them).
    c = pydicom.dcmread(d / f"{names[2]}.dcm")
    for g, e, inner in [(0x2001, 0x105F, [(0x2001, 0x1060, "SH", "STACK 1")]), (0x2005, 0x1084, [(0x2005, 0x1085, "DS", "1.5")])]:
        c.add_new((g, 0x0010), "LO", "Philips Imaging DD 001")
        item = Dataset()
        for ig, ie, vr, v in inner:
            item.add_new((ig, ie), vr, v)
        c.add_new((g, e), "SQ", [item])
    c.save_as(d / f"{names[2]}.dcm", enforce_file_format=True)

    # D: UDI Sequence as UN with a defined length holding one implicit-VR item.
    item = implicit(0x0018, 0x1009, b"(01)00012345678905") + implicit(0x0018, 0x100B, b"1.2.3.4 ")
    value = tag(0xFFFE, 0xE000) + struct.pack("<I", len(item)) + item
    insert(d / f"{names[3]}.dcm", tag(0x0018, 0x100A) + b"UN\0\0" + struct.pack("<I", len(value)) + value, (0x0018, 0x100B))

    # E / F: the anonymiser's name in De-identification Method Code Sequence (0012,0064).
    text = b"Siemens Healthcare Header Anonymizer"
    insert(d / f"{names[4]}.dcm", implicit(0x0012, 0x0064, text), (0x0012, 0x0065), explicit=False)
    insert(d / f"{names[5]}.dcm", explicit_short(0x0012, 0x0064, b"LO", text), (0x0012, 0x0065))

    for n in names:
        got = pydicom.dcmread(d / f"{n}.dcm").pixel_array
        assert np.array_equal(got, img), n
    print(f"{case.name}: pydicom reads all six as the source")


if __name__ == "__main__":
    allocated_16_stored_8()
    private_sequences()
