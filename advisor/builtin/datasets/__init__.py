"""Built-in plugin: dataset task sources (beir, unlabeled, pairs, sts, classification, pair_classification, documents,
hf, hf-disk, mteb).
The logic lives in ``advisor.datasets``; this module only registers it."""

from __future__ import annotations

from typing import Any

from advisor.hookspecs import Register, hookimpl


@hookimpl
def register_task_sources(register: Register) -> None:
    from advisor.datasets import task_sources

    for source in task_sources():
        register(source)


@hookimpl
def register_commands(cli: Any) -> None:
    from .commands import datasets_group

    cli.add_command(datasets_group)
