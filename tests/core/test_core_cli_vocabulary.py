"""The command line speaks one vocabulary: every shared option (``advisor.options``) has, in each of its forms, one
parameter, one help text and one type on every command that takes that form; a help text speaks only of commands
that take it; an option name outside the vocabulary reads the same wherever it appears; docs/cli.md lists exactly
the options and forms the real commands have; and every deprecated spelling still works and says what replaces it.
The command tree is the real one, plugins included."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from advisor.cli import cli
from advisor.hookspecs import hookimpl
from advisor.models.variants import VECTOR_PRECISIONS, WEIGHT_PRECISIONS
from advisor.options import ONE, REPEATABLE, SHARED, VOCABULARY, DeprecatedOption, SharedOption
from advisor.plugins import register_plugin, unregister_plugin
from advisor.reporting import ReportWriter

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def _commands(groups: bool = False) -> dict[str, click.Command]:
    """'advisor runs list' -> the command, for every leaf of the tree (plugin commands are added lazily); with
    ``groups``, every group too ('advisor' itself takes --verbose)."""
    ctx = click.Context(cli, info_name="advisor")
    found: dict[str, click.Command] = {"advisor": cli} if groups else {}

    def walk(group: click.Group, path: list[str]) -> None:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if isinstance(command, click.Group):
                if groups:
                    found[" ".join([*path, name])] = command
                walk(command, [*path, name])
            else:
                found[" ".join([*path, name])] = command
    walk(cli, ["advisor"])
    return found


COMMANDS = _commands()
# what takes options: the leaves and the groups (a group's option, such as 'advisor --verbose', comes before the
# command's name)
TAKERS = _commands(groups=True)


def _visible(command: click.Command) -> list[click.Option]:
    return [p for p in command.params if isinstance(p, click.Option) and not p.hidden]


def _shared(command: click.Command) -> dict[str, click.Option]:
    """The visible options of a command spelled like a shared option."""
    return {name: p for p in _visible(command) for name in (*p.opts, *p.secondary_opts) if name in SHARED}


def _signature(param: click.Option) -> tuple:
    return (param.help, json.dumps(param.type.to_info_dict(), sort_keys=True, default=str), param.is_flag,
            param.multiple)


def _takers() -> dict[tuple[str, str], list[str]]:
    """(option, form) -> the commands that take that form."""
    takers: dict[tuple[str, str], list[str]] = {}
    for path, command in TAKERS.items():
        for name, param in _shared(command).items():
            takers.setdefault((name, param.form), []).append(path)
    return takers


def _deprecated() -> list[tuple[str, DeprecatedOption]]:
    return [(path, p) for path, command in COMMANDS.items() for p in command.params if isinstance(p, DeprecatedOption)]


def _doc_tables(first_header: str) -> list[list[list[str]]]:
    """Every docs/cli.md table whose header starts with ``first_header``: its rows (cells stripped, backticks
    removed), header first, without the |---| line."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    tables = []
    for start, line in enumerate(lines):
        if not line.replace("`", "").startswith(first_header):
            continue
        rows = []
        for row in lines[start:]:
            if not row.startswith("|"):
                break
            cells = re.split(r"(?<!\\)\|", row.strip().strip("|"))  # '\|' is a | inside a cell
            rows.append([cell.strip().replace("`", "").replace("\\|", "|") for cell in cells])
        tables.append([rows[0]] + rows[2:])
    return tables


def test_the_tree_has_the_commands_the_brief_names():
    for path in ("advisor plugins", "advisor catalog list", "advisor evaluate", "advisor measure", "advisor run",
                 "advisor runs list", "advisor runs show", "advisor runs export", "advisor rank", "advisor report",
                 "advisor recommend", "advisor tui", "advisor finetune", "advisor distill", "advisor datasets show",
                 "advisor serve", "advisor loadtest", "advisor catalog import-mteb"):
        assert path in COMMANDS


