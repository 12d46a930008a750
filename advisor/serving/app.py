"""The HTTP face of a served model: OpenAI-compatible ``POST /v1/embeddings`` and ``GET /v1/models``,
TEI-compatible ``POST /embed``, ``GET /health`` and ``GET /metrics`` (Prometheus text), on Starlette.

Every request passes the guard first (``Guard``), before its body is read: on a loopback address its ``Host`` must
name this machine (a DNS-rebinding page names its own host), the API key when one is set (every route but
``/health``), and a place among ``max_concurrent_requests``. Then the body: ``application/json`` only, read in
chunks up to ``max_body_bytes``, parsed, its fields checked; each refusal is a 4xx with a JSON message, never a
traceback.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import re
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from advisor.config.network import is_loopback
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


def _texts(value: Any, field_name: str, most: int) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and len(value) > most:
        raise RequestError(413, f"'{field_name}' holds {len(value)} texts, more than the {most} a request may send "
                                f"(the server's --max-inputs); send them in several requests")
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    if isinstance(value, list) and not value:
        raise RequestError(422, f"'{field_name}' is an empty list")
    raise RequestError(422, f"'{field_name}' must be a string or a list of strings (token ids are not accepted)")


def _model(body: dict[str, Any], served: Served) -> str:
    """The model a response names: always the served one (as TEI answers); a request's ``model`` must be a
    string, and is not echoed back."""
    value = body.get("model")
    if value is not None and not isinstance(value, str):
        raise RequestError(422, "'model' must be a string")
    return served.entry.name


# The hosts a loopback server answers to: this machine by name or address. A page that rebinds its own domain to
# 127.0.0.1 sends that domain in Host, so it is refused.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def host_allowed(host: str | None, listening_on: str) -> bool:
    """Whether a request's ``Host`` header names this loopback server: ``127.0.0.1``, ``localhost``, ``[::1]`` or
    the address it listens on, each with or without a port."""
    own = f"[{listening_on}]" if ":" in listening_on else listening_on
    names = "|".join(re.escape(name) for name in {*LOOPBACK_HOSTS, own})
    return bool(host) and re.fullmatch(rf"(?:{names})(?::\d{{1,5}})?", host, re.IGNORECASE) is not None


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


class Guard:
    """Pure ASGI middleware that decides, from the request line and headers alone, whether a request is answered:
    its ``Host`` (on a loopback address), its API key (every route but ``/health``) and a place among
    ``max_concurrent_requests`` (429 past it). Nothing of a refused request's body is read."""

    OPEN = ("/health",)  # answered without the key: a load balancer's probe carries none

    def __init__(self, app: Any, served: Served) -> None:
        self.app, self.served = app, served
        self.in_flight = 0

    def refusal(self, scope: dict[str, Any]) -> tuple[RequestError, dict[str, str]] | None:
        from starlette.datastructures import Headers

        cfg = self.served.config
        headers = Headers(scope=scope)
        if is_loopback(cfg.host) and not host_allowed(headers.get("host"), cfg.host):
            return RequestError(421, f"this server answers requests for {', '.join(LOOPBACK_HOSTS)} only (Host: "
                                     f"{(headers.get('host') or 'missing')[:100]!r})", "misdirected_request"), {}
        if cfg.api_key and scope.get("path") not in self.OPEN and not authorized(headers, cfg.api_key):
            return RequestError(401, "missing or wrong API key (send 'Authorization: Bearer KEY')",
                                "authentication_error"), {}
        if self.in_flight >= cfg.max_concurrent_requests:
            return (RequestError(429, f"{cfg.max_concurrent_requests} requests are being handled (the server's "
                                      f"--max-concurrent-requests); retry later", "overloaded"), {"Retry-After": "1"})
        return None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = self.refusal(scope)
        if refused is not None:
            exc, headers = refused
            await error_response(self.served, exc, headers)(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


def authorized(headers: Any, api_key: str) -> bool:
    given = headers.get("authorization", "")
    scheme, _, token = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), api_key.encode())


