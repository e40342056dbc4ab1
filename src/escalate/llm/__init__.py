"""The model provider seam: requests, calls, usage, prices and the model catalogue. The only package
that imports the anthropic SDK.
"""

from __future__ import annotations

from typing import Any


def load_data_yaml(text: str) -> Any:
    """A bundled data file (prices, models) parsed with libyaml where PyYAML has it: about 8x faster
    than the pure-Python parser, and these files are read on every run."""
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader
