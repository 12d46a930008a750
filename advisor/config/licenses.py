"""Licence ids: SPDX expressions (validated with ``packaging.licenses``), ``LicenseRef-*`` or ``unknown``.

Commercial use is judged conservatively: an unknown licence, a custom ``LicenseRef`` and any non-commercial (NC)
licence are not cleared for commercial use unless the policy allows them by name.
"""

from __future__ import annotations

import re

from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression

UNKNOWN = "unknown"
_NONCOMMERCIAL = re.compile(r"(^|[-_])NC([-_]|$)|non-?commercial", re.IGNORECASE)


def normalize_license(value: str) -> str:
    """Canonical SPDX expression, ``LicenseRef-...`` or ``unknown``; raise ValueError with a hint otherwise."""
    value = value.strip()
    if value.lower() in {"unknown", "none", "not specified", ""}:
        return UNKNOWN
    try:
        return canonicalize_license_expression(value)
    except InvalidLicenseExpression:
        raise ValueError(f"'{value}' is not an SPDX licence id or expression (e.g. 'Apache-2.0', 'MIT', "
                         f"'CC-BY-NC-4.0'); use 'LicenseRef-<name>' for a custom licence or 'unknown'"
                         f"{_did_you_mean(value)}") from None


def _did_you_mean(value: str) -> str:
    """``; did you mean 'Apache-2.0'?`` for a near SPDX id (``apache 2.0``, ``Apache2``), else ""."""
    import difflib

    from packaging.licenses._spdx import LICENSES

    def key(text: str) -> str:  # letters and digits only: 'Apache 2.0', 'apache-2.0' and 'Apache2' meet
        return re.sub(r"[^a-z0-9]", "", text.lower())

    ids = {key(entry["id"]): entry["id"] for entry in LICENSES.values() if not entry.get("deprecated")}
    close = difflib.get_close_matches(key(value), list(ids), n=1, cutoff=0.8)
    return f"; did you mean '{ids[close[0]]}'?" if close else ""


def license_ids(expression: str) -> list[str]:
    """The individual ids of an expression (``MIT OR Apache-2.0`` -> both)."""
    tokens = re.split(r"\s+|\(|\)", expression)
    return [t for t in tokens if t and t.upper() not in {"AND", "OR", "WITH"}]


def commercial_use_blocker(expression: str) -> str | None:
    """Why a licence is not cleared for commercial use, or None when it is."""
    if expression == UNKNOWN:
        return "licence unknown: no stated licence, not cleared for commercial use"
    ids = license_ids(expression)
    if any(_NONCOMMERCIAL.search(i) for i in ids):
        return f"licence {expression} forbids commercial use"
    if any(i.startswith("LicenseRef-") for i in ids):
        return f"licence {expression} is custom; list it in licenses.allow after legal review"
    return None
