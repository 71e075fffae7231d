#!/usr/bin/env python3
"""Draws the PNG app icons in public/icons/ from the same shapes as icons/icon.svg.

Plain Python (zlib only), deterministic: run it again and the files come out the same.
    python3 scripts/make-icons.py
"""
import math
import struct
import zlib
from pathlib import Path

BG = (0x25, 0x63, 0xEB)
FG = (0xFF, 0xFF, 0xFF)
# In the 64-unit space of icon.svg: faint guide lines, then the chart line.
GUIDES = [((14, 42), (50, 42)), ((14, 32), (50, 32)), ((14, 22), (50, 22))]
LINE = [(14, 44), (24, 32), (33, 39), (50, 20)]
STROKE = 5.0


def seg_dist(px, py, a, b):
    ax, ay = a
    bx, by = b
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def rounded_rect_dist(px, py, size, radius):
    # Signed distance to a rounded square [0, size]^2 (negative inside).
    c = size / 2
    qx = abs(px - c) - (c - radius)
    qy = abs(py - c) - (c - radius)
    outside = math.hypot(max(qx, 0), max(qy, 0))
    return outside + min(max(qx, qy), 0) - radius


def render(size, maskable):
    scale = size / 64
    # Maskable icons keep their drawing inside the central safe circle (80 %).
    glyph = 0.72 if maskable else 1.0
    rows = []
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            px, py = (x + 0.5) / scale, (y + 0.5) / scale
            if maskable:
                bg_cov = 1.0
            else:
                d = rounded_rect_dist(px, py, 64, 14) * scale
                bg_cov = max(0.0, min(1.0, 0.5 - d))
            gx, gy = 32 + (px - 32) / glyph, 32 + (py - 32) / glyph
            half = STROKE / 2
            pix = 1 / (scale * glyph)
            g = min(seg_dist(gx, gy, a, b) for a, b in GUIDES)
            guide_cov = max(0.0, min(1.0, (half - g) / pix + 0.5)) * 0.35
            l = min(seg_dist(gx, gy, LINE[i], LINE[i + 1]) for i in range(len(LINE) - 1))
            line_cov = max(0.0, min(1.0, (half - l) / pix + 0.5))
            fg = max(guide_cov, line_cov)
            rgb = [round(BG[i] * (1 - fg) + FG[i] * fg) for i in range(3)]
            row += bytes(rgb + [round(255 * bg_cov)])
        rows.append(bytes(row))
    raw = b"".join(rows)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


if __name__ == "__main__":
    out = Path(__file__).resolve().parents[1] / "public" / "icons"
    out.mkdir(parents=True, exist_ok=True)
    for name, size, maskable in [
        ("icon-192.png", 192, False),
        ("icon-512.png", 512, False),
        ("icon-maskable-512.png", 512, True),
    ]:
        (out / name).write_bytes(render(size, maskable))
        print("wrote", out / name)
