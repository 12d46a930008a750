"""Hugging Face datasets, real ones built offline from the shipped data with the ``datasets`` library itself: folders
written by ``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk``, and ``hf:ORG/NAME`` ids served from a datasets
cache filled in a temporary folder in the library's own layout (``<cache>/<org>___<name>/<config>/<version>/<hash>/``
with ``dataset_info.json`` and ``<name>-<split>.arrow``, written by its ``ArrowWriter`` and ``DatasetInfo``), which
``datasets.load_dataset`` reads offline. The pairs of ``data/rt-reviews-plots`` score the same nDCG@10 as the BEIR
folder (pytrec_eval from the same real embeddings of ``tokenlearn-static-64``); the STS, classification and pair
tables load as exactly the tasks their TSV files load as; a bad row, a damaged folder, an unknown column and a
dataset missing from the cache are one line each."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest
import pytrec_eval
from click.testing import CliRunner

from advisor.cli import cli
from advisor.datasets.tasks import load_task
from advisor.errors import ConfigError, UserError
from advisor.models.variants import Variant
from advisor.quality.evaluation import evaluate_model

datasets = pytest.importorskip("datasets", reason="Hugging Face datasets need the datasets package")
from datasets.arrow_writer import ArrowWriter  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data" / "rt-reviews-plots"
MODEL = "tokenlearn-static-64"


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


QUERIES = {r["_id"]: r["text"] for r in _jsonl(DATA / "queries.jsonl")}
CORPUS = {r["_id"]: (r["title"] + " " + r["text"]).strip() if r["title"] else r["text"].strip()
          for r in _jsonl(DATA / "corpus.jsonl")}
with (DATA / "qrels" / "test.tsv").open(encoding="utf-8") as _f:
    JUDGED = [(r["query-id"], r["corpus-id"], int(r["score"])) for r in csv.DictReader(_f, delimiter="\t")]
PAIRS = {"question": [QUERIES[q] for q, _, _ in JUDGED], "answer": [CORPUS[d] for _, d, _ in JUDGED]}


def _tsv(path: Path) -> dict[str, list[str]]:
    """A shipped TSV (unquoted, one row per line) as columns."""
    names, *rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines() if line]
    return {n: [r[i] for r in rows] for i, n in enumerate(names)}


def fill_cache(cache: Path, repo: str, splits: dict[str, "datasets.Dataset"], config: str = "default") -> Path:
    """What ``datasets.load_dataset(repo)`` leaves in its cache, written here with the library's own writer."""
    org, name = repo.split("/")
    folder = cache / f"{org}___{name}" / config / "0.0.0" / "0123456789abcdef"
    folder.mkdir(parents=True)
    info = datasets.DatasetInfo(features=next(iter(splits.values())).features, config_name=config, dataset_name=name)
    info.splits = datasets.SplitDict()
    for split, part in splits.items():
        with ArrowWriter(path=str(folder / f"{name}-{split}.arrow")) as writer:
            writer.write_table(part.data.table)
            examples, size = writer.finalize()
        info.splits.add(datasets.SplitInfo(split, num_bytes=size, num_examples=examples, dataset_name=name))
    info.write_to_directory(str(folder))
    return folder


@pytest.fixture()
def cache(tmp_path, monkeypatch) -> Path:
    """An empty datasets cache of the test's own (HF_DATASETS_CACHE), the network off."""
    folder = tmp_path / "hf-cache"
    folder.mkdir()
    monkeypatch.setenv("HF_DATASETS_CACHE", str(folder))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return folder


# --- the independent reference --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def encoder():
    from advisor.models.backends import load_encoder
    from advisor.models.resolve import resolve_model

    enc = load_encoder(resolve_model(MODEL), device="cpu", weight_precision="fp32")
    yield enc
    enc.close()


@pytest.fixture(scope="module")
def reference(encoder) -> float:
    """pytrec_eval's mean nDCG@10 of the BEIR folder, every document ranked by the cosine of the embeddings."""
    def unit(texts: list[str], kind: str) -> np.ndarray:
        v = np.asarray(encoder.encode(texts, kind=kind), dtype=np.float64)
        return v / np.linalg.norm(v, axis=1, keepdims=True)
    doc_ids, q_ids = list(CORPUS), sorted({q for q, _, _ in JUDGED})
    scores = unit([QUERIES[q] for q in q_ids], "query") @ unit([CORPUS[d] for d in doc_ids], "document").T
    run = {q: dict(zip(doc_ids, row.astype(np.float32).astype(float))) for q, row in zip(q_ids, scores)}
    qrels: dict[str, dict[str, int]] = {}
    for q, d, s in JUDGED:
        qrels.setdefault(q, {})[d] = s
    per_query = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"}).evaluate(run)
    return float(np.mean([v["ndcg_cut_10"] for v in per_query.values()]))


def ndcg10(encoder, task) -> float:
    (result,) = evaluate_model(encoder, task, [Variant()], resamples=20).values()
    return result.metrics["ndcg_at_10"]


