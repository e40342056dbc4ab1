"""Cursor pagination as the list endpoints use it: ``limit``, ``after_id``, ``before_id``."""

from __future__ import annotations

from escalate.sim.errors import invalid


def _one(query: dict, name: str) -> str | None:
    value = query.get(name)
    if isinstance(value, list):
        return value[0] if value else None
    return value


def paginate(items: list[dict], query: dict, *, default_limit: int = 20) -> dict:
    """``{data, has_more, first_id, last_id}`` for ``items`` (already in list order)."""
    raw = _one(query, "limit")
    try:
        limit = default_limit if raw is None else int(raw)
    except ValueError:
        raise invalid("limit: Input should be a valid integer") from None
    if not 1 <= limit <= 1000:
        raise invalid("limit: Input should be greater than or equal to 1 and less than or equal to 1000")
    ids = [item["id"] for item in items]
    after, before = _one(query, "after_id"), _one(query, "before_id")
    if after and before:
        raise invalid("after_id and before_id cannot both be given")
    if after:
        start = ids.index(after) + 1 if after in ids else len(ids)
        window = items[start:]
        page = window[:limit]
    elif before:
        end = ids.index(before) if before in ids else 0
        window = items[:end]
        page = window[-limit:]
    else:
        window = items
        page = window[:limit]
    return {
        "data": page,
        "has_more": len(window) > limit,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
    }
