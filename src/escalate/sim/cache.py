"""Prompt-cache emulation (docs/sim.md, "Prompt caching").

The key of a cache entry is a cumulative hash of the request prefix in the order
tools -> system -> messages, up to and including a breakpoint block, salted with
the model id. Writes happen only at breakpoints whose prefix reaches the model's
minimum cacheable length; reads walk back up to 20 blocks from each breakpoint.
Changing thinking, effort or tool_choice invalidates the messages level only.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass

from escalate.sim.catalogue import SimModel
from escalate.sim.clock import Clock
from escalate.sim.errors import invalid
from escalate.sim.tokens import Segment

MAX_BREAKPOINTS = 4
LOOKBACK = 20
TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}


@dataclass
class CacheUsage:
    input_tokens: int
    cache_read: int
    write_5m: int
    write_1h: int

    @property
    def cache_creation(self) -> int:
        return self.write_5m + self.write_1h


def _ttl(cache_control: dict, where: str) -> str:
    if cache_control.get("type") != "ephemeral":
        raise invalid(f"{where}.cache_control.type: Input should be 'ephemeral'")
    ttl = cache_control.get("ttl", "5m")
    if ttl not in TTL_SECONDS:
        raise invalid(f"{where}.cache_control.ttl: Input should be '5m' or '1h'")
    return ttl


def breakpoints(body: dict, segs: list[Segment]) -> list[tuple[int, str]]:
    """(segment index, ttl) of every breakpoint, explicit and automatic; 400s as the real API gives them."""
    points: dict[int, str] = {}
    for i, seg in enumerate(segs):
        if seg.cache_control is None:
            continue
        if not seg.cacheable:
            raise invalid(f"{seg.where}: cache_control cannot be set on thinking blocks or empty text blocks")
        points[i] = _ttl(seg.cache_control, seg.where)
    explicit = len(points)
    top = body.get("cache_control")
    if top is not None:
        ttl = _ttl(top, "cache_control") if isinstance(top, dict) else _ttl({}, "cache_control")
        last = next((i for i in range(len(segs) - 1, -1, -1) if segs[i].cacheable), None)
        if last is not None:
            if last in points and points[last] != ttl:
                raise invalid(
                    f"cache_control: the automatic cache_control ttl '{ttl}' conflicts with the explicit "
                    f"ttl '{points[last]}' on the last cacheable block ({segs[last].where})"
                )
            if last not in points:
                points[last] = ttl
                explicit += 1
    if explicit > MAX_BREAKPOINTS:
        raise invalid(
            f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. Found {explicit}."
        )
    ordered = sorted(points.items())
    seen_5m = False
    for i, ttl in ordered:
        if ttl == "5m":
            seen_5m = True
        elif seen_5m:
            raise invalid(
                f"{segs[i].where}.cache_control: a ttl='1h' cache entry must not come after a ttl='5m' "
                "cache entry; put 1h breakpoints before 5m breakpoints"
            )
    return ordered


def _prefix_hashes(model: SimModel, body: dict, segs: list[Segment]) -> list[str]:
    h = hashlib.sha256(model.id.encode())
    salt = json.dumps(
        {
            "thinking": body.get("thinking"),
            "effort": (body.get("output_config") or {}).get("effort"),
            "tool_choice": body.get("tool_choice"),
        },
        sort_keys=True,
    )
    out = []
    in_messages = False
    for seg in segs:
        if seg.section == "messages" and not in_messages:
            in_messages = True
            h.update(b"\x00messages" + salt.encode())
        h.update(b"\x00" + seg.section.encode() + b"\x00" + seg.identity.encode())
        out.append(h.hexdigest())
    return out


class PromptCache:
    """Entries by prefix hash -> (expiry on the sim clock, ttl)."""

    def __init__(self, clock: Clock):
        self.clock = clock
        self._entries: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def apply(self, model: SimModel, body: dict, segs: list[Segment]) -> CacheUsage:
        total = sum(s.tokens for s in segs)
        points = breakpoints(body, segs)
        if not points:
            return CacheUsage(total, 0, 0, 0)
        cum, running = [], 0
        for seg in segs:
            running += seg.tokens
            cum.append(running)
        hashes = _prefix_hashes(model, body, segs)
        now = self.clock.now()
        with self._lock:
            hit = -1
            for i, _ttl_name in points:
                for j in range(i, max(i - LOOKBACK, 0) - 1, -1):
                    entry = self._entries.get(hashes[j])
                    if entry and entry[0] > now:
                        hit = max(hit, j)
                        break
            if hit >= 0:  # a hit refreshes the entry's lifetime at no cost
                _, ttl = self._entries[hashes[hit]]
                self._entries[hashes[hit]] = (now + TTL_SECONDS[ttl], ttl)
            read = cum[hit] if hit >= 0 else 0
            valid = [(i, ttl) for i, ttl in points if cum[i] >= model.min_cacheable_tokens]
            for i, ttl in valid:
                self._entries[hashes[i]] = (now + TTL_SECONDS[ttl], ttl)
        b = max([read] + [cum[i] for i, ttl in valid if ttl == "1h"])
        c = max([b] + [cum[i] for i, _ in valid])
        return CacheUsage(input_tokens=total - c, cache_read=read, write_1h=b - read, write_5m=c - b)
