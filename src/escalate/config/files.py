"""Configuration files: reading, layering, per-value sources, unknown keys and key-path errors.

The schema itself is in schema.py; ``load_config`` and ``config_sources`` here are the entry points.
"""

from __future__ import annotations

import difflib
import tomllib
import types
import typing
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from escalate.config.schema import CLI, DEFAULT, PYPROJECT_NAME, YML_NAME, Config, ConfigWarning, _KeyProblem
from escalate.errors import ConfigError

# ---------------------------------------------------------------- loading


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"==> File {path.name} =====> invalid YAML{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        got = type(data).__name__
        raise ConfigError(f"==> File {path.name} =====> expected a mapping at the top level, got {got}")
    return data


def _read_pyproject(path: Path) -> dict | None:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"==> File {path.name} =====> invalid TOML: {exc}") from None
    table = data.get("tool", {}).get("escalate")
    if table is not None and not isinstance(table, dict):
        raise ConfigError(f"==> File {path.name} ==> At key: tool.escalate =====> expected a table")
    return table


def _layers(repo_root: Path, overrides: dict | None) -> list[tuple[str, dict]]:
    """User-supplied layers, lowest priority first: (source name, raw mapping)."""
    root = Path(repo_root)
    layers: list[tuple[str, dict]] = []
    pyproject = root / PYPROJECT_NAME
    if pyproject.is_file():
        table = _read_pyproject(pyproject)
        if table is not None:
            layers.append((PYPROJECT_NAME, table))
    yml = root / YML_NAME
    if yml.is_file():
        if layers:
            warnings.warn(
                f"Both {YML_NAME} and [tool.escalate] in {PYPROJECT_NAME} configure escalate; "
                f"{YML_NAME} wins for every key set in both. Keep one to avoid surprises.",
                ConfigWarning,
                stacklevel=4,
            )
        layers.append((YML_NAME, _read_yaml(yml)))
    overrides = _given(overrides or {})
    if overrides:
        layers.append((CLI, overrides))
    return layers


def _given(overrides: dict) -> dict:
    """Drop None values: a command passes None for an option the user did not give."""
    out = {}
    for key, value in overrides.items():
        if isinstance(value, dict):
            value = _given(value)
            if value:
                out[key] = value
        elif value is not None:
            out[key] = value
    return out


def _merge(low: dict, high: dict) -> dict:
    out = dict(low)
    for key, value in high.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_config(repo_root: Path, overrides: dict | None = None) -> Config:
    """Load and validate the effective config for `repo_root`; raise ConfigError on invalid input."""
    layers = _layers(repo_root, overrides)
    for source, raw in layers:
        for path, known in _unknown_keys(Config, raw, ()):
            close = difflib.get_close_matches(str(path[-1]), known, n=1, cutoff=0.75)
            if close:  # a misspelling silently ignored would run with the default instead
                fixed = _dotted((*path[:-1], close[0]))
                where = _where(source)
                raise ConfigError(f"Unknown key {_dotted(path)!r} in {where}: did you mean {fixed!r}?")
            message = f"Unknown key {_dotted(path)!r} in {_where(source)} (ignored)"
            warnings.warn(message, ConfigWarning, stacklevel=2)
    merged: dict = {}
    for _, raw in layers:
        merged = _merge(merged, raw)
    try:
        return Config.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, layers)) from None


def config_sources(repo_root: Path, overrides: dict | None = None) -> list[tuple[str, object, str]]:
    """Every leaf of the effective config as (key path, value, source); lists of scalars are leaves."""
    layers = _layers(repo_root, overrides)
    config = load_config(repo_root, overrides)
    rows = []
    for path, value in _leaves(config.model_dump(), ()):
        rows.append((_dotted(path), value, _source_of(path, layers)))
    return rows


def _leaves(value: Any, path: tuple) -> Iterator[tuple[tuple, Any]]:
    if isinstance(value, dict) and value:
        for key, sub in value.items():
            yield from _leaves(sub, (*path, key))
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for i, sub in enumerate(value):
            yield from _leaves(sub, (*path, i))
    else:
        yield path, value


def _source_of(path: tuple, layers: list[tuple[str, dict]]) -> str:
    for source, raw in reversed(layers):
        node: Any = raw
        for step in path:
            if isinstance(node, list):  # the whole list came from this layer
                break
            if not isinstance(node, dict) or step not in node:
                node = _MISSING
                break
            node = node[step]
        if node is not _MISSING:
            return source
    return DEFAULT


