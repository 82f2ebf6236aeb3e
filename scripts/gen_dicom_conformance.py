#!/usr/bin/env python3
"""Write the DICOM pixel-conformance fixtures under tests/fixtures/dicom/conformance/ and the
reference values that independent tools compute for them (issue 11, section 1).

Pinned versions (what produced the committed files):
    python 3.11, pydicom==3.0.2, numpy==2.4.6, pylibjpeg==2.1.0, pylibjpeg-libjpeg==2.5.0,
    imagecodecs==2026.3.6 (libjpeg-turbo 3.1.3), DCMTK 3.6.7 (dcmdjpeg)

Usage:
    python3 scripts/gen_dicom_conformance.py tests/fixtures/dicom/conformance

Every image is synthetic (a smooth "radiograph" with a bright disc and noise, seeded), 32 x 24
pixels, so each file is a few KB. Writers and reference decoders:

* JPEG Lossless (.57 / .70) with and without restart intervals: written by the small T.81
  process-14 encoder below (libjpeg-turbo's API has no restart interval for lossless in
  imagecodecs); every stream is checked to decode to the source exactly by libjpeg-turbo 3
  (imagecodecs.jpeg8_decode), by pylibjpeg-libjpeg (pydicom's pixel_array) and by DCMTK
  dcmdjpeg, so a wrong stream cannot become a fixture.
* JPEG-LS (.80 / .81): CharLS 2.4 through imagecodecs as writer and reference decoder.
* JPEG Extended 12-bit (.51): libjpeg-turbo 3 (imagecodecs.jpeg8_encode, bitspersample=12);
  reference pixels from libjpeg-turbo's decoder and from pylibjpeg-libjpeg.
* Modality LUT Sequence, VOI LUT Sequence, windows (LINEAR, LINEAR_EXACT, SIGMOID), signed /
  rescaled twins, colour layouts, a raw data set without File Meta: written by pydicom;
  reference values from pydicom's apply_modality_lut / apply_voi_lut / pixel_array
  (dcmread(force=True) for the raw data set).

reference.json holds, per fixture, the reference values the tests compare against.
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import imagecodecs
import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.pixels import apply_modality_lut, apply_voi_lut
from pydicom.uid import (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    generate_uid,
)

W, H = 32, 24
OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/dicom/conformance")
REF: dict = {}


def radiograph(bits: int, seed: int = 7) -> np.ndarray:
    """A smooth ramp with a bright disc and noise, spanning most of `bits` bits (uint16)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    base = 0.15 + 0.5 * x / W + 0.2 * y / H
    base += 0.25 * (((x - 20) ** 2 + (y - 10) ** 2) < 36)
    base += rng.normal(0, 0.02, (H, W))
    top = 2**bits - 1
    return np.clip(np.rint(base * top), 0, top).astype(np.uint16)


def dataset(name: str, arr: np.ndarray, bits_stored: int, *, signed=False, pi="MONOCHROME2",
            ts=ExplicitVRLittleEndian, bits_allocated=16, spp=1) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ts
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=["cxr-conf", name])
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.1"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "CR"
    ds.PatientName = ""
    ds.PatientID = ""
    ds.SamplesPerPixel = spp
    ds.PhotometricInterpretation = pi
    ds.Rows, ds.Columns = H, W
    ds.BitsAllocated = bits_allocated
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0
    if spp == 3:
        ds.PlanarConfiguration = 0
    if arr is not None:
        ds.PixelData = arr.tobytes()
    return ds


def save(ds: Dataset, name: str) -> Path:
    p = OUT / name
    ds.save_as(p, enforce_file_format=True)
    return p


# --- a T.81 process-14 (lossless, Huffman) encoder ------------------------------------------

def predict(plane: np.ndarray, y: int, x: int, sv: int, first_row: bool, initial: int) -> int:
    if first_row:
        return initial if x == 0 else int(plane[y, x - 1])
    if x == 0:
        return int(plane[y - 1, x])
    ra, rb, rc = int(plane[y, x - 1]), int(plane[y - 1, x]), int(plane[y - 1, x - 1])
    return {1: ra, 2: rb, 3: rc, 4: ra + rb - rc, 5: ra + ((rb - rc) >> 1),
            6: rb + ((ra - rc) >> 1), 7: (ra + rb) >> 1}[sv]


