"""Every tabular task type reads from Parquet, Arrow and Feather as it reads from TSV: the shipped tables written
as binary tables load as the same task (the same content hash, so the same figures), detected from the files."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from advisor.datasets.tasks import load_task

pa = pytest.importorskip("pyarrow", reason="Parquet and Arrow need pyarrow (the 'parquet' extra)")
import pyarrow.feather as feather  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "data"


def _columns(tsv: Path) -> dict[str, list]:
    with tsv.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return {name: [r[name] for r in rows] for name in rows[0]}


def _write(columns: dict[str, list], path: Path) -> None:
    table = pa.table(columns)
    if path.suffix == ".parquet":
        pq.write_table(table, path)
    elif path.suffix == ".feather":
        feather.write_feather(table, path)
    else:
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)


@pytest.mark.parametrize("suffix", [".parquet", ".feather", ".arrow"])
@pytest.mark.parametrize("folder,files,task_type", [
    ("lee-sts", ("pairs",), "sts"),
    ("rt-sentiment", ("train", "test"), "classification"),
    ("pang-lee-polarity", ("polarity",), "classification"),
    ("rt-same-movie", ("test",), "pair_classification"),
    ("rt-reviews-by-movie", ("test",), "clustering"),
    ("rt-near-duplicates", ("test",), "deduplication"),
])
def test_a_binary_table_is_the_same_task_as_its_tsv(tmp_path, folder, files, task_type, suffix):
    out = tmp_path / folder
    out.mkdir()
    for stem in files:
        columns = _columns(DATA / folder / f"{stem}.tsv")
        if task_type == "pair_classification":
            columns["label"] = [int(v) for v in columns["label"]]  # typed columns, as a dataframe writes them
        if task_type == "sts":
            columns["score"] = [float(v) for v in columns["score"]]
        _write(columns, out / f"{stem}{suffix}")
    expected = load_task(DATA / folder)
    task = load_task(out)
    assert (task.type, task.source) == (task_type, expected.source)
    assert task.content_hash == expected.content_hash


def test_a_parquet_table_of_sts_pairs_as_one_file(tmp_path):
    path = tmp_path / "lee.parquet"
    columns = _columns(DATA / "lee-sts" / "pairs.tsv")
    columns["score"] = [float(v) for v in columns["score"]]
    _write(columns, path)
    assert load_task(path).content_hash == load_task(DATA / "lee-sts").content_hash


def test_a_reranking_folder_with_a_parquet_corpus(tmp_path):
    out = tmp_path / "rerank"
    shutil.copytree(DATA / "rt-reviews-plots-rerank", out)
    import json

    rows = [json.loads(line) for line in (out / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    _write({k: [r.get(k, "") for r in rows] for k in ("_id", "title", "text")}, out / "corpus.parquet")
    (out / "corpus.jsonl").unlink()
    assert load_task(out).content_hash == load_task(DATA / "rt-reviews-plots-rerank").content_hash
