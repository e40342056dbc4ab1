from flags.store import FlagStore

__all__ = ["FlagStore"]
