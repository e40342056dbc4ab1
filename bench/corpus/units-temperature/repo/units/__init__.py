from units.convert import convert, UnknownUnit

__all__ = ["UnknownUnit", "convert"]
