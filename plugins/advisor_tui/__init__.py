"""Built-in plugin: ``advisor tui``, an interactive Textual app over the same catalog, policy, runner, store and
ranking code as the CLI.

This module imports only click and the light core: Textual is imported when the command runs, never when the
plugin loads (``advisor --help`` stays fast, and the core stays importable without a terminal UI).
"""

from __future__ import annotations

from pathlib import Path

import click

from advisor.hookspecs import hookimpl

DEFAULT_STORE = Path(".advisor/results.sqlite")


@click.command("tui")
@click.option("--catalog", "catalogs", multiple=True, type=click.Path(path_type=Path),
              help="Catalog YAML file (repeatable). Default: the shipped offline catalog.")
@click.option("--policy", type=click.Path(path_type=Path), help="Policy YAML file.")
@click.option("--dataset", "datasets", multiple=True, help="Dataset path or name (repeatable).")
@click.option("--store", type=click.Path(path_type=Path), default=DEFAULT_STORE, show_default=True,
              help="Results database (SQLite) shared with 'advisor run'.")
def tui_command(catalogs: tuple[Path, ...], policy: Path | None, datasets: tuple[str, ...], store: Path) -> None:
    """Browse the catalog, adjust the policy, run a sweep and read the recommendation, interactively."""
    from .session import Session

    # Catalog and policy errors surface here, as the CLI's one-line error, before the terminal is taken over.
    session = Session.open(catalogs=list(catalogs), policy=policy, datasets=list(datasets), store=store)
    from .app import AdvisorApp

    AdvisorApp(session).run()


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(tui_command)