def huffman_lengths(freq: dict) -> dict:
    """Code lengths for symbols 0..16 (all present) plus a reserved longest code (T.81 K.2)."""
    import heapq
    items = [(f + 1, i, [s]) for i, (s, f) in enumerate(sorted(freq.items()))]
    items.append((0, 99, [None]))  # reserves the all-ones code
    heapq.heapify(items)
    depth = {s: 0 for _, _, ss in items for s in ss}
    n = 100
    while len(items) > 1:
        a, b = heapq.heappop(items), heapq.heappop(items)
        for s in a[2] + b[2]:
            depth[s] += 1
        heapq.heappush(items, (a[0] + b[0], n, a[2] + b[2]))
        n += 1
    depth.pop(None)
    assert max(depth.values()) <= 16
    return depth


class Bits:
    def __init__(self):
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def put(self, value: int, n: int):
        for i in range(n - 1, -1, -1):
            self.acc = (self.acc << 1) | ((value >> i) & 1)
            self.n += 1
            if self.n == 8:
                self.out.append(self.acc)
                if self.acc == 0xFF:
                    self.out.append(0)
                self.acc, self.n = 0, 0

    def flush(self):
        while self.n:
            self.put(1, 1)  # pad with 1-bits (T.81 F.1.2.3)


def encode_lossless(planes: list, precision: int, sv: int, restart_rows: int) -> bytes:
    """Interleaved scan of `planes` (H x W uint16 each, 1x1 sampling)."""
    initial = 1 << (precision - 1)
    diffs = []
    for y in range(H):
        first_row = y == 0 or (restart_rows and y % restart_rows == 0)
        for x in range(W):
            for plane in planes:
                d = (int(plane[y, x]) - predict(plane, y, x, sv, first_row, initial)) % 65536
                diffs.append(d - 65536 if d > 32768 else d)
    cat = [0 if d == 0 else (16 if d == 32768 else abs(d).bit_length()) for d in diffs]
    freq = {s: cat.count(s) for s in range(17)}
    lengths = huffman_lengths(freq)
    counts = [0] * 16
    for s in range(17):
        counts[lengths[s] - 1] += 1
    order = sorted(range(17), key=lambda s: (lengths[s], s))
    codes, code, prev = {}, 0, lengths[order[0]]
    for s in order:
        code <<= lengths[s] - prev
        prev = lengths[s]
        codes[s] = code
        code += 1
    seg = bytearray(b"\xff\xd8")
    nf = len(planes)
    sof = bytes([precision]) + H.to_bytes(2, "big") + W.to_bytes(2, "big") + bytes([nf])
    for c in range(nf):
        sof += bytes([c + 1, 0x11, 0])
    seg += b"\xff\xc3" + (len(sof) + 2).to_bytes(2, "big") + sof
    dht = bytes([0x00]) + bytes(counts) + bytes(order)
    seg += b"\xff\xc4" + (len(dht) + 2).to_bytes(2, "big") + dht
    if restart_rows:
        seg += b"\xff\xdd\x00\x04" + (restart_rows * W).to_bytes(2, "big")
    sos = bytes([nf]) + b"".join(bytes([c + 1, 0x00]) for c in range(nf)) + bytes([sv, 0, 0])
    seg += b"\xff\xda" + (len(sos) + 2).to_bytes(2, "big") + sos
    bits = Bits()
    per_row = W * nf
    rst = 0
    for i, (d, s) in enumerate(zip(diffs, cat)):
        if restart_rows and i and i % (per_row * restart_rows) == 0:
            bits.flush()
            bits.out += bytes([0xFF, 0xD0 + rst])
            rst = (rst + 1) % 8
        bits.put(codes[s], lengths[s])
        if 0 < s < 16:
            bits.put(d if d > 0 else d + (1 << s) - 1, s)
    bits.flush()
    seg += bits.out + b"\xff\xd9"
    return bytes(seg)


def dcmdjpeg_pixels(path: Path) -> np.ndarray:
    with tempfile.TemporaryDirectory() as t:
        out = Path(t) / "u.dcm"
        subprocess.run(["dcmdjpeg", str(path), str(out)], check=True)
        return pydicom.dcmread(out).pixel_array


