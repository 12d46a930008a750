"""Torch backend paths on tiny random models built here (real transformers loading code, seconds to run): pooling
modes checked against unpadded one-text-at-a-time computations, sentence-transformers modules (CLS + Dense),
prompts, precision handling and the safety switches (pickle weights, trust_remote_code)."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from advisor.models.backends import get_backend, load_encoder
from advisor.models.catalog import ModelEntry
from advisor.errors import UserError
from advisor.models.resolve import resolve_model
from advisor.policy.spec import Policy

TEXTS = ["a tiny model", "another sentence that is quite a bit longer than the first one", "x",
         "padding must not change what a text maps to"]
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")


def _copy_tokenizer(minilm_dir: Path, folder: Path) -> None:
    for name in TOKENIZER_FILES:
        shutil.copy(minilm_dir / name, folder / name)


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory, minilm_dir) -> Path:
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-bert")
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=128)
    BertModel(config).eval().save_pretrained(folder)
    _copy_tokenizer(minilm_dir, folder)
    return folder


@pytest.fixture(scope="module")
def tiny_decoder(tmp_path_factory, minilm_dir) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-llama")
    config = LlamaConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, intermediate_size=64, max_position_embeddings=128, pad_token_id=0)
    LlamaForCausalLM(config).eval().save_pretrained(folder)
    _copy_tokenizer(minilm_dir, folder)
    return folder


def reference_pooled(folder: Path, texts: list[str], pooling: str) -> np.ndarray:
    """Each text alone (no padding at all), pooled with numpy: an independent computation."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModel.from_pretrained(str(folder), attn_implementation="eager").eval()
    rows = []
    for text in texts:
        with torch.no_grad():
            hidden = model(**tokenizer(text, return_tensors="pt")).last_hidden_state[0].numpy()
        rows.append({"mean": hidden.mean(0), "cls": hidden[0], "max": hidden.max(0), "lasttoken": hidden[-1]}[pooling])
    out = np.stack(rows)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def entry_for(folder: Path, **changes) -> ModelEntry:
    return replace(resolve_model(str(folder)), **changes)


@pytest.mark.parametrize("pooling", ["mean", "cls", "max"])
def test_plain_transformers_pooling_matches_unpadded_reference(tiny_bert, pooling):
    entry = entry_for(tiny_bert, pooling=pooling)
    assert entry.backend == "torch" and entry.embed_dim == 32
    ours = load_encoder(entry).encode(TEXTS, batch_size=4)
    ref = reference_pooled(tiny_bert, TEXTS, pooling)
    assert np.abs((ours * ref).sum(1) - 1).max() < 1e-4


def test_last_token_pooling_on_a_decoder_with_left_and_right_padding(tiny_decoder):
    entry = resolve_model(str(tiny_decoder))
    assert entry.pooling == "lasttoken"  # guessed from the *ForCausalLM architecture
    ref = reference_pooled(tiny_decoder, TEXTS, "lasttoken")
    encoder = load_encoder(entry)
    for side in ("right", "left"):
        encoder.tokenizer.padding_side = side
        ours = encoder.encode(TEXTS, batch_size=4)
        assert np.abs((ours * ref).sum(1) - 1).max() < 1e-4, side


def test_sentence_transformers_folder_with_cls_dense_and_prompts(tiny_bert, tmp_path):
    import torch
    from sentence_transformers import SentenceTransformer, models

    torch.manual_seed(1)
    word = models.Transformer(str(tiny_bert), max_seq_length=64)
    st = SentenceTransformer(modules=[word, models.Pooling(32, pooling_mode="cls"),
                                      models.Dense(32, 16, activation_function=torch.nn.Tanh()), models.Normalize()],
                             device="cpu", prompts={"query": "query: ", "document": "passage: "})
    st.save(str(tmp_path / "st"))
    entry = resolve_model(str(tmp_path / "st"))
    assert (entry.embed_dim, entry.pooling, entry.normalize, entry.max_tokens) == (16, "cls", True, 64)
    assert (entry.query_prompt, entry.document_prompt) == ("query: ", "passage: ")
    encoder = load_encoder(entry)
    for kind, prompt in (("query", "query: "), ("document", "passage: ")):
        ours = encoder.encode(TEXTS, kind=kind)
        ref = st.encode([prompt + t for t in TEXTS])
        assert ((ours * ref).sum(1)).min() >= 0.999


