"""A small RFC 4180 style CSV reader for the import wizard (one record per line)."""

from __future__ import annotations


class CSVError(ValueError):
    pass


def parse_line(line: str, sep: str = ",") -> list[str]:
    fields: list[str] = []
    buf: list[str] = []
    in_quotes = False
    i = 0
    while i < len(line):
        ch = line[i]
        if in_quotes:
            if ch == '"':
                in_quotes = False
            else:
                buf.append(ch)
        elif ch == '"':
            in_quotes = True
        elif ch == sep:
            fields.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
        i += 1
    if in_quotes:
        raise CSVError(f"unterminated quoted field in: {line!r}")
    fields.append("".join(buf))
    return fields


def read_records(text: str, sep: str = ",") -> list[dict[str, str]]:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return []
    header = parse_line(lines[0], sep)
    records = []
    for n, line in enumerate(lines[1:], start=2):
        values = parse_line(line, sep)
        if len(values) != len(header):
            raise CSVError(f"line {n}: expected {len(header)} fields, got {len(values)}")
        records.append(dict(zip(header, values)))
    return records
