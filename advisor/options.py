"""The words of the command line, defined once: every command that takes a model, a dataset, a weight precision, a
device, a store, an output folder or ``--json`` takes it from here, so one name has one meaning, one type and one
help text across the CLI (``tests/core/test_core_cli_vocabulary.py`` holds every command to it; ``docs/cli.md`` has
the tables).

A name may come in a few *forms* (``--device``: the one device a command runs on, or the sweep's repeatable
devices); each form has its own parameter, type and help text, and a help text speaks only of the commands that
take its form. An old spelling keeps working for one release as a hidden alias that prints a one-line notice on
stderr.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import click
from click.core import ParameterSource

from advisor.errors import UserError
from advisor.models.variants import DEVICES, VECTOR_PRECISIONS, WEIGHT_PRECISIONS
from advisor.sweep.store import DEFAULT_STORE

Decorator = Callable[[Any], Any]
_ALIASED = "advisor.options.aliased"  # ctx.meta key: parameter -> the value a deprecated spelling gave it


class Duration(click.ParamType):
    """A length of time as people write it (``90s``, ``45m``, ``2h``, ``1h30m``, seconds), read by
    ``advisor.config.durations`` as a policy's ``budget:`` is; a mistake is one line naming the option."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from advisor.config.durations import parse_duration

        if isinstance(value, float):
            return value
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise UserError(f"{param.opts[0] if param is not None else 'duration'} {value}: {exc}") from None