def test_every_shared_option_comes_from_advisor_options():
    for path, command in TAKERS.items():
        for name, param in _shared(command).items():
            assert isinstance(param, SharedOption), f"{path} defines {name} itself; use advisor.options"


def test_each_form_of_a_shared_option_has_one_parameter_help_text_and_type_everywhere():
    seen: dict[tuple[str, str], dict[tuple, list[str]]] = {}
    for path, command in TAKERS.items():
        for name, param in _shared(command).items():
            assert param.name == VOCABULARY[name][param.form].dest, f"{path} {name}"
            seen.setdefault((name, param.form), {}).setdefault(_signature(param), []).append(path)
    assert set(seen) == {(name, form) for name, forms in VOCABULARY.items() for form in forms}
    for (name, form), signatures in seen.items():
        assert len(signatures) == 1, f"{name} ({form}) differs between commands: {list(signatures.values())}"


def test_the_forms_of_an_option_have_their_own_help_texts():
    for name, forms in VOCABULARY.items():
        helps = [form.help for form in forms.values()]
        assert len(set(helps)) == len(helps), name


def test_a_repeatable_form_is_the_one_that_takes_several_values():
    for path, command in COMMANDS.items():
        for name, param in _shared(command).items():
            takes_several = param.multiple and not param.once
            assert takes_several == (param.form == REPEATABLE), f"{path} {name} ({param.form})"


_QUOTED = re.compile(r"'advisor ([a-z][a-z -]*?)'")


def _commands_named(text: str) -> tuple[set[str], set[str]]:
    """(commands a help text points to as 'advisor X', leaf commands it names bare): a bare name is a whole word,
    lower case, of a command's last word ('evaluate', 'run', 'finetune'...)."""
    pointed = set(_QUOTED.findall(text))
    bare_text = _QUOTED.sub("", text)
    leaves = {path.split()[-1] for path in COMMANDS}
    return pointed, {leaf for leaf in leaves if re.search(rf"(?<![\w-]){re.escape(leaf)}(?![\w-])", bare_text)}


def test_the_rule_finds_the_leaks_the_review_found():
    old_device = ("Device the models run on. In a sweep (run, recommend) it is repeatable and the devices given "
                  "replace those of the policy's variant grid.")
    assert _commands_named(old_device)[1] == {"run", "recommend"}
    assert _commands_named("Texts encoded per batch (in finetune and distill: pairs per training step).")[1] == \
        {"finetune", "distill"}
    assert _commands_named("Where the sweep runs (see 'advisor datasets sources').") == ({"datasets sources"}, set())


def test_a_shared_help_text_names_only_commands_that_take_it():
    for (name, form), paths in _takers().items():
        pointed, bare = _commands_named(VOCABULARY[name][form].help)
        assert {f"advisor {p}" for p in pointed} <= set(COMMANDS), f"{name} ({form}) points to no command"
        taking = {path.split()[-1] for path in paths}
        assert bare <= taking, f"{name} ({form}) speaks of {sorted(bare - taking)}, which do not take it"


def test_an_option_outside_the_vocabulary_reads_the_same_on_every_command():
    seen: dict[str, dict[tuple, list[str]]] = {}
    for path, command in COMMANDS.items():
        for param in _visible(command):
            for name in param.opts:
                if name not in SHARED:
                    seen.setdefault(name, {}).setdefault(_signature(param), []).append(path)
    for name, signatures in seen.items():
        assert len(signatures) == 1, (f"{name} means different things on {list(signatures.values())}: "
                                      "one help text, or a shared option with forms in advisor.options")


def test_docs_list_every_form_of_every_shared_option():
    (table,) = _doc_tables("| option | form")
    header, *rows = table
    assert header[:3] == ["option", "form", "parameter"]
    documented = [(row[0].split()[0], row[1], row[2]) for row in rows]
    real = [(name, form, spec.dest) for name, forms in VOCABULARY.items() for form, spec in forms.items()]
    assert documented == real


