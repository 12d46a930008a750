"""The datasette rule: every hook in advisor.hookspecs has a ``test_hook_<name>`` somewhere under tests/ and a
section (a heading naming it) in docs/plugins.md, and every registration hook has a contract. Adding a hook
without its test or its documentation fails here. The example in each hook's section is a working plugin."""

from __future__ import annotations

import ast
import inspect
import re
import types
from pathlib import Path

import pytest

from advisor import hookspecs
from advisor.plugins import HOOK_KINDS, add_commands, plugin_infos


def hook_names(module=hookspecs) -> set[str]:
    return {name for name, fn in inspect.getmembers(module, inspect.isfunction) if hasattr(fn, "advisor_spec")}


def hooks_with_a_test(tests: Path) -> set[str]:
    """Hook names with a ``test_hook_<name>`` function in any test file under ``tests``."""
    found = set()
    for path in tests.rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_hook_"):
                found.add(node.name.removeprefix("test_hook_"))
    return found


def headings(markdown: str) -> list[str]:
    """The markdown headings, leaving out lines inside fenced code blocks (a '# comment' is not a heading)."""
    out, fenced = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,6} ", line):
            out.append(line)
    return out


def documented_hooks(markdown: str, hooks: set[str]) -> set[str]:
    return {hook for hook in hooks if any(re.search(rf"\b{hook}\b", h) for h in headings(markdown))}


def hook_table(markdown: str) -> dict[str, str]:
    """The rows of the overview table (the one headed ``| hook | ...``): hook name -> its contract cell."""
    rows: dict[str, str] = {}
    in_table = False
    for line in markdown.splitlines():
        if line.startswith("| hook |"):
            in_table = True
        elif in_table and not line.startswith("|"):
            break
        elif in_table and (match := re.match(r"\| `(\w+)\(", line)):
            rows[match.group(1)] = line.rsplit("|", 2)[-2].strip()
    return rows


@pytest.fixture(scope="module")
def plugins_doc(repo) -> str:
    return (repo / "docs" / "plugins.md").read_text()


def test_every_hook_has_a_test(repo):
    hooks = hook_names()
    assert hooks, "no hookspecs found"
    missing = hooks - hooks_with_a_test(repo / "tests")
    assert not missing, f"hooks without a test_hook_<name> under tests/: {sorted(missing)}"


def test_every_hook_has_a_section_in_the_plugin_docs(plugins_doc):
    missing = hook_names() - documented_hooks(plugins_doc, hook_names())
    assert not missing, f"hooks without a heading in docs/plugins.md: {sorted(missing)}"


def test_every_hook_is_a_row_of_the_hook_table_naming_its_contract(plugins_doc):
    table = hook_table(plugins_doc)
    assert set(table) == hook_names(), f"docs/plugins.md's hook table: {sorted(table)}"
    for hook, kind in HOOK_KINDS.items():
        assert kind.contract.replace(":", ".") in table[hook], (hook, table[hook])


def test_every_registration_hook_has_a_documented_contract(plugins_doc):
    registration = {h for h in hook_names() if "register" in inspect.signature(getattr(hookspecs, h)).parameters}
    assert registration == set(HOOK_KINDS)
    for kind in HOOK_KINDS.values():
        contract = kind.contract_class()
        assert inspect.isabstract(contract), kind.contract
        assert contract.__name__ in plugins_doc, f"docs/plugins.md does not describe {kind.contract}"


def test_the_checks_catch_a_hook_without_a_test_or_a_section(tmp_path):
    (tmp_path / "test_x.py").write_text("def test_hook_register_widgets():\n    pass\n")
    doc = "# Plugins\n\n## `register_widgets(register)`\n\n```python\n# register_gadgets\n```\n"
    hooks = {"register_widgets", "register_gadgets"}
    assert hooks - hooks_with_a_test(tmp_path) == {"register_gadgets"}
    assert hooks - documented_hooks(doc, hooks) == {"register_gadgets"}
    table = ("| hook | registers | contract |\n|---|---|---|\n| `register_widgets(register)` | widgets | `w.Widget` |\n"
             "\n| `register_gadgets(register)` | after the table ended |\n")
    assert hooks - set(hook_table(table)) == {"register_gadgets"}


def section_example(markdown: str, hook: str) -> str:
    """The first python block under the heading that names ``hook``."""
    section = re.split(rf"^#+ .*\b{hook}\b.*$", markdown, maxsplit=1, flags=re.M)[1]
    section = re.split(r"^## ", section, maxsplit=1, flags=re.M)[0]
    return re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)


def _example_plugin(markdown: str, hook: str) -> types.ModuleType:
    module = types.ModuleType(f"docs_example_{hook}")
    exec(compile(section_example(markdown, hook), f"docs/plugins.md ({hook})", "exec"), module.__dict__)
    return module


@pytest.mark.parametrize("hook", sorted(HOOK_KINDS))
def test_the_documented_example_registers(plugins_doc, plugin, hook):
    name = plugin(_example_plugin(plugins_doc, hook), name=f"docs-{hook}")
    info = {i.name: i for i in plugin_infos()}[name]
    assert info.status == "loaded", info.error
    assert info.registers.get(HOOK_KINDS[hook].key)


def test_the_documented_backend_is_two_small_classes_that_encode(plugins_doc, plugin):
    from advisor.models.backends import Backend, Encoder, load_encoder
    from advisor.models.catalog import ModelEntry

    module = _example_plugin(plugins_doc, "register_backends")
    classes = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, (Backend, Encoder))
               and v.__module__ == module.__name__]
    assert 1 <= len(classes) <= 2, [c.__name__ for c in classes]
    plugin(module, name="docs-backend")
    entry = ModelEntry(name="length", source="builtin:length", backend="length", embed_dim=2, languages=("eng-Latn",))
    encoder = load_encoder(entry)
    assert encoder.encode(["a cat sat"]).tolist() == [[9.0, 3.0]]
    assert encoder.encode_one("a cat").tolist() == [5.0, 2.0]  # the default batch-1 path
    assert encoder.info["backend"] == "length"


def test_the_documented_command_runs(plugins_doc, plugin):
    import click
    from click.testing import CliRunner

    plugin(_example_plugin(plugins_doc, "register_commands"), name="docs-commands")
    group = click.Group("advisor")
    add_commands(group)
    assert CliRunner().invoke(group, ["hello"]).output == "hello from a plugin\n"
