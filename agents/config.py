"""YAML configs that override dataclass defaults.

One dataclass per concern, composed by nesting. A YAML file (or ``key=value`` overrides
from the command line, dotted for nested fields) only overrides defaults; an unknown key or
a value of the wrong type is an error that names the key.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")
_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


class ConfigError(ValueError):
    """A config file or override that does not fit the dataclass."""


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against the annotation ``tp``; return it (ints widen to floats)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in args:
            try:
                return _coerce(value, option, key)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(f"{key}: {value!r} is not {_type_name(tp)}")
    if tp is type(None):
        if value is None:
            return None
        raise ConfigError(f"{key}: expected null, got {value!r}")
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping for {tp.__name__}, got {value!r}")
        return from_dict(tp, value, prefix=f"{key}.")
    if origin is typing.Literal:
        if value in args:
            return value
        raise ConfigError(f"{key}: {value!r} is not one of {list(args)}")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        inner = args[0] if args else Any
        items = [_coerce(v, inner, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and _FLOAT.fullmatch(value.strip()):
            return float(value)  # YAML 1.1 reads 2e-3 (no dot) as a string
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if tp in (bool, str):
        if isinstance(value, tp):
            return value
        raise ConfigError(f"{key}: expected {tp.__name__}, got {value!r}")
    raise ConfigError(f"{key}: unsupported annotation {_type_name(tp)}")


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``update`` laid over it, mappings merged key by key (neither is changed)."""
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _with_field_defaults(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """A mapping given for a nested dataclass field overrides that field's *default value*
    (which may differ from its class's defaults, e.g. text PPO's coefficients), not the
    class defaults."""
    out = dict(data)
    for f in dataclasses.fields(cls):
        value = data.get(f.name)
        if not isinstance(value, dict) or f.default_factory is dataclasses.MISSING:
            continue
        default = f.default_factory()
        if dataclasses.is_dataclass(default):
            out[f.name] = _over_default(default, value)
    return out


def _over_default(default: Any, value: dict[str, Any]) -> dict[str, Any]:
    """``value`` laid over the dataclass instance ``default``: merged key by key into nested
    dataclass fields only. A mapping given for a plain field (a reward spec, ``kwargs``)
    replaces the default mapping whole, so its keys never mix with the default's."""
    out = to_dict(default)
    for key, item in value.items():
        nested = getattr(default, key, None)
        if isinstance(item, dict) and dataclasses.is_dataclass(nested):
            out[key] = _over_default(nested, item)
        else:
            out[key] = item
    return out


def from_dict(cls: type[T], data: dict[str, Any], prefix: str = "") -> T:
    """Build dataclass ``cls`` from ``data``, rejecting unknown keys and wrong types."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(
            f"unknown config key {prefix}{unknown[0]!s} (known in {cls.__name__}: "
            f"{', '.join(sorted(names))})"
        )
    data = _with_field_defaults(cls, data)
    kwargs = {k: _coerce(v, hints[k], prefix + k) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as err:
        # prefix is the dotted path with its trailing dot ("run."): the message names "run"
        raise ConfigError(f"{prefix.rstrip('.') or cls.__name__}: {err}") from err


def to_dict(config: Any) -> dict[str, Any]:
    """The dataclass as plain data (tuples become lists) for YAML."""

    def plain(value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return plain(dataclasses.asdict(config))


def read_mapping(path: str | Path, what: str = "config file") -> dict[str, Any]:
    """The mapping at the top of the YAML file ``path`` (empty for an empty file).

    Raises:
        ConfigError: the file is missing (named as ``what``), not YAML, or not a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{what} not found: {path}")
    try:
        loaded = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {yaml_problem(err)}") from err
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return loaded


def apply_override(data: dict[str, Any], item: str) -> None:
    """Sets one ``key.sub=value`` override in ``data`` (the value is parsed as YAML)."""
    if "=" not in item:
        raise ConfigError(f"override {item!r} is not key=value")
    key, raw = item.split("=", 1)
    if not key:
        raise ConfigError(f"override {item!r} has an empty key")
    *parents, last = key.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {item!r}: {part} is not a section")
    try:
        node[last] = yaml.safe_load(raw) if raw != "" else ""
    except yaml.YAMLError as err:
        raise ConfigError(
            f"override {item!r}: the value is not YAML ({yaml_problem(err)})"
        ) from err


def yaml_problem(err: yaml.YAMLError) -> str:
    """A YAML error in one line, where and what: ``line 3, column 2: expected <block end>,
    ...`` (yaml's own message spans several lines and opens with the context, not the problem)."""
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None)
    if problem is None:
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        problem = lines[0] if lines else type(err).__name__
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return where + problem


def load_config(cls: type[T], path: str | Path | None = None, overrides: list[str] = ()) -> T:
    """Defaults of ``cls``, overridden by the YAML file at ``path``, then by ``overrides``.

    Args:
        cls: the config dataclass.
        path: a YAML file with a mapping at the top, or None for the defaults.
        overrides: ``key=value`` strings; nested fields are dotted (``ppo.clip_coef=0.1``);
            values are parsed as YAML (``1e-3``, ``true``, ``[1, 2]``).

    Raises:
        ConfigError: a missing or malformed file, an unknown key or a wrong type.
    """
    data = read_mapping(path) if path is not None else {}
    for item in overrides:
        apply_override(data, item)
    return from_dict(cls, data)


def save_config(config: Any, path: str | Path) -> None:
    """Write the resolved config as YAML (beside a run's checkpoints)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(yaml.safe_dump(to_dict(config), sort_keys=False))
