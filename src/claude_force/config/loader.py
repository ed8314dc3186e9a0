"""Read ``claude.json`` and the environment into a validated :class:`ProjectSettings`.

All errors name the file, the line (for JSON) and the key, plus the fix.
"""

from __future__ import annotations

import functools
import json
import math
import os
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .._bounded import MAX_CONFIG_BYTES, MAX_JSON_DEPTH, FileProblem, loads_limited, read_limited
from ..errors import ConfigurationError, ProjectNotFoundError
from ._jsonpos import line_of
from ._locate import CONFIG_ENV, find_config
from .environment import ENV_OVERRIDES
from .schema import ProjectSettings, unknown_keys

__all__ = [
    "CONFIG_ENV",
    "ENV_OVERRIDES",
    "ConfigWarning",
    "apply_env",
    "find_config",
    "load_settings",
    "read_json",
    "validate",
]


class ConfigWarning(UserWarning):
    """A suspicious but harmless setting, such as an unknown key."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _parse_env(name: str, raw: str, kind: str) -> Any:
    value = raw.strip()
    try:
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
    except ValueError:
        raise ConfigurationError(
            f"environment variable {name}={raw!r} is not a number",
            hint=f"set {name} to a number or unset it",
        ) from None
    if kind == "simulate" and value.lower() in ("auto", "never"):
        return value.lower()
    if kind in ("bool", "simulate"):
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise ConfigurationError(
            f"environment variable {name}={raw!r} is not a boolean",
            hint=f"set {name} to 1 or 0" + (", auto or never" if kind == "simulate" else ""),
        )
    return value


def apply_env(raw: dict[str, Any], env: Mapping[str, str]) -> tuple[dict[str, Any], set[str]]:
    """Return a copy of ``raw`` with environment overrides applied, and the env names used."""
    merged = dict(raw)
    used: set[str] = set()
    for name, (section, key, kind) in ENV_OVERRIDES.items():
        if name not in env:
            continue
        value = _parse_env(name, env[name], kind)
        current = merged.get(section)
        sec = dict(current) if isinstance(current, dict) else {}
        sec[key] = value
        merged[section] = sec
        used.add(name)
    return merged, used


def read_json(path: Path) -> tuple[dict[str, Any], str]:
    """Read ``claude.json``: a regular file of at most ``MAX_CONFIG_BYTES``, UTF-8 (a byte-order
    mark is accepted), JSON nested at most ``MAX_JSON_DEPTH`` deep. Every problem exits 2."""
    try:
        text = read_limited(path, MAX_CONFIG_BYTES)
        data = loads_limited(text, MAX_JSON_DEPTH)
    except FileProblem as exc:
        if exc.missing:
            raise ProjectNotFoundError(
                "configuration file not found",
                file=path,
                hint="run 'claude-force init' to create a project, or pass --config PATH",
            ) from None
        raise ConfigurationError(exc.message, file=path, hint=exc.hint) from None
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"invalid JSON: {exc.msg} (column {exc.colno})",
            file=path,
            line=exc.lineno,
            hint="fix the JSON syntax at that position",
        ) from None
    if not isinstance(data, dict):
        raise ConfigurationError(
            f"the top level must be a JSON object, found {type(data).__name__}",
            file=path,
            line=1,
            hint='start the file with {"agents": {...}}',
        )
    return data, text


def _describe(err: Mapping[str, Any]) -> str:
    msg = str(err["msg"])
    if err.get("type") == "missing":
        return "is required but missing"
    value = err.get("input")
    if isinstance(value, (str, int, float, bool)) or value is None:
        shown = repr(value)
        if len(shown) > 200:  # a value of 100,000 characters is not echoed whole
            shown = shown[:200] + f"… ({len(shown):,} characters)"
        return f"{msg} (got {shown})"
    return f"{msg} (got {type(value).__name__})"


def validate(
    data: dict[str, Any],
    text: str,
    path: Path,
    env_keys: Mapping[str, str] | None = None,
) -> ProjectSettings:
    """Validate ``data``; ``env_keys`` maps 'section.key' to the variable that set it."""
    if "agents" not in data:
        raise ConfigurationError(
            "missing the 'agents' section",
            file=path,
            key="agents",
            hint='add "agents": {"name": {"file": "agents/name.md"}}',
        )
    _check_finite(data, text, path, env_keys)
    try:
        settings = ProjectSettings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [
            p
            for p in first["loc"]
            if not (isinstance(p, str) and ("[" in p or p in ("list[str]", "dict[str,any]")))
        ]
        key = ".".join(str(p) for p in loc)
        json_path = [p for p in loc if isinstance(p, (str, int))]
        line = line_of(text, json_path) or line_of(text, json_path[:-1]) if json_path else None
        more = f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
        variable = next(
            (v for k, v in (env_keys or {}).items() if key == k or key.startswith(k + ".")), None
        )
        if variable is not None:
            raise ConfigurationError(
                _describe(first) + f", set by environment variable {variable}" + more,
                key=key,
                hint=f"fix or unset {variable}",
            ) from None
        raise ConfigurationError(
            _describe(first) + more,
            file=path,
            key=key or None,
            line=line,
            hint="see docs/configuration.md for the expected shape",
        ) from None
    for key in unknown_keys(settings):
        line = line_of(text, key.split("."))
        where = f"{path}:{line}" if line else str(path)
        warnings.warn(
            f"{where}: unknown key '{key}' is ignored (check its spelling)",
            ConfigWarning,
            stacklevel=3,
        )
    return settings


class _NonFinite(Exception):
    pass


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise _NonFinite
    return value


def _no_constant(literal: str) -> float:
    raise _NonFinite  # Infinity, -Infinity, NaN


@functools.lru_cache(maxsize=4)
def may_hold_non_finite(text: str) -> bool:
    """Whether the JSON ``text`` holds a number that parses to a non-finite float.

    Parsing again with a float hook costs a fraction of walking every value of a project of
    20,000 agents (floats are rare in claude.json); the answer is kept per text."""
    try:
        json.loads(text, parse_float=_finite_float, parse_constant=_no_constant)
    except (_NonFinite, ValueError, RecursionError):
        return True
    return False


def non_finite(data: Any) -> list[str | int] | None:
    """The key path of the first number that is not finite (``Infinity``, ``NaN``, ``1e400``)."""
    todo: list[tuple[Any, list[str | int]]] = [(data, [])]
    while todo:
        value, where = todo.pop()
        if isinstance(value, float) and not math.isfinite(value):
            return where
        if isinstance(value, dict):
            todo.extend((v, [*where, str(k)]) for k, v in value.items())
        elif isinstance(value, list):
            todo.extend((v, [*where, i]) for i, v in enumerate(value))
    return None


def _check_finite(
    data: dict[str, Any], text: str, path: Path, env_keys: Mapping[str, str] | None
) -> None:
    """Every number of the settings is finite: ``Infinity`` would pass ``gt=0`` and then fail
    each run ("cannot convert float infinity to integer")."""
    if not env_keys and text and not may_hold_non_finite(text):
        return  # every number of the file is finite, and none came from the environment
    where = non_finite(data)
    if where is None:
        return
    key = ".".join(map(str, where))
    variable = next((v for k, v in (env_keys or {}).items() if key == k), None)
    if variable is not None:
        raise ConfigurationError(
            f"is not a finite number, set by environment variable {variable}",
            key=key,
            hint=f"fix or unset {variable}",
        )
    raise ConfigurationError(
        "is not a finite number (Infinity, NaN and numbers past 1.8e308 are refused)",
        file=path,
        key=key,
        line=line_of(text, where),
        hint="see docs/configuration.md for the range of this setting",
    )


def load_settings(
    path: Path,
    env: Mapping[str, str] | None = None,
    *,
    prepare: Callable[[dict[str, Any], str], dict[str, Any]] | None = None,
) -> tuple[ProjectSettings, str]:
    """Read, apply the environment, validate. Returns the settings and the file's text.

    ``prepare`` may set entries aside before validation (tolerant loading: config/tolerant.py).
    """
    data, text = read_json(path)
    data, used = apply_env(data, os.environ if env is None else env)
    env_keys = {f"{ENV_OVERRIDES[n][0]}.{ENV_OVERRIDES[n][1]}": n for n in used}
    if prepare is not None:
        try:  # the common case, a project with nothing to set aside: validated once
            return validate(data, text, path, env_keys), text
        except ConfigurationError:
            data = prepare(data, text)  # then again without the entries that fail on their own
    return validate(data, text, path, env_keys), text
