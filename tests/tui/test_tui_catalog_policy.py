"""Catalog and policy screens, driven through Textual's Pilot on the shipped offline catalog and policies."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("textual")

from advisor.models.catalog import default_catalog_paths, load_catalogs  # noqa: E402
from advisor.policy.spec import load_policy  # noqa: E402
from advisor.policy.screening import screen  # noqa: E402

pytestmark = pytest.mark.anyio
SIZE = (160, 44)


def make_app(repo: Path, policy: str | None = "default", **kw):
    from advisor.builtin.tui.app import AdvisorApp
    from advisor.builtin.tui.session import Session

    session = Session.open(policy=policy, **kw)
    return AdvisorApp(session)


def messages(app) -> list[str]:
    """The notifications the app has shown (run_test(notifications=True))."""
    return [str(n.message) for n in app._notifications]


def summary_text(app) -> str:
    """The policy screen's summary (a rich table) as the terminal shows it."""
    import io

    from rich.console import Console

    console = Console(width=200, file=io.StringIO())
    console.print(app.screen.query_one("#policy-summary").content)
    return console.file.getvalue()


def table_rows(app, table_id: str) -> dict[str, list[str]]:
    from textual.widgets import DataTable

    table = app.screen.query_one(table_id, DataTable)
    return {key.value: [str(c) for c in table.get_row(key)] for key in table.rows}


async def test_catalog_shows_every_entry_and_greys_rejected_with_screening_reason(repo):
    app = make_app(repo)
    expected = screen(load_catalogs(default_catalog_paths()), load_policy(repo / "advisor/shipped/policies/default.yaml"))
    assert any(not s.admitted for s in expected), "the default policy should reject at least one shipped model"
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        rows = table_rows(app, "#catalog")
        assert set(rows) == {s.entry.name for s in expected}
        from textual.widgets import DataTable

        table = app.screen.query_one("#catalog", DataTable)
        for s in expected:
            verdict = rows[s.entry.name][-1]
            if s.admitted:
                assert verdict == "admitted"
            else:
                assert verdict == "; ".join(r.reason for r in s.rejections)
                name_cell = table.get_row(s.entry.name)[1]
                assert str(name_cell.style) == "grey50", "rejected rows are greyed"


async def test_filters_narrow_the_table(repo):
    app = make_app(repo)
    entries = load_catalogs(default_catalog_paths())
    async with app.run_test(size=SIZE) as pilot:
        from textual.widgets import Input, Select

        await pilot.pause()
        screen_ = app.screen
        screen_.query_one("#filter-license", Select).value = "MIT"
        await pilot.pause()
        assert set(table_rows(app, "#catalog")) == {e.name for e in entries if e.license == "MIT"}
        screen_.query_one("#filter-license", Select).clear()
        screen_.query_one("#filter-backend", Select).value = "static"
        await pilot.pause()
        assert set(table_rows(app, "#catalog")) == {e.name for e in entries if e.backend == "static"}
        screen_.query_one("#filter-backend", Select).clear()
        screen_.query_one("#filter-size", Select).value = 10_000_000
        await pilot.pause()
        small = {e.name for e in entries if e.n_parameters is not None and e.n_parameters <= 10_000_000}
        assert small and set(table_rows(app, "#catalog")) == small
        screen_.query_one("#filter-size", Select).clear()
        # a language only the multilingual models cover, typed as ISO 639-1
        await pilot.click("#filter-language")
        await pilot.press(*"de")
        await pilot.pause()
        german = {e.name for e in entries if any(lang.startswith("deu") for lang in e.languages)}
        assert german and set(table_rows(app, "#catalog")) == german
        screen_.query_one("#filter-language", Input).value = ""
        await pilot.pause()
        assert len(table_rows(app, "#catalog")) == len(entries)


async def test_rejected_candidate_cannot_be_selected(repo):
    app = make_app(repo)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        from textual.widgets import DataTable

        await pilot.pause()
        rejected = next(s for s in app.session.screened if not s.admitted)
        table = app.screen.query_one("#catalog", DataTable)
        table.move_cursor(row=table.get_row_index(rejected.entry.name))
        await pilot.press("space")
        await pilot.pause()
        assert rejected.entry.name not in app.session.selected
        assert any(rejected.rejections[0].reason in m for m in messages(app))


