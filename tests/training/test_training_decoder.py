"""A decoder as the base of an embedding model: a tiny Llama built from a config inside the test (the MiniLM
tokenizer as its vocabulary), loaded with last-token pooling (and run by the torch backend like any model), and with
bidirectional attention switched on: the first token then sees the later ones, and padding still does not count."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_decoder(tmp_path_factory, minilm_dir):
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaModel

    folder = tmp_path_factory.mktemp("decoder") / "tiny-llama"
    tokenizer = AutoTokenizer.from_pretrained(str(minilm_dir), local_files_only=True)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=128,
                         pad_token_id=tokenizer.pad_token_id)
    LlamaModel(config).save_pretrained(str(folder), safe_serialization=True)
    tokenizer.save_pretrained(str(folder))
    return folder


def _hidden(model, texts):
    import torch

    features = model[0].preprocess(texts)
    with torch.no_grad():
        out = model[0].auto_model(input_ids=features["input_ids"], attention_mask=features["attention_mask"])
    return out.last_hidden_state


def test_decoder_loads_with_last_token_pooling_and_runs_on_the_torch_backend(tiny_decoder, tmp_path):
    from advisor.models.backends import load_encoder
    from advisor.models.resolve import resolve_model
    from advisor.training.decoder import load_decoder

    model = load_decoder(tiny_decoder, pooling="lasttoken")
    texts = ["A tense courtroom drama.", "Two friends drive across the whole country in a van."]
    vectors = model.encode(texts, convert_to_numpy=True)
    assert vectors.shape == (2, 32)
    alone = model.encode(texts[:1], convert_to_numpy=True)
    np.testing.assert_allclose(vectors[0], alone[0], atol=1e-5)  # the last real token, not a pad
    model.save(str(tmp_path / "st"), safe_serialization=True, create_model_card=False)
    entry = resolve_model(str(tmp_path / "st"))
    assert entry.pooling == "lasttoken" and entry.embed_dim == 32 and entry.backend == "torch"
    encoder = load_encoder(entry, device="cpu")
    try:
        np.testing.assert_allclose(encoder.encode(texts, kind="document"), vectors, atol=1e-4)
    finally:
        encoder.close()


def test_causal_decoder_first_token_never_sees_later_tokens(tiny_decoder):
    from advisor.training.decoder import load_decoder

    hidden = _hidden(load_decoder(tiny_decoder), ["the cat sat", "the cat ran"])
    np.testing.assert_allclose(hidden[0, 1].numpy(), hidden[1, 1].numpy(), atol=1e-6)


def test_bidirectional_decoder_sees_later_tokens_but_not_padding(tiny_decoder):
    from advisor.training.decoder import load_decoder

    model = load_decoder(tiny_decoder, pooling="mean", bidirectional=True)
    hidden = _hidden(model, ["the cat sat", "the cat ran"])
    assert np.abs(hidden[0, 1].numpy() - hidden[1, 1].numpy()).max() > 1e-3
    texts = ["the cat sat", "the cat ran quickly far away from home"]
    padded = model.encode(texts, convert_to_numpy=True)[0]
    alone = model.encode(texts[:1], convert_to_numpy=True)[0]
    np.testing.assert_allclose(padded, alone, atol=1e-5)


def test_decoder_pooling_is_checked(tiny_decoder):
    from advisor.errors import UserError
    from advisor.training.decoder import load_decoder

    with pytest.raises(UserError, match="lasttoken, mean"):
        load_decoder(tiny_decoder, pooling="cls")


def test_finetune_a_decoder_base_with_last_token_pooling(tiny_decoder, tmp_path, repo):
    import json

    from click.testing import CliRunner

    from advisor.cli import cli
    from advisor.models.catalog import load_catalog

    out = tmp_path / "ft-decoder"
    result = CliRunner().invoke(cli, ["finetune", "--model", str(tiny_decoder), "--decoder-pooling", "lasttoken",
                                      "--dataset", str(repo / "data" / "rt-reviews-plots"), "--out", str(out),
                                      "--max-pairs", "16", "--batch-size", "8", "--max-steps", "2",
                                      "--max-seq-length", "32", "--hard-negatives", "0", "--device", "cpu",
                                      "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    (entry,) = load_catalog(out / "catalog.yaml")
    assert entry.pooling == "lasttoken" and entry.embed_dim == 32
    assert report["training"]["log"]["steps"] == 2 and report["quality"][0]["reference"] == "base"
