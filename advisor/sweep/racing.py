"""A racing sweep: many candidates, one time budget (``advisor run --budget 2h``, a policy's ``budget:``).

Why: a team choosing a model starts from a hundred candidates, not three, and neighbours on a leaderboard are mostly
indistinguishable; measuring every one in full spends the afternoon on models a few dozen queries already show to
be worse. So the candidates race (as in F-Race and successive halving):

1. Round 1 evaluates every admitted candidate's quality on a slice of each task (``advisor.datasets.slicing.head``:
   the first ``FIRST_SLICE`` queries, pairs or examples with every judged document, plus the same share of the other
   documents), at one variant (the grid's first device and weight precision, the backend's own runtime, full size,
   float32 vectors), and, when the policy has hard limits on cost, a quick cost probe on the first task's slice
   (batch-1 latency and bulk throughput, plus serving memory or the load test only when a limit bounds them).
2. A candidate leaves the race when it is worse than the leader (the best mean of the tasks' main figures) beyond
   noise on every task: the paired bootstrap over the same resampled units (``advisor.quality.bootstrap.compare``)
   puts the whole difference above zero. In round 1 it also leaves when a limit is broken beyond the probe's interval
   (``advisor.policy.rules.check_measured``: a borderline or unstable figure never removes it). Batch-1 latency does
   not depend on the corpus, and a slice's serving footprint holds fewer vectors than the whole task's, so a figure
   over its limit there is over it on the whole task too. A candidate whose round cell failed leaves too, with its
   error. The BM25 baseline races (it may lead) but never
   leaves: its full cells cost seconds and every report compares with it.
3. Survivors go on to the next round on a slice twice as large. Once at most ``FINALISTS`` candidates remain, or the
   slices reach the whole task, the full measurement (every variant of the grid, every cost figure: the ordinary
   plan) runs for the survivors only, and the ranking reads those cells.

Rounds are waves of ordinary run specs (``build_plan`` on slice tasks) run by ``run_plan`` through any executor, so a
race runs on Ray unchanged. A slice is a Task with its own content hash, so its cells never mix with the whole task's,
and every round's cells are stored: the schedule depends on the tasks only, never on the budget, so a race that
stopped (budget spent, Ctrl-C) replays its finished rounds from the store at no cost and goes on where it stopped.

The budget is spent by estimates (``advisor.sweep.estimate``): before each round the wall time so far plus the
round's estimate must fit, else the race stops and says what the next round needs. The clock and the estimator are
arguments, so the budget logic is tested without wall time.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from advisor.figures import figure_of, is_load_limit_figure, limit_figure, limits as limit_figures
from advisor.formatting import duration
from advisor.policy.spec import Policy
from advisor.sweep.planner import Plan, Skip, TaskRef, build_plan, probe_options, probe_parts

if TYPE_CHECKING:
    from advisor.datasets.tasks import Task
    from advisor.models.catalog import ModelEntry
    from advisor.sweep.driver import RunSummary
    from advisor.sweep.estimate import Estimate
    from advisor.sweep.results import CellKey, CellResult

FIRST_SLICE = 60  # units (queries, pairs, examples) of each task in round 1; each round doubles it
FINALISTS = 3     # the race ends when at most this many candidates (the baseline aside) remain
BASELINE = "bm25"  # advisor.index.bm25.NAME (a test holds them equal): races, leads, never leaves

Estimator = Callable[[Plan], "Estimate"]


class BudgetSpent(Exception):
    """The budget ran out before the final round: no recommendation yet (the race so far is ``race``)."""

    def __init__(self, race: "Race") -> None:
        super().__init__(race.stopped or "the budget ran out")
        self.race = race


# -- the schedule -----------------------------------------------------------------------------------------------------

_SLICE_NAME = re.compile(r"\[:\d+\]$")  # advisor.datasets.slicing.head names a slice ``NAME[:N]``


def race_cell(key: "CellKey") -> bool:
    """Whether a stored cell belongs to a race's rounds (a slice task's cell, or a quick cost probe), which no
    ranking of whole tasks reads."""
    return bool(_SLICE_NAME.search(key.task)) or probe_parts(key) is not None


def units_of(task: "Task") -> int:
    """How many of the type's slicing units ``task`` holds (queries, test examples, pairs, texts): what ``head``
    counts."""
    data = task.data
    for name in ("queries", "test_texts", "scores", "text1", "texts"):
        if hasattr(data, name):
            return len(getattr(data, name))
    raise ValueError(f"task type {task.type}: no unit to slice by")


def slice_sizes(total: int, first: int = FIRST_SLICE) -> list[int]:
    """The slice sizes of a task of ``total`` units, round by round: ``first``, doubling, each at most half the whole
    task (a larger slice costs nearly what the whole does, whose round is the final one). Depends on the task only,
    so a resumed race plans the same slices."""
    sizes, n = [], max(1, first)
    while n * 2 <= total:
        sizes.append(n)
        n *= 2
    return sizes


def corpus_limit(task: "Task", n: int) -> int | None:
    """The documents a slice of ``n`` units keeps: the task's share (so a slice keeps its ratio of distractors; the
    documents the kept units judge are always in); None for a task without a corpus."""
    corpus = getattr(task.data, "corpus", None)
    return math.ceil(len(corpus) * n / units_of(task)) if corpus else None


def slice_of(task: "Task", ref: TaskRef, n: int) -> tuple["Task", TaskRef]:
    """The first ``n`` units of ``task`` with every document they judge plus its share of the others, and the ref a
    worker cuts the same slice by (``TaskRef.head``)."""
    from advisor.datasets.slicing import head

    limit = corpus_limit(task, n)
    sliced = head(task, n, corpus_limit=limit)
    return sliced, replace(ref, name=sliced.name, content_hash=sliced.content_hash, head=n, corpus_limit=limit)


def race_policy(policy: Policy) -> Policy:
    """The one variant a round measures: the grid's first device and weight precision, the backend's own runtime,
    full size, float32 vectors, no index, chunking or hybrid (the final measures the rest)."""
    grid = policy.variants
    one = replace(grid, devices=grid.devices[:1], weight_precisions=grid.weight_precisions[:1], runtimes=(),
                  dims=(None,), vector_precisions=("float32",), indexes=(), chunking=("",), hybrid=())
    return replace(policy, variants=one)


# -- the record ---------------------------------------------------------------------------------------------------------

@dataclass
class Exit:
    """Why a candidate left the race, in the words the report uses, with the figures behind them."""

    model: str
    round: int
    reason: str                     # "quality", "limit" or "failed"
    text: str                       # "left after round 2: nDCG@10 0.21 (95% CI ...) vs leader 0.29 on 120 queries"
    task: str | None = None
    metric: str | None = None
    value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    leader: str | None = None
    leader_value: float | None = None
    leader_ci_low: float | None = None
    leader_ci_high: float | None = None
    difference_ci: tuple[float, float] | None = None
    n_units: int | None = None
    unit: str | None = None


@dataclass
class RoundRecord:
    number: int
    sizes: dict[str, int | None]    # task -> units in its slice (None: the whole task)
    models: list[str]               # candidates in the round
    estimate_s: float = 0.0
    wall_s: float | None = None
    run_id: str | None = None
    computed: int = 0
    replayed: bool = False          # every cell was in the store already
    leader: str | None = None
    left: list[str] = field(default_factory=list)
    final: bool = False


@dataclass
class Race:
    budget_s: float | None
    rounds: list[RoundRecord] = field(default_factory=list)
    exits: dict[str, Exit] = field(default_factory=dict)
    finalists: list[str] = field(default_factory=list)
    missing: list[dict[str, str]] = field(default_factory=list)  # {"model", "message"}: weights not on this machine
    status: str = "running"         # finished, stopped (budget) or interrupted
    stopped: str | None = None
    spent_s: float = 0.0
    final_plan: Plan | None = None
    summary: "RunSummary | None" = None

    def to_dict(self) -> dict[str, Any]:
        return {"budget_s": self.budget_s, "rounds": [asdict(r) for r in self.rounds],
                "exits": {m: asdict(e) for m, e in self.exits.items()}, "finalists": list(self.finalists),
                "missing": list(self.missing), "status": self.status, "stopped": self.stopped,
                "spent_s": round(self.spent_s, 3)}

    def lines(self) -> list[str]:
        """What the command prints: each round, who left and why, the missing weights, where the race stands."""
        out = [f"{m['model']}: not raced: {m['message']}" for m in self.missing]
        for r in self.rounds:
            where = "measured in full" if r.final else "on " + ", ".join(
                f"{task}[:{n}]" if n else task for task, n in r.sizes.items())
            took = "replayed from the store" if r.replayed else (
                f"took {duration(r.wall_s)}" if r.wall_s is not None else "not finished")
            out.append(f"round {r.number}{' (final)' if r.final else ''}: {len(r.models)} candidate(s) {where}; "
                       f"estimated {duration(r.estimate_s)}, {took}"
                       + (f"; leader {r.leader}" if r.leader and not r.final else ""))
            out += [f"  {m} {self.exits[m].text}" for m in r.left if m in self.exits]
        if self.stopped:
            out.append(f"race stopped: {self.stopped}")
        elif self.status == "finished":
            out.append(f"finalists: {', '.join(self.finalists)}")
        return out


# -- judging a round ----------------------------------------------------------------------------------------------------

def _stored(plan: Plan, store: Any) -> dict[tuple, "CellResult"]:
    """The stored result of each planned cell (matched by identity: a Ray node may record another machine)."""
    wanted = {c.key.identity() for c in plan.cells}
    out = {}
    for r in store.results(model=sorted({g.entry.name for g in plan.groups})):
        if r.key.identity() in wanted:
            out[r.key.identity()] = r
    return out


def _quality_cells(plan: Plan, stored: Mapping[tuple, "CellResult"]) -> dict[str, dict[str, "CellResult"]]:
    """model -> task -> its round quality cell (ok or failed)."""
    out: dict[str, dict[str, CellResult]] = {}
    for group in plan.groups:
        for tc in group.tasks:
            for cell in tc.quality:
                r = stored.get(cell.key.identity())
                if r is not None:
                    out.setdefault(group.entry.name, {})[tc.task.name] = r
    return out


def _main(r: "CellResult") -> tuple[str, float]:
    metric = r.details.get("main_metric") or next(iter(r.metrics))
    return metric, float(r.metrics[metric])


def _better(metric: str) -> int:
    return -1 if figure_of(metric).direction < 0 else 1


def _ci(r: "CellResult", metric: str) -> tuple[float | None, float | None]:
    ci = (r.details.get("ci") or {}).get(metric)
    return (float(ci[0]), float(ci[1])) if ci else (None, None)


def _units(r: "CellResult") -> tuple[int, str]:
    boot = r.details.get("bootstrap") or {}
    return int(boot.get("n_units") or len(r.details.get("per_item") or ())), str(boot.get("unit") or "item")


def quality_exits(cells: Mapping[str, Mapping[str, "CellResult"]], tasks: Sequence[str], round_number: int,
                  *, keep: Sequence[str] = (BASELINE,)) -> tuple[str | None, dict[str, Exit]]:
    """The round's leader (the best mean of the tasks' main figures among the candidates with a figure on every
    task) and the candidates that leave: worse than the leader beyond the paired-bootstrap noise on every task, or
    whose round cell failed. ``keep``: candidates that never leave (the baseline)."""
    from advisor.quality.bootstrap import compare, plural

    exits: dict[str, Exit] = {}
    complete = {}
    for model, by_task in cells.items():
        failed = next((r for r in by_task.values() if r.status != "ok"), None)
        if failed is not None or set(tasks) - set(by_task):
            if model in keep:
                continue
            error = failed.error if failed is not None else "no figure on every task"
            exits[model] = Exit(model, round_number, "failed", f"left after round {round_number}: its cell failed "
                                                               f"({error})")
            continue
        complete[model] = {t: _main(by_task[t]) for t in tasks}
    if not complete:
        return None, exits
    leader = max(sorted(complete), key=lambda m: sum(_better(x) * v for x, v in complete[m].values()) / len(tasks))
    for model in sorted(complete):
        if model == leader or model in keep:
            continue
        worse = []
        for t in tasks:
            a, b = cells[leader][t], cells[model][t]
            try:
                comp = compare(a.details, b.details)
            except ValueError:  # not the same items: never removed on a comparison that cannot be made
                break
            if not (comp.different and _better(comp.metric) * comp.difference > 0):
                break
            worse.append((t, comp))
        if len(worse) != len(tasks):
            continue
        t, comp = worse[0]
        metric, value = complete[model][t]
        lead_value = complete[leader][t][1]
        fig = figure_of(metric)
        low, high = _ci(cells[model][t], metric)
        lead_low, lead_high = _ci(cells[leader][t], metric)
        n, unit = _units(cells[model][t])
        more = f" and on {len(tasks) - 1} other task(s)" if len(tasks) > 1 else ""
        text = (f"left after round {round_number}: {fig.label} {fig.interval_text(value, low, high)} vs leader "
                f"{leader} {fig.text(lead_value)} on {plural(unit, n)} of {_SLICE_NAME.sub('', t)}{more} (paired "
                f"difference "
                f"{fig.difference_text(-comp.difference, -comp.ci_high, -comp.ci_low)})")
        exits[model] = Exit(model, round_number, "quality", text, t, metric, value, low, high, leader, lead_value,
                            lead_low, lead_high, (-comp.ci_high, -comp.ci_low), n, unit)
    return leader, exits


def probe_figures(r: "CellResult") -> dict[str, Any]:
    """A probe cost cell's figures as the limits judge them: each with its interval and unstable marks."""
    from advisor.policy.rules import Measured

    unstable = (r.details.get("stability") or {}).get("unstable") or {}
    out: dict[str, Any] = {}
    names = [f.name for f in limit_figures()] + [n for n in r.metrics if is_load_limit_figure(n)]
    for name in names:
        value = r.metrics.get(name)
        if value is None:
            continue
        fig = figure_of(name)
        low, high = (r.metrics.get(fig.ci_low), r.metrics.get(fig.ci_high)) if fig.measurement else (None, None)
        out[name] = Measured(float(value), None if low is None else float(low), None if high is None else float(high),
                             tuple(unstable.get(fig.measurement or "", ())))
    return out