def test_docs_tables_match_the_real_commands():
    tables = _doc_tables("| command | --")
    columns = [name for header, *_rows in tables for name in header[1:]]
    assert columns == list(SHARED)
    documented: dict[str, dict[str, str]] = {}
    for header, *rows in tables:
        for row in rows:
            documented.setdefault(row[0], {}).update(zip(header[1:], row[1:]))
    for cells in documented.values():
        for name in SHARED:
            cells.setdefault(name, "")
    real = {path: {name: ("✓" if param.form == ONE else param.form) if (param := _shared(command).get(name)) else ""
                   for name in SHARED}
            for path, command in TAKERS.items() if path in COMMANDS or _shared(command)}
    assert documented == real


def test_docs_list_every_deprecated_spelling():
    ((_header, *rows),) = _doc_tables("| command | old spelling")
    documented = {(command, old, new if new.startswith("--") else None) for command, old, new in rows}
    real = {(path, p.opts[0], p.replacement) for path, p in _deprecated()}
    assert documented == real and real


def _a_value(option: click.Option) -> str:
    if isinstance(option.type, click.Choice):
        return option.type.choices[0]
    return "1" if isinstance(option.type, (click.types.IntParamType, click.types.FloatParamType)) else "auto"


@pytest.mark.parametrize("path, option", [(path, p) for path, p in _deprecated()],
                         ids=[f"{path[8:]} {p.opts[0]}" for path, p in _deprecated()])
def test_a_deprecated_spelling_prints_its_notice_and_stays_out_of_help(path, option):
    # An extra argument stops the command at parsing, after the eager notice: nothing runs, click says why.
    result = CliRunner().invoke(cli, [*path.split()[1:], option.opts[0], _a_value(option), "extra-argument"])
    assert result.stderr.splitlines()[0] == option.notice
    assert result.exit_code == 2 and "Traceback" not in result.output
    page = CliRunner().invoke(cli, [*path.split()[1:], "--help"]).stdout
    assert not re.search(rf"{re.escape(option.opts[0])}(?![\w-])", page)


def _parse(path: str, *args: str) -> dict:
    command = COMMANDS[path]
    return command.make_context(path.split()[-1], list(args)).params


def _parse_model(path: str, *args: str) -> dict:
    return _parse(path, "--model", "m", "--dataset", "d", *args)


def test_evaluate_precision_still_sets_the_vector_precisions(capsys):
    assert _parse_model("advisor evaluate", "--precision", "int8", "--precision", "binary")["precisions"] == \
        ("int8", "binary")
    assert capsys.readouterr().err == "advisor: --precision is deprecated here; use --vector-precision\n"
    both = _parse_model("advisor evaluate", "--vector-precision", "float32", "--precision", "binary")
    assert both["precisions"] == ("float32", "binary")


def test_measure_precision_still_sets_the_weight_precision(capsys):
    assert _parse_model("advisor measure", "--precision", "fp16")["weight_precision"] == "fp16"
    assert capsys.readouterr().err == "advisor: --precision is deprecated here; use --weights\n"
    assert _parse_model("advisor measure")["weight_precision"] is None  # as the model ships


def test_measure_engine_is_accepted_and_ignored(capsys):
    params = _parse_model("advisor measure", "--engine", "fast")
    assert "engine" not in params
    assert capsys.readouterr().err.startswith("advisor: --engine is deprecated and ignored:")


def test_measure_max_batch_still_sets_the_most_requests_in_a_batch(capsys):
    assert _parse_model("advisor measure", "--max-batch", "8")["max_batch_requests"] == 8
    assert capsys.readouterr().err == "advisor: --max-batch is deprecated here; use --max-batch-requests\n"
    assert _parse_model("advisor measure", "--max-batch-requests", "4")["max_batch_requests"] == 4


def test_serve_kind_still_sets_the_input_type(capsys):
    assert _parse("advisor serve", "--model", "m", "--kind", "document")["input_type"] == "document"
    assert capsys.readouterr().err == "advisor: --kind is deprecated here; use --input-type\n"
    assert _parse("advisor serve", "--model", "m")["input_type"] == "query"


