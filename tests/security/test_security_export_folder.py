"""The ONNX export folder is never removed or rewritten under a run that loads it: making the int8 file beside the
fp32 export leaves every file already there (the graph a loader opens by path, its tokenizer and config) the same
file, and the folder the same folder. The old export copied the folder, deleted it and renamed the copy into place,
so a loader between the two found no model. A real export of a small BERT."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime", reason="the ONNX runtime extra is not installed")
pytest.importorskip("onnxscript", reason="the ONNX runtime extra is not installed")

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


@pytest.fixture(scope="module")
def small_bert(tmp_path_factory, minilm_dir) -> Path:
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("small-bert")
    BertModel(BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                         intermediate_size=64, max_position_embeddings=128)).eval().save_pretrained(folder)
    for name in TOKENIZER_FILES:
        if (minilm_dir / name).is_file():
            shutil.copy(minilm_dir / name, folder / name)
    return folder


def _identity(home: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_size) for p in home.iterdir() if not p.name.startswith(".")}


def test_an_int8_export_never_removes_or_rewrites_the_fp32_files_a_loader_reads(small_bert, tmp_path):
    from advisor.models.export import export_onnx

    fp32 = export_onnx(small_bert, "fp32", cache=tmp_path / "cache")
    fp32 = Path(getattr(fp32, "path", fp32))
    home = fp32.parent
    before, folder = _identity(home), os.stat(home).st_ino
    assert fp32.name in before and "tokenizer.json" in before
    int8 = export_onnx(small_bert, "int8", cache=tmp_path / "cache")
    int8 = Path(getattr(int8, "path", int8))
    after = _identity(home)
    assert os.stat(home).st_ino == folder, "the export folder was replaced"
    assert {name: after.get(name) for name in before} == before, "a file a loader may hold was replaced"
    assert int8.parent == home and int8.name in after
