"""The toolbar icons, drawn in code as 24x24 PNGs (standard library only): `python -m dreamplate_nuke.icons DIR`.

Drawn here rather than shipped as binaries from elsewhere; `nuke_plugin/icons/` holds the output, and a test checks
that the files there are what this draws.
"""

from __future__ import annotations

import math
import struct
import sys
import zlib
from typing import Callable, Dict, List, Tuple

SIZE = 24
Pixel = Tuple[int, int, int, int]

_COLOURS = {
    "dreamplate": (235, 150, 40),
    "dreamplate_interpolate": (70, 150, 220),
    "dreamplate_relight": (240, 190, 60),
    "dreamplate_sketch": (150, 110, 210),
    "dreamplate_keyframes": (90, 190, 120),
}


def _disc(cx: float, cy: float, r: float) -> Callable[[float, float], float]:
    return lambda x, y: max(0.0, min(1.0, r - math.hypot(x - cx, y - cy) + 0.5))


def _box(x0: float, y0: float, x1: float, y1: float) -> Callable[[float, float], float]:
    return lambda x, y: 1.0 if x0 <= x <= x1 and y0 <= y <= y1 else 0.0


def _stroke(x0: float, y0: float, x1: float, y1: float, w: float) -> Callable[[float, float], float]:
    def cover(x: float, y: float) -> float:
        dx, dy = x1 - x0, y1 - y0
        t = max(0.0, min(1.0, ((x - x0) * dx + (y - y0) * dy) / (dx * dx + dy * dy)))
        return max(0.0, min(1.0, w / 2 - math.hypot(x - (x0 + t * dx), y - (y0 + t * dy)) + 0.5))

    return cover


_GLYPHS = {
    "dreamplate": [_disc(12, 12, 6)],
    "dreamplate_interpolate": [_disc(6, 12, 3), _disc(18, 12, 3), _disc(12, 12, 1.6)],
    "dreamplate_relight": [_disc(12, 12, 4.5)] + [
        _stroke(12 + 6.5 * math.cos(a), 12 + 6.5 * math.sin(a), 12 + 9 * math.cos(a), 12 + 9 * math.sin(a), 1.6)
        for a in [i * math.pi / 4 for i in range(8)]
    ],
    "dreamplate_sketch": [_stroke(5, 19, 19, 5, 2.5), _stroke(5, 13, 11, 19, 1.5)],
    "dreamplate_keyframes": [_box(5, 6, 8, 18), _box(16, 6, 19, 18), _stroke(9, 12, 15, 12, 1.2)],
}


def draw(name: str) -> List[List[Pixel]]:
    """Rows of RGBA pixels: the icon's colour in a rounded square, the glyph in white over it."""
    red, green, blue = _COLOURS[name]
    square = lambda x, y: max(0.0, min(1.0, 3.0 - math.hypot(max(abs(x - 11.5) - 8.5, 0), max(abs(y - 11.5) - 8.5, 0)) + 0.5))  # noqa: E731
    rows = []
    for y in range(SIZE):
        row = []
        for x in range(SIZE):
            cx, cy = x + 0.5, y + 0.5
            glyph = max(g(cx, cy) for g in _GLYPHS[name])
            alpha = square(x, y)
            mix = lambda c: int(round(c + (255 - c) * glyph))  # noqa: E731
            row.append((mix(red), mix(green), mix(blue), int(round(255 * alpha))))
        rows.append(row)
    return rows


def png_bytes(rows: List[List[Pixel]]) -> bytes:
    """An 8-bit RGBA PNG of `rows`."""
    raw = b"".join(b"\0" + bytes(v for pixel in row for v in pixel) for row in rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", len(rows[0]), len(rows), 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def icons() -> Dict[str, bytes]:
    """File name -> PNG bytes for every icon."""
    return {"{}.png".format(name): png_bytes(draw(name)) for name in _COLOURS}


def main(folder: str) -> None:
    import os

    os.makedirs(folder, exist_ok=True)
    for name, data in icons().items():
        with open(os.path.join(folder, name), "wb") as handle:
            handle.write(data)


if __name__ == "__main__":
    main(sys.argv[1])
