"""The plugin manager: built-in plugins and third-party plugins, both found through the ``advisor`` entry points.

A plugin that fails to import is recorded and skipped, so one broken package never takes the tool down, unless
the user named it in ``ADVISOR_PLUGINS``: then the failure is an error. ``ADVISOR_PLUGINS`` (comma-separated entry
point names) restricts which third-party plugins load; an empty value loads none. Built-in plugins always load.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any, Callable, Iterable

import pluggy

from advisor import hookspecs
from advisor.errors import PluginError

ENTRY_POINT_GROUP = "advisor"
BUILTIN_DISTRIBUTION = "embedding-advisor"
PLUGINS_ENV = "ADVISOR_PLUGINS"

HOOK_KINDS: dict[str, str] = {
    "register_backends": "backends",
    "register_task_sources": "task_sources",
    "register_metrics": "metrics",
    "register_executors": "executors",
    "register_report_writers": "report_writers",
    "register_raters": "raters",
}


@dataclass
class PluginInfo:
    """What the user sees about one plugin in ``advisor plugins``."""

    name: str
    module: str
    distribution: str | None
    version: str | None
    builtin: bool
    status: str = "loaded"  # loaded | failed | disabled
    error: str | None = None
    registers: dict[str, list[str]] = field(default_factory=dict)


_pm: pluggy.PluginManager | None = None
_infos: dict[str, PluginInfo] = {}
_registry: dict[str, dict[str, Any]] | None = None


def _requested_third_party() -> set[str] | None:
    value = os.environ.get(PLUGINS_ENV)
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


def _is_builtin(ep: EntryPoint) -> bool:
    dist = getattr(ep, "dist", None)
    return dist is not None and dist.metadata["Name"] == BUILTIN_DISTRIBUTION


def _load_entry_point(pm: pluggy.PluginManager, ep: EntryPoint, builtin: bool, requested: set[str] | None) -> None:
    dist = getattr(ep, "dist", None)
    info = PluginInfo(name=ep.name, module=ep.value, distribution=dist.metadata["Name"] if dist else None,
                      version=dist.version if dist else None, builtin=builtin)
    _infos[ep.name] = info
    if not builtin and requested is not None and ep.name not in requested:
        info.status = "disabled"
        return
    try:
        module = ep.load()
        pm.register(module, name=ep.name)
    except Exception as exc:  # a plugin may fail in any way; it must not take the tool down
        info.status, info.error = "failed", f"{type(exc).__name__}: {exc}"
        if requested is not None and ep.name in requested:
            raise PluginError(f"plugin '{ep.name}' ({ep.value}) failed to load: {info.error}; "
                              f"fix or uninstall it, or remove it from {PLUGINS_ENV}") from None


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, with every available plugin loaded once."""
    global _pm
    if _pm is None:
        pm = pluggy.PluginManager("advisor")
        pm.add_hookspecs(hookspecs)
        requested = _requested_third_party()
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: (not _is_builtin(e), e.name)):
            if ep.name in _infos:
                continue  # the same distribution seen twice on sys.path
            _load_entry_point(pm, ep, _is_builtin(ep), requested)
        if requested:
            missing = requested - set(_infos)
            if missing:
                raise PluginError(f"{PLUGINS_ENV} names plugin(s) {sorted(missing)} that are not installed; "
                                  f"installed: {sorted(_infos)}")
        _pm = pm
    return _pm


def register_plugin(module: ModuleType | object, name: str) -> None:
    """Register a plugin object at run time (tests, notebooks). Pair with ``unregister_plugin``."""
    pm = get_plugin_manager()
    pm.register(module, name=name)
    _infos[name] = PluginInfo(name=name, module=getattr(module, "__name__", repr(module)), distribution=None,
                              version=None, builtin=False)
    _reset_registry()


def unregister_plugin(name: str) -> None:
    pm = get_plugin_manager()
    plugin = pm.get_plugin(name)
    if plugin is not None:
        pm.unregister(plugin, name=name)
    _infos.pop(name, None)
    _reset_registry()


def _reset_registry() -> None:
    global _registry
    _registry = None


def _collect(hook_name: str) -> dict[str, Any]:
    """Call one registration hook on every plugin and remember which plugin registered what."""
    pm = get_plugin_manager()
    kind = HOOK_KINDS[hook_name]
    objects: dict[str, Any] = {}
    for impl in getattr(pm.hook, hook_name).get_hookimpls():
        plugin_name = pm.get_name(impl.plugin) or "?"
        registered: list[Any] = []
        try:
            impl.function(registered.append)
        except Exception as exc:
            info = _infos.get(plugin_name)
            if info is not None:
                info.status, info.error = "failed", f"{hook_name}: {type(exc).__name__}: {exc}"
            continue
        names = []
        for obj in registered:
            obj_name = getattr(obj, "name", None) or type(obj).__name__
            objects[obj_name] = obj
            names.append(obj_name)
        if plugin_name in _infos:
            _infos[plugin_name].registers.setdefault(kind, []).extend(names)
    return objects


def registry() -> dict[str, dict[str, Any]]:
    """Every registered object by kind and name, collected once per process."""
    global _registry
    if _registry is None:
        for info in _infos.values():
            info.registers = {}
        _registry = {kind: _collect(hook) for hook, kind in HOOK_KINDS.items()}
    return _registry


def registered(kind: str) -> dict[str, Any]:
    """Registered objects of one kind ('backends', 'task_sources', 'metrics', 'executors', 'report_writers',
    'raters')."""
    return registry()[kind]


def plugin_infos() -> list[PluginInfo]:
    registry()
    return sorted(_infos.values(), key=lambda i: (not i.builtin, i.name))


def add_commands(cli: Any) -> None:
    """Let every plugin add its commands; a plugin whose hook fails is marked failed and skipped."""
    pm = get_plugin_manager()
    for impl in pm.hook.register_commands.get_hookimpls():
        try:
            impl.function(cli=cli)
        except Exception as exc:
            info = _infos.get(pm.get_name(impl.plugin) or "")
            if info is not None:
                info.status, info.error = "failed", f"register_commands: {type(exc).__name__}: {exc}"


def heavy_modules_loaded() -> list[str]:
    """Which heavy libraries are imported right now (for the import-lightness check)."""
    return [m for m in ("torch", "transformers", "textual", "sentence_transformers", "mteb") if m in sys.modules]
