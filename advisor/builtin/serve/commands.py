"""``advisor serve`` and ``advisor loadtest``: presentation only; the work is ``advisor.serving``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from advisor.errors import UserError
from advisor.formatting import cell, number
from advisor.options import (ONE, allow_network_option, batch_size_option, catalog_option, deprecated_alias,
                              device_option, json_option, option, weights_option)


@click.command("serve")
@option("--model", ONE)
@click.option("--report", "report", default=None, type=click.Path(path_type=Path),
              help="A report.json: serve its recommended model at its recommended variant.")
@catalog_option
@device_option()
@weights_option
@option("--dim", ONE)
@option("--vector-precision", ONE)
@batch_size_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback exposes the model to the network and needs "
                   "--api-key-env (or --insecure). On loopback, a request whose Host is not this machine is "
                   "refused (421).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--max-batch-tokens", default=16384, show_default=True, type=click.IntRange(1),
              help="Dynamic batching: most tokens in one batch.")
@option("--max-batch-requests")
@option("--max-wait-ms")
@click.option("--max-queue", default=512, show_default=True, type=click.IntRange(1),
              help="Requests that may wait (being tokenized or queued); the next is answered 429 with Retry-After, "
                   "before it is tokenized.")
@option("--max-concurrent-requests")
@option("--max-body-bytes")
@option("--max-inputs")
@click.option("--max-input-tokens", default=None, type=click.IntRange(1),
              help="Longest input in tokens. Default: the model's max_tokens.")
@click.option("--truncate/--no-truncate", default=True, show_default=True,
              help="Cut over-long inputs to the limit, or refuse them (413).")
@click.option("--allow-untrained-dims", is_flag=True,
              help="Serve (--dim) or answer (a request's 'dimensions') sizes the model was not trained for (not its "
                   "full size nor a Matryoshka size of its catalog entry); the log and each such response's "
                   "X-Advisor-Warning header say so. Without it they are refused.")
@option("--api-key-env")
@option("--insecure")
@option("--input-type")
@deprecated_alias("--kind", "--input-type")
@allow_network_option
@click.option("--drain-timeout", default=30.0, show_default=True, type=click.FloatRange(0),
              help="Seconds shutdown waits for queued and open requests.")
def serve_command(model, report, catalogs, device, weight_precision, dim, vector_precision, batch_size, host, port,
                  max_batch_tokens, max_batch_requests, max_wait_ms, max_queue, max_concurrent_requests,
                  max_body_bytes, max_inputs, max_input_tokens, truncate, allow_untrained_dims, api_key_env, insecure,
                  input_type, allow_network, drain_timeout):
    """Serve a model (or a report's recommended variant) over HTTP: OpenAI /v1/embeddings and /v1/models, TEI
    /embed, /health, /metrics."""
    from advisor.serving.config import ServeConfig, VectorForm, variant_from_report
    from advisor.serving.server import check_exposure, prepare, serve

    runtime = None
    if report is not None:
        if model is not None:
            raise UserError("give --model or --report, not both")
        chosen = variant_from_report(report)
        model, runtime = chosen.model, chosen.runtime
        device = device if click.get_current_context().get_parameter_source("device").name == "COMMANDLINE" \
            else chosen.device
        weight_precision = weight_precision or chosen.weight_precision
        label = chosen.source.get("label") or model
        if dim is None and chosen.dim is not None and not allow_untrained_dims:
            _refuse_untrained(model, catalogs, chosen.dim, f"report {report} picks {label}")
        dim = dim if dim is not None else chosen.dim
        if chosen.instead_of is not None:
            click.echo(f"advisor serve: the report recommends {chosen.instead_of}, which has no vectors to serve; "
                       f"serving its best-ranked embedding model instead: {label} (position "
                       f"{chosen.source.get('position')})", err=True)
        else:
            click.echo(f"advisor serve: the report recommends {label}", err=True)
        if vector_precision is None and chosen.vector_precision == "int8":
            vector_precision = "float32"
            click.echo("advisor serve: int8 vectors are quantized by the index with the ranges it calibrates on its "
                       "documents; serving float32 vectors for it to quantize", err=True)
        vector_precision = vector_precision or chosen.vector_precision
    if model is None:
        raise UserError("give --model NAME or --report report/report.json")
    api_key = None
    if api_key_env:
        api_key = os.environ.get(api_key_env)
        if not api_key:
            raise UserError(f"--api-key-env {api_key_env}: that environment variable is not set or empty")
    config = ServeConfig(host=host, port=port, max_batch_tokens=max_batch_tokens,
                         max_batch_requests=max_batch_requests, max_wait_ms=max_wait_ms, max_queue=max_queue,
                         max_input_tokens=max_input_tokens, truncate=truncate, api_key=api_key, kind=input_type,
                         drain_timeout_s=drain_timeout, batch_size=batch_size, max_body_bytes=max_body_bytes,
                         max_inputs=max_inputs, max_concurrent_requests=max_concurrent_requests, insecure=insecure)
    check_exposure(config)  # before the model loads: a server exposed without a key costs nothing to refuse
    served = prepare(model, catalogs=list(catalogs), device=device, weight_precision=weight_precision,
                     runtime=runtime, form=VectorForm(dim=dim, precision=vector_precision or "float32",
                                                      allow_untrained=allow_untrained_dims),
                     config=config, allow_network=allow_network)
    serve(served)


def _refuse_untrained(model: str, catalogs, dim: int, picked: str) -> None:
    """A report's size the model was not trained for is served only when asked to (as --dim's is)."""
    from advisor.models.resolve import resolve_model
    from advisor.serving.config import ALLOW_UNTRAINED, untrained_dim, untrained_text

    entry = resolve_model(model, list(catalogs) or None)
    if untrained_dim(entry, dim):
        raise UserError(f"{picked}, at {dim} dims: {untrained_text(entry, dim)}; start with {ALLOW_UNTRAINED} to "
                        f"serve it as the report measured it, or give --dim with one of its trained sizes")


def _rates(value: str) -> list[float]:
    try:
        rates = [float(v) for v in value.replace(" ", "").split(",") if v]
    except ValueError:
        raise UserError(f"--rates '{value}': give numbers separated by commas, e.g. 5,10,20") from None
    if not rates or any(r <= 0 for r in rates):
        raise UserError(f"--rates '{value}': every rate must be above 0")
    return rates


@click.command("loadtest")
@click.argument("url")
@click.option("--rates", default="5,10,20,40", show_default=True,
              help="Target request rates (requests/s), comma separated; each is run in turn, lowest first.")
@click.option("--requests", default=200, show_default=True, type=click.IntRange(1),
              help="Most requests sent at each rate.")
@click.option("--duration", default=10.0, show_default=True, type=click.FloatRange(0.1),
              help="Most seconds of arrivals at each rate.")
@click.option("--endpoint", default="openai", show_default=True, type=click.Choice(["openai", "tei"]),
              help="Request shape: POST /v1/embeddings or POST /embed.")
@click.option("--texts", "texts_file", default=None, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="File with one text per line to send (cycled). Default: a few short queries.")
@option("--model", "sent")
@option("--api-key-env")
@click.option("--timeout", default=10.0, show_default=True, type=click.FloatRange(0.01),
              help="Seconds before one request counts as timed out.")
@click.option("--seed", default=0, show_default=True, type=int,
              help="Random seed (the same seed repeats the same random choices).")
@click.option("--plot", "plot_file", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Write a latency-vs-QPS plot (PNG) here.")
@json_option
def loadtest_command(url, rates, requests, duration, endpoint, texts_file, model, api_key_env, timeout, seed,
                     plot_file, as_json):
    """Open-loop load test of an embeddings server on this machine: p50/p95/p99 and achieved QPS per rate, and
    the saturation point."""
    from advisor.serving.loadgen import DEFAULT_TEXTS, PROBE, plot, require_loopback, run_loadtest

    require_loopback(url)  # before anything else, so a wrong host costs nothing
    texts = DEFAULT_TEXTS
    if texts_file is not None:
        texts = tuple(line for line in texts_file.read_text(encoding="utf-8").splitlines() if line.strip())
        if not texts:
            raise UserError(f"--texts {texts_file}: the file has no non-empty lines")
    api_key = os.environ.get(api_key_env) if api_key_env else None
    if api_key_env and not api_key:
        raise UserError(f"--api-key-env {api_key_env}: that environment variable is not set or empty")
    result = run_loadtest(url, _rates(rates), requests=requests, duration_s=duration, endpoint=endpoint,
                          texts=texts, model=model, api_key=api_key, timeout_s=timeout, seed=seed)
    if plot_file is not None:
        plot(result, plot_file)
    if as_json:
        data = result.to_dict()
        if plot_file is not None:
            data["plot"] = str(plot_file)
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"{'target/s':>9} {'sent':>5} {'ok':>5} {'429':>4} {'err':>4} {'achieved/s':>10} "
               f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    ms = lambda v: cell(v, decimals=1).rjust(8)  # noqa: E731
    for r in result.rates:
        # past saturation the percentiles are the queue's growth over the run: said on the row, not left to be read
        # as the server's latency
        probe = "" if result.kept_up(r) else f"  {PROBE} (not kept up: not a latency)"
        click.echo(f"{number(r.target_qps, digits=6):>9} {r.sent:5d} {r.ok:5d} {r.rejected:4d} "
                   f"{r.errors + r.timed_out:4d} {number(r.achieved_qps, decimals=1):>10} {ms(r.p50_ms)} "
                   f"{ms(r.p95_ms)} {ms(r.p99_ms)}{probe}")
    rate = lambda v: f"{number(v, digits=6)}/s"  # noqa: E731
    if result.saturated_at is None:
        click.echo(f"saturation: not reached; sustained every rate up to {rate(result.saturation_qps)}")
    else:
        sustained = rate(result.saturation_qps) if result.saturation_qps is not None else "no rate"
        click.echo(f"saturation: sustained {sustained}; not {rate(result.saturated_at)}")
    click.echo(f"({result.rule})")
    if plot_file is not None:
        click.echo(f"plot: {plot_file}")