def limit_exits(plan: Plan, stored: Mapping[tuple, "CellResult"], policy: Policy, round_number: int,
                keep: Sequence[str] = (BASELINE,)) -> dict[str, Exit]:
    """Candidates whose probe breaks a hard limit beyond its interval (borderline and unstable figures never remove a
    candidate; a figure the probe did not measure is left to the final)."""
    from advisor.config.task_types import task_type
    from advisor.policy.rules import check_measured
    from advisor.quality.bootstrap import plural

    exits: dict[str, Exit] = {}
    for group in plan.groups:
        if group.entry.name in keep:
            continue
        for tc in group.tasks:
            r = stored.get(tc.cost.key.identity()) if tc.cost is not None else None
            if r is None or r.status != "ok":
                continue
            broken, _flags = check_measured(policy, probe_figures(r))
            broken = [b for b in broken if "not measured" not in b.reason and "cannot be checked" not in b.reason]
            if not broken:
                continue
            first = broken[0]
            try:
                name = limit_figure(first.rule.removeprefix("limits.")).name
            except Exception:  # noqa: BLE001 - the load limit's figure is a family member
                name = None
            size = tc.task.head
            where = f"{plural(task_type(tc.task.type).unit, size)} of" if size else "the whole of"
            exits[group.entry.name] = Exit(group.entry.name, round_number, "limit",
                                           f"left after round {round_number}: {first.reason} (measured by a quick "
                                           f"cost probe on {where} {_SLICE_NAME.sub('', tc.task.name)})",
                                           tc.task.name, name, r.metrics.get(name) if name else None)
            break
    return exits


