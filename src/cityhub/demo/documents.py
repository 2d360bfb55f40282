"""Encode synthetic tables and charts as the files a city uploads: CSV (UTF-8 or CP949), XLSX,
GeoJSON, a PNG chart and a one-page PDF. Written with the standard library (and openpyxl), so the
demo needs no imaging or PDF package.
"""

from __future__ import annotations

import csv
import io
import struct
import zlib
from collections.abc import Sequence

import orjson

from cityhub.demo.rows import LAT, LON, Table


def csv_bytes(table: Table, *, encoding: str = "utf-8") -> bytes:
    cols, rows = table
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(cols)
    writer.writerows(rows)
    return buf.getvalue().encode(encoding)


def xlsx_bytes(table: Table, *, sheet: str = "data") -> bytes:
    from openpyxl import Workbook

    cols, rows = table
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet)
    ws.append(cols)
    for row in rows:
        ws.append(list(row))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def geojson_bytes(table: Table) -> bytes:
    """A FeatureCollection of points; lat/lon become the geometry, the rest properties."""
    cols, rows = table
    ilat, ilon = cols.index(LAT), cols.index(LON)
    props = [(i, c) for i, c in enumerate(cols) if i not in (ilat, ilon)]
    features = [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [row[ilon], row[ilat]]},
         "properties": {c: row[i] for i, c in props}}
        for row in rows
    ]
    return orjson.dumps({"type": "FeatureCollection", "features": features})


# --- a bar chart as PNG -----------------------------------------------------------------------------------


def _png(width: int, height: int, pixels: bytearray) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    stride = width * 3
    raw = b"".join(b"\x00" + bytes(pixels[y * stride:(y + 1) * stride]) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def bar_chart_png(values: Sequence[float], *, width: int = 640, height: int = 320) -> bytes:
    """Vertical bars (one per value) with a baseline and light grid, as an RGB PNG."""
    pixels = bytearray(b"\xff" * (width * height * 3))

    def fill(x0: int, y0: int, x1: int, y1: int, rgb: tuple[int, int, int]) -> None:
        row = bytes(rgb) * (x1 - x0)
        for y in range(max(0, y0), min(height, y1)):
            start = (y * width + x0) * 3
            pixels[start:start + len(row)] = row

    margin, top = 40, 20
    for k in range(5):  # grid lines
        y = top + k * (height - top - margin) // 4
        fill(margin, y, width - 10, y + 1, (225, 228, 235))
    peak = max(values) or 1
    slot = (width - margin - 10) / max(1, len(values))
    for i, v in enumerate(values):
        x0 = int(margin + i * slot + slot * 0.15)
        x1 = int(margin + (i + 1) * slot - slot * 0.15)
        bar = int((height - top - margin) * v / peak)
        fill(x0, height - margin - bar, max(x1, x0 + 1), height - margin, (37, 99, 235))
    fill(margin, height - margin, width - 10, height - margin + 2, (60, 60, 60))
    return _png(width, height, pixels)


# --- a one-page PDF ---------------------------------------------------------------------------------------


def pdf_document(lines: Sequence[str]) -> bytes:
    """A minimal single-page PDF with Helvetica text (ASCII lines; Korean needs embedded fonts)."""

    def esc(s: str) -> str:
        return s.encode("ascii", "replace").decode().replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    text = ["BT", "/F1 16 Tf", "56 780 Td", f"({esc(lines[0])}) Tj", "/F1 11 Tf"]
    for line in lines[1:]:
        text += ["0 -18 Td", f"({esc(line)}) Tj"]
    stream = "\n".join([*text, "ET"]).encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
