"""One client for hosted HTTP APIs (embedding backends and the chat rater): the key from a named environment
variable, a configurable base URL, client-side requests- and tokens-per-minute limits, retries with backoff on 429
and 5xx, timeouts, and the network gate (a host off this machine only when allowed).

Why one module: the ``openai`` and ``gemini`` backends and the chat rater must behave the same way towards a paid
API (never burst past the account's limits, spend retries on real overload, fail with one line), so they share this
code rather than three copies of it. ``httpx`` is imported lazily (the ``serve`` extra).
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import deque
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from advisor.config.network import is_loopback, require_network
from advisor.errors import UserError

__all__ = ["is_loopback"]  # the one definition lives in advisor.config.network; imported from here too

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_RETRIES = 5
MAX_BACKOFF_S = 30.0
CHARS_PER_TOKEN = 4  # OpenAI's rule of thumb for English; used only where an API does not count for us


def estimate_tokens(text: str) -> int:
    """About four characters a token: the stated estimate for limits and cost where the API gives no count."""
    return max(1, (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN)


def openai_route(what: str, base_url: str, operation: str, key: str | None, *, deployment: str | None = None,
                 api_version: str | None = None) -> tuple[str, dict[str, str], dict[str, str]]:
    """(url, query params, auth headers) of an OpenAI-shaped request (``operation``: "embeddings",
    "chat/completions"): ``{base}/{operation}`` with a Bearer key, or, for an Azure OpenAI ``deployment``,
    ``{base}/openai/deployments/{deployment}/{operation}?api-version=...`` with an ``api-key`` header. The
    embedding backend and the chat rater both build their requests here, so Azure is one definition."""
    base = base_url.rstrip("/")
    if deployment:
        if not api_version:
            raise UserError(f"{what}: an Azure deployment needs api_version (Azure OpenAI's api-version, e.g. "
                            f"2024-10-21)")
        return (f"{base}/openai/deployments/{deployment}/{operation}", {"api-version": api_version},
                {"api-key": key} if key else {})
    return f"{base}/{operation}", {}, {"Authorization": f"Bearer {key}"} if key else {}


def check_network(what: str, base_url: str, allow_network: bool) -> None:
    """Refuse a host off this machine unless the user (``--allow-network``) or the policy allowed it: the network
    gate (``advisor.config.network.require_network``) with the caller's grant."""
    require_network(f"{what} (texts sent to it)", base_url, allow_network)


def api_key(what: str, env: str, base_url: str) -> str | None:
    """The key in ``$env``; required for a remote host, optional for a server on this machine."""
    key = os.environ.get(env) or None
    if key is None and not is_loopback(base_url):
        raise UserError(f"{what}: set the API key in ${env} (or name another variable in api_key_env)")
    return key


def require_httpx(what: str) -> None:
    try:
        import httpx  # noqa: F401
    except ImportError:
        raise UserError(f"{what} needs httpx: pip install 'embedding-advisor[serve]'") from None