async def test_policy_adjust_and_save_as_new_file(repo, tmp_path):
    app = make_app(repo)
    dest = tmp_path / "tighter.yaml"
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        from textual.widgets import Input

        await pilot.press("2")
        await pilot.pause()
        s = app.screen
        s.query_one("#limit-max_bytes_per_vector", Input).value = "600"
        s.query_one("#weight-latency", Input).value = "0.5"
        s.query_one("#save-name", Input).value = str(dest)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert dest.exists()
        saved = load_policy(dest)
        original = load_policy(repo / "advisor/shipped/policies/default.yaml")
        assert saved.limits.max_bytes_per_vector == 600
        assert saved.limits.max_p95_latency_ms == original.limits.max_p95_latency_ms
        assert saved.ranking.weights["latency"] == 0.5
        assert saved.ranking.weights["quality"] == original.ranking.weights["quality"]
        assert saved.variants == original.variants and saved.required_languages == original.required_languages
        assert app.session.policy.file == str(dest)
        assert app.sub_title == "tighter"

        # saving over an existing file is refused; a negative weight is refused by advisor.policy.spec and not kept
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert any("already exists" in m for m in messages(app))
        bad = tmp_path / "bad.yaml"
        s.query_one("#weight-memory", Input).value = "-1"
        s.query_one("#save-name", Input).value = str(bad)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not bad.exists()
        assert any("bad.yaml" in m and "memory" in m for m in messages(app)), messages(app)


async def test_policy_form_shows_the_load_limit_and_keeps_it_on_apply_and_save(repo, tmp_path):
    from advisor.policy.spec import LoadLimit

    source = tmp_path / "under-load.yaml"
    source.write_text("name: under-load\nlimits:\n  max_p95_latency_ms: 50\n"
                      "  max_p95_latency_ms_at_load: {rate_qps: 20, ms: 200}\n", encoding="utf-8")
    dest = tmp_path / "under-load-tighter.yaml"
    app = make_app(repo, policy=str(source))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        from textual.widgets import Input

        await pilot.press("2")
        await pilot.pause()
        assert "p95 under load at 20 queries/s ≤ 200 ms" in summary_text(app)
        field = app.screen.query_one("#limit-max_p95_latency_ms", Input)
        field.value = "40"
        field.focus()
        await pilot.press("enter")  # applied to the session, no file
        await pilot.pause()
        assert app.session.policy.limits.max_p95_latency_ms == 40
        assert app.session.policy.limits.max_p95_latency_ms_at_load == LoadLimit(200, rate_qps=20)
        app.screen.query_one("#save-name", Input).value = str(dest)
        await pilot.press("ctrl+s")
        await pilot.pause()
        saved = load_policy(dest)
        assert saved.limits.max_p95_latency_ms == 40
        assert saved.limits.max_p95_latency_ms_at_load == LoadLimit(200, rate_qps=20), messages(app)
        assert "p95 under load at 20 queries/s ≤ 200 ms" in summary_text(app)


async def test_policy_edits_apply_to_the_session_without_a_file(repo, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # so a file written by mistake would show up here
    app = make_app(repo)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        from textual.widgets import Input

        await pilot.press("2")
        await pilot.pause()
        field = app.screen.query_one("#limit-max_bytes_per_vector", Input)
        field.value = "600"
        field.focus()
        await pilot.press("enter")
        await pilot.pause()
        policy = app.session.policy
        assert policy.limits.max_bytes_per_vector == 600 and policy.file is None
        assert policy.variants == load_policy(repo / "advisor/shipped/policies/default.yaml").variants
        assert app.sub_title == "default (adjusted)" and list(tmp_path.iterdir()) == []
        # a bad value is refused with its field named, and the applied policy stays
        field.value = "-5"
        await pilot.press("enter")
        await pilot.pause()
        assert app.session.policy is policy
        assert any("max_bytes_per_vector" in m for m in messages(app)), messages(app)


async def test_policy_pick_rescreens_catalog(repo):
    app = make_app(repo, policy=None)
    async with app.run_test(size=SIZE) as pilot:
        from textual.widgets import Select

        await pilot.pause()
        before = {s.entry.name: s.rejections for s in app.session.screened}
        await pilot.press("2")
        await pilot.pause()
        strict = str(next(p for p in app.session.policy_files() if p.name == "commercial-english-rag-cpu.yaml"))
        app.screen.query_one("#policy-file", Select).value = strict
        await pilot.pause()
        assert app.session.policy.name == "commercial-english-rag-cpu"
        expected = screen(load_catalogs(default_catalog_paths()), load_policy(strict))
        await pilot.press("1")
        await pilot.pause()
        rows = table_rows(app, "#catalog")
        for s in expected:
            assert rows[s.entry.name][-1] == ("admitted" if s.admitted else "; ".join(r.reason for r in s.rejections))
        # the strict policy adds licence rules: some verdict changed
        assert before != {s.entry.name: s.rejections for s in expected}
        assert any(r.rule.startswith("licenses") for s in expected for r in s.rejections)


async def test_palette_offers_every_action(repo):
    from advisor.builtin.tui.commands import ACTIONS

    app = make_app(repo)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for _, _, action in ACTIONS:
            name = action.split("(")[0]
            assert hasattr(app, f"action_{name}"), action
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"show policy")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause()
        assert app.current_mode == "policy"
