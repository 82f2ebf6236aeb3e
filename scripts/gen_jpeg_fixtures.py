#!/usr/bin/env python3
"""Small JPEGs written by libjpeg-turbo (through OpenCV, as CheXpert/MIMIC-style JPEGs are) in the
encoder settings the DC-only 1/8-scale fast path must handle or refuse:

  rst4_q90_203x117.jpg       baseline, restart interval 4 MCUs (DRI + RST0..7 wrap-around)
  optimized_q95_203x117.jpg  baseline, optimized (image-specific) Huffman tables
  progressive_q90_203x117.jpg progressive: the fast path refuses, jpeg-decoder decodes it

Content: a seeded chest-like phantom with noise, odd size (partial blocks on both edges).

    python3 scripts/gen_jpeg_fixtures.py tests/fixtures/images/jpeg
Generated with opencv-python-headless 4.10.0.84, numpy 2.4.
"""

import sys
from pathlib import Path

import cv2
import numpy as np


def phantom(h: int, w: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = 140 + 60 * np.sin(x / 17.0) * np.cos(y / 11.0)
    img[((x / w - 0.3) / 0.17) ** 2 + ((y / h - 0.5) / 0.32) ** 2 < 1] -= 70
    img += rng.normal(0, 6, (h, w))
    return np.clip(img, 0, 255).astype(np.uint8)


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/images/jpeg")
    out.mkdir(parents=True, exist_ok=True)
    img = phantom(117, 203)
    cv2.imwrite(str(out / "rst4_q90_203x117.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 90, cv2.IMWRITE_JPEG_RST_INTERVAL, 4])
    cv2.imwrite(str(out / "optimized_q95_203x117.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 95, cv2.IMWRITE_JPEG_OPTIMIZE, 1])
    cv2.imwrite(str(out / "progressive_q90_203x117.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 90, cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