# --- the pairs: the same nDCG@10 as the BEIR folder -----------------------------------------------------------------

def test_pairs_saved_with_save_to_disk_score_the_beir_folders_ndcg(tmp_path, encoder, reference):
    folder = tmp_path / "rt-pairs"
    datasets.Dataset.from_dict(PAIRS).save_to_disk(str(folder))
    task = load_task(folder)  # detected by its state.json and dataset_info.json
    assert (task.type, task.source, len(task.data.queries), len(task.data.corpus)) == ("retrieval", "hf-disk", 240, 156)
    assert ndcg10(encoder, task) == pytest.approx(reference, abs=1e-6)


def test_a_dataset_dicts_test_split_with_mapped_columns_scores_the_beir_folders_ndcg(tmp_path, encoder, reference):
    folder = tmp_path / "rt-dict"
    renamed = {"q": PAIRS["question"], "ctx": PAIRS["answer"]}
    datasets.DatasetDict({"train": datasets.Dataset.from_dict({k: v[:5] for k, v in renamed.items()}),
                          "test": datasets.Dataset.from_dict(renamed)}).save_to_disk(str(folder))
    with pytest.raises(UserError, match="cannot tell what its columns hold"):
        load_task(folder)
    task = load_task(f"{folder}#query=q,positive=ctx")
    assert (task.meta["split"], task.meta["columns"], len(task.data.queries)) == \
        ("test", {"query": "q", "positive": "ctx"}, 240)
    assert ndcg10(encoder, task) == pytest.approx(reference, abs=1e-6)
    train = load_task(f"{folder / 'train'}#query=q,positive=ctx")  # a split's own folder is that split alone
    assert (train.source, len(train.data.queries)) == ("hf-disk", 5)


def test_an_hf_id_from_the_datasets_cache_scores_the_beir_folders_ndcg(cache, encoder, reference):
    fill_cache(cache, "advisor-tests/rt-pairs", {"test": datasets.Dataset.from_dict(PAIRS)})
    task = load_task("hf:advisor-tests/rt-pairs")
    assert (task.type, task.source, task.name, task.origin) == ("retrieval", "hf", "rt-pairs",
                                                               "advisor-tests/rt-pairs")
    assert task.meta["split"] == "test"
    assert ndcg10(encoder, task) == pytest.approx(reference, abs=1e-6)


def test_a_csv_with_other_column_names_reads_through_columns_and_scores_the_beir_folders_ndcg(tmp_path, encoder,
                                                                                               reference):
    path = tmp_path / "faq.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([("Frage", "Antwort"), *zip(PAIRS["question"], PAIRS["answer"])])
    done = CliRunner().invoke(cli, ["evaluate", "--model", MODEL, "--dataset", str(path), "--columns",
                                    "query=Frage,positive=Antwort", "--resamples", "20", "--json"])
    assert done.exit_code == 0, done.output
    (record,) = json.loads(done.stdout)["results"]
    assert record["task"]["source"] == "pairs"
    assert record["metrics"]["ndcg_at_10"] == pytest.approx(reference, abs=1e-6)


# --- the other task types: exactly the task their TSV files load as -------------------------------------------------

def test_sts_classification_and_pair_tables_load_as_their_tsv_tasks(tmp_path):
    sts = _tsv(REPO / "data" / "lee-sts" / "pairs.tsv")
    sts["score"] = [float(s) for s in sts["score"]]
    datasets.Dataset.from_dict(sts).save_to_disk(str(tmp_path / "sts"))
    datasets.DatasetDict({split: datasets.Dataset.from_dict(_tsv(REPO / "data" / "rt-sentiment" / f"{split}.tsv"))
                          for split in ("train", "test")}).save_to_disk(str(tmp_path / "sentiment"))
    same = _tsv(REPO / "data" / "rt-same-movie" / "test.tsv")
    same["label"] = [int(x) for x in same["label"]]
    datasets.DatasetDict({"test": datasets.Dataset.from_dict(same)}).save_to_disk(str(tmp_path / "same-movie"))
    for folder, shipped, kind in (("sts", "lee-sts", "sts"), ("sentiment", "rt-sentiment", "classification"),
                                  ("same-movie", "rt-same-movie", "pair_classification")):
        task, expected = load_task(tmp_path / folder), load_task(REPO / "data" / shipped)
        assert (task.type, task.source) == (kind, "hf-disk")
        assert task.data == expected.data and task.content_hash == expected.content_hash, folder


def test_an_hf_sts_dataset_with_a_config_and_a_split_from_the_cache(cache):
    sts = _tsv(REPO / "data" / "lee-sts" / "pairs.tsv")
    sts["score"] = [float(s) for s in sts["score"]]
    fill_cache(cache, "advisor-tests/lee", {"validation": datasets.Dataset.from_dict(sts)}, config="docs")
    task = load_task("hf:advisor-tests/lee:docs@validation")
    assert (task.type, task.name, task.meta["hf_config"], task.meta["split"]) == ("sts", "lee-docs", "docs",
                                                                                 "validation")
    assert task.content_hash == load_task(REPO / "data" / "lee-sts").content_hash
    with pytest.raises(UserError) as info:
        load_task("hf:advisor-tests/lee:docs@test")
    assert str(info.value) == ("hf:advisor-tests/lee:docs@test: no split 'test' (it has: validation)")


