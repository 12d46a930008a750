"""The command line speaks one vocabulary: every shared option (``advisor.options``) has one help text and one type
on every command that has it, docs/cli.md lists exactly the options the real commands have, and every deprecated
spelling still works and says what replaces it. The command tree is the real one, plugins included."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from advisor.cli import cli
from advisor.models.variants import VECTOR_PRECISIONS, WEIGHT_PRECISIONS
from advisor.options import SHARED, DeprecatedOption, SharedOption

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def _commands() -> dict[str, click.Command]:
    """'advisor runs list' -> the command, for every leaf of the tree (plugin commands are added lazily)."""
    ctx = click.Context(cli, info_name="advisor")
    found: dict[str, click.Command] = {}

    def walk(group: click.Group, path: list[str]) -> None:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if isinstance(command, click.Group):
                walk(command, [*path, name])
            else:
                found[" ".join([*path, name])] = command
    walk(cli, ["advisor"])
    return found


COMMANDS = _commands()


def _shared(command: click.Command) -> dict[str, click.Option]:
    """The visible options of a command spelled like a shared option."""
    return {name: p for p in command.params if isinstance(p, click.Option) and not p.hidden
            for name in (*p.opts, *p.secondary_opts) if name in SHARED}


def _deprecated() -> list[tuple[str, DeprecatedOption]]:
    return [(path, p) for path, command in COMMANDS.items() for p in command.params if isinstance(p, DeprecatedOption)]


def _doc_table(first_header: str) -> list[list[str]]:
    """The rows (cells stripped, backticks removed) of the docs/cli.md table whose header starts with ``first_header``."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.replace("`", "").startswith(first_header))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip().replace("`", "") for cell in line.strip().strip("|").split("|")])
    return [rows[0]] + rows[2:]  # without the |---| line


def test_the_tree_has_the_commands_the_brief_names():
    for path in ("advisor plugins", "advisor catalog list", "advisor evaluate", "advisor measure", "advisor run",
                 "advisor runs list", "advisor runs show", "advisor runs export", "advisor rank", "advisor report",
                 "advisor recommend", "advisor tui", "advisor finetune", "advisor distill", "advisor datasets show"):
        assert path in COMMANDS


def test_every_shared_option_comes_from_advisor_options():
    for path, command in COMMANDS.items():
        for name, param in _shared(command).items():
            assert isinstance(param, SharedOption), f"{path} defines {name} itself; use advisor.options"


def test_a_shared_option_has_one_help_text_and_one_type_everywhere():
    seen: dict[str, dict[tuple, list[str]]] = {}
    for path, command in COMMANDS.items():
        for name, param in _shared(command).items():
            signature = (param.help, json.dumps(param.type.to_info_dict(), sort_keys=True, default=str),
                         param.is_flag)
            seen.setdefault(name, {}).setdefault(signature, []).append(path)
    assert set(seen) == set(SHARED)
    for name, signatures in seen.items():
        assert len(signatures) == 1, f"{name} differs between commands: {list(signatures.values())}"


def test_docs_table_matches_the_real_commands():
    header, *rows = _doc_table("| command | --weights")
    assert header == ["command", *SHARED]
    documented = {row[0]: dict(zip(SHARED, row[1:])) for row in rows}
    real = {path: {name: ("repeatable" if param.multiple else "✓") if (param := _shared(command).get(name)) else ""
                   for name in SHARED}
            for path, command in COMMANDS.items()}
    assert documented == real


def test_docs_list_every_deprecated_spelling():
    _header, *rows = _doc_table("| command | old spelling")
    documented = {(command, old, new if new.startswith("--") else None) for command, old, new in rows}
    real = {(path, p.opts[0], p.replacement) for path, p in _deprecated()}
    assert documented == real and real


@pytest.mark.parametrize("path, option", [(path, p) for path, p in _deprecated()],
                         ids=[f"{path[8:]} {p.opts[0]}" for path, p in _deprecated()])
def test_a_deprecated_spelling_prints_its_notice_and_stays_out_of_help(path, option):
    value = option.type.choices[0] if isinstance(option.type, click.Choice) else "auto"
    # No required option is given, so the command stops at parsing: the notice comes first, then click's error.
    result = CliRunner().invoke(cli, [*path.split()[1:], option.opts[0], value])
    assert result.stderr.splitlines()[0] == option.notice
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert option.opts[0] not in CliRunner().invoke(cli, [*path.split()[1:], "--help"]).stdout


def _parse(path: str, *args: str) -> dict:
    command = COMMANDS[path]
    return command.make_context(path.split()[-1], ["--model", "m", "--dataset", "d", *args]).params


def test_evaluate_precision_still_sets_the_vector_precisions(capsys):
    assert _parse("advisor evaluate", "--precision", "int8", "--precision", "binary")["precisions"] == ("int8", "binary")
    assert capsys.readouterr().err == "advisor: --precision is deprecated here; use --vector-precision\n"
    both = _parse("advisor evaluate", "--vector-precision", "float32", "--precision", "binary")
    assert both["precisions"] == ("float32", "binary")


def test_measure_precision_still_sets_the_weight_precision(capsys):
    assert _parse("advisor measure", "--precision", "fp16")["weight_precision"] == "fp16"
    assert capsys.readouterr().err == "advisor: --precision is deprecated here; use --weights\n"
    assert _parse("advisor measure")["weight_precision"] is None  # as the model ships


def test_measure_engine_is_accepted_and_ignored(capsys):
    params = _parse("advisor measure", "--engine", "fast")
    assert "engine" not in params
    assert capsys.readouterr().err.startswith("advisor: --engine is deprecated and ignored:")


def test_precision_no_longer_means_two_things():
    visible = [path for path, command in COMMANDS.items() for p in command.params
               if isinstance(p, click.Option) and not p.hidden and "--precision" in p.opts]
    assert visible == []
    for path, command in COMMANDS.items():
        shared = _shared(command)
        if "--weights" in shared:
            assert shared["--weights"].name == "weight_precision"
            assert tuple(shared["--weights"].type.choices) == WEIGHT_PRECISIONS
        if "--vector-precision" in shared:
            assert shared["--vector-precision"].name == "precisions"
            assert tuple(shared["--vector-precision"].type.choices) == VECTOR_PRECISIONS


def test_run_and_recommend_take_the_devices_of_the_sweep():
    for path in ("advisor run", "advisor recommend"):
        device = _shared(COMMANDS[path])["--device"]
        assert device.multiple and device.name == "devices"
    assert _parse("advisor evaluate", "--device", "cpu")["device"] == "cpu"


def test_help_text_of_a_shared_option_reads_the_same_in_every_help_page():
    pages = {path: CliRunner().invoke(cli, [*path.split()[1:], "--help"], terminal_width=400).stdout
             for path in ("advisor evaluate", "advisor run", "advisor measure")}
    for page in pages.values():
        assert re.search(r"--device \[cpu\|cuda\]\s+Device the models run on\.", page)
