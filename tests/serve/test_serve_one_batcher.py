"""One batcher: the cost cell's in-process load test drives the very batcher class ``advisor serve`` instantiates, and
the served load test's server is started from a ``ServeSpec`` file (``python -P -m advisor.serving``), not a CLI
flag. A real shipped model, a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from advisor.cost.inprocess_load import run_load
from advisor.models.backends import LoadOptions, load_encoder
from advisor.models.batcher import input_limit, qualified_name
from advisor.models.resolve import resolve_model
from advisor.models.serve_config import ServeConfig, ServeSpec

from .conftest import REPO, WORDLLAMA, free_port, require_serve_deps

require_serve_deps()
import httpx  # noqa: E402

QUERIES = ["a gripping thriller with a weak ending", "the cast is wonderful", "boring and far too long"]


@pytest.fixture(scope="module")
def entry():
    return resolve_model(WORDLLAMA)


def test_the_inprocess_load_test_runs_the_batcher_class_advisor_serve_instantiates(entry):
    import uvicorn

    from advisor.serving.app import build_app
    from advisor.serving.server import load_served

    config = ServeConfig(host="127.0.0.1", port=free_port(), max_batch_requests=4)
    encoder = load_encoder(entry, LoadOptions())
    try:
        inprocess = run_load(encoder, QUERIES, config=config, rate_qps=100.0, requests=12,
                             max_tokens=input_limit(config, entry.max_tokens))
    finally:
        encoder.close()

    served = load_served(entry, LoadOptions(), config=config)
    server = uvicorn.Server(uvicorn.Config(build_app(served), host=config.host, port=config.port, lifespan="on",
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        answer = httpx.post(f"http://127.0.0.1:{config.port}/v1/embeddings", json={"input": QUERIES[0]}, timeout=30)
        assert answer.status_code == 200
        server_batcher = qualified_name(type(served.batcher))
    finally:
        server.should_exit = True
        thread.join(60)
        served.encoder.close()
    assert inprocess.batcher == server_batcher == "advisor.models.batcher.DynamicBatcher"
    assert inprocess.ok == 12
    # the same batcher around the same model answers the same vector (the server re-normalizes it)
    mine = inprocess.vectors[0] / np.linalg.norm(inprocess.vectors[0])
    np.testing.assert_allclose(answer.json()["data"][0]["embedding"], mine, atol=1e-5)


def test_the_spec_entry_serves_loopback_only(tmp_path, entry):
    """``python -P -m advisor.serving SPEC`` refuses any host but this machine's, in one line, before loading."""
    spec = tmp_path / "spec.json"
    spec.write_text(ServeSpec(entry, LoadOptions(), ServeConfig(host="0.0.0.0", port=free_port())).to_json(),
                    encoding="utf-8")
    proc = subprocess.run([sys.executable, "-P", "-m", "advisor.serving", str(spec)], capture_output=True, text=True,
                          timeout=120, cwd=REPO)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("advisor: error:") and "0.0.0.0 is not a loopback address" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1


def test_a_serve_spec_round_trips_through_json(entry):
    spec = ServeSpec(entry, LoadOptions(weight_precision="fp32"), ServeConfig(max_batch_requests=1, port=1234))
    again = ServeSpec.from_json(spec.to_json())
    assert again == spec and json.loads(spec.to_json())["config"]["max_batch_requests"] == 1


def test_advisor_serve_takes_no_hidden_load_spec_flag():
    from click.testing import CliRunner

    from advisor.cli import cli

    result = CliRunner().invoke(cli, ["serve", "--load-spec", "x.json"])
    assert result.exit_code == 2 and "No such option '--load-spec'" in result.output
