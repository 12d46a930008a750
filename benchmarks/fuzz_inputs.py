"""Fuzz the user's inputs as the CLI reads them: the shipped catalog and policies and small slices of the example
datasets (BEIR JSONL/TSV retrieval; BEIR in Parquet, with .csv, .jsonl or TREC judgements; query/positive pairs as
CSV, JSONL and Parquet, with a ``--corpus`` file; STS, classification and pair tables, one as Parquet; a corpus
without queries as a folder of .txt/.md files and as a JSONL of documents, with ``#pseudo-queries``; a CSV read
through ``#query=COLUMN``; Hugging Face datasets as a ``save_to_disk`` folder and as an ``hf:`` id from a filled
datasets cache), and the training inputs of ``advisor finetune`` /
``distill`` (pairs CSV/TSV/JSONL for ``--pairs pairs``, raw text and raw JSONL for ``next-sentence`` and
``span-corruption``), mutated (random bytes, deleted and duplicated
lines, junk tokens, truncation, flipped bytes, odd encodings, BOMs, NUL bytes, empty files, huge values). Every
input must end in a parsed object or a one-line ``UserError``/``ConfigError``; anything else is a traceback the
user would see.

    python benchmarks/fuzz_inputs.py [--n 10000] [--seed 0]

prints the tally per target and outcome, and exits 1 if any input ended in another exception.
``tests/inputs/test_inputs_fuzz.py`` runs a fast slice of the same targets under hypothesis.
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
JUNK = [b"\x00", b"\xef\xbb\xbf", b"\xff\xfe", b"\t", b"\n", b"\r", b":", b"- ", b"{", b"}", b"[", b"]", b'"', b"'",
        b"&a", b"*a", b"!!python/object:os.system", b"~", b"null", b"-1", b"1e309", b"9" * 400, b"\xc3", b"\xe9",
        b"\\u0000", b",", b"#", b"|", b">", b"%YAML 1.1", b"---", b"...", b"true", b'{"_id": 1}', b"\x80\x81",
        b"\r\n", b"\r"]


@dataclass(frozen=True)
class Target:
    """One kind of input: the seed files (name -> bytes) laid out in a folder, and how the CLI loads them."""

    name: str
    files: dict[str, bytes]
    load: Callable[[Path], object]


def _head(path: Path, lines: int) -> bytes:
    return b"".join(path.read_bytes().splitlines(keepends=True)[:lines])


def _load_catalog(folder: Path) -> object:
    from advisor.models.catalog import load_catalog

    return load_catalog(folder / "catalog.yaml")


def _load_policy(folder: Path) -> object:
    from advisor.policy.spec import load_policy

    return load_policy(folder / "policy.yaml")


def _load_dataset(folder: Path) -> object:
    from advisor.datasets.tasks import load_task

    task = load_task(folder / "data")
    task.text_sets()
    return task


def _load_file(file: str, corpus: str | None = None) -> Callable[[Path], object]:
    """How ``--dataset FILE [--corpus CORPUS]`` reads one data file (its kind detected from its columns)."""
    def load(folder: Path) -> object:
        from advisor.datasets.tasks import load_task

        task = load_task(folder / file, corpus=folder / corpus if corpus else None)
        task.text_sets()
        return task
    return load


def _parquet(columns: dict[str, list]) -> bytes:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(pa.table(columns), buffer)
    return buffer.getvalue()


def _shape_seeds(folder: Path, n: int) -> dict[str, dict[str, bytes]]:
    """The new input shapes, from the first ``n`` judged queries of a BEIR folder: question/answer CSV,
    query/positive JSONL, pairs Parquet, a --corpus file, a BEIR folder in Parquet, and BEIR folders whose
    judgements are .csv, .jsonl or TREC .txt."""
    import csv
    import io
    import json

    beir = _beir_slice(folder, n)
    records = lambda name: [json.loads(line) for line in beir[name].splitlines() if line.strip()]  # noqa: E731
    queries = {r["_id"]: r["text"] for r in records("data/queries.jsonl")}
    corpus = {r["_id"]: r["text"] for r in records("data/corpus.jsonl")}
    judged = [line.split(b"\t") for line in beir["data/qrels/test.tsv"].splitlines()[1:]]
    judged = [(q.decode(), d.decode(), int(s)) for q, d, s in judged]
    pairs = [(queries[q], corpus[d]) for q, d, _ in judged]
    table = io.StringIO()
    csv.writer(table, lineterminator="\n").writerows([("question", "answer"), *pairs])
    seeds = {"pairs-csv": {"faq.csv": table.getvalue().encode()},
             "pairs-jsonl": {"pairs.jsonl": "".join(json.dumps({"query": q, "positive": p}) + "\n"
                                                    for q, p in pairs).encode()}}
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        pyarrow = None
    if pyarrow is not None:
        seeds["pairs-parquet"] = {"pairs.parquet": _parquet({"anchor": [q for q, _ in pairs],
                                                             "document": [p for _, p in pairs],
                                                             "score": [s for *_, s in judged]})}
        rows = records("data/corpus.jsonl")
        seeds["beir-parquet"] = {
            "data/corpus.parquet": _parquet({k: [r.get(k, "") for r in rows] for k in ("_id", "title", "text")}),
            "data/queries.parquet": _parquet({"_id": list(queries), "text": list(queries.values())}),
            "data/qrels/test.parquet": _parquet({"query-id": [q for q, _, _ in judged],
                                                 "corpus-id": [d for _, d, _ in judged],
                                                 "score": [s for *_, s in judged]})}
    plain = {k: v for k, v in beir.items() if not k.startswith("data/qrels/")}
    table = io.StringIO()
    csv.writer(table, lineterminator="\n").writerows([("query-id", "corpus-id", "score"), *judged])
    seeds["beir-qrels-csv"] = {**plain, "data/qrels/test.csv": table.getvalue().encode()}
    seeds["beir-qrels-jsonl"] = {**plain, "data/qrels/test.jsonl": "".join(
        json.dumps({"query-id": q, "corpus-id": d, "score": s}) + "\n" for q, d, s in judged).encode()}
    seeds["beir-qrels-trec"] = {**plain, "data/qrels/test.txt": "".join(f"{q} 0 {d} {s}\n"
                                                                       for q, d, s in judged).encode()}
    half = len(pairs) // 2
    table = io.StringIO()
    csv.writer(table, lineterminator="\n").writerows([("question", "answer"), *pairs[:half]])
    seeds["pairs-corpus"] = {"faq.csv": table.getvalue().encode(),
                             "docs.jsonl": "".join(json.dumps({"text": t}) + "\n" for t in corpus.values()).encode()}
    return seeds


def _load_spec(spec: str, *, without_queries: bool = False) -> Callable[[Path], object]:
    """How ``--dataset SPEC`` reads a dataset given relative to the input's folder (``#`` options included)."""
    def load(folder: Path) -> object:
        from advisor.datasets.tasks import load_task

        task = load_task(f"{folder}/{spec}", without_queries=without_queries)
        task.text_sets()
        return task
    return load


