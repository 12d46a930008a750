"""One test per hook: a fake plugin implementing it is registered, seen, used, and always unregistered.
The meta-test at the bottom fails when a hook is added to advisor.hookspecs without a ``test_hook_<name>``."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from advisor import hookspecs
from advisor.hookspecs import hookimpl
from advisor.plugins import add_commands, register_plugin, registered, unregister_plugin
from advisor.datasets.tasks import STSData, Task, TaskSource, content_hash, load_task


class Named:
    def __init__(self, name: str) -> None:
        self.name = name


@pytest.fixture
def plugin():
    """Register a plugin object for one test; it is unregistered even when the test fails."""
    names: list[str] = []

    def register(obj: object) -> None:
        name = f"fake-{type(obj).__name__}-{len(names)}"
        register_plugin(obj, name=name)
        names.append(name)

    yield register
    for name in names:
        unregister_plugin(name)


def test_hook_register_backends(plugin):
    from advisor.models.backends import Backend, get_backend

    class Dummy(Backend):
        name = "dummy-backend"

        def load(self, entry, *, device="cpu", weight_precision="fp32", allow_network=False):
            raise NotImplementedError

    class P:
        @hookimpl
        def register_backends(self, register):
            register(Dummy())

    plugin(P())
    assert isinstance(get_backend("dummy-backend"), Dummy)


class TinySTS(TaskSource):
    name = "tiny-sts"

    def detect(self, spec: str) -> bool:
        return spec.endswith(".tinysts")

    def load(self, spec: str) -> Task:
        data = STSData(("a cat",), ("a dog",), (3.0,))
        return Task(name=Path(spec).stem, type="sts", source=self.name, content_hash=content_hash(data), data=data)


def test_hook_register_task_sources(plugin):
    class P:
        @hookimpl
        def register_task_sources(self, register):
            register(TinySTS())

    plugin(P())
    task = load_task("numbers.tinysts")
    assert task.source == "tiny-sts" and task.text_sets()["sentence1"].texts == ("a cat",)
    assert load_task("anything", source="tiny-sts").name == "anything"


def _plugin_for(hook: str, obj: object) -> object:
    impl = hookimpl(lambda register: register(obj))
    impl.__name__ = hook
    return type("P", (), {hook: staticmethod(impl)})()


def _check_registration(plugin, hook: str, kind: str) -> None:
    obj = Named(f"fake-{kind}")
    plugin(_plugin_for(hook, obj))
    assert registered(kind)[f"fake-{kind}"] is obj


def test_hook_register_metrics(plugin):
    _check_registration(plugin, "register_metrics", "metrics")


def test_hook_register_executors(plugin):
    _check_registration(plugin, "register_executors", "executors")


def test_hook_register_report_writers(plugin):
    _check_registration(plugin, "register_report_writers", "report_writers")


def test_hook_register_raters(plugin):
    _check_registration(plugin, "register_raters", "raters")


def test_hook_register_commands(plugin):
    @click.command("hello")
    def hello() -> None:
        click.echo("hello from a plugin")

    class P:
        @hookimpl
        def register_commands(self, cli):
            cli.add_command(hello)

    plugin(P())
    group = click.Group("advisor")
    add_commands(group)
    result = CliRunner().invoke(group, ["hello"])
    assert result.exit_code == 0 and "hello from a plugin" in result.output


def test_a_failing_registration_hook_marks_only_its_plugin_failed(plugin):
    from advisor.plugins import plugin_infos

    class Bad:
        @hookimpl
        def register_raters(self, register):
            raise RuntimeError("no rater today")

    plugin(Bad())
    good = Named("good-rater")
    plugin(_plugin_for("register_raters", good))
    assert "fake-Bad-0" in {i.name for i in plugin_infos()}
    registered("raters")
    info = {i.name: i for i in plugin_infos()}["fake-Bad-0"]
    assert info.status == "failed" and "no rater today" in info.error
    assert registered("raters")["good-rater"] is good  # the others still work


def test_every_hook_has_a_test(repo):
    hooks = {name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
             if hasattr(fn, "advisor_spec")}
    assert hooks, "no hookspecs found"
    tested = set()
    for path in (repo / "tests").rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_hook_"):
                tested.add(node.name.removeprefix("test_hook_"))
    assert hooks <= tested, f"hooks without a test_hook_<name>: {sorted(hooks - tested)}"
