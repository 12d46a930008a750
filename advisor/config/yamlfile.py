"""YAML loading that remembers line numbers, so a schema error can point at the exact line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from advisor.errors import ConfigError


class LineDict(dict):
    """A mapping from a YAML file that knows the line of itself and of each of its keys."""

    line: int | None = None
    key_lines: dict[str, int]


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode, deep: bool = False) -> LineDict:
    mapping = LineDict(loader.construct_mapping(node, deep=True))
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {str(k.value): k.start_mark.line + 1 for k, _ in node.value}
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _construct_int(loader: _LineLoader, node: yaml.ScalarNode) -> int:
    """An integer; one with more digits than Python converts (4,300) is a YAML error at its line, not a crash."""
    try:
        return loader.construct_yaml_int(node)
    except ValueError:
        raise yaml.constructor.ConstructorError(None, None, f"a number with {len(node.value)} digits is too long",
                                                node.start_mark) from None


_LineLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def load_yaml(path: str | Path) -> Any:
    """Parse a YAML file; a missing file or bad YAML is a ConfigError naming the file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), "file not found; check the path") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), f"not UTF-8 text: byte 0x{exc.object[exc.start]:02x} at offset {exc.start} "
                                     f"cannot be decoded; save the file as UTF-8") from None
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read: {exc.strerror}") from None
    try:
        return yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(str(path), f"invalid YAML: {problem}", line=mark.line + 1 if mark else None) from None


def line_of(mapping: Any, key: str | None = None) -> int | None:
    if not isinstance(mapping, LineDict):
        return None
    if key is not None and key in getattr(mapping, "key_lines", {}):
        return mapping.key_lines[key]
    return mapping.line


def plain(value: Any) -> Any:
    """YAML-safe plain data: tuples as lists, mapping subclasses (``LineDict``) as dicts; yaml.safe_dump refuses
    both."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def dump_yaml(data: Any, path: str | Path, *, header: str = "") -> Path:
    """The one way the advisor writes a YAML file (catalogs, policies): plain data in the given key order,
    ``header`` as ``#`` comment lines on top, the file replaced whole (a crash mid-write leaves the old one)."""
    path = Path(path)
    comment = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(comment + yaml.safe_dump(plain(data), sort_keys=False, allow_unicode=True, width=120),
                       encoding="utf-8")
    partial.replace(path)
    return path
