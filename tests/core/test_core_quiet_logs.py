"""Quiet terminals: the libraries the advisor drives write warnings and errors only, whatever they do at import
(wordllama turns INFO logging on for the whole process, bm25s sets its own logger to DEBUG), in every process the
advisor starts; ``advisor --verbose`` lets their INFO lines through. Real processes, real libraries, a real served
load test."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from advisor.logs import ENV

SNIPPET = """
import logging, sys
from advisor.logs import configure
configure({verbose})
import wordllama, bm25s  # wordllama: logging.basicConfig(level=INFO); bm25s: its logger at DEBUG
logging.getLogger("httpx").info("HTTP Request: POST http://127.0.0.1/v1/embeddings")
logging.getLogger("bm25s").debug("Building index from IDs objects")
logging.getLogger("httpx").warning("a warning still shows")
"""


def _python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def test_a_library_that_turns_on_info_logging_at_import_stays_quiet():
    proc = _python(SNIPPET.format(verbose=0))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == ["WARNING httpx: a warning still shows"]


def test_verbose_lets_the_info_lines_through_but_not_debug():
    proc = _python(SNIPPET.format(verbose=1))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == ["INFO httpx: HTTP Request: POST http://127.0.0.1/v1/embeddings",
                                        "WARNING httpx: a warning still shows"]


def test_a_started_process_inherits_the_level():
    proc = _python(SNIPPET.format(verbose=None), env={ENV: "2"})  # what a sweep worker or served server does
    assert "DEBUG bm25s: Building index from IDs objects" in proc.stderr.splitlines()


def _measure(repo, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "advisor.cli", *options, "measure", "--model",
                           "wordllama-l2-supercat-256", "--dataset", str(repo / "data" / "rt-reviews-plots"),
                           "--docs", "16", "--queries", "10", "--load-requests", "12", "--load-server", "subprocess",
                           "--no-memory"], capture_output=True, text=True, timeout=600, cwd=repo,
                          env={**os.environ, ENV: "0"})


@pytest.mark.slow
def test_a_served_load_test_prints_no_request_lines(repo):
    pytest.importorskip("uvicorn")
    proc = _measure(repo)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "load_server subprocess" not in proc.stdout  # no note of a fallback: a real advisor serve answered
    assert not [line for line in proc.stderr.splitlines() if "HTTP Request" in line or "INFO" in line], \
        proc.stderr[-2000:]


@pytest.mark.slow
def test_verbose_shows_the_served_load_tests_requests(repo):
    pytest.importorskip("uvicorn")
    proc = _measure(repo, "--verbose")
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stderr.splitlines()
    assert any(line.startswith("INFO httpx: HTTP Request: POST http://127.0.0.1:") for line in lines)


@pytest.mark.slow
def test_a_sweep_workers_served_load_test_prints_no_request_lines(repo, tmp_path):
    """The sweep's worker is a fresh (spawned) interpreter: it sets its own logging, as the driver's was set."""
    pytest.importorskip("uvicorn")
    import json
    import sqlite3

    policy = tmp_path / "served.yaml"
    policy.write_text("name: served\nlanguages:\n  require: [en]\ncosts:\n  load_server: subprocess\nbaselines: []\n",
                      encoding="utf-8")
    store = tmp_path / "results.sqlite"
    proc = subprocess.run([sys.executable, "-m", "advisor.cli", "run", "--catalog", "offline", "--policy", str(policy),
                           "--dataset", str(repo / "data" / "rt-reviews-plots"), "--model",
                           "wordllama-l2-supercat-256", "--store", str(store)], capture_output=True, text=True,
                          timeout=900, cwd=tmp_path, env={**os.environ, ENV: "0"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    with sqlite3.connect(store) as db:
        (details,) = db.execute("SELECT details FROM cells WHERE kind = 'cost'").fetchone()
    assert json.loads(details)["load_test"]["source"] == "advisor serve subprocess"  # a real server answered
    assert not [line for line in proc.stderr.splitlines() if "HTTP Request" in line or "INFO" in line], \
        proc.stderr[-2000:]