# -- the race -----------------------------------------------------------------------------------------------------------

def missing_weights(entries: Sequence["ModelEntry"], policy: Policy) -> dict[str, str]:
    """Entries whose weights are not on this machine (a hub id that is not in the cache, when nothing may be
    downloaded), each with the one-line message that names the command that fetches them."""
    from advisor.errors import UserError
    from advisor.models.sources import resolve_source

    out = {}
    for entry in entries:
        if entry.source_scheme != "hub":
            continue
        try:
            resolve_source(entry.source, revision=entry.revision, allow_network=False)
        except UserError as exc:
            out[entry.name] = str(exc)
    return out


@dataclass
class _Runner:
    """What every round needs: the store, the executor and its options, the clock and the estimator."""

    store: Any
    executor: str
    executor_options: dict | None
    command: str | None
    on_event: Any
    stop: Any
    estimate: Estimator
    clock: Callable[[], float]
    say: Callable[[str], None]


def _to_run(plan: Plan, store: Any) -> Plan:
    """The groups of ``plan`` with a cell not yet in the store (ok or failed: a round's failure is its result)."""
    groups = [g for g in plan.groups if any(not store.has(c.fingerprint, ok_only=False) for c in g.cells)]
    return replace(plan, groups=groups)


def run_race(plan: Plan, tasks: Sequence["Task"], store: Any, *, budget_s: float | None,
             executor: str = "local", executor_options: dict | None = None, command: str | None = None,
             on_event: Any = None, stop: Any = None, estimator: Estimator | None = None,
             clock: Callable[[], float] = time.monotonic, say: Callable[[str], None] = lambda line: None,
             first: int = FIRST_SLICE, finalists: int = FINALISTS, policy: Policy,
             batch_size: int = 32, remeasure: str | None = None) -> Race:
    """Race the candidates of ``plan`` (the full plan ``plan_sweep`` made for ``tasks``, whose refs it holds) and run
    the full measurement for the finalists. Returns the race; ``race.final_plan`` is the plan whose cells the ranking
    reads, None when the budget ran out first (``race.stopped`` says why)."""
    from advisor.sweep.driver import run_plan
    from advisor.sweep.estimate import estimate_plan

    started = clock()
    race = Race(budget_s)
    by_name = {t.name: t for t in tasks}
    refs = {r.name: r for r in plan.tasks}
    full = [by_name[r.name] for r in plan.tasks]
    sizes = {t.name: slice_sizes(units_of(t), first) for t in full}
    n_rounds = max((len(s) for s in sizes.values()), default=0)
    slices: dict[tuple[str, int], tuple["Task", TaskRef]] = {}
    known: dict[str, Task] = {t.content_hash: t for t in full}

    def task_at(name: str, n: int | None) -> tuple["Task", TaskRef]:
        if n is None:
            return by_name[name], refs[name]
        if (name, n) not in slices:
            slices[(name, n)] = slice_of(by_name[name], refs[name], n)
            known[slices[(name, n)][0].content_hash] = slices[(name, n)][0]
        return slices[(name, n)]

    runner = _Runner(store, executor, executor_options, command, on_event, stop,
                     estimator or (lambda p: estimate_plan(p, known, store)), clock, say)
    entries = list({g.entry.name: g.entry for g in plan.groups}.values())
    missing = missing_weights(entries, policy)
    race.missing = [{"model": m, "message": msg} for m, msg in missing.items()]
    for line in race.lines():
        say(line)
    alive = [e for e in entries if e.name not in missing]
    probe = probe_options(policy)
    one = race_policy(policy)
    leader: str | None = None
    for number in range(1, n_rounds + 1):
        racing = [e.name for e in alive if e.name != BASELINE]
        if len(racing) <= finalists:
            break
        at = {name: (s[number - 1] if number <= len(s) else None) for name, s in sizes.items()}
        picked = [task_at(name, n) for name, n in at.items()]
        round_plan = round_plan_of(alive, one, picked, probe if number == 1 else None, batch_size)
        record = RoundRecord(number, at, [e.name for e in alive])
        estimate = runner.estimate(_to_run(round_plan, store))
        record.estimate_s, round_plan.estimate = estimate.seconds, estimate.to_dict()
        round_plan.race = {"round": number, "sizes": at, "models": record.models, "budget_s": budget_s}
        if not _fits(race, runner, record, started, f"round {number}"):
            return race
        race.rounds.append(record)
        if not _run(race, runner, round_plan, record, started, run_plan, remeasure):
            return race
        stored = _stored(round_plan, store)
        exits = limit_exits(round_plan, stored, policy, number) if number == 1 else {}
        cells = {m: c for m, c in _quality_cells(round_plan, stored).items() if m not in exits}
        leader, more = quality_exits(cells, [t.name for t, _ in picked], number)
        exits.update(more)
        record.leader, record.left = leader, sorted(exits)
        race.exits.update(exits)
        alive = [e for e in alive if e.name not in exits]
        for line in [f"  {m} {exits[m].text}" for m in sorted(exits)]:
            say(line)
    race.finalists = [e.name for e in alive]
    final = replace(plan, groups=[g for g in plan.groups if g.entry.name in set(race.finalists)],
                    skipped=list(plan.skipped) + [Skip(m, "weights", msg) for m, msg in missing.items()])
    record = RoundRecord(len(race.rounds) + 1, {t.name: None for t in full}, list(race.finalists), final=True)
    estimate = runner.estimate(final)
    record.estimate_s, final.estimate = estimate.seconds, estimate.to_dict()
    if not _fits(race, runner, record, started, "the final round"):
        return race
    race.rounds.append(record)
    final.race = {**race.to_dict(), "status": "final round"}
    if not _run(race, runner, final, record, started, run_plan, remeasure, whole=True):
        return race
    race.status = "finished"
    race.final_plan = final
    return race