def lossless_fixtures():
    src = radiograph(16)
    twin = dataset("ll_twin", src, 16)
    save(twin, "ll_twin.dcm")
    variants = [  # name, ts, predictor, restart rows, precision
        ("ll_sv1_nodri", JPEGLosslessSV1, 1, 0, 16),
        ("ll_sv1_dri1", JPEGLosslessSV1, 1, 1, 16),
        ("ll_sv1_dri5", JPEGLosslessSV1, 1, 5, 16),
    ] + [(f"ll_p{p}_dri3", JPEGLossless, p, 3, 16) for p in range(2, 8)]
    for name, ts, sv, rr, prec in variants:
        stream = encode_lossless([src], prec, sv, rr)
        assert np.array_equal(imagecodecs.jpeg8_decode(stream), src), f"{name}: libjpeg-turbo"
        ds = dataset(name, None, 16, ts=ts)
        ds.PixelData = encapsulate([stream])
        p = save(ds, f"{name}.dcm")
        assert np.array_equal(pydicom.dcmread(p).pixel_array, src), f"{name}: pylibjpeg-libjpeg"
        assert np.array_equal(dcmdjpeg_pixels(p), src), f"{name}: dcmdjpeg"
        REF[name] = {"twin": "ll_twin.dcm", "restart_rows": rr, "predictor": sv}
    # Colour (RGB of a grey, interleaved, DRI 2 rows) and 8-bit precision.
    g8 = (radiograph(8, seed=3)).astype(np.uint16)
    stream = encode_lossless([g8, g8, g8], 8, 1, 2)
    assert np.array_equal(imagecodecs.jpeg8_decode(stream), np.dstack([g8] * 3).astype(np.uint8))
    ds = dataset("ll_rgb8_dri2", None, 8, pi="RGB", ts=JPEGLosslessSV1, bits_allocated=8, spp=3)
    ds.PixelData = encapsulate([stream])
    p = save(ds, "ll_rgb8_dri2.dcm")
    assert np.array_equal(pydicom.dcmread(p).pixel_array[..., 0], g8)
    REF["ll_rgb8_dri2"] = {"grey": g8.flatten().tolist()}
    # Truncated DRI stream: must be an error, not pixels.
    stream = encode_lossless([src], 16, 1, 1)
    ds = dataset("ll_truncated", None, 16, ts=JPEGLosslessSV1)
    ds.PixelData = encapsulate([stream[: len(stream) * 2 // 3] + b"\xff\xd9"])
    save(ds, "ll_truncated.dcm")


def ext12_fixture():
    src = radiograph(12, seed=11)
    stream = imagecodecs.jpeg8_encode(src, level=90, bitspersample=12, lossless=False)
    assert stream[:2] == b"\xff\xd8"
    turbo = imagecodecs.jpeg8_decode(stream)
    ds = dataset("ext12", None, 12, ts=JPEGExtended12Bit)
    ds.PixelData = encapsulate([stream])
    p = save(ds, "ext12.dcm")
    libjpeg = pydicom.dcmread(p).pixel_array
    assert np.abs(libjpeg.astype(int) - turbo.astype(int)).max() <= 1
    REF["ext12"] = {"turbo": turbo.flatten().tolist(), "source": src.flatten().tolist()}


def lut_fixtures():
    src = radiograph(12, seed=5)
    # Unsigned, 4096-entry 16-bit log-like LUT.
    ds = dataset("mlut_unsigned", src, 12)
    item = Dataset()
    item.LUTDescriptor = [4096, 0, 16]
    item.ModalityLUTType = "OD"
    lut = np.rint(65535 * np.log1p(np.arange(4096) / 64) / np.log1p(4095 / 64)).astype(np.uint16)
    item.add_new(0x00283006, "US", lut.tolist())
    ds.ModalityLUTSequence = [item]
    p = save(ds, "mlut_unsigned.dcm")
    ds = pydicom.dcmread(p)
    ref = apply_modality_lut(ds.pixel_array, ds)
    assert np.array_equal(ref, lut[src])
    REF["mlut_unsigned"] = {"values": ref.astype(int).flatten().tolist()}
    # Signed pixel data, SS descriptor with a negative first mapped value, a decreasing LUT
    # covering only part of the stored range (values outside clamp to the end entries).
    s = src.astype(np.int32) - 2048
    ds = dataset("mlut_signed", s.astype(np.int16), 12, signed=True)
    item = Dataset()
    item.add_new(0x00283002, "SS", [3000, -1500, 16])
    lut = np.rint(np.linspace(0, 1023, 3000) ** 1.0).astype(np.uint16)[::-1].copy()
    item.add_new(0x00283006, "US", lut.tolist())
    ds.ModalityLUTSequence = [item]
    p = save(ds, "mlut_signed.dcm")
    ds = pydicom.dcmread(p)
    ref = apply_modality_lut(ds.pixel_array, ds)
    assert np.array_equal(ref, lut[np.clip(s + 1500, 0, 2999)])
    REF["mlut_signed"] = {"values": ref.astype(int).flatten().tolist()}


def twin_fixtures():
    """The same modality values in several encodings."""
    v = (radiograph(12, seed=9) // 2 * 2).astype(np.int32)  # even values 0..4094
    save(dataset("twin_unsigned", v.astype(np.uint16), 12), "twin_unsigned.dcm")
    ds = dataset("twin_signed", (v - 2048).astype(np.int16), 12, signed=True)
    ds.RescaleIntercept, ds.RescaleSlope = "2048", "1"
    save(ds, "twin_signed.dcm")
    ds = dataset("twin_slope2", (v // 2).astype(np.uint16), 12)
    ds.RescaleIntercept, ds.RescaleSlope = "0", "2"
    save(ds, "twin_slope2.dcm")
    ds = dataset("twin_intercept", (v + 1000).astype(np.uint16), 13)
    ds.RescaleIntercept, ds.RescaleSlope = "-1000", "1"
    save(ds, "twin_intercept.dcm")
    ds = dataset("twin_half", (v * 2).astype(np.uint16), 14)
    ds.RescaleIntercept, ds.RescaleSlope = "0", "0.5"
    save(ds, "twin_half.dcm")
    ds = dataset("twin_signed_neg", (v - 3000).astype(np.int16), 13, signed=True)
    save(ds, "twin_signed_neg.dcm")  # modality values v − 3000: negative, same image
    for name in ["twin_signed", "twin_slope2", "twin_intercept", "twin_half"]:
        d = pydicom.dcmread(OUT / f"{name}.dcm")
        assert np.array_equal(apply_modality_lut(d.pixel_array, d), v), name
    REF["twins"] = {"values": v.flatten().tolist()}


def voi_fixtures():
    src = radiograph(12, seed=13)
    cases = {
        "voi_linear": dict(WindowCenter="1800", WindowWidth="1200"),
        "voi_linear_exact": dict(WindowCenter="1800", WindowWidth="1200", VOILUTFunction="LINEAR_EXACT"),
        "voi_sigmoid": dict(WindowCenter="1800", WindowWidth="1200", VOILUTFunction="SIGMOID"),
        "voi_two_windows": dict(WindowCenter=["1800", "500"], WindowWidth=["1200", "300"]),
    }
    for name, attrs in cases.items():
        ds = dataset(name, src, 12)
        for k, val in attrs.items():
            setattr(ds, k, val)
        p = save(ds, f"{name}.dcm")
        d = pydicom.dcmread(p)
        out = apply_voi_lut(d.pixel_array.astype(np.float64), d, index=0, prefer_lut=True)
        # pydicom's window output range is the stored range [0, 4095]; ours 0..65535.
        ref = np.rint(out / 4095.0 * 65535.0)
        REF[name] = {"values": ref.astype(int).flatten().tolist()}
    # VOI LUT Sequence beside a window: the LUT is used (pydicom prefer_lut=True).
    ds = dataset("voi_lut_seq", src, 12)
    ds.WindowCenter, ds.WindowWidth = "1800", "1200"
    item = Dataset()
    item.LUTDescriptor = [2048, 1000, 12]
    lut = np.rint(4095 * (np.linspace(0, 1, 2048) ** 0.5)).astype(np.uint16)
    item.add_new(0x00283006, "US", lut.tolist())
    ds.VOILUTSequence = [item]
    p = save(ds, "voi_lut_seq.dcm")
    d = pydicom.dcmread(p)
    ref = apply_voi_lut(d.pixel_array, d, index=0, prefer_lut=True)
    assert np.array_equal(ref, lut[np.clip(src.astype(int) - 1000, 0, 2047)])
    REF["voi_lut_seq"] = {"values": ref.astype(int).flatten().tolist()}
    # Presentation LUT Shape: INVERSE on MONOCHROME2 inverts; on MONOCHROME1 it is the same
    # single inversion MONOCHROME1 already implies.
    ds = dataset("pres_inverse_mono2", src, 12)
    ds.PresentationLUTShape = "INVERSE"
    save(ds, "pres_inverse_mono2.dcm")
    ds = dataset("pres_inverse_mono1", src, 12, pi="MONOCHROME1")
    ds.PresentationLUTShape = "INVERSE"
    save(ds, "pres_inverse_mono1.dcm")
    save(dataset("mono1", src, 12, pi="MONOCHROME1"), "mono1.dcm")
    REF["voi_source"] = {"values": src.astype(int).flatten().tolist()}


def colour_fixtures():
    g = radiograph(8, seed=21).astype(np.uint8)
    # YBR_FULL_422, uncompressed: Y1 Y2 Cb Cr per pair of columns.
    cells = np.zeros((H, W // 2, 4), np.uint8)
    cells[..., 0], cells[..., 1] = g[:, 0::2], g[:, 1::2]
    cells[..., 2:] = 128
    ds = dataset("ybr422_native", None, 8, pi="YBR_FULL_422", bits_allocated=8, spp=3)
    ds.PixelData = cells.tobytes()
    p = save(ds, "ybr422_native.dcm")
    d = pydicom.dcmread(p)
    from pydicom.pixels import pixel_array
    ybr = pixel_array(d, as_rgb=False)  # pydicom expands 4:2:2 to YBR_FULL
    assert np.array_equal(ybr[..., 0], g)
    # 16-bit RGB, planar configuration 1, R = G = B.
    g16 = radiograph(12, seed=22)
    ds = dataset("rgb16_planar", np.stack([g16, g16, g16]), 12, pi="RGB", spp=3)
    ds.PlanarConfiguration = 1
    p = save(ds, "rgb16_planar.dcm")
    assert np.array_equal(pydicom.dcmread(p).pixel_array[..., 1], g16)
    REF["ybr422_native"] = {"grey": g.astype(int).flatten().tolist()}
    REF["rgb16_planar"] = {"grey": g16.astype(int).flatten().tolist()}


def jpegls_fixtures():
    """JPEG-LS streams written by CharLS 2.4 (imagecodecs.jpegls_encode); reference pixels from
    CharLS's own decoder. Flat borders (a collimated radiograph) exercise run mode."""
    def collimated(bits, seed):
        a = radiograph(bits, seed).astype(np.int64)
        a[:4, :] = 0
        a[:, :5] = a[4, 5]
        a[-3:, -6:] = 2**bits - 1
        return a.astype(np.uint16)
    cases = [  # name, ts, bits, near, photometric
        ("jls_lossless12", "1.2.840.10008.1.2.4.80", 12, 0),
        ("jls_lossless8", "1.2.840.10008.1.2.4.80", 8, 0),
        ("jls_lossless16", "1.2.840.10008.1.2.4.80", 16, 0),
        ("jls_near3", "1.2.840.10008.1.2.4.81", 12, 3),
    ]
    for name, ts, bits, near in cases:
        src = collimated(bits, seed=40 + bits + near)
        arr = src.astype(np.uint8) if bits == 8 else src
        stream = imagecodecs.jpegls_encode(arr, level=near or None)
        charls = imagecodecs.jpegls_decode(stream)
        if near == 0:
            assert np.array_equal(charls, arr), name
        ds = dataset(name, None, bits, ts=ts, bits_allocated=8 if bits == 8 else 16)
        ds.PixelData = encapsulate([stream])
        save(ds, f"{name}.dcm")
        REF[name] = {"charls": charls.astype(int).flatten().tolist()}
    g = radiograph(8, seed=45).astype(np.uint8)
    stream = imagecodecs.jpegls_encode(np.dstack([g, g, g]))
    ds = dataset("jls_rgb", None, 8, pi="RGB", ts="1.2.840.10008.1.2.4.80", bits_allocated=8, spp=3)
    ds.PixelData = encapsulate([stream])
    save(ds, "jls_rgb.dcm")
    REF["jls_rgb"] = {"grey": g.astype(int).flatten().tolist()}


def raw_dataset_fixture():
    """Implicit VR little endian data set with no preamble, no 'DICM', no File Meta."""
    src = radiograph(12, seed=31)
    ds = dataset("raw_implicit", src, 12)
    del ds.file_meta
    p = OUT / "raw_implicit.dcm"
    pydicom.dcmwrite(p, ds, implicit_vr=True, little_endian=True, enforce_file_format=False)
    b = p.read_bytes()
    assert b[128:132] != b"DICM" and not b.startswith(b"DICM")
    d = pydicom.dcmread(p, force=True)
    d.file_meta = FileMetaDataset()
    d.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian  # what `force` readers assume
    assert np.array_equal(d.pixel_array, src)
    REF["raw_implicit"] = {"values": src.astype(int).flatten().tolist()}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    lossless_fixtures()
    ext12_fixture()
    lut_fixtures()
    twin_fixtures()
    voi_fixtures()
    colour_fixtures()
    raw_dataset_fixture()
    jpegls_fixtures()
    (OUT / "reference.json").write_text(json.dumps(REF, separators=(",", ":")) + "\n")
    total = sum(f.stat().st_size for f in OUT.iterdir())
    print(f"wrote {len(list(OUT.iterdir()))} files, {total} bytes, to {OUT}")


if __name__ == "__main__":
    main()
