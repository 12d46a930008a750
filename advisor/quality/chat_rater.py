"""The chat-model rater (the talk's auto-rater): a large language model grades each retrieved (query, document)
pair on a stated scale, 0 to 3 by default, and the grade / 3 feeds the position-weighted score (``rate_results``).

Configured by a YAML file named by ``ADVISOR_CHAT_RATER`` (or a ``ChatRaterConfig`` in code)::

    api: openai                       # openai (chat completions) | gemini (generateContent)
    model: gpt-4o-mini
    base_url: https://api.openai.com/v1   # default per api; any OpenAI-compatible server works
    api_key_env: OPENAI_API_KEY       # default per api (GEMINI_API_KEY for gemini); optional on loopback
    prompt: my_prompt.txt             # default: advisor/quality/prompts/chat_rater.txt; {query} and {document}
    max_grade: 3
    price_per_million_input_tokens: 0.15
    price_per_million_output_tokens: 0.60
    rpm: 500                          # tpm, timeout_s, max_retries as for the hosted backends
    concurrency: 4                    # requests in flight
    temperature: 0                    # null: not sent
    max_output_tokens: null           # sent as max_tokens / maxOutputTokens when set
    allow_network: false              # a host off this machine needs true here AND the run's grant (--allow-network
                                      #   or the policy's network: true; data.stay_on_machine: true denies it)
    store: .advisor/results.sqlite    # where ratings are cached (the results store's file by default)
    deployment: my-gpt-4o-mini        # Azure OpenAI (api: openai): POST {base_url}/openai/deployments/{deployment}/
    api_version: "2024-10-21"         #   chat/completions?api-version=... with an api-key header (key default:
                                      #   AZURE_OPENAI_API_KEY; base_url is your resource, https://NAME.openai.azure.com)

Requests go through the core hosted client (limits, retries with backoff on 429/5xx, timeouts). Answers are parsed
strictly: exactly one integer from 0 to ``max_grade`` (whitespace aside), anything else is a malformed answer,
stored and counted (``malformed_answers``), never guessed; it is left out of its query's weighted average.
Tokens come from the API's usage fields (else four characters a token, and the count says it is estimated);
money is tokens times the configured prices.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from advisor.errors import UserError
from advisor.quality.raters import Rater, rating_key
from advisor.quality.rating_store import DEFAULT_STORE, RatingStore

ENV = "ADVISOR_CHAT_RATER"
DEFAULT_PROMPT = Path(__file__).parent / "prompts" / "chat_rater.txt"
APIS = ("openai", "gemini")
DEFAULT_BASE = {"openai": "https://api.openai.com/v1", "gemini": "https://generativelanguage.googleapis.com"}
DEFAULT_KEY_ENV = {"openai": "OPENAI_API_KEY", "gemini": "GEMINI_API_KEY"}
CONFIG_FIELDS = ("api", "model", "base_url", "api_key_env", "prompt", "max_grade", "price_per_million_input_tokens",
                 "price_per_million_output_tokens", "rpm", "tpm", "timeout_s", "max_retries", "concurrency",
                 "temperature", "max_output_tokens", "allow_network", "store", "deployment", "api_version")
AZURE_KEY_ENV = "AZURE_OPENAI_API_KEY"


@dataclass(frozen=True)
class ChatRaterConfig:
    model: str
    api: str = "openai"
    base_url: str | None = None
    api_key_env: str | None = None
    prompt: Path = DEFAULT_PROMPT
    max_grade: int = 3
    price_per_million_input_tokens: float = 0.0
    price_per_million_output_tokens: float = 0.0
    rpm: int | None = None
    tpm: int | None = None
    timeout_s: float = 30.0
    max_retries: int = 5
    concurrency: int = 4
    temperature: float | None = 0.0
    max_output_tokens: int | None = None
    allow_network: bool = False
    store: Path = field(default_factory=lambda: Path(DEFAULT_STORE))
    deployment: str | None = None   # Azure OpenAI: the deployment of the chat model (api: openai)
    api_version: str | None = None  # Azure OpenAI's api-version query parameter

    @property
    def url_base(self) -> str:
        return (self.base_url or DEFAULT_BASE[self.api]).rstrip("/")

    @property
    def key_env(self) -> str:
        return self.api_key_env or (AZURE_KEY_ENV if self.deployment else DEFAULT_KEY_ENV[self.api])


def load_config(path: str | Path) -> ChatRaterConfig:
    """Read and check a chat-rater file; every mistake is one line naming the file, field and line."""
    from advisor.config.schema import Fields
    from advisor.config.yamlfile import load_yaml

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{ENV}={path}: no such file (a YAML chat-rater file, see docs/quality.md)")
    f = Fields(load_yaml(path), str(path), None, CONFIG_FIELDS, what="chat-rater file")
    here = path.parent
    prompt = Path(str(f.str("prompt"))).expanduser() if f.has("prompt") else DEFAULT_PROMPT
    store = Path(str(f.str("store"))).expanduser() if f.has("store") else Path(DEFAULT_STORE)
    temperature = f.number("temperature", None, minimum=0.0) if f.has("temperature") else (
        None if "temperature" in f.data else 0.0)
    config = ChatRaterConfig(
        model=str(f.str("model", required=True)), api=str(f.str("api", "openai", choices=APIS)),
        base_url=f.str("base_url"), api_key_env=f.str("api_key_env"),
        prompt=prompt if prompt.is_absolute() or not f.has("prompt") else here / prompt,
        max_grade=int(f.int("max_grade", 3) or 3),
        price_per_million_input_tokens=float(f.number("price_per_million_input_tokens", 0.0, minimum=0.0) or 0.0),
        price_per_million_output_tokens=float(f.number("price_per_million_output_tokens", 0.0, minimum=0.0)
                                              or 0.0),
        rpm=f.int("rpm"), tpm=f.int("tpm"), timeout_s=float(f.number("timeout_s", 30.0, minimum=0.001) or 30.0),
        max_retries=int(f.int("max_retries", 5, minimum=0) or 0), concurrency=int(f.int("concurrency", 4) or 4),
        temperature=temperature, max_output_tokens=f.int("max_output_tokens"),
        allow_network=f.bool("allow_network"),
        store=store if store.is_absolute() or not f.has("store") else here / store,
        deployment=f.str("deployment"), api_version=f.str("api_version"))
    if config.base_url and not config.base_url.startswith(("http://", "https://")):
        raise f.error("base_url", f"must be an http:// or https:// URL, got {config.base_url!r}")
    if config.deployment:  # Azure OpenAI
        if config.api != "openai":
            raise f.error("deployment", "is Azure OpenAI's (api: openai); remove it for api: gemini")
        if not config.base_url:
            raise f.error("base_url", "is required with deployment: your Azure OpenAI resource, e.g. "
                                      "https://NAME.openai.azure.com")
        if not config.api_version:
            raise f.error("api_version", "is required with deployment (Azure OpenAI's api-version, e.g. "
                                         "\"2024-10-21\")")
    elif config.api_version:
        raise f.error("api_version", "is used only with deployment (Azure OpenAI)")
    template = read_prompt(config.prompt)
    missing = [p for p in ("{query}", "{document}") if p not in template]
    if missing:
        raise f.error("prompt", f"{config.prompt} must contain {' and '.join(missing)} (where the pair goes)")
    return config


def read_prompt(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read the chat rater's prompt ({exc})") from None


def parse_grade(answer: str, max_grade: int) -> int | None:
    """The grade when ``answer`` is exactly one integer of the scale (whitespace aside), else None."""
    match = re.fullmatch(r"\s*(\d+)\s*", answer or "")
    if not match or int(match.group(1)) > max_grade:
        return None
    return int(match.group(1))


@dataclass
class ChatUsage:
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    estimated_tokens: int = 0  # of those, how many were estimated (the API gave no usage)
    malformed: int = 0


class ChatRater(Rater):
    """Grades pairs with a chat model; registered as ``chat`` and configured by ``$ADVISOR_CHAT_RATER``."""

    name = "chat"
    description = "a chat model (OpenAI chat completions or Gemini generateContent) grades each pair 0-3; " \
                  "configured by the YAML file in ADVISOR_CHAT_RATER"

    def __init__(self, config: ChatRaterConfig | None = None) -> None:
        self._config = config
        self._client: Any = None
        self._store: RatingStore | None = None
        self.usage_counts = ChatUsage()
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def _fresh_after_fork(self) -> None:
        """A worker process forked from a parent that used the rater opens its own connection and client."""
        if self._pid != os.getpid():
            self._client, self._store, self._pid = None, None, os.getpid()

    # -- configuration ------------------------------------------------------------------------------------------
    @property
    def config(self) -> ChatRaterConfig:
        if self._config is None:
            path = os.environ.get(ENV)
            if not path:
                raise UserError(f"set {ENV} to a chat-rater YAML file to use the chat rater (docs/quality.md)")
            self._config = load_config(path)
        return self._config

    def available(self) -> str | None:
        from advisor.config.network import SWITCH, network_allowed, is_loopback

        if self._config is None and not os.environ.get(ENV):
            return f"set {ENV} to a chat-rater YAML file to use it"
        try:
            config = self.config
        except UserError as exc:
            return str(exc)
        try:
            import httpx  # noqa: F401
        except ImportError:
            return "the chat rater needs httpx: pip install 'embedding-advisor[serve]'"
        if not is_loopback(config.url_base):
            if not config.allow_network:
                return (f"{config.url_base} is off this machine: set allow_network: true in the chat-rater file to "
                        f"send your queries and documents there (and give {SWITCH})")
            if not network_allowed():
                return (f"{config.url_base} is off this machine and the network is off: give {SWITCH} to send your "
                        f"queries and documents there")
            if not os.environ.get(config.key_env):
                return f"set the API key in ${config.key_env} (or name another variable in api_key_env)"
        return None

    def identity(self) -> dict[str, Any]:
        c = self.config
        prompt = hashlib.sha256(read_prompt(c.prompt).encode("utf-8")).hexdigest()[:16]
        identity = {"rater": self.name, "api": c.api, "model": c.model, "prompt_sha256": prompt,
                    "scale": f"0-{c.max_grade}", "temperature": c.temperature}
        if c.deployment:  # an Azure deployment is its own model (a cached rating of another does not count)
            identity["azure_deployment"] = c.deployment
        return identity

    def rating_store(self) -> RatingStore:
        self._fresh_after_fork()
        if self._store is None:
            self._store = RatingStore(self.config.store)
        return self._store

    # -- requests -----------------------------------------------------------------------------------------------
    def _http(self) -> Any:
        self._fresh_after_fork()
        if self._client is None:
            from advisor.models.hosted import HostedClient, api_key

            from advisor.config.network import is_loopback, require_network

            c = self.config
            if not c.allow_network and not is_loopback(c.url_base):  # the rater's own file consents first
                raise UserError(f"the chat rater would send your queries and documents to {c.url_base}, off this "
                                f"machine: set allow_network: true in the chat-rater file (and give --allow-network)")
            require_network("the chat rater (queries and documents sent to it)", c.url_base)  # the run's grant
            key = api_key("the chat rater", c.key_env, c.url_base)
            if c.api == "gemini":
                headers = {"x-goog-api-key": key} if key else {}
            else:
                headers = self._openai_route(key)[2]
            self._client = HostedClient(f"chat rater ({c.model})", headers=headers, timeout_s=c.timeout_s,
                                        max_retries=c.max_retries, rpm=c.rpm, tpm=c.tpm)
        return self._client

    def _openai_route(self, key: str | None = None) -> tuple[str, dict[str, str], dict[str, str]]:
        """OpenAI's chat completions, or Azure OpenAI's when a deployment is configured (the embedding backend's
        request shape, ``advisor.models.hosted.openai_route``)."""
        from advisor.models.hosted import openai_route

        c = self.config
        return openai_route("the chat rater", c.url_base, "chat/completions", key, deployment=c.deployment,
                            api_version=c.api_version)

    def _request(self, prompt: str) -> tuple[str, dict[str, Any], dict[str, str]]:
        """(url, JSON body, query params) of one grading request."""
        c = self.config
        if c.api == "gemini":
            generation: dict[str, Any] = {}
            if c.temperature is not None:
                generation["temperature"] = c.temperature
            if c.max_output_tokens is not None:
                generation["maxOutputTokens"] = c.max_output_tokens
            body: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": prompt}]}]}
            if generation:
                body["generationConfig"] = generation
            return f"{c.url_base}/v1beta/models/{c.model}:generateContent", body, {}
        body = {"model": c.model, "messages": [{"role": "user", "content": prompt}]}
        if c.temperature is not None:
            body["temperature"] = c.temperature
        if c.max_output_tokens is not None:
            body["max_tokens"] = c.max_output_tokens
        url, params, _ = self._openai_route()
        return url, body, params

    def _answer(self, data: Any) -> tuple[str, int | None, int | None]:
        """(answer text, input tokens, output tokens) from an API answer; text '' when it holds none."""
        if self.config.api == "gemini":
            usage = data.get("usageMetadata") or {}
            parts = (((data.get("candidates") or [{}])[0].get("content") or {}).get("parts")) or []
            text = "".join(str(p.get("text", "")) for p in parts if isinstance(p, dict) and not p.get("thought"))
            out = usage.get("candidatesTokenCount")
            if out is not None and usage.get("thoughtsTokenCount"):
                out += usage["thoughtsTokenCount"]  # thinking is billed as output
            return text, usage.get("promptTokenCount"), out
        usage = data.get("usage") or {}
        message = ((data.get("choices") or [{}])[0].get("message") or {})
        return str(message.get("content") or ""), usage.get("prompt_tokens"), usage.get("completion_tokens")

    def _grade(self, query: str, doc: str, template: str, identity: dict[str, Any]) -> float:
        from advisor.models.hosted import estimate_tokens

        prompt = template.replace("{query}", query).replace("{document}", doc)
        url, body, params = self._request(prompt)
        data = self._http().post_json(url, body, tokens=estimate_tokens(prompt), params=params)
        try:
            text, tokens_in, tokens_out = self._answer(data)
        except (AttributeError, IndexError, TypeError):
            text, tokens_in, tokens_out = "", None, None
        grade = parse_grade(text, self.config.max_grade)
        estimated = 0
        if tokens_in is None:
            tokens_in = estimate_tokens(prompt)
            estimated += tokens_in
        if tokens_out is None:
            tokens_out = estimate_tokens(text)
            estimated += tokens_out
        score = math.nan if grade is None else grade / self.config.max_grade
        with self._lock:
            u = self.usage_counts
            u.requests, u.input_tokens, u.output_tokens = u.requests + 1, u.input_tokens + tokens_in, \
                u.output_tokens + tokens_out
            u.estimated_tokens += estimated
            u.malformed += grade is None
        self.rating_store().put(rating_key(identity, query, doc), self.name, score, text[:500], tokens_in,
                                tokens_out)
        return score

    def score(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """Grades / max_grade per pair (NaN for a malformed answer); each answer is stored as it arrives."""
        template, identity = read_prompt(self.config.prompt), self.identity()
        if not pairs:
            return np.zeros(0)
        with ThreadPoolExecutor(max_workers=max(1, self.config.concurrency)) as pool:
            scores = list(pool.map(lambda p: self._grade(p[0], p[1], template, identity), pairs))
        return np.array(scores, dtype=np.float64)

    def usage(self) -> dict[str, Any]:
        c, u = self.config, self.usage_counts
        cost = (u.input_tokens * c.price_per_million_input_tokens
                + u.output_tokens * c.price_per_million_output_tokens) / 1e6
        client = self._client
        return {"requests": u.requests, "input_tokens": u.input_tokens, "output_tokens": u.output_tokens,
                "estimated_tokens": u.estimated_tokens, "new_malformed_answers": u.malformed, "cost_usd": cost,
                "retries": client.retries if client else 0,
                "rate_limit_wait_s": round(client.waited_s, 3) if client else 0.0}

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._store is not None:
            self._store.close()
            self._store = None
