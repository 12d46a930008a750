"""The HTTP face of a served model: OpenAI-compatible ``POST /v1/embeddings``, TEI-compatible ``POST /embed``,
``GET /health`` and ``GET /metrics`` (Prometheus text), on Starlette."""

from __future__ import annotations

import contextlib
import hmac
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from advisor.models.batcher import Draining, DynamicBatcher, QueueFull, TooLong, input_limit
from advisor.serving.config import (ALLOW_UNTRAINED, WARNING_HEADER, ServeConfig, VectorForm, encode_base64,
                                    untrained_dim, untrained_text)
from advisor.serving.metrics import ServerMetrics

if TYPE_CHECKING:
    from advisor.models.backends import Encoder
    from advisor.models.catalog import ModelEntry


class RequestError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind


@dataclass
class Served:
    """What one server holds: the model, its output form, the batcher and the metrics."""

    entry: "ModelEntry"
    encoder: "Encoder"
    form: VectorForm
    config: ServeConfig
    metrics: ServerMetrics = field(default_factory=ServerMetrics)
    batcher: DynamicBatcher | None = None
    info: dict[str, Any] = field(default_factory=dict)
    warned_dims: set[int] = field(default_factory=set)  # untrained sizes a request asked for, told in the log once

    @property
    def max_tokens(self) -> int | None:
        return input_limit(self.config, self.entry.max_tokens)


