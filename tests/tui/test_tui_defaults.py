"""The TUI says which catalogs and policy are in force (the same defaults as every command), and offers the example
datasets only from a source checkout: an installed wheel has no data/ folder, and the TUI says so instead of
offering some other project's data/ it might find beside the package."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("textual")

from advisor.builtin.tui import session as session_module  # noqa: E402
from advisor.builtin.tui.session import EXAMPLES_MISSING, Session, examples_dir  # noqa: E402

pytestmark = pytest.mark.anyio
SIZE = (160, 44)


def test_examples_come_from_a_source_checkout_only(repo, tmp_path):
    assert examples_dir(repo) == repo / "data"
    site_packages = tmp_path / "site-packages"  # where an installed wheel's REPO_ROOT points
    (site_packages / "data" / "some-other-project").mkdir(parents=True)
    (site_packages / "advisor").mkdir()
    assert examples_dir(site_packages) is None


@pytest.mark.parametrize(("catalogs", "policy", "said"), [
    ((), None, ("offline (shipped)", "permissive")),
    (("hub", "offline"), "default", ("hub, offline (shipped)", "default")),
])
def test_the_session_names_the_catalogs_and_policy_in_force(catalogs, policy, said, tmp_path):
    session = Session.open(catalogs=catalogs, policy=policy, store=tmp_path / "r.sqlite")
    assert (session.catalogs_in_force, session.policy.name) == said


async def test_catalog_screen_says_which_catalogs_are_in_force(tmp_path):
    from advisor.builtin.tui.app import AdvisorApp

    app = AdvisorApp(Session.open(store=tmp_path / "r.sqlite"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        detail = str(app.screen.query_one("#catalog-detail").render())
        assert "in catalogs offline (shipped) · policy permissive" in detail
        assert app.sub_title == "permissive"


async def test_without_a_data_folder_the_datasets_screen_and_the_examples_key_say_where_examples_are(
        tmp_path, monkeypatch):
    from advisor.builtin.tui.app import AdvisorApp

    installed_root = tmp_path / "site-packages"
    (installed_root / "data" / "some-other-project").mkdir(parents=True)
    monkeypatch.setattr(session_module, "REPO_ROOT", installed_root)
    session = Session.open(store=tmp_path / "r.sqlite")
    assert session.example_datasets() == []
    app = AdvisorApp(session)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("3")
        await pilot.pause()
        assert EXAMPLES_MISSING in str(app.screen.query_one("#datasets-detail").render())
        app.action_add_examples()
        await pilot.pause()
        assert [str(n.message) for n in app._notifications] == [EXAMPLES_MISSING]
        assert session.datasets == []
