"""``advisor serve`` and sizes a model was not trained for (not its full size, not a Matryoshka size of its catalog
entry): refused at start (--dim) and per request ('dimensions') unless the server was started with
--allow-untrained-dims; allowed, the server log and each such response's X-Advisor-Warning header say so. A real
model over real HTTP."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from advisor.cli import cli
from advisor.models.resolve import resolve_model

from .conftest import WORDLLAMA, require_serve_deps, running_server

require_serve_deps()
import httpx  # noqa: E402

TOKENLEARN = "tokenlearn-static-64"  # 64 dims, no Matryoshka size: every smaller size is untrained
HEADER = "X-Advisor-Warning"


def _post(server, body: dict, path: str = "/v1/embeddings") -> httpx.Response:
    return httpx.post(server.url + path, json=body, timeout=30)


def test_an_untrained_dim_is_refused_at_start_with_one_line():
    result = CliRunner().invoke(cli, ["serve", "--model", TOKENLEARN, "--dim", "32"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("advisor: error: --dim 32: tokenlearn-static-64 was trained for its full 64 dims only")
    assert "--allow-untrained-dims" in line


def test_the_catalogs_matryoshka_sizes_are_the_trained_ones():
    entry = resolve_model(WORDLLAMA)
    assert set(entry.matryoshka_dims) == {64, 128, 256}  # what the catalog says, so what serve allows
    result = CliRunner().invoke(cli, ["serve", "--model", WORDLLAMA, "--dim", "100"])
    assert result.exit_code == 2 and "256, 128 and 64 dims only" in result.stderr


@pytest.fixture(scope="module")
def strict():
    with running_server("--model", TOKENLEARN) as srv:
        yield srv


def test_a_request_for_an_untrained_size_is_refused(strict):
    for path, body in (("/v1/embeddings", {"input": "hello", "dimensions": 32}),
                       ("/embed", {"inputs": "hello", "dimensions": 32})):
        response = _post(strict, body, path)
        assert response.status_code == 422, path
        message = response.json()["error"]["message"]
        assert message.startswith("'dimensions' 32: tokenlearn-static-64 was trained for its full 64 dims only")
        assert "--allow-untrained-dims" in message


def test_the_full_size_is_served_without_a_warning(strict):
    response = _post(strict, {"input": "hello", "dimensions": 64})
    assert response.status_code == 200 and HEADER not in response.headers
    assert len(response.json()["data"][0]["embedding"]) == 64


@pytest.fixture(scope="module")
def allowed():
    """Started at an untrained size with the option; yields (server, its log after it stopped)."""
    with running_server("--model", TOKENLEARN, "--dim", "32", "--allow-untrained-dims") as srv:
        answers = {"default": _post(srv, {"input": "hello"}),
                   "tei": _post(srv, {"inputs": ["hello"]}, "/embed"),
                   "request16": _post(srv, {"input": "hello", "dimensions": 16}),
                   "request16again": _post(srv, {"input": "hello again", "dimensions": 16})}
        srv.stop()
        log = srv.proc.stdout.read()
    return answers, log


def test_allowed_every_response_at_an_untrained_size_carries_the_warning(allowed):
    answers, _log = allowed
    for name, response in answers.items():
        assert response.status_code == 200, name
        assert response.headers[HEADER].startswith("untrained dimensions: tokenlearn-static-64 was trained for its "
                                                   "full 64 dims only"), name
    vec = np.array(answers["request16"].json()["data"][0]["embedding"])
    assert vec.shape == (16,) and abs(np.linalg.norm(vec) - 1) < 1e-5
    assert np.array(answers["tei"].json()).shape == (1, 32)


def test_allowed_the_server_log_says_so_at_start_and_once_per_requested_size(allowed):
    _answers, log = allowed
    lines = log.splitlines()
    assert any(x.startswith("advisor serve: warning: --dim 32: tokenlearn-static-64 was trained for") for x in lines)
    asked = [x for x in lines if x.startswith("advisor serve: warning: a request asked for 'dimensions' 16:")]
    assert len(asked) == 1, log