# --- bad rows, bad folders, missing data: one line each -------------------------------------------------------------

def _cli_error(*args: str) -> str:
    done = CliRunner().invoke(cli, ["datasets", "show", *args])
    assert done.exit_code == 2, done.output
    (line,) = done.output.strip().splitlines()
    return line.removeprefix("advisor: error: ")


def test_a_bad_row_of_a_saved_dataset_is_one_line_naming_the_row_and_the_users_column(tmp_path):
    folder = tmp_path / "bad"
    datasets.Dataset.from_dict({"question": ["a", "", "c"], "answer": ["x", "y", "z"]}).save_to_disk(str(folder))
    assert _cli_error(str(folder)) == f"{folder}: row 2: field 'question': is empty"
    mapped = tmp_path / "mapped"
    datasets.DatasetDict({"test": datasets.Dataset.from_dict({"q": ["a", "b", ""], "ctx": ["x", "y", "z"]})}
                         ).save_to_disk(str(mapped))
    assert _cli_error(str(mapped), "--columns", "query=q,positive=ctx") == f"{mapped / 'test'}: row 3: field 'q': is empty"


def test_a_bad_row_of_a_cached_hf_dataset_is_one_line_naming_the_split_and_row(cache):
    fill_cache(cache, "advisor-tests/broken", {"test": datasets.Dataset.from_dict(
        {"sentence1": ["a b", "c d", None], "sentence2": ["a", "b", "c"], "score": [1.0, 2.0, 3.0]})})
    assert _cli_error("hf:advisor-tests/broken") == "hf:advisor-tests/broken@test: row 3: field 'sentence1': is missing"


def test_a_column_the_dataset_lacks_is_one_line_with_a_did_you_mean(tmp_path):
    folder = tmp_path / "qa"
    datasets.Dataset.from_dict({"question": ["a"], "context": ["x"]}).save_to_disk(str(folder))
    assert _cli_error(f"{folder}#query=question,positive=contxt") == (
        f"{folder}: has no column 'contxt' to read as positive (it has: question, context); did you mean 'context'?")
    assert _cli_error(str(folder), "--columns", "qeury=question").startswith(
        "--columns qeury=question: unknown dataset option 'qeury'; did you mean 'query'?")


def test_a_damaged_saved_dataset_is_one_line(tmp_path):
    folder = tmp_path / "damaged"
    datasets.Dataset.from_dict(PAIRS).save_to_disk(str(folder))
    (arrow,) = folder.glob("*.arrow")
    arrow.write_bytes(arrow.read_bytes()[:200])
    line = _cli_error(str(folder))
    assert line.startswith(str(folder)) and "Traceback" not in line


def test_an_hf_id_missing_from_the_cache_gives_the_call_that_fills_it(cache):
    line = _cli_error("hf:advisor-tests/nowhere:qa")
    assert line.startswith(f"hf:advisor-tests/nowhere:qa: could not be read from the Hugging Face datasets cache "
                           f"{cache} (HF_DATASETS_CACHE) and the network is off (give --allow-network")
    assert "HF_HUB_OFFLINE=1" in line
    assert line.endswith("fill the cache where the network is allowed with: python -c \"import datasets; "
                         f"datasets.load_dataset('advisor-tests/nowhere', 'qa', cache_dir='{cache}')\"")


def test_the_network_grant_does_not_override_hf_hub_offline(cache):
    """--allow-network lets the library reach the hub; HF_HUB_OFFLINE=1 still keeps it to the cache, and the line
    says which of the two stopped it."""
    from advisor.config.network import grant_network

    grant_network(True)
    with pytest.raises(UserError) as info:
        load_task("hf:advisor-tests/nowhere")
    message = str(info.value)
    assert "and HF_HUB_OFFLINE=1:" in message and "the network is off" not in message


def test_the_call_that_fills_the_cache_fills_it(cache):
    """The printed call is real: run here against an hf id that the cache holds under another cache folder, it
    reads through the same load_dataset path (the call's own words, in this process)."""
    from advisor.datasets.hf import fill_command

    fill_cache(cache, "advisor-tests/filled", {"test": datasets.Dataset.from_dict(PAIRS)})
    command = fill_command("advisor-tests/filled", None, cache)
    assert command.startswith('python -c "') and command.endswith('"')
    code = command[len('python -c "'):-1]
    namespace: dict = {}
    exec(code.replace("datasets.load_dataset(", "loaded = datasets.load_dataset("), namespace)  # noqa: S102
    assert namespace["loaded"]["test"].num_rows == 240
    assert os.environ["HF_HUB_OFFLINE"] == "1"  # and no network was needed
