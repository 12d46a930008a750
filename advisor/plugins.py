"""The plugin manager: built-in plugins and third-party plugins, both found through the ``advisor`` entry points.

A plugin that fails to import is recorded and skipped, so one broken package never takes the tool down, unless
the user named it in ``ADVISOR_PLUGINS``: then the failure is an error. ``ADVISOR_PLUGINS`` (comma-separated entry
point names) restricts which third-party plugins load; an empty value loads none. Built-in plugins always load.

Every registered object must be an instance of its kind's contract (``Kind.contract``) and carry a unique
``name``. A registration that breaks either rule is refused and its plugin marked failed, so a third-party
backend called ``torch`` can never silently replace the built-in one (built-ins register first and win).
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any, Iterable

import pluggy

from advisor import hookspecs
from advisor.errors import PluginError

ENTRY_POINT_GROUP = "advisor"
BUILTIN_DISTRIBUTION = "embedding-advisor"
PLUGINS_ENV = "ADVISOR_PLUGINS"


@dataclass(frozen=True)
class Kind:
    """What one registration hook registers: its key in the registry, the word used in messages, and the
    contract class named as ``module:Class``. The contract is looked up only when an object is registered, and
    by then its module is imported anyway (the object was built from it), so this low layer imports no stage."""

    key: str
    noun: str
    contract: str

    def contract_class(self) -> type:
        module, _, attr = self.contract.partition(":")
        return getattr(importlib.import_module(module), attr)


HOOK_KINDS: dict[str, Kind] = {
    "register_backends": Kind("backends", "backend", "advisor.models.backends:Backend"),
    "register_task_sources": Kind("task_sources", "task source", "advisor.datasets.tasks:TaskSource"),
    "register_executors": Kind("executors", "executor", "advisor.sweep.executors:Executor"),
    "register_report_writers": Kind("report_writers", "report writer", "advisor.reporting:ReportWriter"),
    "register_raters": Kind("raters", "rater", "advisor.quality.raters:Rater"),
    "register_indexes": Kind("indexes", "index", "advisor.index:IndexType"),
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
    problems: dict[str, str] = field(default_factory=dict, repr=False)  # where ("load", a hook) -> what failed

    def fail(self, where: str, message: str) -> None:
        self.problems[where] = f"{self.problems[where]}; {message}" if where in self.problems else message
        self._refresh()

    def forget(self, wheres: Iterable[str]) -> None:
        """Drop the problems found at ``wheres`` (the registry is being collected again)."""
        for where in wheres:
            self.problems.pop(where, None)
        self._refresh()

    def _refresh(self) -> None:
        if self.status != "disabled":
            self.status = "failed" if self.problems else "loaded"
            self.error = "; ".join(self.problems.values()) or None


_pm: pluggy.PluginManager | None = None
_infos: dict[str, PluginInfo] = {}
_registry: dict[str, dict[str, Any]] | None = None
_requested: set[str] | None = None  # ADVISOR_PLUGINS as read when the plugin manager was built


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
        info.fail("load", f"{type(exc).__name__}: {exc}")
        if requested is not None and ep.name in requested:
            raise PluginError(f"plugin '{ep.name}' ({ep.value}) failed to load: {info.error}; "
                              f"fix or uninstall it, or remove it from {PLUGINS_ENV}") from None


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, with every available plugin loaded once."""
    global _pm, _requested
    if _pm is None:
        pm = pluggy.PluginManager("advisor")
        pm.add_hookspecs(hookspecs)
        requested = _requested = _requested_third_party()
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


def _fail(plugin_name: str, where: str, message: str) -> None:
    """Mark a plugin failed; when the user asked for it in ADVISOR_PLUGINS, stop with that one line instead."""
    info = _infos.get(plugin_name)
    if info is not None:
        info.fail(where, message)
    if _requested and plugin_name in _requested:
        raise PluginError(f"{message} (plugin '{plugin_name}' is named in {PLUGINS_ENV})")


def _refusal(obj: Any, kind: Kind, plugin_name: str) -> str | None:
    """Why ``obj`` may not be registered as a ``kind`` (not its contract, no name), or None."""
    contract = kind.contract_class()
    where = f"from plugin '{plugin_name}'"
    if not isinstance(obj, contract):
        return (f"{kind.noun} {type(obj).__name__} {where} is not an instance of "
                f"{contract.__module__}.{contract.__name__}; subclass it")
    name = getattr(obj, "name", None)
    if not isinstance(name, str) or not name:
        return f"{kind.noun} {type(obj).__name__} {where} has no name; set the class attribute 'name'"
    required = [attr for klass in reversed(contract.__mro__) for attr in inspect.get_annotations(klass)]
    missing = [attr for attr in dict.fromkeys(required) if not hasattr(obj, attr)]
    if missing:
        return (f"{kind.noun} '{name}' {where} lacks {', '.join(repr(a) for a in missing)}, which "
                f"{contract.__name__} requires")
    return None


def _collect(hook_name: str) -> dict[str, Any]:
    """Call one registration hook on every plugin, refuse what breaks the contract or takes a name already
    registered (the first registration wins: built-ins load first), and remember which plugin registered what."""
    pm = get_plugin_manager()
    kind = HOOK_KINDS[hook_name]
    objects: dict[str, Any] = {}
    owners: dict[str, str] = {}
    for impl in getattr(pm.hook, hook_name).get_hookimpls():
        plugin_name = pm.get_name(impl.plugin) or "?"
        registered: list[Any] = []
        try:
            impl.function(registered.append)
        except Exception as exc:
            _fail(plugin_name, hook_name, f"{hook_name}: {type(exc).__name__}: {exc}")
            continue
        names = []
        for obj in registered:
            refusal = _refusal(obj, kind, plugin_name)
            if refusal is None and obj.name in objects:
                refusal = (f"{kind.noun} '{obj.name}' from plugin '{plugin_name}' is already registered by plugin "
                           f"'{owners[obj.name]}'; rename it")
            if refusal is not None:
                _fail(plugin_name, hook_name, refusal)
                continue
            objects[obj.name], owners[obj.name] = obj, plugin_name
            names.append(obj.name)
        if plugin_name in _infos and names:
            _infos[plugin_name].registers.setdefault(kind.key, []).extend(names)
    return objects


def registry() -> dict[str, dict[str, Any]]:
    """Every registered object by kind and name, collected once per process."""
    global _registry
    if _registry is None:
        for info in _infos.values():
            info.registers = {}
            info.forget(HOOK_KINDS)
        _registry = {kind.key: _collect(hook) for hook, kind in HOOK_KINDS.items()}
    return _registry


def registered(kind: str) -> dict[str, Any]:
    """Registered objects of one kind, by name: a ``Kind.key`` ('backends', 'task_sources', 'executors',
    'report_writers', 'raters')."""
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
            _fail(pm.get_name(impl.plugin) or "", "register_commands",
                  f"register_commands: {type(exc).__name__}: {exc}")


def heavy_modules_loaded() -> list[str]:
    """Which heavy libraries are imported right now (for the import-lightness check)."""
    return [m for m in ("torch", "transformers", "textual", "sentence_transformers", "mteb") if m in sys.modules]
