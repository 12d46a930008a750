"""Google's embedding endpoints over HTTP, through the core hosted client (advisor.models.hosted).

``options.api: gemini`` (default): ``POST {base_url}/v1beta/models/{model}:batchEmbedContents`` with
``{"requests": [{"model": "models/{model}", "content": {"parts": [{"text"}]}, "taskType", "outputDimensionality"}]}``
and the key in ``x-goog-api-key`` (``api_key_env``, default GEMINI_API_KEY; base_url default
https://generativelanguage.googleapis.com). The Gemini API reports no token count for embeddings, so tokens are
estimated at four characters a token (``info['usage_tokens_source']`` says so).

``options.api: vertex``: ``POST {base_url}/v1/projects/{project}/locations/{location}/publishers/google/models/
{model}:predict`` with ``{"instances": [{"content", "task_type"}], "parameters": {"outputDimensionality"}}`` and an
OAuth access token as ``Authorization: Bearer`` (``api_key_env``, default GOOGLE_ACCESS_TOKEN, e.g. from
``gcloud auth print-access-token``; base_url default https://{location}-aiplatform.googleapis.com). Vertex counts
the tokens of each input (``statistics.token_count``); those are used.

Task type per side: ``query_task_type`` (RETRIEVAL_QUERY) and ``document_task_type`` (RETRIEVAL_DOCUMENT).
``send_dimensions`` (default true) asks for ``embed_dim`` outputs. Limits, retries and timeouts: ``rpm``, ``tpm``,
``timeout_s`` (30), ``max_retries`` (5); ``max_batch`` texts per request (Gemini API 100; Vertex 1, since
gemini-embedding-001 takes one instance per request there; text-embedding-005 takes up to 250).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from advisor.errors import UserError
from advisor.models.backends import Backend, BackendCapabilities, Encoder, LoadOptions
from advisor.models.hosted import api_key as read_api_key
from advisor.models.hosted import check_network, client_from_options, estimate_tokens, is_loopback, require_httpx

if TYPE_CHECKING:
    from advisor.models.catalog import ModelEntry

GEMINI_BASE_URL = "https://generativelanguage.googleapis.com"
TASK_TYPES = {"query": "RETRIEVAL_QUERY", "document": "RETRIEVAL_DOCUMENT"}
ESTIMATE = "estimate: 4 characters a token (the Gemini API counts no embedding tokens)"


def base_url(options: dict[str, Any]) -> str:
    if options.get("base_url"):
        return str(options["base_url"]).rstrip("/")
    if options.get("api") == "vertex":
        return f"https://{options.get('location')}-aiplatform.googleapis.com"
    return GEMINI_BASE_URL


class GeminiEncoder(Encoder):
    def __init__(self, entry: "ModelEntry", options: dict[str, Any], key: str | None) -> None:
        self.entry, self.embed_dim = entry, entry.embed_dim
        self.api = str(options.get("api") or "gemini")
        self.model = str(options.get("model") or entry.name)
        base = base_url(options)
        if self.api == "vertex":
            self.url = (f"{base}/v1/projects/{options['project']}/locations/{options['location']}/publishers/google/"
                        f"models/{self.model}:predict")
            headers = {"Authorization": f"Bearer {key}"} if key else {}
        else:
            self.url = f"{base}/v1beta/models/{self.model}:batchEmbedContents"
            headers = {"x-goog-api-key": key} if key else {}
        self.task_types = {"query": str(options.get("query_task_type") or TASK_TYPES["query"]),
                           "document": str(options.get("document_task_type") or TASK_TYPES["document"])}
        self.send_dimensions = bool(options.get("send_dimensions", True))
        self.max_batch = int(options.get("max_batch") or (1 if self.api == "vertex" else 100))
        self.http = client_from_options(entry.name, options, headers)
        self.usage_tokens = 0
        self.info = {"runtime": "http", "api": self.api, "base_url": base, "remote_model": self.model,
                     "network": not is_loopback(base), "task_types": dict(self.task_types),
                     "usage_tokens_source": "response (statistics.token_count)" if self.api == "vertex" else ESTIMATE}

    @property
    def retries(self) -> int:
        return self.http.retries

    def _body(self, texts: list[str], task_type: str) -> dict[str, Any]:
        if self.api == "vertex":
            body: dict[str, Any] = {"instances": [{"content": t, "task_type": task_type} for t in texts]}
            if self.send_dimensions:
                body["parameters"] = {"outputDimensionality": self.embed_dim}
            return body
        requests = []
        for t in texts:
            request: dict[str, Any] = {"model": f"models/{self.model}", "content": {"parts": [{"text": t}]},
                                       "taskType": task_type}
            if self.send_dimensions:
                request["outputDimensionality"] = self.embed_dim
            requests.append(request)
        return {"requests": requests}

    def _vectors(self, data: Any, texts: list[str]) -> np.ndarray:
        try:
            if self.api == "vertex":
                rows = data["predictions"]
                values = [r["embeddings"]["values"] for r in rows]
                counts = [(r["embeddings"].get("statistics") or {}).get("token_count") for r in rows]
            else:
                rows = data["embeddings"]
                values = [r["values"] for r in rows]
                counts = [None] * len(rows)
        except (KeyError, TypeError):
            raise UserError(f"{self.entry.name}: {self.url} answered without the embeddings in the "
                            f"{'predictions[].embeddings.values' if self.api == 'vertex' else 'embeddings[].values'}"
                            f" field") from None
        if len(values) != len(texts):
            raise UserError(f"{self.entry.name}: the server answered {len(values)} embeddings for {len(texts)} "
                            f"inputs")
        self.usage_tokens += sum(int(c) if c is not None else estimate_tokens(t) for c, t in zip(counts, texts))
        vectors = np.asarray(values, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.embed_dim:
            raise UserError(f"{self.entry.name}: the server's vectors have shape {vectors.shape}, the catalog entry "
                            f"says embed_dim {self.embed_dim}")
        return vectors

    def encode(self, texts: Sequence[str], *, kind: str = "document", batch_size: int = 32,
               progress: Any = None) -> np.ndarray:
        prompt = self.entry.query_prompt if kind == "query" else self.entry.document_prompt
        texts = [prompt + t for t in texts]
        task_type = self.task_types["query" if kind == "query" else "document"]
        step = max(1, min(batch_size, self.max_batch))
        out = []
        for i in range(0, len(texts), step):
            chunk = texts[i:i + step]
            data = self.http.post_json(self.url, self._body(chunk, task_type),
                                       tokens=sum(estimate_tokens(t) for t in chunk))
            out.append(self._vectors(data, chunk))
            if progress is not None:
                progress(len(chunk))
        if not out:
            return np.zeros((0, self.embed_dim), dtype=np.float32)
        self.info = {**self.info, "usage_tokens": self.usage_tokens, "retries": self.retries,
                     "rate_limit_wait_s": round(self.http.waited_s, 3)}
        return np.concatenate(out)

    def close(self) -> None:
        self.http.close()


class GeminiBackend(Backend):
    name = "gemini"
    description = "Google embeddings: the Gemini API (batchEmbedContents) and Vertex AI (predict)."
    capabilities = BackendCapabilities(devices=("cpu",), weight_precisions={"cpu": ("fp32",)}, can_truncate=True,
                                       notes="runs remotely: 'cpu' is the client; the server's hardware is its own")

    def load(self, entry: "ModelEntry", options: LoadOptions) -> Encoder:
        require_httpx("the gemini backend")
        opts = dict(entry.options)
        base = base_url(opts)
        check_network(entry.name, base, options.allow_network)
        default_env = "GOOGLE_ACCESS_TOKEN" if opts.get("api") == "vertex" else "GEMINI_API_KEY"
        key = read_api_key(entry.name, str(opts.get("api_key_env") or default_env), base)
        return GeminiEncoder(entry, opts, key)
