"""What the ranking could not apply as written, and how the policy file was read, are said in the report's notes:
a floor on a task the results do not hold names the close task, a region dropped from a language says so."""

from __future__ import annotations

from advisor.policy.spec import load_policy
from advisor.ranking import rank
from advisor.reporting import Report, write_reports


def _results(cells):
    return [cells.quality("alpha", cells.scores(0.6), task="rt-reviews-plots"),
            cells.cost("alpha", p95=5, docs=500, mem=100, task="rt-reviews-plots")]


def test_a_floor_on_a_misspelt_task_is_noted_with_the_close_task(tmp_path, cells):
    policy = tmp_path / "p.yaml"
    policy.write_text("limits:\n  min_quality:\n    - {task: rt-review-plots, metric: ndcg_at_10, min: 0.1}\n",
                      encoding="utf-8")
    rec = rank(_results(cells), [cells.entry("alpha")], load_policy(policy))
    assert ("quality floor on task 'rt-review-plots' not applied: that task is not in these results; did you mean "
            "'rt-reviews-plots'?") in rec.notes


def test_a_dropped_region_is_a_note_of_the_report(tmp_path, cells):
    policy = tmp_path / "p.yaml"
    policy.write_text("languages:\n  require: [en-GB]\n", encoding="utf-8")
    rec = rank(_results(cells), [cells.entry("alpha")], load_policy(policy))
    note = (f"policy: {policy}:2: languages.require: 'en-GB' read as eng-Latn (English): the region GB is dropped, "
            f"since models declare languages without regions")
    assert rec.notes[0] == note
    paths = write_reports(Report(rec), tmp_path / "out", ["markdown"])
    assert f"> Note: {note}" in paths["markdown"].read_text(encoding="utf-8")
