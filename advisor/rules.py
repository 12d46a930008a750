"""Policy rules on catalog metadata. Each rejection keeps the rule id and a sentence a person can act on."""

from __future__ import annotations

from dataclasses import dataclass

from .catalog import ModelEntry
from .languages import covers
from .licenses import commercial_use_blocker, license_ids
from .policy import Policy


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
