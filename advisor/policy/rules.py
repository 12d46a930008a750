"""Policy rules on catalog metadata. Each rejection keeps the rule id and a sentence a person can act on."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping, Sequence

from advisor.models.catalog import ModelEntry
from advisor.models.destination import off_machine
from advisor.config.languages import covers
from advisor.config.licenses import commercial_use_blocker, license_ids
from advisor.figures import (BYTES_PER_VECTOR, LOAD_LIMIT, LOAD_SUSTAINABLE_QPS, Figure, figure_of,
                             limits as limit_figures, lookup)
from advisor.formatting import number
from advisor.policy.spec import LoadLimit, Policy


@dataclass(frozen=True)
class Rejection:
    rule: str
    reason: str


def check_metadata(entry: ModelEntry, policy: Policy, *, tasks: Sequence[str] = ()) -> list[Rejection]:
    """Every metadata rule the entry breaks (empty when it is admitted). ``tasks``: where the tasks to be scored
    come from (MTEB task names or dataset ids), for ``require_zero_shot``."""
    out: list[Rejection] = []
    ids = license_ids(entry.license)
    allowed_by_name = bool(policy.allow_licenses) and entry.license in policy.allow_licenses
    denied = [i for i in ids if i in policy.deny_licenses]
    if denied:
        out.append(Rejection("licenses.deny", f"licence {entry.license} is on the deny list"))
    elif policy.allow_licenses and not allowed_by_name and not any(i in policy.allow_licenses for i in ids):
        out.append(Rejection("licenses.allow", f"licence {entry.license} is not on the allow list "
                                               f"({', '.join(policy.allow_licenses)})"))
    if policy.commercial_use and not allowed_by_name:
        blocker = commercial_use_blocker(entry.license)
        if blocker:
            out.append(Rejection("licenses.commercial_use", blocker))
    missing = [lang for lang in policy.required_languages if not covers(list(entry.languages), lang)]
    if missing:
        out.append(Rejection("languages.require", f"does not cover required language(s) {', '.join(missing)} "
                                                  f"(covers {', '.join(entry.languages[:6])}"
                                                  f"{'…' if len(entry.languages) > 6 else ''})"))
    if policy.allow_domains and entry.domains and not set(entry.domains) & set(policy.allow_domains):
        out.append(Rejection("domains.allow", f"domains {', '.join(entry.domains)} not among allowed "
                                              f"{', '.join(policy.allow_domains)}"))
    bad_domains = set(entry.domains) & set(policy.deny_domains)
    if bad_domains:
        out.append(Rejection("domains.deny", f"domain(s) {', '.join(sorted(bad_domains))} are denied"))
    if entry.trust_remote_code and not policy.allow_remote_code:
        out.append(Rejection("remote_code", "needs trust_remote_code, which the policy does not allow "
                                            "(set 'remote_code: true' after reviewing the code)"))
    if entry.weights_format == "pickle" and not policy.allow_pickle_weights:
        out.append(Rejection("pickle_weights", "weights are pickle files, which can run code on load; the policy "
                                               "does not allow them (set 'pickle_weights: true' to accept)"))
    out.extend(_training_data_rules(entry, policy, tasks)[0])
    hosted = hosting_rejection(entry, policy)
    if hosted:
        out.append(hosted)
    return out


def hosting_rejection(entry: ModelEntry, policy: Policy) -> Rejection | None:
    """A hosted entry (its texts leave this machine) is denied by ``data.stay_on_machine``, and needs the policy's
    ``network: true`` otherwise."""
    where = off_machine(entry)
    if where is None:
        return None
    if policy.stay_on_machine:
        return Rejection("data.stay_on_machine", f"hosted: it sends your texts to {where}; the policy keeps all data "
                                                 f"on this machine (data.stay_on_machine: true, which wins over "
                                                 f"'network: true' and --allow-network)")
    if not policy.allow_network:
        return Rejection("network", f"hosted: it sends your texts to {where}, off this machine, and the policy does "
                                    f"not allow network (set 'network: true' in the policy, or pass "
                                    f"--allow-network, to send them)")
    return None


def metadata_notes(entry: ModelEntry, policy: Policy, *, tasks: Sequence[str] = ()) -> list[str]:
    """What the training-data rules could not decide (unknown provenance) and let pass under
    ``unknown_training_data: pass``: said, not hidden."""
    return _training_data_rules(entry, policy, tasks)[1]


def _training_data_rules(entry: ModelEntry, policy: Policy,
                         tasks: Sequence[str]) -> tuple[list[Rejection], list[str]]:
    out: list[Rejection] = []
    notes: list[str] = []
    reject_unknown = policy.unknown_training_data == "reject"

    def unknown(rule: str, text: str) -> None:
        if reject_unknown:
            out.append(Rejection(rule, f"{text}; the policy rejects unknown training data "
                                       f"(unknown_training_data: reject)"))
        else:
            notes.append(f"{rule}: {text}; passes (unknown_training_data: pass)")

    trained = entry.training_datasets
    if policy.training_data_commercial:
        rule = "licenses.training_data_commercial"
        if trained is None:
            unknown(rule, "training data unknown, licences not checked")
        else:
            blocked, unclear = [], []
            for name in trained:
                lic = entry.training_data_licenses.get(name, "unknown")
                if lic in policy.allow_licenses:
                    continue
                why = commercial_use_blocker(lic)
                if why is None:
                    continue
                (blocked if "forbids" in why else unclear).append(f"{name} ({lic})")
            if blocked:
                out.append(Rejection(rule, f"trained on data that may not be used commercially: "
                                           f"{_some(blocked)}"))
            elif unclear:
                unknown(rule, f"training data with unknown or custom licences: {_some(unclear)}")
    if policy.require_zero_shot and tasks:
        rule = "require_zero_shot"
        if trained is None:
            unknown(rule, f"training data unknown, so figures on {', '.join(tasks)} cannot be shown zero-shot")
        else:
            seen = {t.lower() for t in trained}
            hit = [t for t in tasks if t.lower() in seen]
            if hit:
                out.append(Rejection(rule, f"trained on {', '.join(hit)}, so its figures there are not zero-shot "
                                           f"(the policy requires zero-shot figures)"))
    return out, notes


def _some(items: list[str], n: int = 4) -> str:
    return ", ".join(items[:n]) + (f" and {len(items) - n} more" if len(items) > n else "")


@dataclass(frozen=True)
class Measured:
    """A measured figure with its interval and why it cannot be trusted (empty when it can). A figure from a
    store written before intervals existed has ``low``/``high`` None and is judged on its value."""

    value: float
    low: float | None = None
    high: float | None = None
    unstable: tuple[str, ...] = ()

    def text(self, fig: Figure) -> str:
        """``230 ms (95% CI 221 to 240 ms)``; the value alone without an interval."""
        return fig.interval_text(self.value, self.low, self.high)


@dataclass(frozen=True)
class Flag:
    """A limit that did not reject, and why the candidate is marked: ``borderline`` (the interval straddles the
    limit) or ``unstable`` (the figure did not settle or was taken under contention)."""

    rule: str
    kind: str
    reason: str


def _as_measured(value: "Measured | float | None") -> Measured | None:
    if value is None or isinstance(value, Measured):
        return value
    return Measured(float(value))


def _judge_limit(fig: Figure, measured: Measured, limit: float, strict: bool, out: list[Rejection],
                 flags: list[Flag]) -> None:
    """Judge ``measured`` against the policy's limit on ``fig`` (a maximum when lower is better, else a minimum).
    Reject only when the whole interval is beyond it."""
    over = fig.bound == "max"
    rule = f"limits.{fig.limit}"

    def beyond(x: float) -> bool:
        return x > limit if over else x < limit

    word = "over the limit of" if over else "under the minimum of"
    low, high = measured.low, measured.high
    near = low if over else high  # the end of the interval closest to passing
    if near is None:
        near = measured.value
    far = high if over else low
    if far is None:
        far = measured.value
    if not beyond(measured.value) and not beyond(far):
        return
    text = f"{fig.label} {measured.text(fig)} is {word} {fig.text(limit, exact=True)}"
    if measured.unstable:
        flags.append(Flag(rule, "unstable", f"{text}, but the figure is unstable ({'; '.join(measured.unstable)}), "
                                            f"so the limit does not reject on it; measure again on a quiet machine "
                                            f"('advisor run --remeasure unstable')"))
        return
    if beyond(near):
        out.append(Rejection(rule, text))
        return
    if strict:
        out.append(Rejection(rule, f"{text} within its interval (borderline; the policy's limits.strict rejects "
                                   f"borderline candidates)"))
    else:
        flags.append(Flag(rule, "borderline", f"borderline: {text} with part of its interval within the limit; "
                                              f"kept in the ranking (set limits.strict to reject)"))


def load_limit_figure(load: LoadLimit) -> Figure:
    """The registered figure a load limit bounds, as a limit judges it (a maximum, ``limits.<LOAD_LIMIT>``)."""
    return replace(lookup(load.figure), limit=LOAD_LIMIT)


def _judge_load_limit(load: LoadLimit, figures: "Mapping[str, Measured | float | None]", strict: bool,
                      out: list[Rejection], flags: list[Flag]) -> None:
    """``limits.max_p95_latency_ms_at_load``: the p95 of the run at the limit's rate (or fraction of the sustainable
    rate), judged with its interval like any limit. Without that figure: a candidate whose sustainable rate is below
    the limit's rate cannot serve it (rejected, saying so); otherwise the limit cannot be checked (rejected as not
    measured). A run that was not kept up with never gives a figure, so a saturation probe is never judged as a
    latency."""
    fig = load_limit_figure(load)
    measured = _as_measured(figures.get(fig.name))
    if measured is not None:
        _judge_limit(fig, measured, load.ms, strict, out, flags)
        return
    rule = f"limits.{LOAD_LIMIT}"
    sustainable = _as_measured(figures.get(LOAD_SUSTAINABLE_QPS))
    if load.rate_qps is not None and sustainable is not None and sustainable.value < load.rate_qps:
        rate = lookup(LOAD_SUSTAINABLE_QPS)
        out.append(Rejection(rule, f"{rate.label} {rate.text(sustainable.value)} is under the "
                                   f"{rate.text(load.rate_qps, exact=True)} the limit asks p95 at: advisor serve did "
                                   f"not keep up with that load, so it has no latency there"))
        return
    out.append(Rejection(rule, f"{fig.label} was not measured, so the limit cannot be checked (a sweep under this "
                               f"policy measures it)"))


# A figure a candidate cannot have leaves its limit out: one that stores no vectors (BM25) has no bytes per vector.
NOT_APPLICABLE_WHEN_ABSENT = (BYTES_PER_VECTOR,)


def check_measured(policy: Policy, figures: "Mapping[str, Measured | float | None] | None" = None, *,
                   quality: dict[str, dict[str, float]] | None = None) -> tuple[list[Rejection], list[Flag]]:
    """Every limit of the policy that measured figures break, and the limits they only may break.

    ``figures`` maps a figure name (advisor.figures) to its value, or to a ``Measured`` with its interval and
    unstable marks. A limit rejects only when the figure's interval lies wholly beyond it; an interval that
    straddles the limit makes the candidate borderline (rejected only under ``limits.strict``), and a figure that
    is unstable never rejects (it is flagged). ``quality`` maps task name -> metric -> value for the tasks that
    were evaluated; a floor on a task absent from ``quality`` is not applied here (the ranking notes it once), and
    a limit whose figure was not measured rejects, because it cannot be shown to hold."""
    lim = policy.limits
    strict = bool(getattr(lim, "strict", False))
    figures = figures or {}
    out: list[Rejection] = []
    flags: list[Flag] = []
    for fig in limit_figures():
        limit = getattr(lim, fig.limit or "", None)
        if limit is None:
            continue
        measured = _as_measured(figures.get(fig.name))
        if measured is None:
            if fig.name not in NOT_APPLICABLE_WHEN_ABSENT:
                out.append(Rejection(f"limits.{fig.limit}", f"{fig.label} was not measured, so the limit cannot be "
                                                            f"checked"))
            continue
        _judge_limit(fig, measured, limit, strict, out, flags)
    load = getattr(lim, LOAD_LIMIT, None)
    if load is not None:
        _judge_load_limit(load, figures, strict, out, flags)
    for floor in lim.min_quality:
        if quality is None or floor.task not in quality:
            continue
        value = quality[floor.task].get(floor.metric)
        if value is None:
            out.append(Rejection("limits.min_quality", f"no {floor.metric} figure on {floor.task}, so its "
                                                       f"quality floor cannot be checked"))
        elif value < floor.minimum:
            fig = figure_of(floor.metric)  # load_policy checked it is a registered quality figure
            out.append(Rejection("limits.min_quality",
                                 f"below the quality floor on {floor.task}: {floor.metric} "
                                 f"{fig.text(value)} < {number(floor.minimum, digits=6)}"))
    return out, flags