class RegisteredName(click.ParamType):
    """The name of something plugins register (a report writer, ...). The names are read from the plugin registry
    when a value is checked, never at import or ``--help``, so a plugin's own writer can be picked; an unknown name
    is one line with a did-you-mean."""

    name = "name"

    def __init__(self, kind: str, noun: str) -> None:
        self.kind, self.noun = kind, noun

    def to_info_dict(self) -> dict[str, Any]:
        return {**super().to_info_dict(), "kind": self.kind}

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from advisor.plugins import registered

        names = sorted(registered(self.kind))
        if value in names:
            return value
        close = difflib.get_close_matches(str(value), names, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        option = param.opts[0] if param is not None else self.noun
        raise UserError(f"{option} {value}: no {self.noun} of that name; {hint}registered: {', '.join(names)}")


@dataclass(frozen=True)
class Form:
    """One form of a shared option: the parameter it fills, its help text and its click arguments. ``once``: the
    option takes one value and says so when it is given twice (instead of click's silent last-one-wins)."""

    dest: str
    help: str
    kw: Mapping[str, Any] = field(default_factory=dict)
    once: bool = False

    @property
    def multiple(self) -> bool:
        return bool(self.kw.get("multiple")) and not self.once


ONE, REPEATABLE = "one", "repeatable"  # the plain forms; others name what sets them apart ("training", ...)

_MODEL = "a catalog name, a local model folder or file, or hub:ORG/NAME (cached)"
_DATASET = ("a folder or file (BEIR folder, query/positive pairs, STS/classification/pair table; CSV, TSV, JSONL "
            "or Parquet; a folder of .txt/.md documents; a Hugging Face save_to_disk folder), "
            "hf:ORG/NAME[:CONFIG][@SPLIT], or a task name such as mteb:TASK; options after # (PATH#pseudo-queries=N, "
            "#query=COLUMN); repeatable")

# option -> form -> Form; the order is docs/cli.md's column order
VOCABULARY: dict[str, dict[str, Form]] = {
    # what is evaluated
    "--model": {
        ONE: Form("model", f"The model: {_MODEL}."),
        REPEATABLE: Form("models", "Only these models (a catalog name or a local model folder; repeatable). "
                                   "Default: every one.", {"multiple": True}),
        "sent": Form("model", "Model name sent in each request's 'model' field (OpenAI endpoint)."),
    },
    "--dataset": {
        REPEATABLE: Form("datasets", f"Dataset: {_DATASET}.", {"multiple": True}),
        "training": Form("dataset", "Dataset to train on: a retrieval task (BEIR folder with qrels), a pairs file "
                                    "(TSV/CSV/JSONL/Parquet with anchor, positive[, negative]) or raw text (one "
                                    "document per line)."),
    },
    "--dataset-type": {ONE: Form("dataset_type", "Task source to read the datasets with, instead of detecting it "
                                                 "(see 'advisor datasets sources').", {"default": None})},
    "--corpus": {ONE: Form("corpus", "Corpus file (JSONL, CSV, TSV or Parquet with a text column, optional title) "
                                     "whose documents are added to each retrieval dataset, so its judged documents "
                                     "are searched among distractors.",
                           {"default": None, "type": click.Path(path_type=Path)})},
    "--pseudo-queries": {ONE: Form("pseudo_queries", "Build N queries from each dataset that is a corpus without "
                                                     "queries (a folder of .txt/.md files, a table of documents): "
                                                     "each a span of one document with some words removed, judged "
                                                     "relevant to that document. The judgements are synthetic, and "
                                                     "every output says so. N, or N,span=WORDS,seed=S,mask=SHARE "
                                                     "(default span 12, seed 0, mask 0.25); the same as "
                                                     "DATASET#pseudo-queries=N.",
                                   {"default": None, "metavar": "N[,span=W,seed=S,mask=R]"})},
    "--columns": {ONE: Form("columns", "Read the columns of a table or a Hugging Face dataset under the names the "
                                       "advisor knows: FIELD=COLUMN,... such as query=question,positive=answer "
                                       "(fields: query, positive, negative, score, sentence1, sentence2, text, "
                                       "title, id, label, text1, text2, cluster, group); the same as "
                                       "DATASET#query=question,....",
                            {"default": None, "metavar": "FIELD=COLUMN,..."})},
    "--catalog": {REPEATABLE: Form("catalogs", "Catalog YAML file, or a shipped catalog's name: offline, hub, hosted "
                                               "(repeatable). Default: the shipped offline catalog.",
                                   {"multiple": True, "type": click.Path(path_type=Path)})},
    "--name-contains": {REPEATABLE: Form("names", "Keep models whose name contains this (repeatable).",
                                         {"multiple": True})},
    "--policy": {ONE: Form("policy", "Policy YAML file (hard rules, the variant grid and the ranking weights), or a "
                                     "shipped policy's name ('advisor policy list'). Default: none, the permissive "
                                     "policy.",
                           {"default": None, "type": click.Path(path_type=Path)})},
    "--allow-network": {ONE: Form("allow_network", "Let the advisor reach hosts off this machine (hosted models "
                                                   "receive your texts, hub models and MTEB tasks download, a chat "
                                                   "rater grades), as a policy's 'network: true' does; a policy's "
                                                   "'data: {stay_on_machine: true}' still wins.", {"is_flag": True})},
    # how it runs
    "--weights": {ONE: Form("weight_precision", "Weight precision the model runs at. Default: the weights the model "
                                                "ships with (fp32 for a convertible model).",
                            {"default": None, "type": click.Choice(WEIGHT_PRECISIONS)})},
    "--vector-precision": {
        REPEATABLE: Form("precisions", "Precision of the stored vectors (repeatable: every one is derived from the "
                                       "same embeddings). Default: float32.",
                         {"multiple": True, "type": click.Choice(VECTOR_PRECISIONS)}),
        ONE: Form("vector_precision", "Precision of the vectors. Default: float32.",
                  {"multiple": True, "type": click.Choice(VECTOR_PRECISIONS)}, once=True),
    },
    "--dim": {
        REPEATABLE: Form("dims", "Output dimension (repeatable: every one is derived from the same embeddings). "
                                 "Default: the model's full size.", {"multiple": True, "type": click.IntRange(1)}),
        ONE: Form("dim", "Output dimension. Default: the model's full size.",
                  {"multiple": True, "type": click.IntRange(1)}, once=True),
    },
    "--device": {
        ONE: Form("device", "Device the model runs on.",
                  {"default": "cpu", "show_default": True, "type": click.Choice(DEVICES)}),
        REPEATABLE: Form("devices", "Devices to sweep (repeatable); the devices given replace those of the "
                                    "policy's variant grid.",
                         {"multiple": True, "default": None, "show_default": "the policy's devices",
                          "type": click.Choice(DEVICES)}),
    },
    "--batch-size": {
        ONE: Form("batch_size", "Texts encoded per batch.",
                  {"default": 32, "show_default": True, "type": click.IntRange(1)}),
        "training": Form("batch_size", "Training pairs per optimizer step.",
                         {"default": 32, "show_default": True, "type": click.IntRange(1)}),
    },
    "--executor": {ONE: Form("executor", "Where the sweep runs: local, ray, or a plugin's executor.",
                             {"default": "local", "show_default": True})},
    "--max-batch-requests": {ONE: Form("max_batch_requests", "Dynamic batching: most requests in one batch.",
                                       {"default": 64, "show_default": True, "type": click.IntRange(1)})},
    "--max-wait-ms": {ONE: Form("max_wait_ms", "Dynamic batching: longest a batch waits to fill after its first "
                                               "request, in ms.",
                                {"default": 2.0, "show_default": True, "type": click.FloatRange(0)})},
    "--input-type": {ONE: Form("input_type", "Input type of a request that gives no input_type / prompt_name: "
                                             "it picks the prompt the model adds.",
                               {"default": "query", "show_default": True,
                                "type": click.Choice(["query", "document"])})},
    "--api-key-env": {ONE: Form("api_key_env", "Environment variable holding the API key (sent as 'Authorization: "
                                               "Bearer KEY'); the key itself never appears on the command line.",
                                {"default": None})},
    "--budget": {ONE: Form("budget", "Time budget of a racing sweep (90s, 45m, 2h, 1h30m): every candidate is "
                                     "evaluated on a slice of each dataset, those clearly worse than the leader "
                                     "leave, survivors go on to slices twice as large, and only the last few are "
                                     "measured in full; a policy's 'budget:' gives one too. Default: no race, every "
                                     "candidate measured in full.",
                           {"default": None, "type": Duration(), "metavar": "DURATION"})},
    "--dry-run": {ONE: Form("dry_run", "Show the plan and its expected wall time (per candidate and in all, from the "
                                       "store's timings or a short probe of this machine) without running anything.",
                            {"is_flag": True})},
    # where results go
    "--store": {ONE: Form("store", "Results database (SQLite): 'advisor run' writes it; rank, report, recommend and "
                                   "the TUI read it.",
                          {"default": DEFAULT_STORE, "show_default": True, "type": click.Path(path_type=Path)})},
    "--out": {ONE: Form("out", "Output folder (created when missing).",
                        {"type": click.Path(file_okay=False, path_type=Path)})},
    "--out-file": {ONE: Form("out_file", "Output file (an existing one is replaced).",
                             {"type": click.Path(dir_okay=False, path_type=Path)})},
    "--format": {
        REPEATABLE: Form("formats", "Report format (repeatable): the name of a registered report writer, built in "
                                    "markdown, html, json and csv, or a plugin's. Default: every registered one.",
                         {"multiple": True, "metavar": "NAME",
                          "type": RegisteredName("report_writers", "report writer")}),
        "table": Form("table_format", "Table format. Default: from the --out-file suffix (csv without one).",
                      {"default": None, "type": click.Choice(["csv", "parquet", "json"])}),
    },
    "--json": {ONE: Form("as_json", "Machine-readable output: JSON on stdout (progress and notes go to stderr).",
                         {"is_flag": True})},
    # how much the libraries say (an option of the advisor group itself: 'advisor --verbose measure ...')
    "--verbose": {ONE: Form("verbose", "Let the libraries the advisor drives write their INFO log lines on stderr "
                                       "(twice: DEBUG); by default they write warnings and errors only.",
                            {"count": True})},
    # what a server accepts (its limits on what one request may cost, and who may reach it)
    "--max-body-bytes": {ONE: Form("max_body_bytes", "Largest request body in bytes; a larger one is answered 413 "
                                                     "before it is read whole.",
                                   {"default": 2_000_000, "show_default": True, "type": click.IntRange(1)})},
    "--max-inputs": {ONE: Form("max_inputs", "Most texts in one request; more are answered 413.",
                               {"default": 2048, "show_default": True, "type": click.IntRange(1)})},
    "--max-concurrent-requests": {ONE: Form("max_concurrent_requests", "Requests handled at once; the next is "
                                                                       "answered 429 before its body is read.",
                                            {"default": 512, "show_default": True, "type": click.IntRange(1)})},
    "--insecure": {ONE: Form("insecure", "Listen on an address other than loopback without an API key (refused "
                                         "otherwise): anyone who reaches the port can use the model.",
                             {"is_flag": True})},
}
SHARED = tuple(VOCABULARY)


class SharedOption(click.Option):
    """An option of the shared vocabulary, in one of its forms; it also takes the value of a deprecated alias given
    instead of it."""

    def __init__(self, *args: Any, form: str = ONE, once: bool = False, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.form, self.once = form, once

    def process_value(self, ctx: click.Context, value: Any) -> Any:
        aliased = ctx.meta.get(_ALIASED, {}).get(self.name)
        try:
            value = super().process_value(ctx, value)
        except click.MissingParameter:
            if aliased is None:  # a required option is there when its deprecated spelling was given
                raise
            value = () if self.multiple else None
        if self.once:
            if len(value or ()) > 1:
                raise UserError(f"{self.opts[0]} was given {len(value)} times; '{ctx.info_name}' takes one")
            value = value[0] if value else None
        if aliased is None:
            return value
        if self.multiple and not self.once:
            return tuple(value or ()) + tuple(aliased)
        return aliased if ctx.get_parameter_source(self.name) in (ParameterSource.DEFAULT, None) else value


class DeprecatedOption(click.Option):
    """A hidden old spelling, kept for one release. ``replacement`` is the shared option to use instead (None: the
    option is ignored); ``notice`` is the line it prints on stderr when given."""

    def __init__(self, *args: Any, replacement: str | None = None, notice: str = "", **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.replacement, self.notice = replacement, notice


def _form(name: str, form: str | None) -> tuple[str, Form]:
    forms = VOCABULARY[name]
    if form is None:
        if len(forms) > 1:
            raise ValueError(f"{name} has the forms {', '.join(forms)}; say which")
        form = next(iter(forms))
    return form, forms[form]


def option(name: str, form: str | None = None, **overrides: Any) -> Decorator:
    """The shared option ``name`` in ``form`` (may be left out when the option has one). ``overrides`` may set
    what a command decides for itself: ``default``, ``show_default``, ``required``; never the help text or the
    type."""
    assert set(overrides) <= {"default", "show_default", "required"}, f"{name}: cannot override {set(overrides)}"
    form, spec = _form(name, form)
    return click.option(name, spec.dest, cls=SharedOption, form=form, once=spec.once, help=spec.help,
                        **{**spec.kw, **overrides})


def _given(ctx: click.Context, param: click.Parameter, value: Any) -> bool:
    return ctx.get_parameter_source(param.name) is ParameterSource.COMMANDLINE and value not in (None, ())


def deprecated_alias(old: str, new: str, form: str | None = None) -> Decorator:
    """``old`` still works for a release: a hidden option of ``new``'s type that prints a one-line notice and hands
    its value to the shared option ``new`` (in ``form``). Eager, so it is read before ``new`` is."""
    _form_name, spec = _form(new, form)
    notice = f"advisor: {old} is deprecated here; use {new}"

    def note(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if _given(ctx, param, value):
            click.echo(notice, err=True)
            ctx.meta.setdefault(_ALIASED, {})[spec.dest] = value

    return click.option(old, cls=DeprecatedOption, replacement=new, notice=notice, hidden=True, expose_value=False,
                        is_eager=True, callback=note, multiple=spec.multiple, type=spec.kw.get("type"),
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
    return option("--device", ONE, default=default, show_default=default_text or True)


weights_option = option("--weights")                                # -> weight_precision (None: as the model ships)
vector_precision_option = option("--vector-precision", REPEATABLE)  # -> precisions
dim_option = option("--dim", REPEATABLE)                            # -> dims
devices_option = option("--device", REPEATABLE)                     # -> devices: the sweep's devices
batch_size_option = option("--batch-size", ONE)                     # -> batch_size: texts per encode call
training_batch_size_option = option("--batch-size", "training")     # -> batch_size: pairs per optimizer step
store_option = option("--store")                                    # -> store (a Path)
catalog_option = option("--catalog")                                # -> catalogs
policy_option = option("--policy")                                  # -> policy (a Path or None)
json_option = option("--json")                                      # -> as_json
dataset_type_option = option("--dataset-type")                      # -> dataset_type (None: detected)
corpus_option = option("--corpus")                                  # -> corpus (None: the datasets' own documents)
executor_option = option("--executor")                              # -> executor
budget_option = option("--budget")                                  # -> budget (seconds, None: no race)
dry_run_option = option("--dry-run")                                # -> dry_run
allow_network_option = option("--allow-network")                    # -> allow_network (the policy's network grant)
report_format_option = option("--format", REPEATABLE)               # -> formats (report writers' names)
verbose_option = option("--verbose")                                # -> verbose (a count: library log level)


def dataset_read_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--pseudo-queries`` and ``--columns`` for a command that takes datasets (``datasets`` or ``dataset``): their
    values are written onto each dataset spec (``advisor.datasets.spec.with_options``) before the command runs, so
    everything that reads a spec again (a sweep's workers) reads the same task."""
    import functools

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        pseudo, columns = kwargs.pop("pseudo_queries", None), kwargs.pop("columns", None)
        if pseudo or columns:
            from advisor.datasets.spec import with_options

            for key in ("datasets", "dataset"):
                value = kwargs.get(key)
                if isinstance(value, (tuple, list)):
                    kwargs[key] = type(value)(with_options(str(v), pseudo, columns) for v in value)
                elif value:
                    kwargs[key] = with_options(str(value), pseudo, columns)
        return command(*args, **kwargs)

    return option("--pseudo-queries")(option("--columns")(run))