def round_plan_of(alive: Sequence["ModelEntry"], one: Policy, picked: Sequence[tuple["Task", TaskRef]],
                  probe: str | None, batch_size: int) -> Plan:
    """One round's run specs: each candidate's one variant on each task's slice (``one``: ``race_policy``), the
    baseline's cells where the policy plans it, and the quick cost probes when ``probe`` says what they measure."""
    plan = build_plan([e for e in alive if e.name != BASELINE], one, [t for t, _ in picked],
                      task_refs=[r for _, r in picked], measure_cost=probe is not None, batch_size=batch_size)
    return _with_probe(plan, probe)


def preview(plan: Plan, tasks: Sequence["Task"], store: Any, policy: Policy, budget_s: float | None, *,
            first: int = FIRST_SLICE, finalists: int = FINALISTS, batch_size: int = 32) -> dict[str, Any]:
    """What ``--dry-run`` says: the full sweep's estimate (per candidate and in all), the candidates whose weights
    are not on this machine, and with a budget what round 1 of the race would run and its estimate."""
    from advisor.sweep.estimate import estimate_plan

    entries = list({g.entry.name: g.entry for g in plan.groups}.values())
    missing = missing_weights(entries, policy)
    # a model without its weights fails at its load in seconds: the estimate counts the others
    estimate = estimate_plan(replace(plan, groups=[g for g in plan.groups if g.entry.name not in missing]), tasks,
                             store)
    out: dict[str, Any] = {"estimate": estimate.to_dict(), "lines": estimate.lines(),
                           "missing": [{"model": m, "message": msg} for m, msg in missing.items()]}
    if missing:
        out["lines"] += [f"{len(missing)} candidate(s) have no weights on this machine and are not counted above"
                         f"{' (a race leaves them out)' if budget_s is not None else ''}; each with the command "
                         f"that fetches it:"]
        out["lines"] += [f"{m}: weights not on this machine: {msg}" for m, msg in missing.items()]
    if budget_s is None:
        return out
    by_name = {t.name: t for t in tasks}
    picked = []
    sizes = {}
    for ref in plan.tasks:
        task = by_name[ref.name]
        n = next(iter(slice_sizes(units_of(task), first)), None)
        sizes[ref.name] = n
        picked.append(slice_of(task, ref, n) if n else (task, ref))
    alive = [e for e in entries if e.name not in missing]
    one = round_plan_of(alive, race_policy(policy), picked, probe_options(policy), batch_size)
    known = {t.content_hash: t for t in tasks} | {t.content_hash: t for t, _ in picked}
    round_1 = estimate_plan(one, known, store, gflops=estimate.probed_gflops)
    out["race"] = {"budget_s": budget_s, "round_1": {"sizes": sizes, "candidates": len(alive),
                                                     "estimate_s": round(round_1.seconds, 3)},
                   "finalists": finalists}
    racers = [e for e in alive if e.name != BASELINE]
    if len(racers) <= finalists or not any(sizes.values()):
        fits = "fits" if estimate.seconds <= budget_s else "does NOT fit"
        out["race"]["round_1"] = None
        out["lines"].append(f"racing sweep under a budget of {duration(budget_s)}: nothing to race ({len(racers)} "
                            f"candidate(s), at most {finalists} finalists, or datasets no larger than a first slice), "
                            f"so every candidate is measured in full: ~{duration(estimate.seconds)} ({fits})")
        return out
    fits = "fits" if round_1.seconds <= budget_s else "does NOT fit"
    out["lines"].append(f"racing sweep under a budget of {duration(budget_s)}: round 1 runs {len(alive)} "
                        f"candidate(s) on {', '.join(f'the first {n} of {t}' if n else f'all of {t}' for t, n in sizes.items())}, "
                        f"~{duration(round_1.seconds)} by the estimate ({fits}); survivors go on to slices twice as "
                        f"large, and the full measurement runs for the last {finalists} (the full sweep: "
                        f"~{duration(estimate.seconds)})")
    return out


