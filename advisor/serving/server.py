"""Load a model at a variant and run it under uvicorn until a signal; shutdown drains the queue."""

from __future__ import annotations

import sys
from typing import Any

from advisor.errors import UserError
from advisor.models.hosted import is_loopback
from advisor.serving.config import (ALLOW_UNTRAINED, WARNING_HEADER, ServeConfig, VectorForm, untrained_dim,
                                    untrained_text)


def prepare(model: str | None, *, catalogs: list[Any] | None = None, device: str = "cpu",
            weight_precision: str | None = None, runtime: str | None = None, form: VectorForm = VectorForm(),
            config: ServeConfig = ServeConfig(), allow_network: bool = False) -> Any:
    """The model named ``model`` (a catalog name, folder or hub id) loaded at this variant, wrapped for serving."""
    from advisor.models.backends import LoadOptions
    from advisor.models.resolve import resolve_model

    if model is None:
        raise UserError("give --model NAME or --report report/report.json")
    entry = resolve_model(model, catalogs or None)
    options = LoadOptions(device=device, weight_precision=weight_precision, runtime=runtime,
                          allow_network=allow_network)
    return load_served(entry, options, form=form, config=config)


def load_served(entry: Any, options: Any, *, form: VectorForm = VectorForm(),
                config: ServeConfig = ServeConfig()) -> Any:
    """``entry`` loaded with ``options`` (``LoadOptions``) through ``load_encoder``, the one encode path, wrapped
    for serving and warmed up. ``advisor serve`` comes here through ``prepare``; a cost cell's served load test
    through ``python -m advisor.serving SPEC`` with the entry and options it has loaded itself."""
    from advisor.models.backends import load_encoder
    from advisor.serving.app import Served

    if form.dim is not None and form.dim > entry.embed_dim:
        raise UserError(f"--dim {form.dim} is larger than {entry.name}'s output size {entry.embed_dim}")
    if untrained_dim(entry, form.dim) and not form.allow_untrained:
        raise UserError(f"--dim {form.dim}: {untrained_text(entry, form.dim)}; serve one of its trained sizes, or "
                        f"start with {ALLOW_UNTRAINED} to serve {form.dim} anyway")
    encoder = load_encoder(entry, options)
    encoder.warmup()
    info = {"embed_dim": form.dim or entry.embed_dim, "vector_precision": form.precision, "device": options.device,
            "weight_precision": options.precision_for(entry),
            "max_input_tokens": config.max_input_tokens or entry.max_tokens,
            "trained_dims": list(entry.trained_dims()),
            "runtime": dict(encoder.info).get("runtime") or dict(encoder.info).get("backend")}
    return Served(entry=entry, encoder=encoder, form=form, config=config, info=info)


def check_exposure(cfg: ServeConfig) -> None:
    """A server on an address other than loopback answers the network: it needs an API key, unless the user says
    it may do without one (``--insecure``)."""
    if not is_loopback(cfg.host) and not cfg.api_key and not cfg.insecure:
        raise UserError(f"--host {cfg.host} listens beyond this machine, and without an API key anyone who reaches "
                        f"it can use the model: give --api-key-env VAR, or --insecure to serve without a key")


def serve(served: Any, *, log_level: str | None = None) -> None:
    """Run until SIGINT/SIGTERM. uvicorn stops accepting, lets open requests finish (up to the drain timeout),
    then the app's lifespan drains the batcher; the model is closed last. uvicorn logs its warnings only, and no
    access lines, unless ``advisor --verbose`` asked for more (``log_level`` overrides)."""
    import uvicorn

    from advisor.logs import verbosity
    from advisor.serving.app import build_app

    cfg = served.config
    check_exposure(cfg)
    if not is_loopback(cfg.host) and not cfg.api_key:
        print(f"advisor serve: warning: listening on {cfg.host} without an API key (--insecure): anyone who reaches "
              f"it can use the model", file=sys.stderr)
    if untrained_dim(served.entry, served.form.dim):
        print(f"advisor serve: warning: --dim {served.form.dim}: {untrained_text(served.entry, served.form.dim)}; "
              f"served because of {ALLOW_UNTRAINED}, and every response says so in its {WARNING_HEADER} header",
              file=sys.stderr, flush=True)
    app = build_app(served)
    verbose = verbosity()
    level = log_level or ("warning" if verbose == 0 else "info" if verbose == 1 else "debug")
    server = uvicorn.Server(uvicorn.Config(app, host=cfg.host, port=cfg.port, log_level=level,
                                           access_log=verbose > 0, timeout_graceful_shutdown=int(cfg.drain_timeout_s),
                                           lifespan="on"))
    print(f"advisor serve: {served.entry.name} on http://{cfg.host}:{cfg.port} (POST /v1/embeddings, /embed; "
          f"GET /v1/models, /health, /metrics)", file=sys.stderr, flush=True)
    try:
        server.run()
    finally:
        served.encoder.close()
    if not server.started:
        raise UserError(f"could not listen on {cfg.host}:{cfg.port} (is the port in use?)")
