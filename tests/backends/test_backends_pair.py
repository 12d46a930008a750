"""Pair entries in a catalog: ``query_model`` and ``document_model`` naming two entries (in the file, another file
given with it, or a shipped catalog) become one candidate of backend ``pair``; a pair whose spaces cannot match is
refused in one line with the reason."""

from __future__ import annotations

import numpy as np
import pytest

from advisor.errors import ConfigError
from advisor.models.catalog import load_catalog, load_catalogs


def _catalog(path, body: str):
    path.write_text("models:\n" + body)
    return path


def test_pair_entry_takes_vectors_from_the_document_side(tmp_path):
    path = _catalog(tmp_path / "c.yaml", "  - {name: p, query_model: all-MiniLM-L6-v2-onnx-int8, "
                                         "document_model: all-MiniLM-L6-v2}\n")
    (pair,) = load_catalog(path)
    assert pair.backend == "pair" and pair.embed_dim == 384 and pair.license == "Apache-2.0"
    assert pair.options["query_model"]["backend"] == "onnx" and pair.options["document_model"]["backend"] == "torch"


def test_pair_with_different_sizes_is_refused_with_the_reason(tmp_path):
    path = _catalog(tmp_path / "c.yaml", "  - {name: p, query_model: wordllama-l2-supercat-256, "
                                         "document_model: all-MiniLM-L6-v2}\n")
    with pytest.raises(ConfigError) as exc:
        load_catalog(path)
    message = str(exc.value)
    assert "\n" not in message and "entry 'p'" in message
    assert "256-d" in message and "384-d" in message and "spaces do not match" in message


def test_pair_naming_an_unknown_model_is_refused(tmp_path):
    path = _catalog(tmp_path / "c.yaml", "  - {name: p, query_model: no-such-model, document_model: all-MiniLM-L6-v2}\n")
    with pytest.raises(ConfigError, match="field 'query_model': 'no-such-model' names no catalog entry"):
        load_catalog(path)


def test_pair_of_a_pair_is_refused(tmp_path):
    path = _catalog(tmp_path / "c.yaml",
                    "  - {name: p, query_model: all-MiniLM-L6-v2-onnx-int8, document_model: all-MiniLM-L6-v2}\n"
                    "  - {name: pp, query_model: p, document_model: all-MiniLM-L6-v2}\n")
    with pytest.raises(ConfigError, match="'p' is itself a pair"):
        load_catalog(path)


def test_pair_resolves_names_from_another_catalog_given_with_it(tmp_path):
    models = _catalog(tmp_path / "models.yaml", "  - {name: hashed, source: 'builtin:x', backend: torch, "
                                                "embed_dim: 384, license: MIT, languages: [eng-Latn]}\n")
    pairs = _catalog(tmp_path / "pairs.yaml", "  - {name: p, query_model: hashed, document_model: all-MiniLM-L6-v2}\n")
    entries = {e.name: e for e in load_catalogs([models, pairs])}
    assert entries["p"].options["query_model"]["name"] == "hashed"
    assert entries["p"].license == "unknown"  # MIT beside Apache-2.0: both terms apply
    with pytest.raises(ConfigError, match="unknown field"):
        load_catalog(_catalog(tmp_path / "bad.yaml", "  - {name: p, query_model: a, document_model: b, pooling: x}\n"))


def test_pair_backend_routes_each_kind_to_its_side(tmp_path, minilm_dir):
    from advisor.models.backends import get_backend, load_encoder

    assert get_backend("pair").name == "pair"
    (pair,) = load_catalog(_catalog(tmp_path / "c.yaml", "  - {name: p, query_model: all-MiniLM-L6-v2-onnx-int8, "
                                                         "document_model: all-MiniLM-L6-v2}\n"))
    encoder = load_encoder(pair, device="cpu")
    try:
        assert encoder.info["query_side"]["backend"] == "onnx" and encoder.info["document_side"]["backend"] == "torch"
        text = ["A tense courtroom drama."]
        q, d = encoder.encode(text, kind="query"), encoder.encode(text, kind="document")
        assert q.shape == d.shape == (1, 384)
        assert not np.allclose(q, d)  # int8 onnx beside fp32 torch: close, not equal
        np.testing.assert_allclose(encoder.encode_one(text[0], kind="query"), q[0], atol=1e-4)
    finally:
        encoder.close()
