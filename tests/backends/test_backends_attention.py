"""Attention falls back to what the architecture supports, on every load path: SDPA where the model class has it
(BERT), eager where transformers refuses SDPA (MPNet in transformers 5.x), and each path runs what the class
declares. Tiny random models built here (real transformers loading code, seconds to run)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from advisor.models.attention import attention_of, load_with_attention
from advisor.models.backends import load_encoder
from advisor.models.resolve import resolve_model

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")
TEXTS = ["a tiny model", "another sentence, a little longer than the first one", "x"]


def _expected(model_class) -> str:
    """What the class declares it can run: the independent side of every assertion below."""
    return "sdpa" if model_class._supports_sdpa else "eager"


def _tiny(tmp_path_factory, minilm_dir: Path, kind: str) -> Path:
    import torch
    from transformers import BertConfig, BertModel, MPNetConfig, MPNetForSequenceClassification, MPNetModel

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp(f"tiny-{kind}")
    shape = dict(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)
    if kind == "bert":
        BertModel(BertConfig(max_position_embeddings=128, **shape)).eval().save_pretrained(folder)
    elif kind == "mpnet":
        MPNetModel(MPNetConfig(max_position_embeddings=130, **shape)).eval().save_pretrained(folder)
    else:  # a cross-encoder: MPNet with a one-label head
        MPNetForSequenceClassification(MPNetConfig(max_position_embeddings=130, num_labels=1, **shape)
                                       ).eval().save_pretrained(folder)
    for name in TOKENIZER_FILES:
        shutil.copy(minilm_dir / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def tiny_mpnet(tmp_path_factory, minilm_dir) -> Path:
    return _tiny(tmp_path_factory, minilm_dir, "mpnet")


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory, minilm_dir) -> Path:
    return _tiny(tmp_path_factory, minilm_dir, "bert")


def test_mpnet_gets_eager_attention_where_sdpa_is_refused(tiny_mpnet):
    from transformers import AutoModel, MPNetModel

    asked: list[str] = []

    def load(attn: str):
        asked.append(attn)
        return AutoModel.from_pretrained(str(tiny_mpnet), attn_implementation=attn)

    model, attn = load_with_attention(load)
    assert attn == _expected(MPNetModel) == model.config._attn_implementation
    assert asked == (["sdpa"] if MPNetModel._supports_sdpa else ["sdpa", "eager"])


def test_bert_keeps_sdpa(tiny_bert):
    from transformers import AutoModel, BertModel

    model, attn = load_with_attention(lambda a: AutoModel.from_pretrained(str(tiny_bert), attn_implementation=a))
    assert attn == _expected(BertModel) == "sdpa" == model.config._attn_implementation


def test_an_error_that_is_not_about_sdpa_is_not_retried(tiny_bert, tmp_path):
    """A folder transformers cannot read at all raises its own error, not a second try with eager attention."""
    from transformers import AutoModel

    alien = tmp_path / "alien"
    shutil.copytree(tiny_bert, alien)
    config = json.loads((alien / "config.json").read_text())
    (alien / "config.json").write_text(json.dumps({**config, "model_type": "no-such-architecture"}))
    asked: list[str] = []

    def load(attn: str):
        asked.append(attn)
        return AutoModel.from_pretrained(str(alien), attn_implementation=attn)

    with pytest.raises(ValueError, match="no-such-architecture"):
        load_with_attention(load)
    assert asked == ["sdpa"]


def test_torch_backend_fast_path_records_the_attention_it_runs(tiny_mpnet):
    from transformers import MPNetModel

    encoder = load_encoder(resolve_model(str(tiny_mpnet)), weight_precision="fp32")
    assert encoder.info["path"] == "fast (transformers)"
    assert encoder.info["attn_implementation"] == _expected(MPNetModel) == attention_of(encoder.model)
    assert encoder.encode(TEXTS).shape == (3, 32)


def test_torch_backend_reference_path_records_the_attention_it_runs(tiny_mpnet):
    """An entry that names its tokenizer separately runs through transformers' AutoModel, not the fast path."""
    from transformers import MPNetModel

    entry = replace(resolve_model(str(tiny_mpnet)), tokenizer=str(tiny_mpnet))
    encoder = load_encoder(entry, weight_precision="fp32")
    assert encoder.info["path"] == "transformers"
    assert encoder.info["attn_implementation"] == _expected(MPNetModel) == attention_of(encoder.model)
    assert encoder.encode(TEXTS).shape == (3, 32)


def test_training_and_mteb_loads_run_what_the_architecture_supports(tiny_mpnet):
    from transformers import MPNetModel

    from advisor.datasets.mteb_local import _load_model
    from advisor.training.loading import load_sentence_transformer

    for model in (load_sentence_transformer(tiny_mpnet, "cpu"), _load_model(tiny_mpnet, "cpu")):
        assert attention_of(model) == _expected(MPNetModel)
        assert model.encode(TEXTS).shape == (3, 32)


def test_cross_encoder_rater_runs_what_the_architecture_supports(tmp_path_factory, minilm_dir, monkeypatch):
    from transformers import MPNetForSequenceClassification

    from advisor.quality.raters import CrossEncoderRater

    monkeypatch.setenv("ADVISOR_CROSS_ENCODER", str(_tiny(tmp_path_factory, minilm_dir, "cross-encoder")))
    rater = CrossEncoderRater()
    scores = rater.score([("a query", "a document"), ("another query", "x")])
    assert scores.shape == (2,) and ((0 <= scores) & (scores <= 1)).all()
    assert attention_of(rater._model) == _expected(MPNetForSequenceClassification)