_MISSING = object()


def _dotted(path: tuple) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out


def _where(source: str) -> str:
    return "the command-line options" if source == CLI else source


# ---------------------------------------------------------------- unknown keys


def nested_model(annotation: Any) -> tuple[str, type[BaseModel]] | None:
    """('one'|'list'|'dict', Model) when the annotation holds a pydantic model."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "one", annotation
    if origin is list and args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
        return "list", args[0]
    if origin is dict and len(args) == 2 and isinstance(args[1], type) and issubclass(args[1], BaseModel):
        return "dict", args[1]
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            found = nested_model(arg)
            if found:
                return found
    return None


def _unknown_keys(model: type[BaseModel], raw: Any, path: tuple) -> Iterator[tuple[tuple, list[str]]]:
    """(key path, the keys known at that level) for every key the schema does not have."""
    if not isinstance(raw, dict):
        return
    for key, value in raw.items():
        field = model.model_fields.get(key)
        if field is None:
            yield (*path, key), list(model.model_fields)
            continue
        found = nested_model(field.annotation)
        if not found:
            continue
        kind, sub = found
        if kind == "one":
            yield from _unknown_keys(sub, value, (*path, key))
        elif kind == "list" and isinstance(value, list):
            for i, item in enumerate(value):
                yield from _unknown_keys(sub, item, (*path, key, i))
        elif kind == "dict" and isinstance(value, dict):
            for name, item in value.items():
                yield from _unknown_keys(sub, item, (*path, key, name))


# ---------------------------------------------------------------- error messages


def _field_at(loc: tuple) -> Any:
    """The FieldInfo a validation error location points at, if it is a model field."""
    model: type[BaseModel] | None = Config
    field, skip_key = None, False
    for step in loc:
        if isinstance(step, int):
            continue
        if skip_key:  # a key of a dict[str, Model] field, e.g. the model id under `prices`
            skip_key = False
            continue
        if model is None:
            return None
        field = model.model_fields.get(str(step))
        if field is None:
            return None
        found = nested_model(field.annotation)
        model = found[1] if found else None
        skip_key = bool(found and found[0] == "dict")
    return field


def _bounds(field: Any) -> str:
    parts = []
    for meta in getattr(field, "metadata", []):
        for attr, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            if getattr(meta, attr, None) is not None:
                parts.append(f"{sym} {getattr(meta, attr)}")
    return (" " + " and ".join(parts)) if parts else ""


_EXPECTED = {
    "int_parsing": "an integer",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_parsing": "a boolean (true or false)",
    "bool_type": "a boolean (true or false)",
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


_SYMBOLS = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}


def _describe(err: dict) -> tuple[tuple, str]:
    loc, kind, ctx = tuple(err["loc"]), err["type"], err.get("ctx") or {}
    got = f", got {err['input']!r}" if "input" in err and kind != "missing" else ""
    if kind in _EXPECTED:
        bounds = _bounds(_field_at(loc)) if kind.startswith(("int", "float")) else ""
        return loc, f"expected {_EXPECTED[kind]}{bounds}{got}"
    if kind in _SYMBOLS:
        sym = _SYMBOLS[kind]
        bound = next(iter(ctx.values()), "?")
        return loc, f"expected a value {sym} {bound}{got}"
    if kind == "literal_error":
        return loc, f"expected one of {ctx.get('expected', '?')}{got}"
    if kind == "too_short":
        return loc, f"expected at least {ctx.get('min_length', 1)} item(s){got}"
    if kind == "missing":
        return loc, "missing required key"
    if kind == "value_error":
        cause = ctx.get("error")
        if isinstance(cause, _KeyProblem):
            return loc + cause.loc, str(cause)
        return loc, str(cause) if cause else err["msg"]
    return loc, f"{err['msg']}{got}"


def _format_errors(exc: ValidationError, layers: list[tuple[str, dict]]) -> str:
    lines = []
    for err in exc.errors():
        loc, message = _describe(err)
        source = _source_of(loc, layers)
        head = "==> From the command-line options" if source == CLI else f"==> File {source}"
        if source == PYPROJECT_NAME:
            head += " ==> At key: tool.escalate"
        steps = "".join(f" ==> At index {s}" if isinstance(s, int) else f" ==> At key: {s}" for s in loc)
        lines.append(f"{head}{steps} =====> {message}")
    return "\n".join(lines)
