"""The race section of a report (a racing sweep, ``advisor.sweep.racing``) and the time line: what each round cost
against its estimate, and for each candidate its last round, the figure and interval that ended it and the leader's
at that round. A candidate that left on a slice was shown worse than the leader on that slice only, so it is
described by the slice's figures, never by a full measurement it did not get."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from advisor.formatting import duration

TITLE = "The race: who left, when and why"
COLUMNS = ["model", "last round", "outcome"]
INTRO = ("A racing sweep spends its time budget on the candidates still in contention: round 1 evaluates every "
         "admitted candidate on a slice of each task (its first queries with every judged document, plus the same "
         "share of the other documents) and, when the policy limits cost, a quick cost probe; a candidate leaves when "
         "the paired bootstrap over the same queries puts it below the leader on every task (its 95% interval of the "
         "difference excludes zero), or when its probe breaks a limit beyond the figure's interval; survivors go on "
         "to slices twice as large, and only the finalists get the full measurement the tables above rank. A figure "
         "here is the slice's, measured on the queries named: a candidate that left is not known to be worse by more "
         "than that, and it has no full-task figure.")


@dataclass
class RaceSection:
    title: str
    intro: str
    rounds: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=lambda: list(COLUMNS))
    rows: list[list[str]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


def _sizes(sizes: dict[str, Any]) -> str:
    return ", ".join(f"the first {n} of {task}" if n else f"all of {task}" for task, n in sizes.items())


def round_lines(race: dict[str, Any]) -> list[str]:
    """One sentence per round: who ran, on what, its estimate beside its time, the leader and who left."""
    out = []
    for r in race.get("rounds", []):
        what = ("measured in full (every variant, every cost figure)" if r.get("final") else
                f"on {_sizes(r['sizes'])}")
        took = ("replayed from the store (computed by an earlier run)" if r.get("replayed") else
                f"took {duration(r['wall_s'])}" if r.get("wall_s") is not None else "did not finish")
        text = (f"Round {r['number']}{' (final)' if r.get('final') else ''}: {len(r['models'])} candidate(s) "
                f"{what}; estimated {duration(r.get('estimate_s'))}, {took}")
        if r.get("leader") and not r.get("final"):
            text += f"; leader {r['leader']}"
        if r.get("left"):
            text += f"; {len(r['left'])} left ({', '.join(r['left'])})"
        out.append(text + ".")
    return out


def race_section(report: Any) -> RaceSection | None:
    """None when the report comes from no racing sweep."""
    race = getattr(report, "race", None)
    if not race:
        return None
    section = RaceSection(TITLE, INTRO, round_lines(race))
    last = max((r["number"] for r in race.get("rounds", [])), default=0)
    for model in race.get("finalists", []):
        section.rows.append([model, f"{last} (final)", "finalist: measured in full, ranked in the tables above"])
    for model, x in sorted(race.get("exits", {}).items(), key=lambda kv: (-kv[1]["round"], kv[0])):
        section.rows.append([model, str(x["round"]), x["text"]])
    for m in race.get("missing", []):
        section.rows.append([m["model"], "not raced", f"weights not on this machine: {m['message']}"])
    budget = race.get("budget_s")
    if budget:
        section.lines.append(f"Budget {duration(budget)}; spent {duration(race.get('spent_s'))} by the race's clock. "
                             f"Each round starts only when its estimate fits in what is left.")
    if race.get("stopped"):
        section.lines.append(f"The race stopped: {race['stopped']}.")
    return section


def raced_out(report: Any) -> set[str]:
    """The models a race removed or could not run: not 'not run yet', whatever the model list says."""
    race = getattr(report, "race", None) or {}
    return set(race.get("exits", {})) | {m["model"] for m in race.get("missing", [])}


def timing_lines(report: Any) -> list[str]:
    """The run's estimate beside its wall time, in all and per candidate (a run without a recorded estimate: none)."""
    timing = getattr(report, "timing", None)
    if not timing or timing.get("estimated_s") is None:
        return []
    text = f"Time: estimated {duration(timing['estimated_s'])} before the run"
    if timing.get("actual_s") is not None:
        text += f", took {duration(timing['actual_s'])}"
    models = timing.get("models") or {}
    parts = [f"{m} {duration(t.get('estimated_s'))} estimated, {duration(t.get('actual_s'))} taken"
             for m, t in models.items() if t.get("actual_s") is not None]
    if parts:
        text += " (per model load, computed cells only: " + "; ".join(parts) + ")"
    return [text + ". Cells already in the store cost nothing; the estimate comes from the store's timings where it "
                   "has them, else from a short probe of this machine."]
