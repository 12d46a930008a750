"""Built-in plugin: serving. Registers ``advisor serve`` (a model as an HTTP service with dynamic batching) and
``advisor loadtest`` (open-loop load against a server on this machine); the work is ``advisor.serving``."""

from __future__ import annotations

from typing import Any

from advisor.hookspecs import hookimpl


@hookimpl
def register_commands(cli: Any) -> None:
    from .commands import loadtest_command, serve_command

    cli.add_command(serve_command)
    cli.add_command(loadtest_command)
