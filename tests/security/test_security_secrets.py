"""Credentials never reach the results store: a provider's error text that echoes the key it was given (OpenAI's
masked echo, or the whole key) is stored, and printed, redacted; a ``dsn`` with a password in a policy's index
settings is stored without it, while the worker still connects with it. Real sweeps (``advisor run``) against real
servers on 127.0.0.1: an OpenAI-shaped provider that refuses the key, and a PostgreSQL-speaking server that asks for
a password and records what it is sent."""

from __future__ import annotations

import os
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from advisor.errors import REDACTED, redact, redact_dsn

from ..backends.hosted_server import local_api

REPO = Path(__file__).resolve().parents[2]
RETRIEVAL = REPO / "data" / "rt-reviews-plots"


def advisor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    script = Path(sys.executable).parent / "advisor"
    base = [str(script)] if script.exists() else [sys.executable, "-m", "advisor.cli"]
    return subprocess.run(base + list(args), env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
                          capture_output=True, text=True, timeout=600)


def stored_text(store: Path) -> str:
    """Every value of every row of every table of the store, as one text."""
    conn = sqlite3.connect(store)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return "\n".join(str(value) for t in tables for row in conn.execute(f"SELECT * FROM {t}") for value in row)
    finally:
        conn.close()


@pytest.mark.parametrize("key, echo", [
    ("sk-proj-Ab12cdEF34ghIJ56klMN78opQR90stUV", "sk-proj-Ab12********************************stUV"),  # OpenAI's mask
    ("zq-unusual-credential-0042", "zq-unusual-credential-0042"),  # a key of no known shape, echoed whole
], ids=["masked-openai-key", "whole-key-named-by-api_key_env"])
def test_a_providers_error_text_is_stored_without_the_key(tmp_path, key, echo):
    if not (RETRIEVAL / "queries.jsonl").exists():
        pytest.skip("data/rt-reviews-plots not built")

    def refuse(body, headers):
        return 401, {"error": {"message": f"Incorrect API key provided: {echo}. You can find your API key at "
                                          f"https://platform.openai.com/account/api-keys.",
                               "type": "invalid_request_error", "code": "invalid_api_key"}}, {}

    with local_api([(r"/v1/embeddings", refuse)]) as api:
        catalog = tmp_path / "catalog.yaml"
        catalog.write_text(f"""models:
  - name: refused-hosted
    source: builtin:openai
    backend: openai
    license: Apache-2.0
    languages: [eng-Latn]
    embed_dim: 64
    options:
      base_url: {api.url}/v1
      model: text-embedding-3-small
      api_key_env: ADVISOR_TEST_PROVIDER
""", encoding="utf-8")
        store = tmp_path / "s.sqlite"
        done = advisor("run", "--catalog", str(catalog), "--dataset", str(RETRIEVAL), "--store", str(store),
                       "--no-cost", env={"ADVISOR_TEST_PROVIDER": key})
        assert api.requests and api.requests[0]["headers"]["authorization"] == f"Bearer {key}"
    assert done.returncode == 1, done.stderr[-2000:]
    text = stored_text(store)
    assert "Incorrect API key provided: " + REDACTED in text  # the error is kept, less the key
    for secret in {key, echo}:
        assert secret not in text, "the key is in the store"
        assert secret not in done.stdout + done.stderr, "the key was printed"


def _fake_postgres(passwords: list[str]) -> tuple[socket.socket, threading.Thread]:
    """A server on 127.0.0.1 that speaks PostgreSQL's protocol up to the password (declining SSL and GSS
    encryption, asking for a cleartext password), records each password it is sent, then refuses the login."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(120)

    def read(conn: socket.socket, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                try:
                    while True:  # SSLRequest / GSSENCRequest come first: decline, then the startup message
                        length, code = struct.unpack("!ii", read(conn, 8))
                        read(conn, length - 8)
                        if code in (80877103, 80877104):
                            conn.sendall(b"N")
                            continue
                        break
                    conn.sendall(b"R" + struct.pack("!ii", 8, 3))  # AuthenticationCleartextPassword
                    kind, length = struct.unpack("!ci", read(conn, 5))
                    if kind == b"p":
                        passwords.append(read(conn, length - 4).rstrip(b"\0").decode())
                    fields = b"SFATAL\0C28P01\0Mpassword authentication failed\0\0"
                    conn.sendall(b"E" + struct.pack("!i", len(fields) + 4) + fields)
                except (ConnectionError, OSError, struct.error):
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener, thread


def test_a_dsn_password_in_a_policy_is_never_stored(tmp_path):
    pytest.importorskip("psycopg", reason="pgvector needs psycopg")
    if not (RETRIEVAL / "queries.jsonl").exists():
        pytest.skip("data/rt-reviews-plots not built")
    passwords: list[str] = []
    listener, thread = _fake_postgres(passwords)
    port = listener.getsockname()[1]
    secret = "hunter2-in-the-policy"
    policy = tmp_path / "policy.yaml"
    policy.write_text(f"""name: pg
baselines: []
variants:
  dims: [full]
  vector_precisions: [float32]
  indexes:
    - {{name: pgvector-hnsw, dsn: "postgresql://advisor:{secret}@127.0.0.1:{port}/vectors?sslmode=disable"}}
""", encoding="utf-8")
    store = tmp_path / "s.sqlite"
    try:
        done = advisor("run", "--model", "wordllama-l2-supercat-256", "--policy", str(policy), "--dataset",
                       str(RETRIEVAL), "--store", str(store), "--no-cost")
    finally:
        listener.close()
        thread.join(10)
    assert passwords and set(passwords) == {secret}, "the worker did not connect with the policy's password"
    text = stored_text(store)
    assert secret not in text and secret not in done.stdout + done.stderr
    assert f"postgresql://advisor@127.0.0.1:{port}/vectors?sslmode=disable" in text  # the rest of it is kept


@pytest.mark.parametrize("text, secret", [
    ("401 Authorization: Bearer abcdef0123456789", "abcdef0123456789"),
    ('{"api_key": "qwertyuiop123"}', "qwertyuiop123"),
    ("x-goog-api-key: AIzaSyA1234567890abcdefghijklmnopq", "AIzaSyA1234567890abcdefghijklmnopq"),
    ("could not connect to postgresql://u:pa55word@db/x", "pa55word"),
    ("token hf_abcdefghijklmnopqrstuvwxyz01 is invalid", "hf_abcdefghijklmnopqrstuvwxyz01"),
])
def test_redact_removes_every_credential_shape(text, secret):
    assert secret not in redact(text) and REDACTED in redact(text)


def test_redact_dsn_drops_only_the_password():
    assert redact_dsn("postgresql://u:pw@db:5432/x?sslmode=require&password=p2") == \
        "postgresql://u@db:5432/x?sslmode=require"
    assert redact_dsn("host=db password='a b' dbname=x") == "host=db dbname=x"
