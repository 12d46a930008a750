"""Where a catalog entry sends the texts it embeds: nowhere (it runs here), a server on this machine, or a host
off it. The policy's network and ``data.stay_on_machine`` rules read this, so "hosted" has one definition."""

from __future__ import annotations

from typing import Any, Mapping

from advisor.models.catalog import ModelEntry
from advisor.models.hosted import is_loopback

# Backends that embed over HTTP, and where each sends texts when the entry names no ``options.base_url``.
HOSTED_BACKENDS: dict[str, str] = {
    "openai": "https://api.openai.com/v1",
    "gemini": "https://generativelanguage.googleapis.com",
}


def _off_machine(backend: str, options: Mapping[str, Any], hosted: bool) -> str | None:
    base = options.get("base_url") or options.get("endpoint")
    if backend == "gemini" and options.get("api") == "vertex" and not base:
        base = f"https://{options.get('location')}-aiplatform.googleapis.com"
    if backend in HOSTED_BACKENDS:
        url = str(base or HOSTED_BACKENDS[backend])
        if not is_loopback(url):
            return url
        return f"{url} (marked hosted)" if hosted else None
    if hosted:
        return str(base) if base else "a hosted service (the entry is marked hosted)"
    return None


def off_machine(entry: ModelEntry) -> str | None:
    """Where ``entry`` sends texts when that is off this machine (a URL, or a phrase when it has none); None when
    the texts stay here. An HTTP backend at a loopback URL stays here unless the entry says ``hosted: true``; a pair
    is off the machine when either side is."""
    if entry.backend == "pair":
        for side in ("query_model", "document_model"):
            data = entry.options.get(side)
            if isinstance(data, Mapping):
                where = _off_machine(str(data.get("backend")), data.get("options") or {}, bool(data.get("hosted")))
                if where:
                    return where
        return None
    return _off_machine(entry.backend, entry.options, entry.hosted)
