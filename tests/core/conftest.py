"""The run-time plugin fixture the hook and plugin tests share."""

from __future__ import annotations

import pytest

from advisor.plugins import register_plugin, unregister_plugin


@pytest.fixture
def plugin():
    """``name = plugin(obj)`` registers a plugin object for one test; it is unregistered even when the test
    fails, so no fake leaks into the next test."""
    names: list[str] = []

    def register(obj: object, name: str | None = None) -> str:
        name = name or f"fake-{type(obj).__name__}-{len(names)}"
        register_plugin(obj, name=name)
        names.append(name)
        return name

    yield register
    for name in names:
        unregister_plugin(name)
