"""The words of the command line, defined once: every command that takes a weight precision, a device, a store or
``--json`` takes it from here, so one name has one meaning, one type and one help text across the CLI
(``tests/core/test_core_cli_vocabulary.py`` holds every command to it; ``docs/cli.md`` has the table).

An old spelling keeps working for one release as a hidden alias that prints a one-line notice on stderr.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import click
from click.core import ParameterSource

from advisor.models.variants import DEVICES, VECTOR_PRECISIONS, WEIGHT_PRECISIONS
from advisor.sweep.store import DEFAULT_STORE

Decorator = Callable[[Any], Any]

HELP = {
    "--weights": "Weight precision the model runs at. Default: the weights the model ships with (fp32 for a "
                 "convertible model).",
    "--vector-precision": "Precision of the stored vectors (repeatable: every one is derived from the same "
                          "embeddings). Default: float32.",
    "--dim": "Output dimension (repeatable: every one is derived from the same embeddings). Default: the model's "
             "full size.",
    "--device": "Device the models run on. In a sweep (run, recommend) it is repeatable and the devices given "
                "replace those of the policy's variant grid.",
    "--batch-size": "Texts encoded per batch (in finetune and distill: pairs per training step).",
    "--store": "Results database (SQLite): 'advisor run' writes it; rank, report, recommend and the TUI read it.",
    "--catalog": "Catalog YAML file (repeatable). Default: the shipped catalogs.",
    "--policy": "Policy YAML file: hard rules, the variant grid and the ranking weights.",
    "--json": "Machine-readable output: JSON on stdout (progress and notes go to stderr).",
    "--dataset-type": "Task source to read the datasets with, instead of detecting it (see 'advisor datasets "
                      "sources').",
    "--executor": "Where the sweep runs: local, ray, or a plugin's executor.",
    "--allow-network": "Let hosted models receive your texts off this machine, as a policy's 'network: true' does; "
                       "a policy's 'data: {stay_on_machine: true}' still wins.",
}
SHARED = tuple(HELP)
_ALIASED = "advisor.options.aliased"  # ctx.meta key: parameter -> the value a deprecated spelling gave it


class SharedOption(click.Option):
    """An option of the shared vocabulary; it also takes the value of a deprecated alias given instead of it."""

    def process_value(self, ctx: click.Context, value: Any) -> Any:
        value = super().process_value(ctx, value)
        aliased = ctx.meta.get(_ALIASED, {}).get(self.name)
        if aliased is None:
            return value
        if self.multiple:
            return tuple(value or ()) + tuple(aliased)
        return aliased if ctx.get_parameter_source(self.name) in (ParameterSource.DEFAULT, None) else value


class DeprecatedOption(click.Option):
    """A hidden old spelling, kept for one release. ``replacement`` is the shared option to use instead (None: the
    option is ignored); ``notice`` is the line it prints on stderr when given."""

    def __init__(self, *args: Any, replacement: str | None = None, notice: str = "", **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.replacement, self.notice = replacement, notice


# name -> (parameter, click.option arguments) of the one-value form of each shared option
_SPECS: dict[str, tuple[str, dict[str, Any]]] = {
    "--weights": ("weight_precision", {"default": None, "type": click.Choice(WEIGHT_PRECISIONS)}),
    "--vector-precision": ("precisions", {"multiple": True, "type": click.Choice(VECTOR_PRECISIONS)}),
    "--dim": ("dims", {"multiple": True, "type": click.IntRange(1)}),
    "--device": ("device", {"default": "cpu", "show_default": True, "type": click.Choice(DEVICES)}),
    "--batch-size": ("batch_size", {"default": 32, "show_default": True, "type": click.IntRange(1)}),
    "--store": ("store", {"default": DEFAULT_STORE, "show_default": True, "type": click.Path(path_type=Path)}),
    "--catalog": ("catalogs", {"multiple": True, "type": click.Path(path_type=Path)}),
    "--policy": ("policy", {"default": None, "type": click.Path(path_type=Path)}),
    "--json": ("as_json", {"is_flag": True}),
    "--dataset-type": ("dataset_type", {"default": None}),
    "--executor": ("executor", {"default": "local", "show_default": True}),
    "--allow-network": ("allow_network", {"is_flag": True}),
}


def _shared(name: str, **overrides: Any) -> Decorator:
    dest, kw = _SPECS[name]
    kw = {**kw, **overrides}
    return click.option(name, kw.pop("dest", dest), cls=SharedOption, help=HELP[name], **kw)


def _given(ctx: click.Context, param: click.Parameter, value: Any) -> bool:
    return ctx.get_parameter_source(param.name) is ParameterSource.COMMANDLINE and value not in (None, ())


def deprecated_alias(old: str, new: str) -> Decorator:
    """``old`` still works for a release: a hidden option of ``new``'s type that prints a one-line notice and hands
    its value to the shared option ``new``. Eager, so it is read before ``new`` is."""
    dest, kw = _SPECS[new]
    notice = f"advisor: {old} is deprecated here; use {new}"

    def note(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if _given(ctx, param, value):
            click.echo(notice, err=True)
            ctx.meta.setdefault(_ALIASED, {})[dest] = value

    return click.option(old, cls=DeprecatedOption, replacement=new, notice=notice, hidden=True, expose_value=False,
                        is_eager=True, callback=note, multiple=kw.get("multiple", False), type=kw.get("type"),
                        help=f"Deprecated: use {new}.")


def ignored_option(old: str, notice: str) -> Decorator:
    """A retired option that is still accepted for a release: it prints ``notice`` and changes nothing."""
    line = f"advisor: {old} is deprecated and ignored: {notice}"

    def note(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if _given(ctx, param, value):
            click.echo(line, err=True)

    return click.option(old, cls=DeprecatedOption, notice=line, hidden=True, expose_value=False, callback=note,
                        help="Deprecated and ignored.")


def device_option(*, default: str | None = "cpu", default_text: str | None = None) -> Decorator:
    """``--device`` -> ``device``: the one device a command runs on."""
    return _shared("--device", default=default, show_default=default_text or True)


weights_option = _shared("--weights")                    # -> weight_precision (None: as the model ships)
vector_precision_option = _shared("--vector-precision")  # repeatable -> precisions
dim_option = _shared("--dim")                            # repeatable -> dims
devices_option = _shared("--device", dest="devices", multiple=True, default=None,
                         show_default="the policy's devices")  # repeatable -> devices: the sweep's devices
batch_size_option = _shared("--batch-size")              # -> batch_size
store_option = _shared("--store")                        # -> store (a Path)
catalog_option = _shared("--catalog")                    # repeatable -> catalogs
policy_option = _shared("--policy")                      # -> policy (a Path or None)
json_option = _shared("--json")                          # -> as_json
dataset_type_option = _shared("--dataset-type")          # -> dataset_type (None: detected)
executor_option = _shared("--executor")                  # -> executor
allow_network_option = _shared("--allow-network")        # -> allow_network (the policy's network grant, from the CLI)