def _load_hub(repo: str) -> Callable[[Path], object]:
    """How ``--dataset hf:REPO`` reads a dataset from the datasets cache in the input's folder (network off)."""
    def load(folder: Path) -> object:
        import os

        from advisor.datasets.tasks import load_task

        before = os.environ.get("HF_DATASETS_CACHE")
        os.environ["HF_DATASETS_CACHE"] = str(folder / "cache")
        try:
            task = load_task(f"hf:{repo}")
            task.text_sets()
        finally:
            if before is None:
                os.environ.pop("HF_DATASETS_CACHE", None)
            else:
                os.environ["HF_DATASETS_CACHE"] = before
        return task
    return load


def _document_seeds(folder: Path, n: int) -> dict[str, dict[str, bytes]]:
    """A corpus without queries from the first ``n`` documents of a BEIR folder: .txt/.md files (one in a
    sub-folder) and a JSONL of documents; a CSV of pairs whose columns need mapping."""
    import csv
    import io
    import json

    rows = [json.loads(line) for line in (folder / "corpus.jsonl").read_text(encoding="utf-8").splitlines()[:n]]
    files = {f"data/{'sub/' if i % 3 == 0 else ''}{r['_id']}.{'md' if i % 2 else 'txt'}": r["text"].encode()
             for i, r in enumerate(rows)}
    docs = "".join(json.dumps({"id": r["_id"], "title": r["title"], "text": r["text"]}) + "\n" for r in rows)
    table = io.StringIO()
    beir = _beir_slice(folder, n)
    queries = {json.loads(x)["_id"]: json.loads(x)["text"] for x in beir["data/queries.jsonl"].splitlines()}
    corpus = {json.loads(x)["_id"]: json.loads(x)["text"] for x in beir["data/corpus.jsonl"].splitlines()}
    judged = [line.split(b"\t")[:2] for line in beir["data/qrels/test.tsv"].splitlines()[1:]]
    csv.writer(table, lineterminator="\n").writerows([("Frage", "Antwort"), *((queries[q.decode()],
                                                                                corpus[d.decode()])
                                                                               for q, d in judged)])
    return {"documents-txt": files, "documents-jsonl": {"docs.jsonl": docs.encode()},
            "columns-csv": {"faq.csv": table.getvalue().encode()}}