def _texts(value: Any, field_name: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    if isinstance(value, list) and not value:
        raise RequestError(422, f"'{field_name}' is an empty list")
    raise RequestError(422, f"'{field_name}' must be a string or a list of strings (token ids are not accepted)")


def untrained_warning(served: Served, dim: int | None) -> str | None:
    """The warning a response carries when its vectors have a size the model was not trained for (None when they
    do not); a request's ``dimensions`` at such a size is refused unless the server allows it."""
    size = dim if dim is not None else served.form.dim
    if not untrained_dim(served.entry, size):
        return None
    if dim is not None and not served.form.allow_untrained:
        raise RequestError(422, f"'dimensions' {dim}: {untrained_text(served.entry, dim)}; ask for one of its "
                                f"trained sizes (the server was not started with {ALLOW_UNTRAINED})")
    text = f"untrained dimensions: {untrained_text(served.entry, size)}"
    if dim is not None and dim not in served.warned_dims:
        served.warned_dims.add(dim)
        print(f"advisor serve: warning: a request asked for 'dimensions' {dim}: {untrained_text(served.entry, dim)}; "
              f"answered because of {ALLOW_UNTRAINED}, with a {WARNING_HEADER} header", file=sys.stderr, flush=True)
    return text


async def _embed(served: Served, texts: list[str], *, dim: int | None,
                 kind: str) -> tuple[np.ndarray, int, dict[str, str]]:
    """Vectors (in the served form), the tokens counted and the response's extra headers (a warning when the
    vectors have an untrained size), through the batcher (which admits the request: counts its tokens and checks
    its length, as the in-process load test's requests are admitted)."""
    assert served.batcher is not None
    if dim is not None:
        full = served.form.dim or served.entry.embed_dim
        if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1 or dim > full:
            raise RequestError(422, f"'dimensions' must be an integer in 1..{full}")
    warning = untrained_warning(served, dim)
    served.metrics.input_count.inc(len(texts))
    try:
        raw, tokens = await served.batcher.embed(texts, kind)
    except TooLong as exc:
        raise RequestError(413, f"{exc} (the server refuses over-long inputs; start it with --truncate to cut them "
                                f"instead)") from None
    return served.form.apply(raw, dim), tokens, ({WARNING_HEADER: warning} if warning else {})


def _kind(body: dict[str, Any], default: str) -> str:
    value = body.get("input_type", default)
    if value not in ("query", "document"):
        raise RequestError(422, "'input_type' must be 'query' or 'document'")
    return value


def build_app(served: Served) -> Any:
    """The Starlette app; its lifespan starts the batcher and, at shutdown, drains it."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    cfg, metrics = served.config, served.metrics

    def error(exc: RequestError, headers: dict[str, str] | None = None) -> JSONResponse:
        metrics.request_failure.labels(err=str(exc.status)).inc()
        return JSONResponse({"error": {"message": exc.message, "type": exc.kind}, "error_type": exc.kind},
                            status_code=exc.status, headers=headers)

    def authorized(request: Request) -> bool:
        if not cfg.api_key:
            return True
        given = request.headers.get("authorization", "")
        scheme, _, token = given.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), cfg.api_key.encode())

    async def body_of(request: Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            raise RequestError(400, "the body is not JSON") from None
        if not isinstance(body, dict):
            raise RequestError(422, "the body must be a JSON object")
        return body

    async def guarded(request: Request, method: str, handler: Any) -> Response:
        t0 = time.perf_counter()
        metrics.request_count.labels(method=method).inc()
        if not authorized(request):
            return error(RequestError(401, "missing or wrong API key (send 'Authorization: Bearer KEY')",
                                      "authentication_error"))
        try:
            response = await handler(await body_of(request))
        except RequestError as exc:
            return error(exc)
        except QueueFull as exc:
            return error(RequestError(429, str(exc), "overloaded"), {"Retry-After": str(exc.retry_after_s)})
        except Draining:
            return error(RequestError(503, "the server is shutting down", "unavailable"), {"Retry-After": "1"})
        metrics.request_success.labels(method=method).inc()
        metrics.request_duration.observe(time.perf_counter() - t0)
        return response

    async def openai_embeddings(request: Request) -> Response:
        async def handle(body: dict[str, Any]) -> Response:
            texts = _texts(body.get("input"), "input")
            fmt = body.get("encoding_format", "float")
            if fmt not in ("float", "base64"):
                raise RequestError(422, "'encoding_format' must be 'float' or 'base64'")
            vectors, tokens, headers = await _embed(served, texts, dim=body.get("dimensions"),
                                                    kind=_kind(body, cfg.kind))
            data = [{"object": "embedding", "index": i,
                     "embedding": encode_base64(v) if fmt == "base64" else v.tolist()}
                    for i, v in enumerate(vectors)]
            return JSONResponse({"object": "list", "data": data, "model": body.get("model") or served.entry.name,
                                 "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}, headers=headers)
        return await guarded(request, "openai", handle)

    async def tei_embed(request: Request) -> Response:
        async def handle(body: dict[str, Any]) -> Response:
            texts = _texts(body.get("inputs"), "inputs")
            kind = {"query": "query", "document": "document", None: cfg.kind}.get(body.get("prompt_name"))
            if kind is None:
                raise RequestError(422, "'prompt_name' must be 'query' or 'document'")
            vectors, tokens, headers = await _embed(served, texts, dim=body.get("dimensions"), kind=kind)
            return JSONResponse(vectors.tolist(), headers={"x-total-tokens": str(tokens), **headers})
        return await guarded(request, "embed", handle)

    async def health(request: Request) -> Response:
        if served.batcher is None or served.batcher.draining:
            return JSONResponse({"status": "draining"}, status_code=503)
        return JSONResponse({"status": "ok", "model": served.entry.name, **served.info,
                             "queue": len(served.batcher.queue)})

    async def metrics_endpoint(request: Request) -> Response:
        payload, content_type = metrics.render()
        return Response(payload, media_type=content_type)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any):
        served.batcher = DynamicBatcher(served.encoder, cfg, metrics, max_tokens=served.max_tokens)
        served.batcher.start()
        try:
            yield
        finally:
            await served.batcher.drain(cfg.drain_timeout_s)

    return Starlette(routes=[Route("/v1/embeddings", openai_embeddings, methods=["POST"]),
                             Route("/embeddings", openai_embeddings, methods=["POST"]),
                             Route("/embed", tei_embed, methods=["POST"]),
                             Route("/health", health, methods=["GET"]),
                             Route("/metrics", metrics_endpoint, methods=["GET"])],
                     lifespan=lifespan)
