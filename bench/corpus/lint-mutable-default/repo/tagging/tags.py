"""Keyword tagging for the document index."""

from __future__ import annotations

from dataclasses import dataclass, field

KEYWORDS = {
    "invoice": "billing",
    "refund": "billing",
    "password": "security",
    "outage": "incident",
}


@dataclass
class Document:
    title: str
    body: str
    tags: list[str] = field(default_factory=list)


def tag_document(doc: Document, extra: list[str] = []) -> Document:
    """Add keyword tags and any ``extra`` tags, without duplicates, in first-seen order."""
    found = list(extra)
    for word in doc.body.lower().split():
        tag = KEYWORDS.get(word.strip(".,!?"))
        if tag and tag not in found:
            found.append(tag)
    doc.tags = list(dict.fromkeys(doc.tags + found))
    return doc
