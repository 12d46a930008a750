"""Serve a model (``advisor serve``) and load-test a server (``advisor loadtest``).

The server is the query side of a deployment: an ASGI app (Starlette on uvicorn) with OpenAI- and TEI-compatible
endpoints in front of a dynamic batcher that groups requests by a token budget, the way text-embeddings-inference
does. The load generator is open-loop (Poisson arrivals, latency from each request's scheduled send time), so a
slow server cannot slow the arrivals down and hide its own queueing (coordinated omission).

Heavy libraries (starlette, uvicorn, prometheus_client, httpx, matplotlib) are imported inside functions.
"""

from advisor.serving.config import ServeConfig, VectorForm, variant_from_report

__all__ = ["ServeConfig", "VectorForm", "variant_from_report"]
