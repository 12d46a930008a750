"""The plugin hooks. Each hook receives a ``register`` callable and registers objects; the objects do the work.

Contracts of the registered objects are ABCs in the core: ``advisor.models.backends.Backend``,
``advisor.datasets.tasks.TaskSource``, ``advisor.sweep.executors.Executor``, ``advisor.reporting.ReportWriter``,
``advisor.quality.raters.Rater``. ``advisor.plugins`` refuses an object that is not an instance of its contract or
whose ``name`` is taken. ``register_commands`` receives the click group instead. docs/plugins.md documents each.
"""

from __future__ import annotations

from typing import Any, Callable

import pluggy

hookspec = pluggy.HookspecMarker("advisor")
hookimpl = pluggy.HookimplMarker("advisor")

Register = Callable[[Any], None]


@hookspec
def register_backends(register: Register) -> None:
    """Register ``advisor.models.backends.Backend`` objects (how a model is loaded and run)."""


@hookspec
def register_task_sources(register: Register) -> None:
    """Register ``advisor.datasets.tasks.TaskSource`` objects (how a dataset path or name becomes a Task)."""


@hookspec
def register_executors(register: Register) -> None:
    """Register ``advisor.sweep.executors.Executor`` objects (where run specs are executed: local, ray, ...)."""


@hookspec
def register_report_writers(register: Register) -> None:
    """Register ``advisor.reporting.ReportWriter`` objects (markdown, html, json, csv, ...)."""


@hookspec
def register_raters(register: Register) -> None:
    """Register ``advisor.quality.raters.Rater`` objects (score query-document pairs when there are no qrels)."""


@hookspec
def register_indexes(register: Register) -> None:
    """Register ``advisor.index.IndexType`` objects (search indexes: exact, faiss, usearch, pgvector, ...)."""


@hookspec
def register_commands(cli: Any) -> None:
    """Add click commands to the ``advisor`` command group."""
