"""Snapshot tests of the screens whose content does not depend on timings: catalog, policy, datasets, an empty
results store, the command palette. Compared as normalised SVG (see snapshot.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("textual")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from snapshot import assert_snapshot, normalise, screen_text, settled_screenshot  # noqa: E402

pytestmark = pytest.mark.anyio
SIZE = (150, 40)


@pytest.fixture
def app_in_repo(repo, tmp_path, monkeypatch):
    """The app opened from the repository folder with relative paths, as a user types them."""
    from advisor.builtin.tui.app import AdvisorApp
    from advisor.builtin.tui.session import Session

    monkeypatch.chdir(repo)
    store = Path(".advisor/tui-snapshot-empty.sqlite")  # relative, so the screens read the same on every machine
    assert not store.exists()

    def make(**kw):
        return AdvisorApp(Session.open(policy="default", store=store, **kw))
    return make


async def test_snapshot_catalog(app_in_repo, tmp_path):
    app = app_in_repo()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("a")  # select every admitted candidate
        await pilot.pause()
        assert_snapshot(await settled_screenshot(app, pilot), "catalog", tmp_path)


async def test_snapshot_policy(app_in_repo, tmp_path):
    app = app_in_repo()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await pilot.pause()
        assert_snapshot(await settled_screenshot(app, pilot), "policy", tmp_path)


async def test_snapshot_datasets(app_in_repo, tmp_path):
    app = app_in_repo(datasets=["data/rt-sentiment", "data/lee-sts", "data/no-such-folder"])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        for _ in range(100):
            await pilot.pause(0.1)
            if all(d.task or d.error for d in app.session.datasets):
                break
        await pilot.pause()
        assert app.session.datasets[2].error and "no-such-folder" in app.session.datasets[2].error
        from textual.widgets import Input

        for field in app.screen.query(Input):  # the path field has the focus: hold its cursor still
            field.cursor_blink = False
        assert_snapshot(await settled_screenshot(app, pilot), "datasets", tmp_path)


async def test_snapshot_empty_results(app_in_repo, tmp_path):
    app = app_in_repo()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        await pilot.pause()
        assert_snapshot(await settled_screenshot(app, pilot), "results-empty", tmp_path)


async def test_snapshot_palette(app_in_repo, tmp_path):
    app = app_in_repo()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        await pilot.press(*"run")
        await pilot.pause(0.5)
        from textual.widgets import Input

        for field in app.screen.query(Input):  # a blinking cursor is a timing, not content: hold it still
            field.cursor_blink = False
        assert_snapshot(await settled_screenshot(app, pilot), "palette", tmp_path)


def test_snapshot_comparison_catches_a_change(tmp_path):
    """The comparison itself: a changed word fails with a text diff; the class hash alone does not count."""
    import os

    if os.environ.get("ADVISOR_UPDATE_SNAPSHOTS") == "1":
        pytest.skip("updating snapshots")
    svg = (Path(__file__).parent / "snapshots" / "policy.svg").read_text(encoding="utf-8")
    assert_snapshot(svg.replace("terminal", "terminal-123456", 3), "policy", tmp_path)
    changed = svg.replace(">Limits<", ">Limitz<")
    assert changed != svg
    with pytest.raises(AssertionError, match="Limitz"):
        assert_snapshot(changed, "policy", tmp_path)
    assert normalise(svg) == svg and any("Limits" in line for line in screen_text(svg))
