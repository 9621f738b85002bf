"""The one strict loader for the YAML files under configs/.

Each file's shape is a frozen dataclass (its fields, their types and defaults); `load` reads the
file and builds it, refusing what a person would otherwise only notice in production:

- a key the dataclass does not have (a typo: `lock_timout`), with the nearest known key;
- a value of the wrong type (`batch_size: "50k"`, `protected: "no"`), naming the expected type;
- a former key, with what replaced it (a ClassVar `renamed = {"old": "renamed: use new"}`);
- a file that is missing, not YAML, or not a mapping.

Every message is one line: `<file>: <key.path>: <problem>`. Types understood: str, int, float
(an int is fine), bool, Path, `Literal[...]`, `X | None`, `list[X]`, `dict[str, X]`, nested
dataclasses and `Duration` (5s, 250ms, 2min, 1h or a number of seconds -> milliseconds).
No coercion: YAML already types its scalars, so a string where a number belongs is a mistake.

Callers pass their own error class (a PlatformError) so existing `except` clauses keep working,
and turn the file's shape into their runtime objects (resolving relative paths, cross-field
rules). Nothing here reads the environment: the caller picks the path.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

from dagster_project.lib.errors import PlatformError

T = TypeVar("T")


class ConfigFileError(PlatformError, ValueError):
    """A configuration file is missing, malformed, or holds an unknown key or a wrong type."""


class _DurationMs:
    """Marker: the value is a duration, stored as whole milliseconds."""


Duration = Annotated[int, _DurationMs]
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|min|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, None: 1.0, "min": 60.0, "m": 60.0, "h": 3600.0}
DURATION_HINT = "a duration (e.g. 5s, 250ms, 2min, 1h, or a number of seconds)"


def parse_duration_ms(value: Any) -> int | None:
    """'5s', '250ms', '2min', 0 or a bare number of seconds -> milliseconds; None if not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value * 1000) if value >= 0 else None
    match = _DURATION.match(str(value)) if isinstance(value, str) else None
    if not match:
        return None
    return int(float(match[1]) * _UNIT_SECONDS[match[2]] * 1000)


def read_mapping(path: Path, *, what: str, error: type[PlatformError] = ConfigFileError) -> dict:
    """The YAML mapping in `path`; an empty file is an empty mapping."""
    if not path.is_file():
        raise error(f"{path}: {what} not found")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise error(f"{path}: invalid YAML: {' '.join(str(exc).split())}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise error(f"{path}: expected a mapping of settings (key: value), got {_kind(raw)}")
    return raw


def load(
    path: Path, schema: type[T], *, what: str, error: type[PlatformError] = ConfigFileError
) -> T:
    """Read `path` and build `schema` from it, strictly (see the module docstring)."""
    return build(schema, read_mapping(path, what=what, error=error), where=str(path), error=error)


def build(
    schema: type[T],
    raw: Mapping[str, Any],
    *,
    where: str,
    error: type[PlatformError] = ConfigFileError,
) -> T:
    """`schema` built from `raw`; `where` prefixes every message (the file's path)."""
    try:
        return _dataclass(schema, raw, ())
    except _Problem as problem:
        key = ".".join(problem.path)
        raise error(f"{where}: {key + ': ' if key else ''}{problem.message}") from None


class _Problem(Exception):
    def __init__(self, path: tuple[str, ...], message: str) -> None:
        self.path, self.message = path, message


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
             list: "a list", dict: "a mapping"}  # fmt: skip
    shown = repr(value) if isinstance(value, str | int | float) else ""
    return f"{names.get(type(value), type(value).__name__)}{' ' + shown if shown else ''}"


def _dataclass(schema: type[T], raw: Any, path: tuple[str, ...]) -> T:
    if not isinstance(raw, Mapping):
        raise _Problem(path, f"expected a mapping, got {_kind(raw)}")
    fields = {f.name: f for f in dataclasses.fields(schema) if f.init}  # type: ignore[arg-type]
    hints = get_type_hints(schema, include_extras=True)
    renamed: dict[str, str] = getattr(schema, "renamed", {})
    for key in raw:
        if key in fields:
            continue
        key_path = (*path, str(key))
        if key in renamed:
            raise _Problem(key_path, renamed[key])
        close = difflib.get_close_matches(str(key), fields, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise _Problem(key_path, f"unknown key ({hint}known: {', '.join(fields)})")
    values = {}
    for name, field in fields.items():
        if name in raw:
            values[name] = _value(hints[name], raw[name], (*path, name))
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise _Problem((*path, name), f"missing (expected {_expected(hints[name])})")
    return schema(**values)


def _expected(tp: Any) -> str:
    origin, args = get_origin(tp), get_args(tp)
    if origin is Annotated:
        return DURATION_HINT if _DurationMs in args[1:] else _expected(args[0])
    if origin is Literal:
        return "one of " + ", ".join(str(a) for a in args)
    if origin in (Union, types.UnionType):
        return " or ".join(_expected(a) for a in args)
    if origin is list:
        return f"a list of {_expected(args[0])}"
    if origin is dict:
        return "a mapping"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string",
            Path: "a path (a string)", type(None): "nothing (null)"}.get(tp, str(tp))  # fmt: skip


def _value(tp: Any, value: Any, path: tuple[str, ...]) -> Any:
    origin, args = get_origin(tp), get_args(tp)
    wrong = _Problem(path, f"expected {_expected(tp)}, got {_kind(value)}")
    if origin is Annotated:
        if _DurationMs in args[1:]:
            ms = parse_duration_ms(value)
            if ms is None:
                raise wrong
            return ms
        return _value(args[0], value, path)
    if origin is Literal:
        if value not in args or isinstance(value, bool) != any(isinstance(a, bool) for a in args):
            raise wrong
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for option in (a for a in args if a is not type(None)):
            try:
                return _value(option, value, path)
            except _Problem:
                continue
        raise wrong
    if origin is list:
        if not isinstance(value, list):
            raise wrong
        return [_value(args[0], item, (*path, str(i))) for i, item in enumerate(value)]
    if origin is dict:
        if not isinstance(value, Mapping):
            raise wrong
        return {str(k): _value(args[1], v, (*path, str(k))) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return _dataclass(tp, value, path)  # type: ignore[arg-type]
    if tp is Any or tp is typing.Any:
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise wrong
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise wrong
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise wrong
        return value
    if tp is Path:
        if not isinstance(value, str | Path) or not str(value):
            raise wrong
        return Path(value)
    raise TypeError(f"lib/config: unsupported field type {tp!r} at {'.'.join(path)}")  # a bug
