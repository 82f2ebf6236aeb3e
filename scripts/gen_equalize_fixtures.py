#!/usr/bin/env python3
"""Reference outputs for the pixel stage, written to tests/fixtures/images/opencv_reference.json.

Pinned versions: python 3.11, numpy==2.4.6, opencv-python-headless==4.10.0.84.
Usage: python3 scripts/gen_equalize_fixtures.py tests/fixtures/images/opencv_reference.json

* "equalize": small uint8 arrays and `cv2.equalizeHist` of each (the study's step 6).
* "minmax": small uint16 arrays and the study's steps 3-4,
  `skimage.util.img_as_ubyte((a - a.min()) / (a.max() - a.min()))`, written out as
  `np.rint(x * 255)` in float64 (what img_as_ubyte does for float input in [0, 1]).
* "luma": RGB uint8 triples and `cv2.cvtColor(BGR2GRAY)` of them.
Inputs are seeded (numpy default_rng(20261126)) so the file is reproducible.
"""

import json
import sys

import cv2
import numpy as np


def main() -> None:
    rng = np.random.default_rng(20261126)
    eq = []
    shapes_and_makers = [
        ("uniform_16x16", lambda: rng.integers(0, 256, (16, 16))),
        ("narrow_low_13x7", lambda: rng.integers(10, 40, (13, 7))),
        ("gaussian_32x24", lambda: np.clip(rng.normal(128, 30, (32, 24)), 0, 255)),
        ("skewed_20x20", lambda: np.clip(rng.exponential(20, (20, 20)), 0, 255)),
        ("two_values_6x5", lambda: np.where(rng.random((6, 5)) < 0.3, 17, 200)),
        ("constant_4x4", lambda: np.full((4, 4), 77)),
        ("single_pixel", lambda: np.array([[5]])),
        ("with_0_and_255_9x11", lambda: np.concatenate(
            [[0, 255], rng.integers(0, 256, 97)]).reshape(9, 11)),
    ]
    for name, make in shapes_and_makers:
        a = make().astype(np.uint8)
        out = cv2.equalizeHist(a)
        eq.append({"name": name, "height": a.shape[0], "width": a.shape[1],
                   "input": a.ravel().tolist(), "expected": out.ravel().tolist()})

    mm = []
    for name, a in [
        ("random_12bit", rng.integers(0, 4096, 64)),
        ("random_16bit", rng.integers(0, 65536, 64)),
        ("ties_range2", np.array([0, 1, 2, 1, 0])),
        ("ties_range6", np.array([3, 4, 5, 6, 7, 8, 9])),
        ("ties_range10", np.arange(100, 111)),
        ("constant", np.full(5, 1234)),
    ]:
        a = a.astype(np.uint16)
        f = a.astype(np.float64)
        rng_ = f.max() - f.min()
        if rng_ == 0:
            out = np.zeros(a.shape, np.uint8)
        else:
            out = np.clip(np.rint(((f - f.min()) / rng_) * 255), 0, 255).astype(np.uint8)
        mm.append({"name": name, "input": a.tolist(), "expected": out.tolist()})

    rgb = rng.integers(0, 256, (40, 3)).astype(np.uint8)
    gray = cv2.cvtColor(rgb[:, ::-1].reshape(1, 40, 3).copy(), cv2.COLOR_BGR2GRAY).ravel()
    luma = {"rgb": rgb.ravel().tolist(), "expected": gray.tolist()}

    doc = {"opencv": cv2.__version__, "numpy": np.__version__,
           "equalize": eq, "minmax": mm, "luma": luma}
    with open(sys.argv[1], "w") as fh:
        json.dump(doc, fh, separators=(",", ":"))
        fh.write("\n")


if __name__ == "__main__":
    main()
