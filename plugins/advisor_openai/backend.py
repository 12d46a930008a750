"""OpenAI-compatible embeddings over HTTP: ``POST {base_url}/embeddings`` with ``{"model", "input": [...]}``.

Catalog ``options``: ``base_url`` (default https://api.openai.com/v1), ``model`` (the remote model or deployment
name; default the entry's name), ``api_key_env`` (the environment variable holding the key; default
OPENAI_API_KEY; not needed for a loopback server), ``azure_deployment`` + ``api_version`` (Azure OpenAI:
``{base_url}/openai/deployments/{deployment}/embeddings?api-version=...`` with an ``api-key`` header),
``send_dimensions`` (pass the entry's ``embed_dim`` as ``dimensions``), ``rpm`` / ``tpm`` (client-side limits),
``timeout_s`` (30), ``max_retries`` (5), ``max_batch`` (texts per request, 256).

Network is used only when allowed: ``LoadOptions.allow_network`` (``--allow-network`` or the policy), or a base
URL on this machine. 429 and 5xx answers and transport errors are retried with exponential backoff (Retry-After
when the server gives one); any other refusal is a one-line error.
"""

from __future__ import annotations

import os
import random
import time
from typing import TYPE_CHECKING, Any, Sequence
from urllib.parse import urlsplit

import numpy as np

from advisor.errors import UserError
from advisor.models.backends import Backend, BackendCapabilities, Encoder, LoadOptions

from .limits import MinuteLimiter

if TYPE_CHECKING:
    from advisor.models.catalog import ModelEntry

DEFAULT_BASE_URL = "https://api.openai.com/v1"


def _is_loopback(url: str) -> bool:
    import ipaddress

    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def estimate_tokens(text: str) -> int:
    """About four characters a token (OpenAI's rule of thumb), for the client-side token limit only."""
    return max(1, (len(text) + 3) // 4)


class OpenAIEncoder(Encoder):
    def __init__(self, entry: "ModelEntry", options: dict[str, Any], api_key: str | None) -> None:
        import httpx

        self.entry, self.embed_dim = entry, entry.embed_dim
        base = str(options.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
        self.model = str(options.get("model") or entry.name)
        deployment = options.get("azure_deployment")
        headers = {}
        if deployment:
            version = options.get("api_version")
            if not version:
                raise UserError(f"{entry.name}: an Azure deployment needs options.api_version")
            self.url, self.params = f"{base}/openai/deployments/{deployment}/embeddings", {"api-version": version}
            if api_key:
                headers["api-key"] = api_key
        else:
            self.url, self.params = f"{base}/embeddings", {}
            if api_key:
                headers["Authorization"] = f"Bearer {api_key}"
        self.send_dimensions = bool(options.get("send_dimensions", False))
        self.max_retries = int(options.get("max_retries", 5))
        self.max_batch = int(options.get("max_batch", 256))
        self.limiter = MinuteLimiter(options.get("rpm"), options.get("tpm"))
        self.client = httpx.Client(headers=headers, timeout=float(options.get("timeout_s", 30.0)))
        self.usage_tokens = 0
        self.retries = 0
        self.info = {"runtime": "http", "base_url": base, "remote_model": self.model,
                     "network": not _is_loopback(base)}

    def _post(self, texts: list[str]) -> np.ndarray:
        import httpx

        body: dict[str, Any] = {"model": self.model, "input": texts}
        if self.send_dimensions:
            body["dimensions"] = self.embed_dim
        self.limiter.acquire(sum(estimate_tokens(t) for t in texts))
        for attempt in range(self.max_retries + 1):
            retry_after = None
            try:
                response = self.client.post(self.url, params=self.params, json=body)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code == 200:
                    return self._vectors(response.json(), len(texts))
                problem = f"HTTP {response.status_code}: {response.text[:200]}"
                if response.status_code != 429 and response.status_code < 500:
                    raise UserError(f"{self.entry.name}: {self.url} refused the request ({problem})")
                retry_after = response.headers.get("retry-after")
            if attempt == self.max_retries:
                break
            self.retries += 1
            try:
                wait = float(retry_after) if retry_after is not None else None
            except ValueError:
                wait = None
            time.sleep(min(30.0, wait if wait is not None else 0.5 * 2 ** attempt * (0.5 + random.random())))
        raise UserError(f"{self.entry.name}: {self.url} failed after {self.max_retries + 1} tries ({problem})")

    def _vectors(self, data: dict[str, Any], n: int) -> np.ndarray:
        rows = sorted(data.get("data") or [], key=lambda d: d.get("index", 0))
        if len(rows) != n:
            raise UserError(f"{self.entry.name}: the server answered {len(rows)} embeddings for {n} inputs")
        self.usage_tokens += int((data.get("usage") or {}).get("prompt_tokens") or 0)
        vectors = np.asarray([r["embedding"] for r in rows], dtype=np.float32)
        if vectors.shape[1] != self.embed_dim:
            raise UserError(f"{self.entry.name}: the server's vectors have {vectors.shape[1]} dimensions, the "
                            f"catalog entry says embed_dim {self.embed_dim}")
        return vectors

    def encode(self, texts: Sequence[str], *, kind: str = "document", batch_size: int = 32,
               progress: Any = None) -> np.ndarray:
        prompt = self.entry.query_prompt if kind == "query" else self.entry.document_prompt
        texts = [prompt + t for t in texts]
        step = max(1, min(batch_size, self.max_batch))
        out = []
        for i in range(0, len(texts), step):
            out.append(self._post(texts[i:i + step]))
            if progress is not None:
                progress(len(texts[i:i + step]))
        if not out:
            return np.zeros((0, self.embed_dim), dtype=np.float32)
        self.info = {**self.info, "usage_tokens": self.usage_tokens, "retries": self.retries,
                     "rate_limit_wait_s": round(self.limiter.waited_s, 3)}
        return np.concatenate(out)

    def close(self) -> None:
        self.client.close()


class OpenAIBackend(Backend):
    name = "openai"
    description = "OpenAI-compatible embeddings API (OpenAI, Azure OpenAI, vLLM, TEI, infinity, advisor serve)."
    capabilities = BackendCapabilities(devices=("cpu",), weight_precisions={"cpu": ("fp32",)}, can_truncate=True,
                                       notes="runs remotely: 'cpu' is the client; the server's hardware is its own")

    def load(self, entry: "ModelEntry", options: LoadOptions) -> Encoder:
        try:
            import httpx  # noqa: F401
        except ImportError:
            raise UserError("the openai backend needs httpx: pip install 'embedding-advisor[serve]'") from None
        opts = dict(entry.options)
        base = str(opts.get("base_url") or DEFAULT_BASE_URL)
        if not _is_loopback(base) and not options.allow_network:
            raise UserError(f"{entry.name} is served at {base}, off this machine: give --allow-network (or allow "
                            f"network in the policy) to send your texts there")
        env = str(opts.get("api_key_env") or "OPENAI_API_KEY")
        api_key = os.environ.get(env) or None
        if api_key is None and not _is_loopback(base):
            raise UserError(f"{entry.name}: set the API key in ${env} (the catalog entry's options.api_key_env)")
        return OpenAIEncoder(entry, opts, api_key)