class MinuteLimiter:
    """Client-side limits on requests and tokens per minute over a sliding one-minute window, so a sweep never
    sends more than the account allows and spends its retries on real overload rather than on its own bursts."""

    def __init__(self, rpm: int | None = None, tpm: int | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.rpm, self.tpm, self.clock, self.sleep = rpm, tpm, clock, sleep
        self.sent: deque[tuple[float, int]] = deque()  # (time, tokens) of the last minute's requests
        self.lock = threading.Lock()
        self.waited_s = 0.0

    def delay(self, tokens: int, now: float) -> float:
        """Seconds to wait before a request of ``tokens`` fits both limits (0: send now)."""
        while self.sent and self.sent[0][0] <= now - 60.0:
            self.sent.popleft()
        wait = 0.0
        if self.rpm is not None and len(self.sent) >= self.rpm:
            wait = max(wait, self.sent[len(self.sent) - self.rpm][0] + 60.0 - now)
        if self.tpm is not None and self.sent:
            used = sum(t for _, t in self.sent)
            for at, t in self.sent:  # the window must shed enough old tokens for this request to fit
                if used + tokens <= self.tpm:
                    break
                used -= t
                wait = max(wait, at + 60.0 - now)
        return max(0.0, wait)

    def acquire(self, tokens: int) -> None:
        with self.lock:
            while (wait := self.delay(tokens, self.clock())) > 0:
                self.waited_s += wait
                self.sleep(wait)
            self.sent.append((self.clock(), tokens))


def backoff_s(attempt: int, retry_after: str | None) -> float:
    """The server's Retry-After when it gives one, else exponential backoff with jitter; at most 30 s."""
    try:
        wait = float(retry_after) if retry_after is not None else None
    except ValueError:
        wait = None
    return min(MAX_BACKOFF_S, wait if wait is not None else 0.5 * 2 ** attempt * (0.5 + random.random()))


class HostedClient:
    """POSTs JSON to one API under its limits; counts retries and the time the limiter held requests back.

    ``name`` prefixes every error (the catalog entry or rater). 429, 5xx and transport errors (timeouts
    included) are retried ``max_retries`` times; any other refusal, and the last failure, is a one-line
    UserError. Thread-safe (one ``httpx.Client``; the limiter locks)."""

    def __init__(self, name: str, *, headers: Mapping[str, str] | None = None,
                 timeout_s: float = DEFAULT_TIMEOUT_S, max_retries: int = DEFAULT_MAX_RETRIES,
                 rpm: int | None = None, tpm: int | None = None) -> None:
        import logging

        import httpx

        logging.getLogger("httpx").setLevel(logging.WARNING)  # not one INFO line per request on the CLI's stderr
        self.name, self.max_retries = name, int(max_retries)
        self.limiter = MinuteLimiter(rpm, tpm)
        self.headers, self.timeout_s = dict(headers or {}), float(timeout_s)
        self.clients: dict[bool, httpx.Client] = {}  # by loopback: a loopback one never uses a proxy
        self.retries = 0
        self.requests = 0
        self._count = threading.Lock()

    def client_for(self, url: str) -> Any:
        """The client for ``url``, from the one place that builds the advisor's HTTP clients
        (``advisor.config.network.http_client``: never a proxy for a loopback host)."""
        from advisor.config.network import http_client

        loopback = is_loopback(url)
        with self._count:
            if loopback not in self.clients:
                self.clients[loopback] = http_client(url, headers=self.headers, timeout=self.timeout_s)
            return self.clients[loopback]

    @property
    def waited_s(self) -> float:
        return self.limiter.waited_s

    def post_json(self, url: str, body: Any, *, tokens: int, params: Mapping[str, str] | None = None) -> Any:
        """The decoded JSON answer to ``POST url`` after waiting for ``tokens`` to fit the per-minute limits."""
        import httpx

        self.limiter.acquire(tokens)
        problem = ""
        for attempt in range(self.max_retries + 1):
            retry_after = None
            with self._count:
                self.requests += 1
            try:
                response = self.client_for(url).post(url, params=dict(params or {}), json=body)
            except httpx.TimeoutException as exc:
                problem = f"no answer within the timeout ({type(exc).__name__}; raise timeout_s if it is slow)"
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code == 200:
                    try:
                        return response.json()
                    except ValueError:
                        raise UserError(f"{self.name}: {url} answered 200 with a body that is not JSON") from None
                problem = f"HTTP {response.status_code}: {_one_line(response.text)}"
                if response.status_code != 429 and response.status_code < 500:
                    raise UserError(f"{self.name}: {url} refused the request ({problem})")
                retry_after = response.headers.get("retry-after")
            if attempt == self.max_retries:
                break
            with self._count:
                self.retries += 1
            time.sleep(backoff_s(attempt, retry_after))
        raise UserError(f"{self.name}: {url} failed after {self.max_retries + 1} tries ({problem})")

    def close(self) -> None:
        for client in self.clients.values():
            client.close()
        self.clients.clear()


def _one_line(text: str, limit: int = 200) -> str:
    return " ".join(text.split())[:limit]


def client_from_options(name: str, options: Mapping[str, Any], headers: Mapping[str, str]) -> HostedClient:
    """A client with the limits, timeout and retries of a catalog entry's (or rater's) options."""
    return HostedClient(name, headers=headers, timeout_s=float(options.get("timeout_s", DEFAULT_TIMEOUT_S)),
                        max_retries=int(options.get("max_retries", DEFAULT_MAX_RETRIES)),
                        rpm=options.get("rpm"), tpm=options.get("tpm"))


# -- catalog options of hosted backends ---------------------------------------------------------------------------

GEMINI_APIS = ("gemini", "vertex")
GEMINI_TASK_TYPES = ("RETRIEVAL_QUERY", "RETRIEVAL_DOCUMENT", "SEMANTIC_SIMILARITY", "CLASSIFICATION", "CLUSTERING",
                     "QUESTION_ANSWERING", "FACT_VERIFICATION", "CODE_RETRIEVAL_QUERY")
_COMMON = ("base_url", "model", "api_key_env", "rpm", "tpm", "timeout_s", "max_retries", "max_batch")
OPTION_FIELDS: dict[str, tuple[str, ...]] = {
    "openai": _COMMON + ("azure_deployment", "api_version", "send_dimensions"),
    "gemini": _COMMON + ("api", "project", "location", "query_task_type", "document_task_type", "send_dimensions"),
}


def validate_options(backend: str, options: Any, file: str, entry: str | None) -> dict[str, Any]:
    """A hosted entry's ``options`` checked field by field (one-line ConfigErrors naming ``options.FIELD``);
    entries of other backends pass through unchanged."""
    from advisor.config.schema import Fields

    if backend not in OPTION_FIELDS:
        return dict(options)

    class OptionFields(Fields):
        def error(self, field: str, message: str) -> Any:
            return super().error(f"options.{field}", message)

    f = OptionFields(options, file, entry, OPTION_FIELDS[backend], what="options mapping")
    for name in ("base_url", "model", "api_key_env", "azure_deployment", "api_version", "project", "location"):
        f.str(name)
    if f.has("base_url") and urlsplit(str(f.raw("base_url"))).scheme not in ("http", "https"):
        raise f.error("base_url", f"must be an http:// or https:// URL, got {f.raw('base_url')!r}")
    for name in ("rpm", "tpm", "max_batch"):
        f.int(name)
    f.int("max_retries", minimum=0)
    f.number("timeout_s", minimum=0.001)
    f.bool("send_dimensions")
    if backend == "openai" and f.has("azure_deployment") and not f.has("api_version"):
        raise f.error("api_version", "is required with azure_deployment (e.g. 2024-02-01)")
    if backend == "gemini":
        api = f.str("api", "gemini", choices=GEMINI_APIS)
        for name in ("query_task_type", "document_task_type"):
            f.str(name, choices=GEMINI_TASK_TYPES)
        if api == "vertex":
            for name in ("project", "location"):
                if not f.has(name):
                    raise f.error(name, "is required with api: vertex (the Google Cloud project and region)")
    return dict(options)
