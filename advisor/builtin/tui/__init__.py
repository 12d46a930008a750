"""Built-in plugin: ``advisor tui``, an interactive Textual app over the same catalog, policy, runner, store and
ranking code as the CLI.

This module imports only click and the light core: Textual is imported when the command runs, never when the
plugin loads (``advisor --help`` stays fast, and the core stays importable without a terminal UI).
"""

from __future__ import annotations

from pathlib import Path

import click

from advisor.hookspecs import hookimpl
from advisor.options import REPEATABLE, catalog_option, option, policy_option, store_option


@click.command("tui")
@catalog_option
@policy_option
@option("--dataset", REPEATABLE)
@store_option
@option("--out", default=Path("advisor-report"), show_default=True)
def tui_command(catalogs: tuple[Path, ...], policy: Path | None, datasets: tuple[str, ...], store: Path,
                out: Path) -> None:
    """Browse the catalog, adjust the policy, run a sweep and read the recommendation, interactively.

    Runs go through the same planner, runner and store as 'advisor run'; what the model worker processes print
    goes to a log file beside the store instead of the screen. The report is exported (ctrl+e) into --out."""
    from .session import Session

    # Catalog and policy errors surface here, as the CLI's one-line error, before the terminal is taken over.
    session = Session.open(catalogs=list(catalogs), policy=policy, datasets=list(datasets), store=store)
    from .app import AdvisorApp
    from .terminal import child_output_to

    with child_output_to(Path(store).parent / "tui-workers.log"):
        AdvisorApp(session, out_dir=out).run()


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(tui_command)