def _hf_seeds(folder: Path, n: int) -> dict[str, dict[str, bytes]]:
    """The first ``n`` judged pairs of a BEIR folder as Hugging Face datasets, written by the datasets library: a
    save_to_disk folder, and the same rows in a datasets cache (``advisor-fuzz/pairs``) as load_dataset leaves it."""
    import json
    import tempfile

    try:
        import datasets
        from datasets.arrow_writer import ArrowWriter
    except ImportError:
        return {}
    beir = _beir_slice(folder, n)
    queries = {json.loads(x)["_id"]: json.loads(x)["text"] for x in beir["data/queries.jsonl"].splitlines()}
    corpus = {json.loads(x)["_id"]: json.loads(x)["text"] for x in beir["data/corpus.jsonl"].splitlines()}
    judged = [line.decode().split("\t")[:2] for line in beir["data/qrels/test.tsv"].splitlines()[1:]]
    pairs = datasets.Dataset.from_dict({"question": [queries[q] for q, _ in judged],
                                        "answer": [corpus[d] for _, d in judged]})
    datasets.disable_progress_bars()
    with tempfile.TemporaryDirectory() as tmp:
        saved = Path(tmp) / "saved"
        pairs.save_to_disk(str(saved))
        disk = {f"data/{p.name}": p.read_bytes() for p in saved.iterdir() if p.is_file()}
        cached = Path(tmp) / "cache" / "advisor-fuzz___pairs" / "default" / "0.0.0" / "0123456789abcdef"
        cached.mkdir(parents=True)
        with ArrowWriter(path=str(cached / "pairs-test.arrow")) as writer:
            writer.write_table(pairs.data.table)
            examples, size = writer.finalize()
        info = datasets.DatasetInfo(features=pairs.features, config_name="default", dataset_name="pairs")
        info.splits = datasets.SplitDict()
        info.splits.add(datasets.SplitInfo("test", num_bytes=size, num_examples=examples, dataset_name="pairs"))
        info.write_to_directory(str(cached))
        cache = {str(p.relative_to(tmp)): p.read_bytes() for p in cached.iterdir() if p.is_file()}
    return {"hf-disk": disk, "hf-cache": cache}


def _load_training(file: str, source: str | None) -> Callable[[Path], object]:
    """How ``advisor finetune/distill --dataset FILE [--pairs SOURCE]`` reads its training input."""
    def load(folder: Path) -> object:
        from advisor.training.data import load_training_task

        task = load_training_task(folder / file, source)
        task.text_sets()
        return task
    return load


def _training_seeds(folder: Path, n: int) -> dict[str, bytes]:
    """Pairs files (anchor, positive, negative) in CSV, TSV and JSONL, and raw text (one document per line) and raw
    JSONL, from the first ``n`` judged queries of a BEIR folder."""
    import csv
    import io
    import json

    queries = {r["_id"]: r["text"] for r in map(json.loads, (folder / "queries.jsonl").read_text().splitlines())}
    corpus = {r["_id"]: r["text"] for r in map(json.loads, (folder / "corpus.jsonl").read_text().splitlines())}
    judged = [line.split("\t")[:2] for line in (folder / "qrels" / "test.tsv").read_text().splitlines()[1:1 + n]]
    rows = [(queries[q], corpus[d], corpus[judged[i - 1][1]]) for i, (q, d) in enumerate(judged)]
    names = ("anchor", "positive", "negative")
    table = io.StringIO()
    csv.writer(table, lineterminator="\n").writerows([names, *rows])
    tsv = "\n".join("\t".join(" ".join(cell.split()) for cell in row) for row in [names, *rows]) + "\n"
    jsonl = "".join(json.dumps(dict(zip(names, row))) + "\n" for row in rows)
    docs = [" ".join(corpus[d].split()) for _, d in judged]
    return {"pairs.csv": table.getvalue().encode(), "pairs.tsv": tsv.encode(), "pairs.jsonl": jsonl.encode(),
            "raw.txt": "".join(doc + "\n" for doc in docs).encode(),
            "raw.jsonl": "".join(json.dumps({"text": doc}) + "\n" for doc in docs).encode()}


