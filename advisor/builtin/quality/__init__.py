"""Built-in plugin: quality. Registers the offline raters and the ``advisor evaluate`` command; the logic lives in
``advisor.quality.evaluation``, ``advisor.quality.metrics``, ``advisor.quality.search``, ``advisor.quality.vectors``, ``advisor.quality.bootstrap`` and
``advisor.quality.raters``."""

from __future__ import annotations

from typing import Any

from advisor.hookspecs import Register, hookimpl


@hookimpl
def register_raters(register: Register) -> None:
    from advisor.quality.raters import builtin_raters

    for rater in builtin_raters():
        register(rater)


@hookimpl
def register_commands(cli: Any) -> None:
    from .command import evaluate_command

    cli.add_command(evaluate_command)