@pytest.mark.parametrize("path", ["advisor catalog import-mteb", "advisor runs export"])
def test_out_meaning_a_file_still_works_and_names_out_file(path, capsys, tmp_path):
    target = tmp_path / "cells.csv"
    assert _parse(path, "--out", str(target))["out_file"] == target  # the required --out-file is given by it
    assert capsys.readouterr().err == "advisor: --out is deprecated here; use --out-file\n"
    assert _parse(path, "--out-file", str(target))["out_file"] == target


def test_out_is_always_a_folder():
    for path, command in COMMANDS.items():
        out = _shared(command).get("--out")
        if out is not None:
            assert isinstance(out.type, click.Path) and not out.type.file_okay and out.type.dir_okay, path


def test_precision_no_longer_means_two_things():
    visible = [path for path, command in COMMANDS.items() for p in _visible(command) if "--precision" in p.opts]
    assert visible == []
    for path, command in COMMANDS.items():
        shared = _shared(command)
        if "--weights" in shared:
            assert shared["--weights"].name == "weight_precision"
            assert tuple(shared["--weights"].type.choices) == WEIGHT_PRECISIONS
        if "--vector-precision" in shared:
            assert tuple(shared["--vector-precision"].type.choices) == VECTOR_PRECISIONS


def test_run_and_recommend_take_the_devices_of_the_sweep():
    for path in ("advisor run", "advisor recommend"):
        device = _shared(COMMANDS[path])["--device"]
        assert device.multiple and device.name == "devices"
    assert _parse_model("advisor evaluate", "--device", "cpu")["device"] == "cpu"


def test_a_one_value_form_given_twice_is_one_line():
    result = CliRunner().invoke(cli, ["serve", "--model", "m", "--dim", "64", "--dim", "128"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "advisor: error: --dim was given 2 times; 'serve' takes one"
    assert _parse("advisor serve", "--model", "m", "--dim", "64")["dim"] == 64


def test_each_form_reads_the_same_in_every_help_page():
    pages = {path: CliRunner().invoke(cli, [*path.split()[1:], "--help"], terminal_width=400).stdout
             for path in ("advisor evaluate", "advisor run", "advisor measure", "advisor finetune")}
    for path in ("advisor evaluate", "advisor measure"):
        assert re.search(r"--device \[cpu\|cuda\]\s+Device the model runs on\.", pages[path])
        assert re.search(r"--batch-size INTEGER RANGE\s+Texts encoded per batch\.", pages[path])
    assert re.search(r"--device \[cpu\|cuda\]\s+Devices to sweep \(repeatable\)", pages["advisor run"])
    assert re.search(r"--batch-size INTEGER RANGE\s+Training pairs per optimizer step\.", pages["advisor finetune"])


class _JsonLinesWriter(ReportWriter):
    name, suffix, description = "jsonl-test", ".jsonl", "one candidate per line"

    def write(self, report, out_dir):  # pragma: no cover - the option is what is tested
        raise AssertionError("not run")


class _WriterPlugin:
    @hookimpl
    def register_report_writers(self, register):
        register(_JsonLinesWriter())


@pytest.fixture
def jsonl_writer():
    register_plugin(_WriterPlugin(), name="jsonl-writer-test")
    try:
        yield "jsonl-test"
    finally:
        unregister_plugin("jsonl-writer-test")


def test_format_picks_a_plugins_report_writer(jsonl_writer, tmp_path):
    for path, needed in (("advisor report", ()), ("advisor recommend", ("--dataset", "d"))):
        params = _parse(path, *needed, "--out", str(tmp_path), "--format", jsonl_writer, "--format", "html")
        assert params["formats"] == (jsonl_writer, "html")


def test_an_unknown_format_is_one_line_with_did_you_mean(tmp_path):
    result = CliRunner().invoke(cli, ["report", "--out", str(tmp_path), "--format", "markdwn"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.stderr.splitlines() == ["advisor: error: --format markdwn: no report writer of that name; did you "
                                          "mean 'markdown'? registered: csv, html, json, markdown"]