def error_response(served: Served, exc: RequestError, headers: dict[str, str] | None = None) -> Any:
    from starlette.responses import JSONResponse

    served.metrics.request_failure.labels(err=str(exc.status)).inc()
    return JSONResponse({"error": {"message": exc.message, "type": exc.kind}, "error_type": exc.kind},
                        status_code=exc.status, headers=headers)


async def read_body(request: Any, limit: int) -> dict[str, Any]:
    """The request's JSON object, read in chunks and refused (413) once it passes ``limit`` bytes, so an oversized
    body is never held whole; 415 for a body that is not ``application/json``, 400 for one that does not parse
    (too deeply nested included)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise RequestError(415, f"the body must be JSON sent as 'Content-Type: application/json' (got "
                                f"{media[:100]!r})", "unsupported_media_type")
    declared = request.headers.get("content-length", "")
    too_big = RequestError(413, f"the body is larger than the {limit} bytes a request may send (the server's "
                                f"--max-body-bytes)", "payload_too_large")
    if declared.isdigit() and int(declared) > limit:
        raise too_big
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_big
        chunks.append(chunk)
    try:
        body = json.loads(b"".join(chunks))
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser's stack
        raise RequestError(400, "the body is not JSON (or is nested too deeply)") from None
    if not isinstance(body, dict):
        raise RequestError(422, "the body must be a JSON object")
    return body


def build_app(served: Served) -> Any:
    """The Starlette app behind its guard; its lifespan starts the batcher and, at shutdown, drains it."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    cfg, metrics = served.config, served.metrics

    def error(exc: RequestError, headers: dict[str, str] | None = None) -> Response:
        return error_response(served, exc, headers)

    async def guarded(request: Request, method: str, handler: Any) -> Response:
        t0 = time.perf_counter()
        metrics.request_count.labels(method=method).inc()
        try:
            response = await handler(await read_body(request, cfg.max_body_bytes))
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
            texts = _texts(body.get("input"), "input", cfg.max_inputs)
            model = _model(body, served)
            fmt = body.get("encoding_format", "float")
            if fmt not in ("float", "base64"):
                raise RequestError(422, "'encoding_format' must be 'float' or 'base64'")
            vectors, tokens, headers = await _embed(served, texts, dim=body.get("dimensions"),
                                                    kind=_kind(body, cfg.kind))
            data = [{"object": "embedding", "index": i,
                     "embedding": encode_base64(v) if fmt == "base64" else v.tolist()}
                    for i, v in enumerate(vectors)]
            return JSONResponse({"object": "list", "data": data, "model": model,
                                 "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}, headers=headers)
        return await guarded(request, "openai", handle)

    async def tei_embed(request: Request) -> Response:
        async def handle(body: dict[str, Any]) -> Response:
            texts = _texts(body.get("inputs"), "inputs", cfg.max_inputs)
            name = body.get("prompt_name")
            if name is not None and name not in ("query", "document"):
                raise RequestError(422, "'prompt_name' must be 'query' or 'document'")
            vectors, tokens, headers = await _embed(served, texts, dim=body.get("dimensions"), kind=name or cfg.kind)
            return JSONResponse(vectors.tolist(), headers={"x-total-tokens": str(tokens), **headers})
        return await guarded(request, "embed", handle)

    async def models(request: Request) -> Response:
        """OpenAI's model list: the one model this server serves."""
        return JSONResponse({"object": "list", "data": [{"id": served.entry.name, "object": "model", "created": 0,
                                                         "owned_by": "embedding-advisor"}]})

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
                             Route("/v1/models", models, methods=["GET"]),
                             Route("/health", health, methods=["GET"]),
                             Route("/metrics", metrics_endpoint, methods=["GET"])],
                     middleware=[Middleware(Guard, served=served)], lifespan=lifespan)
