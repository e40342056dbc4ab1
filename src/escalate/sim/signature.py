"""Thinking-block signatures: opaque to clients, checkable by the server.

The signature covers the thinking text as returned, so a client that edits a
thinking block before sending it back gets the real API's 400.
"""

from __future__ import annotations

import base64
import hashlib

SIGNATURE_PREFIX = "EqSim"
_KEY = b"escalate-sim-thinking-v1"


def sign(thinking: str) -> str:
    digest = hashlib.sha256(_KEY + thinking.encode("utf-8")).digest()
    return SIGNATURE_PREFIX + base64.b64encode(digest * 2).decode("ascii")
