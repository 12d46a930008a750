"""The torch backend runs the real all-MiniLM-L6-v2 and agrees with sentence-transformers' own encode."""

from __future__ import annotations

import numpy as np
import pytest

from advisor.models.backends import get_backend, load_encoder
from advisor.models.resolve import resolve_model
from advisor.models.variants import Variant

TEXTS = ["A man is playing a guitar.", "The new movie is awesome, I loved the soundtrack.",
         "How do I reset my password after the account was locked?", "short",
         "Photosynthesis converts light energy into chemical energy stored in glucose molecules."]


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


@pytest.fixture(scope="module")
def reference(minilm_dir):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(minilm_dir), device="cpu").encode(TEXTS)


@pytest.fixture(scope="module")
def minilm_fp32():
    entry = resolve_model("all-MiniLM-L6-v2")
    encoder = load_encoder(entry, device="cpu", weight_precision="fp32")
    yield encoder
    encoder.close()


def test_minilm_fp32_matches_sentence_transformers(minilm_fp32, reference):
    ours = minilm_fp32.encode(TEXTS, kind="query", batch_size=2)
    assert ours.dtype == np.float32 and ours.shape == (len(TEXTS), 384)
    assert cosines(ours, reference).min() >= 0.999
    assert minilm_fp32.info["attn_implementation"] == "sdpa"


def test_progress_and_token_counts(minilm_fp32, minilm_dir):
    from transformers import AutoTokenizer

    seen: list[int] = []
    minilm_fp32.encode(TEXTS, batch_size=2, progress=seen.append)
    assert sum(seen) == len(TEXTS) and all(n > 0 for n in seen)  # the fast path batches by a token budget
    tokenizer = AutoTokenizer.from_pretrained(str(minilm_dir))
    assert minilm_fp32.count_tokens(TEXTS) == [len(tokenizer(t)["input_ids"]) for t in TEXTS]


def test_int8_dynamic_quantization_stays_close_but_not_identical(minilm_fp32, reference):
    entry = resolve_model("all-MiniLM-L6-v2")
    encoder = load_encoder(entry, device="cpu", weight_precision="int8")
    ours = encoder.encode(TEXTS)
    cos = cosines(ours, reference)
    # Dynamic int8 of every Linear (per-channel weights) keeps the direction well but not exactly.
    assert 0.93 <= cos.min() and cos.max() < 0.9999
    assert encoder.info["quantization"].startswith("torch.ao dynamic int8")


def test_impossible_variants_have_reasons():
    entry = resolve_model("all-MiniLM-L6-v2")
    torch_backend = get_backend("torch")
    assert torch_backend.unsupported_reason(entry, Variant("cpu", "bf16")) is None  # the figures say if it pays
    assert "does not run bf16" in torch_backend.unsupported_reason(entry, Variant("cpu", "bf16", runtime="onnx"))
    assert "CPU only" in torch_backend.unsupported_reason(entry, Variant("cuda", "int8"))
    assert "larger than" in torch_backend.unsupported_reason(entry, Variant("cpu", "fp32", dim=512))
    assert torch_backend.unsupported_reason(entry, Variant("cpu", "int8", dim=128)) is None
