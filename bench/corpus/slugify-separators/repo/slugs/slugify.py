"""URL slugs for blog post titles."""

from __future__ import annotations

import re
import unicodedata

NON_WORD = re.compile(r"[^a-z0-9]")


def slugify(title: str, max_length: int = 60) -> str:
    """Lowercase ASCII words joined by single hyphens: "Hello, World!" -> "hello-world"."""
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = NON_WORD.sub("-", ascii_text.lower())
    if len(slug) > max_length:
        slug = slug[:max_length].rsplit("-", 1)[0]
    return slug


def unique_slug(title: str, taken: set[str]) -> str:
    """A slug not in ``taken``, adding -2, -3, ... as needed."""
    base = slugify(title) or "post"
    slug, n = base, 2
    while slug in taken:
        slug = f"{base}-{n}"
        n += 1
    return slug
