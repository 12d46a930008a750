"""Built-in plugin: cost. Registers ``advisor measure``; the work is ``advisor.cost`` (fast path, latency,
dynamic batcher, memory probe, storage)."""

from __future__ import annotations

from typing import Any

from advisor.hookspecs import hookimpl


@hookimpl
def register_commands(cli: Any) -> None:
    from .command import measure_command

    cli.add_command(measure_command)
