from layered.layers import load_layers
from layered.merge import deep_merge

__all__ = ["deep_merge", "load_layers"]
