"""Small field validators for YAML records. Each failure is a ConfigError naming file, entry, field and line."""

from __future__ import annotations

import builtins
import difflib
from typing import Any, Callable, Iterable, Mapping

from advisor.errors import ConfigError
from advisor.config.yamlfile import line_of


def did_you_mean(name: object, allowed: Iterable[str]) -> str:
    """``; did you mean 'cuda'?`` when ``name`` is close to one of ``allowed`` (``difflib``), else ""."""
    close = difflib.get_close_matches(str(name), list(allowed), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


class Fields:
    """Reads typed fields from one YAML mapping and turns every mistake into a precise ConfigError."""

    def __init__(self, data: Any, file: str, entry: str | None, allowed: Iterable[str], what: str = "entry") -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(file, f"each {what} must be a mapping of field: value, got {type(data).__name__}",
                              entry=entry, line=line_of(data))
        self.data, self.file, self.entry = data, file, entry
        allowed = list(allowed)
        unknown = [k for k in data if k not in set(allowed)]
        if unknown:
            raise self.error(str(unknown[0]), f"unknown field; allowed fields: {', '.join(sorted(allowed))}"
                                              f"{did_you_mean(unknown[0], allowed)}")

    def error(self, field: str, message: str) -> ConfigError:
        return ConfigError(self.file, message, entry=self.entry, field=field, line=line_of(self.data, field))

    def has(self, field: str) -> bool:
        return field in self.data and self.data[field] is not None

    def raw(self, field: str, default: Any = None) -> Any:
        return self.data.get(field, default)

    def str(self, field: str, default: str | None = None, *, required: bool = False,
            choices: Iterable[str] | None = None) -> str | None:
        if not self.has(field):
            if required:
                raise self.error(field, "is required")
            return default
        value = self.data[field]
        if not isinstance(value, str) or not value.strip():
            raise self.error(field, f"must be a non-empty string, got {value!r}")
        if choices is not None and value not in set(choices):
            raise self.error(field, f"'{value}' is not allowed; allowed: {', '.join(choices)}"
                                    f"{did_you_mean(value, choices)}")
        return value

    def int(self, field: str, default: int | None = None, *, required: bool = False, minimum: int = 1) -> int | None:
        if not self.has(field):
            if required:
                raise self.error(field, "is required")
            return default
        value = self.data[field]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.error(field, f"must be an integer >= {minimum}, got {value!r}")
        return value

    def number(self, field: str, default: float | None = None, *, minimum: float | None = None) -> float | None:
        if not self.has(field):
            return default
        value = self.data[field]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(field, f"must be a number, got {value!r}")
        if isinstance(value, int) and abs(value) > 1e308 or value != value:  # too large for a float, or NaN
            raise self.error(field, f"must be a finite number, got {str(value)[:20]}")
        if minimum is not None and value < minimum:
            raise self.error(field, f"must be >= {minimum}, got {value!r}")
        return float(value)

    def bool(self, field: str, default: bool = False) -> bool:
        if not self.has(field):
            return default
        value = self.data[field]
        if not isinstance(value, bool):
            raise self.error(field, f"must be true or false, got {value!r}")
        return value

    def list(self, field: str, item: Callable[[Any], Any] = lambda x: x, *, required: bool = False,
             item_type: type | tuple[type, ...] = builtins.str) -> list[Any]:
        if not self.has(field):
            if required:
                raise self.error(field, "is required (a list)")
            return []
        value = self.data[field]
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list):
            raise self.error(field, f"must be a list, got {type(value).__name__}")
        out = []
        for element in value:
            if not isinstance(element, item_type) or isinstance(element, bool) and item_type is not bool:
                raise self.error(field, f"items must be {getattr(item_type, '__name__', item_type)}, got {element!r}")
            try:
                out.append(item(element))
            except ValueError as exc:
                raise self.error(field, str(exc)) from None
        return out

    def mapping(self, field: str) -> Mapping[str, Any]:
        if not self.has(field):
            return {}
        value = self.data[field]
        if not isinstance(value, Mapping):
            raise self.error(field, f"must be a mapping, got {type(value).__name__}")
        return value
