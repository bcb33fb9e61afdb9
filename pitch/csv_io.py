"""F0 as CSV for editing in a spreadsheet: one row per 10 ms frame, `time,f0` (seconds, Hz; 0 = unvoiced).

The reader takes what Excel and LibreOffice write back: UTF-8 with or without a BOM, Windows-1252, CRLF,
`,` `;` or tab separators, decimal commas (`0,01;220,5`), quoted fields, a header row, trailing blank
rows, an f0-only column, and the so-vits-svc-5.0 CSV's minute/second time labels (`0m 1s  20,220`).
"""
import csv
import io
import math
import os
import re

import numpy as np

from common.atomic import write_text

PUBLIC_TIME = re.compile(r"^\s*(\d+)\s*m\s*(\d+)\s*s\s*(\d+)\s*$")  # '0m 1s  20' = 1.020 s


class F0CsvError(ValueError):
    """A pitch CSV that cannot be used; names the file, the line and the fix."""


def write_f0_csv(path, f0, hop_seconds=0.01):
    f0 = np.asarray(f0, dtype=np.float64).reshape(-1)
    lines = ["time,f0"]
    lines += [f"{i * hop_seconds:.3f},{hz:.2f}" for i, hz in enumerate(f0)]
    write_text(path, "\n".join(lines) + "\n")


def _decode(path, raw):
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise F0CsvError(f"{path}: not a text file. Save it from the spreadsheet as CSV.")


def _number(text):
    text = text.strip().replace("\u00a0", "").replace(" ", "")
    # a comma left inside a field (after splitting) can only be a European decimal comma
    if text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")
    return float(text)


def _time(text):
    match = PUBLIC_TIME.match(text)
    if match:
        minutes, seconds, millis = map(int, match.groups())
        return minutes * 60 + seconds + millis / 1000.0
    return _number(text)


def read_f0_csv(path):
    """Read a pitch CSV -> float32 [N] Hz, in row order. Raises F0CsvError naming file and line."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise F0CsvError(f"{path}: file not found. Check the path given to the pitch CSV option.")
    with open(path, "rb") as f:
        lines = _decode(path, f.read()).splitlines()
    delimiter = next((delim for delim in ("\t", ";") if delim in "\n".join(lines[:50])), ",")
    rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter))
    fix = "Each row must be `time,f0` (seconds, Hz) or just f0; use 0 for unvoiced frames."

    f0, times, blank_at, header_seen = [], [], None, False
    for number, row in enumerate(rows, start=1):
        fields = [field.strip() for field in row]
        while fields and not fields[-1]:
            fields.pop()
        if not fields:
            blank_at = blank_at or number
            continue
        if blank_at is not None:
            raise F0CsvError(f"{path}, line {blank_at}: empty row inside the data. Delete the row or fill it in. {fix}")
        if len(fields) > 2:
            raise F0CsvError(f"{path}, line {number}: {len(fields)} columns, expected 2 (time, f0) or 1 (f0). "
                             f"Remove extra columns; with comma-separated files write decimals with a point.")
        try:
            hz = _number(fields[-1])
            t = _time(fields[0]) if len(fields) > 1 else None
        except ValueError:
            if not f0 and not header_seen:  # a header row
                header_seen = True
                continue
            raise F0CsvError(f"{path}, line {number}: cannot read {delimiter.join(row)!r} as numbers. {fix}") from None
        if not math.isfinite(hz) or hz < 0:
            raise F0CsvError(f"{path}, line {number}: f0 {fields[-1]!r} "
                             f"is not a frequency >= 0 Hz. {fix}")
        if f0 and (t is not None) != bool(times):
            raise F0CsvError(f"{path}, line {number}: this row has {'no ' if t is None else 'a '}time column "
                             f"unlike the rows above. {fix}")
        if t is not None:
            if not math.isfinite(t) or (times and t <= times[-1]):
                raise F0CsvError(f"{path}, line {number}: time {fields[0]!r} does not come after the previous "
                                 f"row's. Keep the rows in time order, one per frame, without sorting or deleting rows.")
            times.append(t)
        f0.append(hz)
    if not f0:
        raise F0CsvError(f"{path}: no pitch rows found (empty file or header only). "
                         f"Write one with `python pitch/inference.py -w song.wav -p song.csv`.")
    return np.asarray(f0, dtype=np.float32)