def _beir_slice(folder: Path, queries: int) -> dict[str, bytes]:
    """The first ``queries`` judged queries with their judgements and judged documents: a small valid dataset."""
    import json

    qrels = (folder / "qrels" / "test.tsv").read_bytes().splitlines(keepends=True)
    rows = qrels[1:1 + queries]
    qids = {r.split(b"\t")[0].decode() for r in rows}
    dids = {r.split(b"\t")[1].decode() for r in rows}
    pick = lambda path, ids: b"".join(line for line in path.read_bytes().splitlines(keepends=True)  # noqa: E731
                                      if line.strip() and json.loads(line)["_id"] in ids)
    return {"data/corpus.jsonl": pick(folder / "corpus.jsonl", dids),
            "data/queries.jsonl": pick(folder / "queries.jsonl", qids),
            "data/qrels/test.tsv": b"".join([qrels[0], *rows])}


def targets() -> list[Target]:
    data = REPO / "data"
    beir = data / "rt-reviews-plots"
    out = [Target("catalog", {"catalog.yaml": (REPO / "advisor/shipped/catalogs" / "offline.yaml").read_bytes()}, _load_catalog)]
    for policy in sorted((REPO / "advisor/shipped/policies").glob("*.yaml")):
        out.append(Target(f"policy:{policy.stem}", {"policy.yaml": policy.read_bytes()}, _load_policy))
    if (beir / "queries.jsonl").exists():
        out.append(Target("beir", _beir_slice(beir, 20), _load_dataset))
        seeds = _training_seeds(beir, 20)
        for name, file, source in (("train-pairs-csv", "pairs.csv", "pairs"), ("train-pairs-tsv", "pairs.tsv", None),
                                   ("train-pairs-jsonl", "pairs.jsonl", "pairs"),
                                   ("train-raw-text", "raw.txt", "next-sentence"),
                                   ("train-raw-spans", "raw.txt", "span-corruption"),
                                   ("train-raw-jsonl", "raw.jsonl", None)):
            out.append(Target(name, {file: seeds[file]}, _load_training(file, source)))
    for name, folder, file in (("sts", "lee-sts", "pairs.tsv"), ("classification", "pang-lee-polarity",
                                                                 "polarity.tsv"),
                               ("pairs", "rt-same-movie", "test.tsv")):
        if (data / folder / file).exists():
            out.append(Target(name, {f"data/{file}": _head(data / folder / file, 30)}, _load_dataset))
    if (beir / "queries.jsonl").exists():
        shapes = _shape_seeds(beir, 20)
        for name, files in shapes.items():
            if name == "pairs-corpus":
                out.append(Target(name, files, _load_file("faq.csv", "docs.jsonl")))
            elif name.startswith("pairs-"):
                (file,) = files
                out.append(Target(name, files, _load_file(file)))
            else:
                out.append(Target(name, files, _load_dataset))
    if (beir / "corpus.jsonl").exists():
        documents = _document_seeds(beir, 12)
        out.append(Target("documents-txt", documents["documents-txt"], _load_spec("data", without_queries=True)))
        out.append(Target("pseudo-queries", documents["documents-txt"],
                          _load_spec("data#pseudo-queries=5,span=6,seed=1")))
        out.append(Target("documents-jsonl", documents["documents-jsonl"],
                          _load_spec("docs.jsonl", without_queries=True)))
        out.append(Target("columns-csv", documents["columns-csv"], _load_spec("faq.csv#query=Frage,positive=Antwort")))
        hf = _hf_seeds(beir, 20)
        if hf:
            out.append(Target("hf-disk", hf["hf-disk"], _load_spec("data")))
            out.append(Target("hf-cache", hf["hf-cache"], _load_hub("advisor-fuzz/pairs")))
    sts = data / "lee-sts" / "pairs.tsv"
    if sts.exists():
        try:
            lines = sts.read_text(encoding="utf-8").splitlines()[:30]
            names, *rows = [line.split("\t") for line in lines]
            columns = {n: [r[i] for r in rows] for i, n in enumerate(names)}
            columns["score"] = [float(v) for v in columns["score"]]
            out.append(Target("sts-parquet", {"data/pairs.parquet": _parquet(columns)}, _load_dataset))
        except ImportError:
            pass
    return out