def _with_probe(plan: Plan, probe: str | None) -> Plan:
    """Round 1's cost cells as quick probes (on the first task only); no cost cell for the baseline."""
    groups = []
    for g in plan.groups:
        tasks = []
        for i, tc in enumerate(g.tasks):
            cost = None
            if tc.cost is not None and probe is not None and i == 0 and g.entry.name != BASELINE:
                cost = replace(tc.cost, key=replace(tc.cost.key, options=probe), label=f"{tc.cost.label} probe")
            tasks.append(replace(tc, cost=cost))
        groups.append(replace(g, tasks=tuple(tasks)))
    return replace(plan, groups=groups)


def _fits(race: Race, runner: _Runner, record: RoundRecord, started: float, what: str) -> bool:
    """Whether ``what`` fits the budget left; when it does not, the race stops saying what it needs."""
    spent = runner.clock() - started
    race.spent_s = spent
    if race.budget_s is None or spent + record.estimate_s <= race.budget_s:
        return True
    left = max(race.budget_s - spent, 0.0)
    race.status = "stopped"
    race.stopped = (f"{what} needs ~{duration(record.estimate_s)} by the estimate and {duration(left)} of the "
                    f"{duration(race.budget_s)} budget is left; finished rounds are kept in the store: run the same "
                    f"command with a larger --budget (at least ~{duration(spent + record.estimate_s)}) to continue "
                    f"the race from here")
    runner.say(f"race stopped: {race.stopped}")
    return False


def _run(race: Race, runner: _Runner, plan: Plan, record: RoundRecord, started: float, run_plan: Any,
         remeasure: str | None, whole: bool = False) -> bool:
    """Run one round (or the final) through the driver, unless the store holds every cell already."""
    todo = plan if whole else _to_run(plan, runner.store)
    runner.say(f"round {record.number}{' (final)' if record.final else ''}: {len(record.models)} candidate(s), "
               f"estimated ~{duration(record.estimate_s)}")
    if whole or todo.groups:
        summary = run_plan(todo, runner.store, executor=runner.executor, executor_options=runner.executor_options,
                           command=runner.command, on_event=runner.on_event, stop=runner.stop, remeasure=remeasure)
        record.run_id, record.wall_s, record.computed = summary.run_id, summary.wall_s, summary.computed
        record.replayed = summary.computed == 0
        if whole:
            race.summary = summary
        if summary.status == "interrupted":
            race.status, race.stopped = "interrupted", f"interrupted in round {record.number}; run the same command " \
                                                       f"again to continue the race"
            return False
    else:
        record.replayed, record.wall_s = True, 0.0
    race.spent_s = runner.clock() - started
    return True
