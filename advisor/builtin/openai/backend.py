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

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from advisor.errors import UserError
from advisor.models.backends import Backend, BackendCapabilities, Encoder, LoadOptions
from advisor.models.hosted import api_key as read_api_key
from advisor.models.hosted import (check_network, client_from_options, estimate_tokens, is_loopback, openai_route,
                                   require_httpx)

if TYPE_CHECKING:
    from advisor.models.catalog import ModelEntry

DEFAULT_BASE_URL = "https://api.openai.com/v1"


class OpenAIEncoder(Encoder):
    def __init__(self, entry: "ModelEntry", options: dict[str, Any], api_key: str | None) -> None:
        self.entry, self.embed_dim = entry, entry.embed_dim
        base = str(options.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
        self.model = str(options.get("model") or entry.name)
        self.url, self.params, headers = openai_route(
            f"{entry.name} (options)", base, "embeddings", api_key, deployment=options.get("azure_deployment"),
            api_version=options.get("api_version"))
        self.send_dimensions = bool(options.get("send_dimensions", False))
        self.max_batch = int(options.get("max_batch", 256))
        self.http = client_from_options(entry.name, options, headers)
        self.usage_tokens = 0
        self.info = {"runtime": "http", "base_url": base, "remote_model": self.model,
                     "network": not is_loopback(base)}

    @property
    def retries(self) -> int:
        return self.http.retries

    def _post(self, texts: list[str]) -> np.ndarray:
        body: dict[str, Any] = {"model": self.model, "input": texts}
        if self.send_dimensions:
            body["dimensions"] = self.embed_dim
        data = self.http.post_json(self.url, body, params=self.params,
                                   tokens=sum(estimate_tokens(t) for t in texts))
        return self._vectors(data, len(texts))

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
                     "rate_limit_wait_s": round(self.http.waited_s, 3)}
        return np.concatenate(out)

    def close(self) -> None:
        self.http.close()


class OpenAIBackend(Backend):
    name = "openai"
    description = "OpenAI-compatible embeddings API (OpenAI, Azure OpenAI, vLLM, TEI, infinity, advisor serve)."
    capabilities = BackendCapabilities(devices=("cpu",), weight_precisions={"cpu": ("fp32",)}, can_truncate=True,
                                       notes="runs remotely: 'cpu' is the client; the server's hardware is its own")

    def load(self, entry: "ModelEntry", options: LoadOptions) -> Encoder:
        require_httpx("the openai backend")
        opts = dict(entry.options)
        base = str(opts.get("base_url") or DEFAULT_BASE_URL)
        check_network(entry.name, base, options.allow_network)
        api_key = read_api_key(entry.name, str(opts.get("api_key_env") or "OPENAI_API_KEY"), base)
        return OpenAIEncoder(entry, opts, api_key)