def mutate(content: bytes, rng: random.Random) -> bytes:
    """One to three of the mutations a real file suffers."""
    for _ in range(rng.randint(1, 3)):
        lines = content.splitlines(keepends=True) or [b""]
        op = rng.randrange(13)
        i = rng.randrange(len(lines))
        if op == 0:
            del lines[i]
        elif op == 1:
            lines.insert(i, lines[i])
        elif op == 2:
            pos = rng.randrange(len(lines[i]) + 1)
            lines[i] = lines[i][:pos] + rng.choice(JUNK) + lines[i][pos:]
        elif op == 3:
            return b"".join(lines)[:rng.randrange(len(content) + 1)]
        elif op == 4 and content:
            raw = bytearray(content)
            pos = rng.randrange(len(raw))
            raw[pos] ^= 1 << rng.randrange(8)
            return bytes(raw)
        elif op == 5:
            return bytes(rng.randrange(256) for _ in range(rng.randrange(200)))
        elif op == 6:
            return b""
        elif op == 7:
            return b"\xef\xbb\xbf" + content
        elif op == 8:
            try:
                return content.decode("utf-8").encode(rng.choice(["utf-16", "latin-1", "cp1252", "utf-32"]),
                                                      errors="replace")
            except UnicodeDecodeError:
                return content
        elif op == 9:
            lines[i] = lines[i].replace(b"1", b"9" * rng.choice([20, 400, 5000]), 1)
        elif op == 10:  # a huge field: longer than the CSV module's field limit (131,072 characters)
            pos = rng.randrange(len(lines[i]) + 1)
            lines[i] = lines[i][:pos] + b"x" * rng.choice([1000, 140_000]) + lines[i][pos:]
        elif op == 11:  # Windows line endings
            content = content.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            continue
        else:
            lines[i] = b"\x00" * rng.randrange(1, 8) + lines[i]
        content = b"".join(lines)
    return content


def attempt(target: Target, files: dict[str, bytes]) -> tuple[str, str]:
    """Load one mutated input in a fresh folder: ('parsed' | 'user error' | 'TRACEBACK', detail)."""
    from advisor.errors import UserError

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, content in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(content)
        try:
            target.load(folder)
        except UserError as exc:
            message = str(exc)
            if "\n" in message.strip() or "Traceback" in message:
                return "TRACEBACK", f"multi-line user error: {message!r}"
            return "user error", message
        except Exception:  # noqa: BLE001 - what this fuzzer looks for
            return "TRACEBACK", traceback.format_exc(limit=-3)
    return "parsed", ""


def mutated(target: Target, rng: random.Random) -> dict[str, bytes]:
    files = dict(target.files)
    name = rng.choice(sorted(files))
    files[name] = mutate(files[name], rng)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    pool = targets()
    tally: collections.Counter = collections.Counter()
    examples: dict[str, str] = {}
    for _ in range(args.n):
        target = rng.choice(pool)
        outcome, detail = attempt(target, mutated(target, rng))
        tally[(target.name.split(":")[0], outcome)] += 1
        if outcome == "TRACEBACK":
            examples.setdefault(detail.strip().splitlines()[-1], detail)
    print(f"{'target':<20} {'parsed':>8} {'user error':>11} {'TRACEBACK':>10}")
    for name in sorted({t for t, _ in tally}):
        print(f"{name:<20} {tally[(name, 'parsed')]:>8} {tally[(name, 'user error')]:>11} "
              f"{tally[(name, 'TRACEBACK')]:>10}")
    tracebacks = sum(n for (_, outcome), n in tally.items() if outcome == "TRACEBACK")
    print(f"{args.n} inputs, {tracebacks} tracebacks")
    for detail in list(examples.values())[:10]:
        print("---\n" + detail)
    return 1 if tracebacks else 0


if __name__ == "__main__":
    sys.exit(main())
