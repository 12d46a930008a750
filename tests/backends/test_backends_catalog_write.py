"""``advisor.models.catalog.write_catalog`` is the one catalog writer: what it writes, ``load_catalog`` reads back
as the same entries (shipped catalogs, local folders, pairs); local paths under the catalog's folder are written
relative, so the folder can move; a file that the loader would refuse is not written."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from advisor.errors import ConfigError
from advisor.models.catalog import ModelEntry, PairSpec, load_catalog, write_catalog

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted((REPO / "advisor/shipped/catalogs").glob("*.yaml"))


def _comparable(entry: ModelEntry) -> dict:
    """The entry without ``catalog`` (the file it was read from, which differs by design), also inside a pair."""
    data = entry.to_dict()
    data.pop("catalog")
    for side in ("query_model", "document_model"):
        if side in data["options"]:
            data["options"] = {**data["options"], side: {**data["options"][side], "catalog": None}}
    return data


def _local(folder: Path, name: str, **changes) -> ModelEntry:
    return ModelEntry(name=name, source=f"path:{folder.resolve()}", backend="torch", embed_dim=8,
                      languages=("eng-Latn",), **changes)


@pytest.mark.parametrize("shipped", SHIPPED, ids=lambda p: p.name)
def test_a_shipped_catalog_written_again_loads_as_the_same_entries(tmp_path, shipped):
    entries = load_catalog(shipped)
    again = load_catalog(write_catalog(entries, tmp_path / "again.yaml"))
    assert [_comparable(e) for e in again] == [_comparable(e) for e in entries]


def test_local_models_and_pairs_written_then_loaded_are_equal(tmp_path):
    (tmp_path / "q").mkdir()
    (tmp_path / "d").mkdir()
    outside = tmp_path / "elsewhere" / "m"
    outside.mkdir(parents=True)
    query = _local(tmp_path / "q", "q", matryoshka_dims=(4,), query_prompt="query: ", training_datasets=(),
                   tokenizer=str((tmp_path / "d").resolve()))
    document = _local(tmp_path / "d", "d", license="MIT", normalize=False, options={"note": {"nested": [1, 2]}})
    far = _local(outside, "far", training_datasets=("MSMARCO",), training_data_licenses={"MSMARCO": "MIT"})
    folder = tmp_path / "catalog"
    folder.mkdir()
    (folder / "model").mkdir()
    inside = _local(folder / "model", "inside")
    pair = PairSpec(name="q+d", query_model="q", document_model="d", domains=("news",))
    path = write_catalog([query, document, far, inside, pair], folder / "models.yaml", name="mixed")
    loaded = load_catalog(path)
    assert [_comparable(e) for e in loaded[:4]] == [_comparable(e) for e in (query, document, far, inside)]
    assert loaded[4].name == "q+d" and loaded[4].backend == "pair" and loaded[4].domains == ("news",)
    again = load_catalog(write_catalog(loaded, tmp_path / "again" / "models.yaml"))  # a loaded pair, too
    assert [_comparable(e) for e in again] == [_comparable(e) for e in loaded]


def test_a_model_under_the_catalogs_folder_moves_with_it(tmp_path):
    folder = tmp_path / "run"
    (folder / "model").mkdir(parents=True)
    write_catalog([_local(folder / "model", "trained")], folder / "catalog.yaml")
    assert "source: path:model\n" in (folder / "catalog.yaml").read_text(encoding="utf-8")
    moved = shutil.move(str(folder), str(tmp_path / "moved"))
    (entry,) = load_catalog(Path(moved) / "catalog.yaml")
    assert entry.source == f"path:{(tmp_path / 'moved' / 'model').resolve()}"


def test_header_name_and_description_are_written(tmp_path):
    path = write_catalog([_local(tmp_path, "m")], tmp_path / "c.yaml", name="mine", description="Why.",
                         header="Written by a test.\nUse it with --catalog c.yaml")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Written by a test.\n# Use it with --catalog c.yaml\nname: mine\ndescription: Why.\n")


def test_two_entries_of_one_name_are_refused_and_nothing_is_written(tmp_path):
    entry = _local(tmp_path, "twice")
    with pytest.raises(ConfigError, match="entry 'twice': duplicate model name"):
        write_catalog([entry, replace(entry, license="MIT")], tmp_path / "c.yaml")
    assert not (tmp_path / "c.yaml").exists()
