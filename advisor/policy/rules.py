"""Policy rules on catalog metadata. Each rejection keeps the rule id and a sentence a person can act on."""

from __future__ import annotations

from dataclasses import dataclass

from advisor.models.catalog import ModelEntry
from advisor.config.languages import covers
from advisor.config.licenses import commercial_use_blocker, license_ids
from advisor.policy.spec import Policy


@dataclass(frozen=True)
class Rejection:
    rule: str
    reason: str


def check_metadata(entry: ModelEntry, policy: Policy) -> list[Rejection]:
    """Every metadata rule the entry breaks (empty when it is admitted)."""
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
    return out


def check_measured(policy: Policy, *, p95_latency_ms: float | None = None,
                   throughput_docs_per_s: float | None = None, peak_memory_mb: float | None = None,
                   bytes_per_vector: int | None = None,
                   quality: dict[str, dict[str, float]] | None = None) -> list[Rejection]:
    """Every limit of the policy that measured figures break. ``quality`` maps task name -> metric -> value for
    the tasks that were evaluated; a floor on a task absent from ``quality`` is not applied here (the ranking
    notes it once), and a limit whose figure was not measured rejects, because it cannot be shown to hold."""
    lim = policy.limits
    out: list[Rejection] = []

    def n(value: float) -> str:  # 1,209 ms, 23.5 ms, 1.76 ms: plain, never 1.21e+03
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"

    def missing(rule: str, what: str) -> None:
        out.append(Rejection(rule, f"{what} was not measured, so the limit cannot be checked"))

    if lim.max_p95_latency_ms is not None:
        if p95_latency_ms is None:
            missing("limits.max_p95_latency_ms", "p95 query latency")
        elif p95_latency_ms > lim.max_p95_latency_ms:
            out.append(Rejection("limits.max_p95_latency_ms", f"p95 query latency {n(p95_latency_ms)} ms is "
                                                              f"over the limit of {lim.max_p95_latency_ms:g} ms"))
    if lim.min_throughput_docs_per_s is not None:
        if throughput_docs_per_s is None:
            missing("limits.min_throughput_docs_per_s", "throughput")
        elif throughput_docs_per_s < lim.min_throughput_docs_per_s:
            out.append(Rejection("limits.min_throughput_docs_per_s",
                                 f"throughput {n(throughput_docs_per_s)} docs/s is under the minimum of "
                                 f"{lim.min_throughput_docs_per_s:g} docs/s"))
    if lim.max_peak_memory_mb is not None:
        if peak_memory_mb is None:
            missing("limits.max_peak_memory_mb", "peak memory")
        elif peak_memory_mb > lim.max_peak_memory_mb:
            out.append(Rejection("limits.max_peak_memory_mb", f"peak memory {n(peak_memory_mb)} MB is over the "
                                                              f"limit of {lim.max_peak_memory_mb:g} MB"))
    if lim.max_bytes_per_vector is not None and bytes_per_vector is not None \
            and bytes_per_vector > lim.max_bytes_per_vector:
        out.append(Rejection("limits.max_bytes_per_vector", f"{bytes_per_vector} bytes per vector is over the "
                                                            f"limit of {lim.max_bytes_per_vector}"))
    for floor in lim.min_quality:
        if quality is None or floor.task not in quality:
            continue
        value = quality[floor.task].get(floor.metric)
        if value is None:
            out.append(Rejection("limits.min_quality", f"no {floor.metric} figure on {floor.task}, so its "
                                                       f"quality floor cannot be checked"))
        elif value < floor.minimum:
            out.append(Rejection("limits.min_quality", f"below the quality floor on {floor.task}: "
                                                       f"{floor.metric} {value:.4f} < {floor.minimum:g}"))
    return out
