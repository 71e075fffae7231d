#!/usr/bin/env python3
"""Writes the sample camera frames of the person-detection pipeline: 96x96 8-bit grayscale
PGMs (centre square crop, anti-aliased resize) of scikit-image's bundled sample images,
two with a person and four without. Needs `pip install scikit-image`.

Sources (scikit-image `skimage.data`, licences as its documentation states them):
astronaut (NASA, public domain), camera (no known copyright restrictions), coffee (CC0,
Rachel Michetti), chelsea (CC0, Stefan van der Walt), horse (public domain, openclipart),
coins (public domain, Brooklyn Museum).

Usage (from crates/strata-edge): python3 scripts/gen_person_frames.py
"""
import os

import numpy as np
import skimage.color
import skimage.data
import skimage.transform

FRAMES = [("person", "astronaut"), ("person", "camera"), ("none", "coffee"),
          ("none", "chelsea"), ("none", "horse"), ("none", "coins")]


def frame(name):
    img = getattr(skimage.data, name)()
    if img.ndim == 3:
        img = skimage.color.rgb2gray(img[..., :3])
    else:
        img = img / 255.0
    h, w = img.shape
    s = min(h, w)
    img = img[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    return (skimage.transform.resize(img, (96, 96), anti_aliasing=True) * 255).round().astype(np.uint8)


def main():
    out = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "frames")
    os.makedirs(out, exist_ok=True)
    for label, name in FRAMES:
        pixels = frame(name)
        path = os.path.join(out, f"{label}_{name}.pgm")
        with open(path, "wb") as f:
            f.write(b"P5\n96 96\n255\n" + pixels.tobytes())
        print(path)


if __name__ == "__main__":
    main()
