#!/usr/bin/env python3
"""Writes the small PNG files of tests/test_predict.c into tests/fixtures/png/, one per PNG
colour type and bit depth the reader must convert, with pixel values the test recomputes.
Plain Python (zlib, struct): no imaging library, so the bytes are exactly what is written.

    python3 scripts/make_png_fixtures.py
"""
import struct
import zlib

OUT = "tests/fixtures/png/"
PALETTE = [(255, 0, 0), (0, 128, 0), (0, 0, 255), (250, 200, 10)]


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(name, w, h, depth, ctype, rows, extra=b""):
    raw = b"".join(b"\0" + r for r in rows)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0))
    data += extra + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    with open(OUT + name, "wb") as f:
        f.write(data)


def v(x, y):  # the test's formula: a byte per pixel
    return (x * 37 + y * 11) % 256


def main():
    png("gray8_40x24.png", 40, 24, 8, 0, [bytes(v(x, y) for x in range(40)) for y in range(24)])
    png("gray16_7x5.png", 7, 5, 16, 0, [b"".join(struct.pack(">H", v(x, y) * 257) for x in range(7)) for y in range(5)])
    png("rgb16_6x4.png", 6, 4, 16, 2,
        [b"".join(struct.pack(">HHH", v(x, y) * 257, v(y, x) * 257, (255 - v(x, y)) * 257) for x in range(6))
         for y in range(4)])
    plte = chunk(b"PLTE", b"".join(bytes(c) for c in PALETTE))
    png("palette_5x3.png", 5, 3, 8, 3, [bytes((x + y) % 4 for x in range(5)) for y in range(3)], plte)
    # RGBA: alpha 255 on even columns, 0 (fully transparent) on odd ones.
    png("rgba_4x4.png", 4, 4, 8, 6,
        [b"".join(bytes((v(x, y), v(y, x), 7, 255 if x % 2 == 0 else 0)) for x in range(4)) for y in range(4)])
    png("gray_alpha_3x2.png", 3, 2, 8, 4, [b"".join(bytes((v(x, y), 255)) for x in range(3)) for y in range(2)])


if __name__ == "__main__":
    main()
