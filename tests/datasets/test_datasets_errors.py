"""Malformed dataset files: a ConfigError naming file, line and field, and through the CLI one line and exit 2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from advisor.cli import cli
from advisor.errors import ConfigError, UserError
from advisor.datasets.tasks import load_task

DATA = Path(__file__).resolve().parents[2] / "data"


@pytest.fixture()
def beir(tmp_path: Path) -> Path:
    folder = tmp_path / "rt"
    shutil.copytree(DATA / "rt-reviews-plots", folder)
    return folder


def _replace_line(path: Path, number: int, text: str) -> None:
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[number - 1] = text
    path.write_text("\n".join(lines), encoding="utf-8")


def _error(spec: Path, source: str | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_task(spec, source=source)
    return info.value


def test_bad_json_line_in_corpus(beir: Path) -> None:
    _replace_line(beir / "corpus.jsonl", 7, '{"_id": "broken", "text": "no end')
    err = _error(beir)
    assert (Path(err.file).name, err.line) == ("corpus.jsonl", 7)
    assert "not valid JSON" in str(err)


def test_query_without_text(beir: Path) -> None:
    _replace_line(beir / "queries.jsonl", 3, json.dumps({"_id": "q-x", "txt": "typo"}))
    err = _error(beir)
    assert (Path(err.file).name, err.line, err.field) == ("queries.jsonl", 3, "text")


def test_duplicate_document_id(beir: Path) -> None:
    first = json.loads((beir / "corpus.jsonl").read_text(encoding="utf-8").split("\n")[0])
    _replace_line(beir / "corpus.jsonl", 10, json.dumps({"_id": first["_id"], "text": "again"}))
    err = _error(beir)
    assert (err.line, err.field) == (10, "_id") and "duplicate" in str(err) and "line 1" in str(err)


def test_unknown_qrels_document_id(beir: Path) -> None:
    qrels = beir / "qrels" / "test.tsv"
    qid = qrels.read_text(encoding="utf-8").split("\n")[5].split("\t")[0]
    _replace_line(qrels, 6, f"{qid}\tno-such-movie\t1")
    err = _error(beir)
    assert (Path(err.file).name, err.line, err.field) == ("test.tsv", 6, "corpus-id")
    assert "no-such-movie" in str(err)


def test_non_integer_relevance(beir: Path) -> None:
    qrels = beir / "qrels" / "test.tsv"
    q, d, _ = qrels.read_text(encoding="utf-8").split("\n")[2].split("\t")
    _replace_line(qrels, 3, f"{q}\t{d}\thigh")
    err = _error(beir)
    assert (err.line, err.field) == (3, "score")


def test_bad_sts_score_and_missing_column(tmp_path: Path) -> None:
    lines = (DATA / "lee-sts" / "pairs.tsv").read_text(encoding="utf-8").split("\n")
    bad = tmp_path / "pairs.tsv"
    a, b, _ = lines[42].split("\t")
    lines[42] = f"{a}\t{b}\tvery similar"
    bad.write_text("\n".join(lines[:60]) + "\n", encoding="utf-8")
    err = _error(bad)
    assert (err.line, err.field) == (43, "score") and "'very similar'" in str(err)

    short = tmp_path / "short.tsv"
    short.write_text("sentence1\tsentence2\tscore\nonly one column\n", encoding="utf-8")
    err = _error(short, source="sts")
    assert (err.line, err.field) == (2, "sentence2")

    header = tmp_path / "header.tsv"
    header.write_text("sentence1\tsentence2\tsimilarity\na\tb\t1\n", encoding="utf-8")
    err = _error(header, source="sts")
    assert (err.line, err.field) == (1, "score")


def test_bad_pair_label_and_classification_text(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("text1\ttext2\tlabel\na\tb\t1\nc\td\t0\ne\tf\tyes\n", encoding="utf-8")
    err = _error(pairs)
    assert (err.line, err.field) == (4, "label")

    cls = tmp_path / "cls.jsonl"
    cls.write_text('{"text": "fine", "label": "pos"}\n\n{"text": 3, "label": "neg"}\n', encoding="utf-8")
    err = _error(cls, source="classification")
    assert (err.line, err.field) == (3, "text")


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    f = tmp_path / "latin.tsv"
    f.write_bytes("text\tlabel\nok\tpos\ncaf\xe9\tneg\n".encode("latin-1"))
    err = _error(f)
    assert err.line == 3 and "UTF-8" in str(err)


def test_unknown_dataset_and_type() -> None:
    with pytest.raises(UserError, match="no such file"):
        load_task("/nonexistent/folder", source="beir")
    with pytest.raises(UserError, match="unknown dataset type 'bier'"):
        load_task(DATA / "rt-reviews-plots", source="bier")
    with pytest.raises(UserError, match="cannot tell"):
        load_task(DATA / "README.md")


def test_cli_show_prints_summary_and_one_line_errors(beir: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(cli, ["datasets", "show", str(DATA / "rt-sentiment"), "--json"])
    assert ok.exit_code == 0, ok.output
    summary = json.loads(ok.output)
    assert summary["type"] == "classification" and summary["sizes"] == {"train": 800, "test": 400}
    assert summary["content_hash"] == load_task(DATA / "rt-sentiment").content_hash

    _replace_line(beir / "qrels" / "test.tsv", 4, "nobody\tabandon\t1")
    bad = runner.invoke(cli, ["datasets", "show", str(beir)])
    assert bad.exit_code == 2
    message = bad.output.strip()
    assert "\n" not in message and "Traceback" not in message
    assert f"{beir / 'qrels' / 'test.tsv'}:4: field 'query-id'" in message


def test_mteb_task_without_hub_is_a_clear_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError) as info:
        load_task("mteb:STSBenchmark")
    message = str(info.value)
    assert message.startswith("mteb:STSBenchmark: ") and "hub" in message and "cache" in message
    with pytest.raises(UserError, match="not an MTEB task"):
        load_task("mteb:NoSuchTaskAnywhere")
