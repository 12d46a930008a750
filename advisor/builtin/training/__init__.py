"""Built-in plugin: training. Adds ``advisor finetune`` and ``advisor distill``; the logic lives in
``advisor.training``."""

from __future__ import annotations

from typing import Any

from advisor.hookspecs import hookimpl


@hookimpl
def register_commands(cli: Any) -> None:
    from .commands import distill_command, finetune_command

    cli.add_command(finetune_command)
    cli.add_command(distill_command)
