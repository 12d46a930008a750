"""One test per hook: a fake plugin implementing it is registered, seen, used, and always unregistered (the
``plugin`` fixture in conftest.py). tests/core/test_core_hook_docs.py fails when a hook in advisor.hookspecs has
no ``test_hook_<name>`` here or no section in docs/plugins.md."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np
from click.testing import CliRunner

from advisor.datasets.tasks import STSData, Task, TaskSource, content_hash, load_task
from advisor.hookspecs import hookimpl
from advisor.plugins import add_commands, plugin_infos, registered
from advisor.quality.raters import Rater


def test_hook_register_backends(plugin):
    from advisor.models.backends import Backend, get_backend

    class Dummy(Backend):
        name = "dummy-backend"

        def load(self, entry, options):
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


def test_hook_register_executors(plugin, tmp_path):
    from advisor.sweep.executors import Executor, get_executor

    class Recording(Executor):
        name = "recording-test"

        def __init__(self) -> None:
            self.runs: list[str] = []

        def execute(self, groups, *, store_path, run_id, force, on_event, options, stop=None):
            self.runs.append(run_id)

    class P:
        @hookimpl
        def register_executors(self, register):
            register(Recording())

    plugin(P())
    executor = get_executor("recording-test")
    executor.execute([], store_path=tmp_path / "s.db", run_id="r1", force=False, on_event=print, options={})
    assert executor.runs == ["r1"]


def test_hook_register_report_writers(plugin, tmp_path):
    from advisor.policy.spec import Policy
    from advisor.ranking import Recommendation
    from advisor.reporting import Report, ReportWriter, write_reports

    class Plain(ReportWriter):
        name, suffix = "plain-test", ".txt"

        def write(self, report, out_dir):
            path = out_dir / f"report{self.suffix}"
            path.write_text(f"policy {report.recommendation.policy.name}\n")
            return path

    class P:
        @hookimpl
        def register_report_writers(self, register):
            register(Plain())

    plugin(P())
    report = Report(Recommendation(policy=Policy(name="house"), groups=[], models=[], tasks=[]))
    written = write_reports(report, tmp_path / "out", ["plain-test"])
    assert written["plain-test"].read_text() == "policy house\n"


class LengthRater(Rater):
    """Longer documents rate higher: enough to see a rater at work without a model."""

    def __init__(self, name: str = "length-test") -> None:
        self.name = name

    def score(self, pairs):
        return np.array([min(len(doc) / 100, 1.0) for _, doc in pairs])


def test_hook_register_raters(plugin):
    from advisor.quality.raters import get_rater, rate_pairs

    class P:
        @hookimpl
        def register_raters(self, register):
            register(LengthRater())

    plugin(P())
    scores, fresh = rate_pairs(get_rater("length-test"), [("q", "x" * 50), ("q", "x" * 500)])
    assert scores.tolist() == [0.5, 1.0] and fresh == 2


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
    class Bad:
        @hookimpl
        def register_raters(self, register):
            raise RuntimeError("no rater today")

    class Good:
        @hookimpl
        def register_raters(self, register):
            register(LengthRater("good-rater"))

    bad = plugin(Bad())
    plugin(Good())
    info = {i.name: i for i in plugin_infos()}[bad]
    assert info.status == "failed" and "no rater today" in info.error
    assert isinstance(registered("raters")["good-rater"], LengthRater)  # the others still work


def test_hook_register_indexes(plugin):
    from advisor.index import Index, IndexType, make_index
    from advisor.quality.vectors import quantize

    class FirstRows(Index):
        """Returns the first k ids whatever the query: enough to see an index type registered and used."""

        def __init__(self) -> None:
            self.settings, self.ids = {}, np.zeros(0, dtype=np.int64)

        def build(self, vectors, ids):
            self.ids = np.asarray(ids)

        def add(self, vectors, ids):
            self.ids = np.concatenate([self.ids, ids])

        def search(self, queries, k):
            return np.tile(self.ids[:k], (len(queries), 1)), np.zeros((len(queries), k), dtype=np.float32)

        def memory_bytes(self):
            return int(self.ids.nbytes)

    class FirstRowsType(IndexType):
        name = "first-rows-test"

        def create(self, **settings):
            return FirstRows()

    class P:
        @hookimpl
        def register_indexes(self, register):
            register(FirstRowsType())

    plugin(P())
    index = make_index("first-rows-test", "float32")
    index.build(quantize(np.eye(3, dtype=np.float32), "float32"), np.array([7, 8, 9]))
    ids, _ = index.search(quantize(np.eye(3, dtype=np.float32)[:1], "float32"), 2)
    assert ids.tolist() == [[7, 8]] and index.disk_bytes() == 24