def test_bf16_and_fp16_paths_keep_float32_output(tiny_bert):
    # The backend refuses half precision on CPU (too slow to ship); the loading path itself is exercised here.
    from advisor.builtin.torch.encoder import load_torch_encoder

    from advisor.models.backends import LoadOptions

    entry = entry_for(tiny_bert, pooling="mean")
    fp32 = load_torch_encoder(entry, LoadOptions()).encode(TEXTS)
    for precision, dtype in (("bf16", "bfloat16"), ("fp16", "float16")):
        encoder = load_torch_encoder(entry, LoadOptions(weight_precision=precision))
        assert encoder.info["dtype"] == dtype
        assert next(encoder.model.parameters()).dtype.__repr__().endswith(dtype)
        out = encoder.encode(TEXTS)
        assert out.dtype == np.float32
        assert (out * fp32).sum(1).min() > 0.99


@pytest.mark.gpu
def test_cuda_half_precision_matches_fp32(minilm_dir):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    entry = resolve_model("all-MiniLM-L6-v2")
    ref = load_encoder(entry, device="cuda", weight_precision="fp32").encode(TEXTS)
    for precision in ("fp16", "bf16"):
        out = load_encoder(entry, device="cuda", weight_precision=precision).encode(TEXTS)
        assert (out * ref).sum(1).min() > 0.99


def test_pickle_weights_need_entry_and_policy(tiny_bert, tmp_path):
    import torch

    folder = tmp_path / "pickled"
    shutil.copytree(tiny_bert, folder)
    from safetensors.torch import load_file

    torch.save(load_file(str(folder / "model.safetensors")), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    entry = resolve_model(str(folder))
    assert entry.weights_format == "pickle"
    with pytest.raises(UserError, match="pickle weights .* can run code"):
        load_encoder(entry)  # no policy grant
    with pytest.raises(UserError, match="policy does not allow pickle"):
        load_encoder(entry, **Policy(name="strict").load_grants())
    safe_entry = replace(entry, weights_format="safetensors")
    with pytest.raises(UserError, match="does not declare 'weights_format: pickle'"):
        load_encoder(safe_entry, **Policy(name="lax", allow_pickle_weights=True).load_grants())
    encoder = load_encoder(entry, **Policy(name="lax", allow_pickle_weights=True).load_grants())
    ref = load_encoder(entry_for(tiny_bert)).encode(TEXTS)
    assert (encoder.encode(TEXTS) * ref).sum(1).min() > 0.9999


def test_trust_remote_code_needs_entry_and_policy(tiny_bert):
    entry = entry_for(tiny_bert, trust_remote_code=True)
    with pytest.raises(UserError, match="needs trust_remote_code"):
        load_encoder(entry, **Policy(name="strict").load_grants())
    with pytest.raises(UserError, match="needs trust_remote_code"):
        load_encoder(entry)
    encoder = load_encoder(entry, **Policy(name="reviewed", allow_remote_code=True).load_grants())
    assert encoder.encode(TEXTS[:1]).shape == (1, 32)


def test_impossible_variant_is_refused_by_load_encoder_with_its_reason(tiny_bert):
    with pytest.raises(UserError, match="the onnx runtime does not run bf16 weights on cpu"):
        load_encoder(entry_for(tiny_bert), device="cpu", weight_precision="bf16", runtime="onnx")


def test_prompt_left_out_of_pooling_when_the_model_says_so(tiny_bert, tmp_path):
    """A Pooling module with include_prompt=False (instruction models) pools only the text's own tokens."""
    from sentence_transformers import SentenceTransformer, models

    st = SentenceTransformer(modules=[models.Transformer(str(tiny_bert)),
                                      models.Pooling(32, pooling_mode="mean", include_prompt=False)],
                             device="cpu", prompts={"query": "represent the question for retrieval: "})
    st.save(str(tmp_path / "st"))
    encoder = load_encoder(resolve_model(str(tmp_path / "st")))
    ours = encoder.encode(TEXTS, kind="query")
    ref = st.encode(TEXTS, prompt_name="query")
    pooled_with_prompt = st.encode(["represent the question for retrieval: " + t for t in TEXTS])
    assert cosines_min(ours, ref) >= 0.999
    assert cosines_min(ours, pooled_with_prompt) < 0.999  # the difference is real, so the check above means something


def cosines_min(a: np.ndarray, b: np.ndarray) -> float:
    return float(((a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)).min())
