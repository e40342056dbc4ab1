"""Bulk contact import: good rows are imported, bad rows are reported with their line numbers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.IGNORECASE)


@dataclass(frozen=True)
class Contact:
    name: str
    email: str
    age: int | None


@dataclass
class ImportReport:
    imported: list[Contact] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # "row N: reason"


def parse_row(row: dict[str, str]) -> Contact:
    name = row.get("name", "").strip()
    email = row.get("email", "").strip().lower()
    if not name:
        raise ValueError("name is required")
    if not EMAIL.match(email):
        raise ValueError(f"invalid email {email!r}")
    age = int(row["age"]) if row.get("age", "").strip() else None
    return Contact(name, email, age)


def import_contacts(rows: list[dict[str, str]]) -> ImportReport:
    """Rows are numbered from 2, as in the spreadsheet (row 1 is the header)."""
    report = ImportReport()
    try:
        for number, row in enumerate(rows, start=2):
            report.imported.append(parse_row(row))
    except ValueError as exc:
        report.errors.append(f"row {number}: {exc}")
    return report
