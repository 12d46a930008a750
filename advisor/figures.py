"""The figure registry: every number the advisor measures or derives, under one name, with its unit, which way is
better, where its interval comes from, the words people read and how it is written.

A producer (the code that measures a figure and stores it) writes its key, through the constants below where it
can; everything else (the ranking, the policy's limits, the why lines, the reports, the TUI, the CLI) reads the
unit, the direction and the way to write a figure from here, so a figure means and reads the same everywhere.
Quality metrics with a cutoff are families (``ndcg_at_{k}``): ``lookup("ndcg_at_100")`` works for any k. A name
nobody registered is an error with a "did you mean" (``unknown_figure_message``), and ``markdown_table`` writes
the table of docs/figures.md (a test holds the two equal).
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, replace
from typing import Iterable

from advisor import formatting
from advisor.errors import UserError

KINDS = ("quality", "cost", "money", "index", "info")
MEASUREMENTS = ("latency", "throughput")
CI_LOW, CI_HIGH = "_ci_low", "_ci_high"  # ``<figure>_ci_low`` / ``<figure>_ci_high``: the ends of its 95% interval
QUALITY_DECIMALS = 4  # quality is written with 4 decimals everywhere, so a column of it lines up


@dataclass(frozen=True)
class Figure:
    """One figure. ``direction``: +1 higher is better, -1 lower is better, 0 neither (context, counts, settings).
    ``measurement``: the measurement ("latency" or "throughput") its interval and unstable marks come from.
    ``limit``: the policy's ``limits.<field>`` that bounds it (a maximum when lower is better, else a minimum).
    ``objective``: the ranking weight (``ranking.weights.<name>``) it is the criterion of."""

    name: str
    unit: str
    direction: int
    kind: str
    label: str
    description: str
    measurement: str | None = None
    decimals: int | None = None  # fixed decimals (quality: 4); None: about three significant digits
    integer: bool = False        # whole numbers only (bytes, counts): a limit on it is an integer
    limit: str | None = None
    objective: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"figure {self.name}: kind '{self.kind}' is not one of {', '.join(KINDS)}")
        if self.direction not in (-1, 0, 1):
            raise ValueError(f"figure {self.name}: direction is +1, -1 or 0, got {self.direction}")
        if self.measurement not in (None, *MEASUREMENTS):
            raise ValueError(f"figure {self.name}: measurement '{self.measurement}' is not one of "
                             f"{', '.join(MEASUREMENTS)}")
        if self.limit is not None and self.direction == 0:
            raise ValueError(f"figure {self.name}: a limit needs a direction")

    # -- reading -------------------------------------------------------------------------------------------------

    @property
    def bound(self) -> str | None:
        """"max" or "min": what a policy limit on this figure is."""
        if self.limit is None:
            return None
        return "max" if self.direction < 0 else "min"

    @property
    def limit_label(self) -> str:
        """What a policy limit on it is, for a form: ``max p95 query latency (ms)``."""
        return f"{self.bound} {self.label}" + (f" ({self.unit})" if self.unit else "")

    @property
    def ci_low(self) -> str:
        return self.name + CI_LOW

    @property
    def ci_high(self) -> str:
        return self.name + CI_HIGH

    def worst(self, values: Iterable[float]) -> float:
        """The worst of ``values``: the lowest when higher is better, else the highest (latency, memory, and a
        figure without a direction: the most a deployment must plan for)."""
        values = list(values)
        return min(values) if self.direction > 0 else max(values)

    # -- writing -------------------------------------------------------------------------------------------------

    def _write(self, value: float) -> str:
        """One value with its unit, for a sentence."""
        if self.decimals is not None:
            return formatting.number(value, decimals=self.decimals)
        if self.unit.startswith("USD"):  # USD, USD/month, USD/GB-month: $0.0154/month
            return formatting.money(value) + self.unit[3:]
        if self.unit == "MB":
            return formatting.megabytes(value)
        if self.unit == "fraction":
            return formatting.percent(value)
        if self.unit == "s":
            return formatting.duration(value)
        if self.unit == "x":  # a ratio: 4.12x
            return formatting.number(value) + "x"
        return formatting.figure(value, self.unit)

    def text(self, value: float | int | None, *, exact: bool = False, missing: str = formatting.MISSING) -> str:
        """For a sentence: ``1,209 ms``, ``0.4123``, ``$0.16``, ``2.1 GB``; None -> ``n/a``. ``exact``: a number
        someone wrote (a policy's limit), in the figure's own unit with up to six significant digits."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return missing
        if exact and self.decimals is None:
            if self.unit.startswith("USD"):
                return formatting.money(value, digits=6) + self.unit[3:]
            return formatting.figure(value, self.unit if self.unit != "fraction" else "", digits=6)
        return self._write(value)

    def cell(self, value: float | int | None, *, missing: str = formatting.CELL_MISSING) -> str:
        """For a table whose column names the unit: ``1,209``, ``0.4123``; None -> ``–``."""
        return formatting.cell(value, decimals=self.decimals, missing=missing)

    def interval_text(self, value: float | None, low: float | None, high: float | None) -> str:
        """A value with its 95% interval, for a sentence: ``230 ms (95% CI 221 to 240 ms)``; the value alone
        when there is no interval."""
        text = self.text(value)
        if low is None or high is None or value is None:
            return text
        return f"{text} ({self._interval(low, high)})"

    def interval_cell(self, value: float | None, low: float | None, high: float | None) -> str:
        """A value with its 95% interval, for a table: ``230 (221 to 240)``."""
        text = self.cell(value)
        if low is None or high is None or value is None:
            return text
        return f"{text} ({formatting.interval(low, high, decimals=self.decimals, label='')})"

    def _interval(self, low: float, high: float, label: str = "95% CI") -> str:
        if self.unit == "USD":
            return formatting.interval(low, high, label=label, write=formatting.money)
        unit = "" if self.kind == "quality" or self.unit == "fraction" else self.unit
        return formatting.interval(low, high, unit, decimals=self.decimals, label=label)

    def interval(self, low: float | None, high: float | None) -> str:
        """The interval alone, for a sentence: ``95% CI 221 to 240 ms``."""
        if low is None or high is None:
            return formatting.MISSING
        return self._interval(low, high)

    def difference_text(self, difference: float, low: float | None = None, high: float | None = None) -> str:
        """A paired difference of this figure with its interval: ``+0.0123 (95% CI -0.0010 to +0.0250)``."""
        text = formatting.signed(difference, decimals=self.decimals if self.decimals is not None else 4)
        if low is None or high is None:
            return text
        return f"{text} ({difference_interval(low, high, decimals=self.decimals)})"


def difference_interval(low: float, high: float, *, decimals: int | None = QUALITY_DECIMALS,
                        label: str = "95% CI") -> str:
    """The interval of a paired difference (signed ends): ``95% CI -0.0010 to +0.0250``."""
    return formatting.interval(low, high, sign=True, decimals=QUALITY_DECIMALS if decimals is None else decimals,
                               label=label)


@dataclass(frozen=True)
class Family:
    """Figures that differ only by a cutoff: ``pattern`` ``ndcg_at_{k}``, ``label`` ``nDCG@{k}``."""

    pattern: str
    unit: str
    direction: int
    kind: str
    label: str
    description: str
    decimals: int | None = None
    measurement: str | None = None  # as Figure.measurement: where its interval and unstable marks come from

    @property
    def regex(self) -> re.Pattern[str]:
        return re.compile("^" + re.escape(self.pattern).replace(re.escape("{k}"), r"([1-9][0-9]*)") + "$")

    def name(self, k: int) -> str:
        return self.pattern.format(k=k)

    def figure(self, k: int) -> Figure:
        return Figure(self.name(k), self.unit, self.direction, self.kind, self.label.format(k=k),
                      self.description.format(k=k), decimals=self.decimals, measurement=self.measurement)

    def match(self, name: str) -> Figure | None:
        m = self.regex.match(name)
        return self.figure(int(m.group(1))) if m else None


class UnknownFigure(KeyError, UserError):
    """A figure name nobody registered; the message says where it was met and the closest registered name."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown figure"


_FIGURES: dict[str, Figure] = {}
_FAMILIES: list[Family] = []


def register(fig: Figure) -> Figure:
    """Add ``fig`` (a plugin may register the figures it produces). A name is registered once."""
    if fig.name in _FIGURES or _family_of(fig.name) is not None:
        raise ValueError(f"figure '{fig.name}' is registered already")
    _FIGURES[fig.name] = fig
    return fig


def register_family(family: Family) -> Family:
    _FAMILIES.append(family)
    return family


def _family_of(name: str) -> Figure | None:
    for family in _FAMILIES:
        fig = family.match(name)
        if fig is not None:
            return fig
    return None


def _interval_end(name: str) -> Figure | None:
    """``latency_p95_ms_ci_low`` -> a figure for that end of the interval of a figure that has one."""
    for suffix, which in ((CI_LOW, "low"), (CI_HIGH, "high")):
        if name.endswith(suffix):
            base = _FIGURES.get(name[: -len(suffix)]) or _family_of(name[: -len(suffix)])
            if base is not None and base.measurement is not None:
                return replace(base, name=name, direction=0, kind="info", label=f"{base.label} ({which} end)",
                               description=f"the {which} end of the 95% interval of {base.name}", limit=None,
                               objective=None)
    return None


def find(name: str) -> Figure | None:
    """The registered figure ``name`` (a family member or an interval end included), or None."""
    return _FIGURES.get(name) or _family_of(name) or _interval_end(name)


def figure_of(name: str) -> Figure:
    """For writing a figure someone stored (a store from another version may hold a name no longer registered):
    the registered figure, else a plain one that writes the number as it is. Never raises; what the advisor
    produces is held to the registry by tests, not here."""
    return find(name) or Figure(name, "", 0, "info", name, "not in the figure registry")


def is_figure(name: str) -> bool:
    return find(name) is not None


def lookup(name: str, where: str = "") -> Figure:
    """The registered figure ``name``; an unknown one raises ``UnknownFigure`` with a did-you-mean."""
    fig = find(name)
    if fig is None:
        raise UnknownFigure(unknown_figure_message(name, where))
    return fig


def _candidates(name: str, kind: str | None) -> list[str]:
    """Registered names to suggest from: the fixed names, and each family at the cutoffs written in ``name``
    (``ndcg@10`` -> ``ndcg_at_10``), else at 10."""
    cutoffs = [int(n) for n in re.findall(r"[1-9][0-9]*", name)] or [10]
    out = [f.name for f in _FIGURES.values() if kind is None or f.kind == kind]
    out += [fam.name(k) for fam in _FAMILIES for k in cutoffs if kind is None or fam.kind == kind]
    return out


def suggest(name: str, *, kind: str | None = None) -> str | None:
    """The registered name closest to ``name`` (of ``kind`` when given), or None when none is close."""
    wanted = str(name).strip().lower().replace("@", "_at_").replace("-", "_").replace(" ", "_")
    pool = _candidates(wanted, kind)
    if wanted in pool:
        return wanted
    close = difflib.get_close_matches(wanted, pool, n=1, cutoff=0.6)
    return close[0] if close else None


def unknown_figure_message(name: str, where: str = "", *, kind: str | None = None) -> str:
    """``unknown figure 'ndcg@10' in policy.yaml; did you mean 'ndcg_at_10'?`` (``kind``: "quality figure")."""
    what = f"{kind} figure" if kind else "figure"
    text = f"unknown {what} '{name}'" + (f" in {where}" if where else "")
    hint = suggest(name, kind=kind)
    if hint is not None:
        return text + f"; did you mean '{hint}'?"
    examples = ", ".join(_candidates(str(name), kind)[:6])
    return text + f"; registered {what}s include {examples} (docs/figures.md lists them all)"


def check(name: str, where: str, *, kind: str | None = None) -> Figure:
    """``lookup`` that also wants ``kind`` (a quality floor must name a quality figure)."""
    fig = find(name)
    if fig is None or (kind is not None and fig.kind != kind):
        raise UnknownFigure(unknown_figure_message(name, where, kind=kind))
    return fig


def all_figures(kind: str | None = None) -> tuple[Figure, ...]:
    """Every fixed-name figure (families are not expanded), in registration order."""
    return tuple(f for f in _FIGURES.values() if kind is None or f.kind == kind)


def families(kind: str | None = None) -> tuple[Family, ...]:
    return tuple(f for f in _FAMILIES if kind is None or f.kind == kind)


def names(kind: str | None = None) -> tuple[str, ...]:
    return tuple(f.name for f in all_figures(kind))


def intervals() -> dict[str, str]:
    """Measured figures with an interval -> the measurement ("latency"/"throughput") whose marks apply to them."""
    return {f.name: f.measurement for f in _FIGURES.values() if f.measurement and f.kind == "cost"}


def limits() -> tuple[Figure, ...]:
    """The figures a policy can bound, in the order the policy's ``limits`` section lists them."""
    return tuple(f for f in _FIGURES.values() if f.limit)


def limit_figure(field: str) -> Figure:
    """The figure ``limits.<field>`` bounds."""
    for f in limits():
        if f.limit == field:
            return f
    raise UnknownFigure(f"unknown limit '{field}'")


def objectives() -> dict[str, str]:
    """Ranking weight name -> the figure it weighs (``latency`` -> ``latency_p95_ms``)."""
    return {f.objective: f.name for f in _FIGURES.values() if f.objective}


def markdown_table() -> str:
    """The figure table of docs/figures.md, from the registry."""
    better = {1: "higher", -1: "lower", 0: ""}
    rows = ["| figure | unit | better | kind | interval from | policy limit | what it is |",
            "|---|---|---|---|---|---|---|"]
    entries: list[tuple[str, str, int, str, str, str, str]] = []
    for fam in _FAMILIES:
        entries.append((fam.pattern, fam.unit, fam.direction, fam.kind, fam.measurement or "", "",
                        fam.description.format(k="k")))
    for f in _FIGURES.values():
        limit = f"{f.bound} (`limits.{f.limit}`)" if f.limit else ""
        entries.append((f.name, f.unit, f.direction, f.kind, f.measurement or "", limit, f.description))
    for kind in KINDS:
        for name, unit, direction, k, measurement, limit, description in entries:
            if k == kind:
                rows.append(f"| `{name}` | {unit} | {better[direction]} | {k} | {measurement} | {limit} | "
                            f"{description} |")
    return "\n".join(rows) + "\n"


# -- the registry ------------------------------------------------------------------------------------------------
# Names in use by stored results are kept as they are (a store written before must still be read).

def _quality(name: str, label: str, description: str, *, direction: int = 1) -> str:
    register(Figure(name, "", direction, "quality", label, description, decimals=QUALITY_DECIMALS))
    return name


def _family(pattern: str, label: str, description: str, *, kind: str = "quality") -> Family:
    return register_family(Family(pattern, "", 1, kind, label, description, decimals=QUALITY_DECIMALS))


def _fig(name: str, unit: str, direction: int, kind: str, label: str, description: str, **kw) -> str:
    register(Figure(name, unit, direction, kind, label, description, **kw))
    return name


# Quality: retrieval families (trec_eval / mteb names), one per cutoff k
NDCG = _family("ndcg_at_{k}", "nDCG@{k}", "normalized discounted cumulative gain of the top {k} (graded qrels; "
                                           "in an index cell, through the index)")
RECALL = _family("recall_at_{k}", "recall@{k}", "share of a query's relevant documents in the top {k}; in an index "
                                               "cell, share of exact search's top {k} the index returns")
PRECISION = _family("precision_at_{k}", "precision@{k}", "share of the top {k} that is relevant")
MRR = _family("mrr_at_{k}", "MRR@{k}", "reciprocal rank of the first relevant document within the top {k}")
MAP = _family("map_at_{k}", "MAP@{k}", "mean average precision over the top {k} (reranking: the candidate list)")
RATED_SCORE = _family("rated_score_at_{k}", "rated score@{k}", "rater scores (0 to 1) of the top {k}, weighted "
                                                               "by 1/log2(rank + 1) like DCG (unlabeled retrieval)")


def ndcg_at(k: int) -> str:
    return NDCG.name(k)


def recall_at(k: int) -> str:
    return RECALL.name(k)


# Quality: one name each
COSINE_SPEARMAN = _quality("cosine_spearman", "Spearman (cosine)", "Spearman rank correlation of cosine similarity "
                                                                    "with the gold scores (STS)")
COSINE_PEARSON = _quality("cosine_pearson", "Pearson (cosine)", "Pearson correlation of cosine similarity with the "
                                                                 "gold scores (STS)")
ACCURACY = _quality("accuracy", "accuracy", "share of test items classified right (classification: logistic "
                                            "regression on the embeddings, mean over experiments; pair "
                                            "classification: at the best threshold)")
F1 = _quality("f1", "F1", "F1 (classification: macro average; pair classification: at the best threshold)")
F1_WEIGHTED = _quality("f1_weighted", "weighted F1", "F1 averaged over classes weighted by support (classification)")
PRECISION_SCORE = _quality("precision", "precision", "precision (classification: macro average; pair "
                                                     "classification: at the best F1 threshold)")
PRECISION_WEIGHTED = _quality("precision_weighted", "weighted precision", "precision averaged over classes weighted "
                                                                          "by support (classification)")
RECALL_SCORE = _quality("recall", "recall", "recall (classification: macro average; pair classification: at the "
                                            "best F1 threshold)")
RECALL_WEIGHTED = _quality("recall_weighted", "weighted recall", "recall averaged over classes weighted by support "
                                                                 "(classification)")
V_MEASURE = _quality("v_measure", "V-measure", "V-measure of k-means clusters against the gold groups (clustering)")
HOMOGENEITY = _quality("homogeneity", "homogeneity", "each cluster holds one gold group (clustering)")
COMPLETENESS = _quality("completeness", "completeness", "each gold group falls in one cluster (clustering)")
_SIMILARITIES = {"cosine": "cosine similarity", "dot": "dot product", "euclidean": "euclidean distance",
                 "manhattan": "manhattan distance", "max": "the best similarity"}
_PAIR_STATS = {"accuracy": "accuracy at the best threshold", "f1": "F1 at the best threshold",
               "precision": "precision at the best F1 threshold", "recall": "recall at the best F1 threshold",
               "ap": "average precision"}
for _sim, _sim_text in _SIMILARITIES.items():
    for _stat, _stat_text in _PAIR_STATS.items():
        _quality(f"{_sim}_{_stat}", f"{_stat_text.split(' at ')[0]} ({_sim})",
                 f"{_stat_text} of pairs scored by {_sim_text} (pair classification"
                 + (", deduplication)" if _sim == "cosine" else ")"))
COSINE_AP = "cosine_ap"
_fig("cosine_f1_threshold", "", 0, "info", "F1 threshold (cosine)", "the cosine above which a pair is called a "
                                                                    "duplicate at the best F1 (deduplication)")
EXACT_NDCG_AT_10 = _quality("exact_ndcg_at_10", "exact nDCG@10", "nDCG@10 of exact search on the same vectors, "
                                                                  "beside an index's own (index cell)")
RECALL_AFTER_INSERTS = _quality("recall_at_10_after_inserts", "recall@10 after inserts",
                                "an index's recall@10 against exact search after the last share of the corpus was "
                                "inserted into it (index cell)")

# The ranking's own figures (advisor.ranking): what it derives from the quality figures
QUALITY_MEAN = _quality("quality_mean", "quality", "mean over the tasks of each task's ranking metric (the policy's "
                                                   "quality_metrics, else the task's main metric)")
QUALITY_RETAINED = _fig("quality_retained", "fraction", 1, "quality", "quality retained", "quality relative to the "
                        "same model at full size, float32 vectors, fp32 weights")
SPEEDUP = _fig("speedup", "x", 1, "info", "speed-up", "bulk docs/s relative to the same model's plain variant (fp32 "
              "weights on its own runtime), measured on the same machine at the same thread budget")
SCORE = _fig("score", "", 1, "info", "score", "the weighted score in [0, 1] the ranking orders the Pareto front by "
             "(each criterion scaled over the candidates, costs on a log scale)", decimals=3)

# Cost: batch-1 query latency
LATENCY_P50_MS = _fig("latency_p50_ms", "ms", -1, "cost", "p50 latency", "median batch-1 query latency (raw text in, "
                      "vector out), after warm-up", measurement="latency")
LATENCY_P95_MS = _fig("latency_p95_ms", "ms", -1, "cost", "p95 query latency", "95th-percentile batch-1 query "
                      "latency; with an index or a hybrid, end to end (encode + search)", measurement="latency",
                      limit="max_p95_latency_ms", objective="latency")
LATENCY_P99_MS = _fig("latency_p99_ms", "ms", -1, "cost", "p99 latency", "99th-percentile batch-1 query latency",
                      measurement="latency")
LATENCY_MEAN_MS = _fig("latency_mean_ms", "ms", -1, "cost", "mean latency", "mean batch-1 query latency")
LATENCY_SAMPLES = _fig("latency_samples", "samples", 1, "info", "latency samples", "batch-1 queries timed (a p99 over "
                       "50 samples is one sample)", integer=True)
QUERY_ENCODE_P95_MS = _fig("query_encode_p95_ms", "ms", -1, "cost", "p95 query encode", "p95 batch-1 query encoding "
                           "alone, when latency_p95_ms adds an index's or a hybrid's search")
LOAD_TIME_S = _fig("load_time_s", "s", -1, "cost", "load time", "seconds to load the model")
LOAD_TIME_COLD_S = _fig("load_time_cold_s", "s", -1, "cost", "cold load time", "seconds a fresh process takes to "
                        "load the model (the serving footprint's process)")

# Cost: bulk throughput
DOCS_PER_S = _fig("docs_per_s", "docs/s", 1, "cost", "throughput", "bulk documents embedded per second on the "
                  "dataset's own length distribution (BM25: tokenize + index)", measurement="throughput",
                  limit="min_throughput_docs_per_s", objective="throughput")
TOKENS_PER_S = _fig("tokens_per_s", "tokens/s", 1, "cost", "token throughput", "bulk tokens embedded per second")
MEAN_TOKENS_PER_DOC = _fig("mean_tokens_per_doc", "tokens", 0, "info", "tokens per document",
                           "mean tokens per document of the bulk sample (the model's tokenizer)")
BULK_DOCS = _fig("bulk_docs", "docs", 0, "info", "bulk sample", "documents in the bulk throughput sample",
                 integer=True)
BULK_S = _fig("bulk_s", "s", 0, "info", "seconds per round", "seconds one bulk round takes at the median rate")
BULK_ROUNDS = _fig("bulk_rounds", "rounds", 0, "info", "bulk rounds", "bulk rounds run until two agreed",
                   integer=True)

# Cost: memory. The serving footprint (advisor.cost.memory): one figure measured one way for every candidate, BM25
# included, and its parts in the same process, so a user can scale them to another corpus.
SERVING_MEMORY_MB = _fig("serving_memory_mb", "MB", -1, "cost", "serving memory", "peak RSS of a fresh process "
                         "serving the candidate: the serving libraries imported, the model loaded, the index of the "
                         "task's corpus in memory (a model: its full-size float32 vectors, loaded; BM25: built from "
                         "the documents) and 32 queries answered; the ranking's memory figure",
                         limit="max_peak_memory_mb", objective="memory")
SERVING_RUNTIME_MB = _fig("serving_runtime_mb", "MB", -1, "cost", "runtime memory", "RSS of that process once the "
                          "interpreter, numpy, the advisor and the serving libraries (torch, onnxruntime, bm25s ...) "
                          "are imported, before the model is loaded")
SERVING_WEIGHTS_MB = _fig("serving_weights_mb", "MB", -1, "cost", "model weights", "RSS the model's load adds in that "
                          "process: its weights, its tokenizer and any library the load imports on its own (0 for "
                          "BM25, which loads no model)")
SERVING_INDEX_MB = _fig("serving_index_mb", "MB", -1, "cost", "index memory", "bytes the index of the task's corpus "
                        "holds in that process (a model: its vectors; BM25: postings and vocabulary)")
SERVING_INDEX_MB_PER_M = _fig("serving_index_mb_per_million_docs", "MB", -1, "cost", "index per million documents",
                              "serving_index_mb / documents indexed x 1,000,000: the index of a million documents of "
                              "this kind (exact for vectors; BM25's vocabulary grows more slowly than its corpus, "
                              "so for BM25 an upper bound)")
GPU_PEAK_MEMORY_MB = _fig("gpu_peak_memory_mb", "MB", -1, "cost", "GPU memory", "torch.cuda.max_memory_allocated "
                          "in the serving footprint's process (a model on a GPU only)")
# Stores written before the serving footprint hold these: a model's peak RSS without its vectors, BM25's index
# alone, a GPU's allocator peak. They are not like for like: registered so an old store still reads, labelled so
# wherever they appear, never ranked and never measured now; a sweep measures such a cell again
# (advisor.sweep.driver.memory_changed).
RETIRED_MEMORY = "retired, not like for like"
PEAK_MEMORY_MB = _fig("peak_memory_mb", "MB", 0, "info", f"peak memory ({RETIRED_MEMORY})", "stores before the "
                      "serving footprint: CPU: peak RSS of a fresh process that loaded the model and encoded 128 "
                      "documents, without its index; GPU: torch.cuda.max_memory_allocated; BM25: its index alone")
MODEL_MEMORY_MB = _fig("model_memory_mb", "MB", 0, "info", f"model memory ({RETIRED_MEMORY})", "stores before the "
                       "serving footprint: the resident memory the model's load and encoding added (CPU memory probe)")
# Cost: storage
BYTES_PER_VECTOR = _fig("bytes_per_vector", "B", -1, "cost", "bytes per vector", "bytes one stored vector takes at "
                        "the variant's dimension and vector precision (chunked: per document)", integer=True,
                        limit="max_bytes_per_vector", objective="bytes_per_vector")
INDEX_SIZE_MB = _fig("index_size_mb", "MB", -1, "cost", "index size", "raw vector payload of the task's corpus at "
                     "full size, float32")
INDEX_VECTORS = _fig("index_vectors", "vectors", 0, "info", "vectors", "vectors in the task's corpus", integer=True)
# the storage table of a cost cell (``details["index"]``: one row per dimension and vector precision)
INDEX_MB = _fig("index_mb", "MB", -1, "cost", "index size", "raw vector payload of the task's corpus at this row's "
                "dimension and vector precision")
MB_PER_MILLION = _fig("mb_per_million", "MB", -1, "cost", "size per million vectors", "raw vector payload of a "
                      "million vectors at this row's dimension and vector precision")
USD_PER_MONTH_PER_MILLION = _fig("usd_per_month_per_million", "USD/month", -1, "cost", "storage per million vectors",
                                 "monthly storage of a million vectors at the stated price per GB-month")
STORAGE_PRICE = _fig("storage_price_per_gb_month", "USD/GB-month", 0, "info", "storage price",
                     "the storage price the index table assumed")
REEMBED_CORPUS_S = _fig("reembed_corpus_s", "s", -1, "cost", "re-embed corpus", "seconds to re-embed the task's "
                        "corpus at the measured throughput")
REEMBED_H_PER_M = _fig("reembed_hours_per_million_docs", "h", -1, "cost", "re-embed a million docs",
                       "hours to re-embed a million documents of this length distribution")
REEMBED_H_PER_B_TOKENS = _fig("reembed_hours_per_billion_tokens", "h", -1, "cost", "re-embed a billion tokens",
                              "hours to re-embed a billion tokens")

# Cost: the machine while measuring
LOAD_AVG_1M = _fig("load_avg_1m", "", 0, "info", "load average", "the machine's 1-minute load average while "
                   "measuring")
CORES = _fig("cores", "cores", 0, "info", "cores", "CPU cores of the machine", integer=True)
CONTENTION_BUSY_CORES = _fig("contention_busy_cores", "cores", 0, "info", "busy cores", "cores other processes kept "
                             "busy while measuring")
CONTENTION_STEAL_SHARE = _fig("contention_steal_share", "fraction", 0, "info", "steal", "share of CPU time the "
                              "hypervisor stole while measuring")
UNSTABLE_FIGURES = _fig("unstable_figures", "", 0, "info", "unstable measurements", "measurements (throughput, "
                        "latency) that did not settle or were taken under contention", integer=True)

# Cost: billed tokens (hosted models)
BILLED_TOKENS_PER_DOC = _fig("billed_tokens_per_doc", "tokens", -1, "cost", "billed tokens per document",
                             "tokens the server billed per document (its reported usage)")
BILLED_TOKENS_PER_QUERY = _fig("billed_tokens_per_query", "tokens", -1, "cost", "billed tokens per query",
                               "tokens the server billed per query")
BILLED_TOKENS_ESTIMATED = _fig("billed_tokens_estimated", "", 0, "info", "billed tokens estimated", "1 when the "
                               "billed tokens were estimated by the client (the API reports no usage)")
BILLED_DOCS = _fig("billed_docs", "docs", 0, "info", "billed documents", "documents sent to read the billed tokens",
                   integer=True)
BILLED_QUERIES = _fig("billed_queries", "queries", 0, "info", "billed queries", "queries sent to read the billed "
                      "tokens", integer=True)

# Cost: latency under load at a sustainable rate (advisor.cost.sustainable). An open-loop sweep of offered rates
# through advisor serve's batcher finds the highest rate it keeps up with; the load latencies are runs at fixed
# fractions of that rate (and at the rates a policy names), never at a rate past it.
LOAD_FRACTIONS = (0.5, 0.8)  # the fractions of the sustainable rate a cost cell measures latency at
LOAD_LIMIT = "max_p95_latency_ms_at_load"  # the policy's limit on p95 under load (advisor.policy.spec.LoadLimit)
LOAD_SUSTAINABLE_QPS = _fig("load_sustainable_qps", "queries/s", 1, "cost", "sustainable rate", "the highest offered "
                            "rate advisor serve's batcher kept up with in an open-loop sweep of offered rates "
                            "(advisor.cost.sustainable.SATURATION_RULE)")
LOAD_SATURATED_AT_QPS = _fig("load_saturated_at_qps", "queries/s", 0, "info", "saturated at", "the lowest offered "
                             "rate of the sweep it did not keep up with (absent: the sweep's budget ended first, so "
                             "the sustainable rate is a lower bound)")
LOAD_SWEEP_RUNS = _fig("load_sweep_runs", "runs", 0, "info", "sweep runs", "open-loop runs the sweep took to find the "
                       "sustainable rate", integer=True)
LOAD_SERVED = _fig("load_served", "", 1, "info", "served load test", "1 when a real advisor serve answered the load "
                   "test, 0 when advisor serve's batcher ran in the measuring process (no HTTP)")
# what ``load_figure`` names at each fraction: the percentiles, the answered rate, the mean batch, the samples
LOAD_P50, LOAD_P95, LOAD_QPS, LOAD_MEAN_BATCH, LOAD_SAMPLES = "p50_ms", "p95_ms", "qps", "mean_batch", "samples"
LOAD_P99 = "p99_ms"  # the retired probe's only (``probe_figure``)
for _fraction in LOAD_FRACTIONS:
    _pct = f"{round(_fraction * 100)}%"
    _at = f"at {_pct} of the sustainable rate"
    _run = f"in an open-loop run offering {_pct} of the sustainable rate"
    for _q in ("p50", "p95"):
        _fig(f"load_{_q}_ms_at_{round(_fraction * 100)}pct", "ms", -1, "cost", f"{_q} under load {_at}",
             f"{_q} latency from scheduled send to answer {_run}", measurement="latency")
    _fig(f"load_qps_at_{round(_fraction * 100)}pct", "queries/s", 1, "info", f"answered {_at}",
         f"queries/s answered {_run}")
    _fig(f"load_mean_batch_at_{round(_fraction * 100)}pct", "", 0, "info", f"mean batch {_at}",
         f"mean queries per batch {_run}")
    _fig(f"load_samples_at_{round(_fraction * 100)}pct", "samples", 1, "info", f"samples {_at}",
         f"requests timed {_run}", integer=True)
# p95 at a rate a policy names (``limits.max_p95_latency_ms_at_load: {rate_qps: 20, ms: 200}``), whole queries/s
LOAD_P95_AT_RATE = register_family(Family("load_p95_ms_at_{k}qps", "ms", -1, "cost", "p95 under load at {k} queries/s",
                                          "p95 latency from scheduled send to answer in an open-loop run offering {k} "
                                          "queries/s (measured when a policy's limit names that rate, stored only when "
                                          "advisor serve kept up with it)", measurement="latency"))


def load_figure(fraction: float, what: str) -> str:
    """The load figure ``what`` (LOAD_P95, LOAD_P50 ...) of the run at ``fraction`` (LOAD_FRACTIONS) of the
    sustainable rate: ``load_p95_ms_at_80pct``."""
    if fraction not in LOAD_FRACTIONS:
        raise ValueError(f"no load figures at {fraction}: the fractions measured are {LOAD_FRACTIONS}")
    pct = round(fraction * 100)
    if what in (LOAD_P50, LOAD_P95):
        return lookup(f"load_{what.removesuffix('_ms')}_ms_at_{pct}pct").name
    return lookup(f"load_{what}_at_{pct}pct").name


def load_rate_figure(rate_qps: int) -> str:
    """p95 of the run at ``rate_qps`` offered: ``load_p95_ms_at_20qps``."""
    return LOAD_P95_AT_RATE.name(rate_qps)


def is_load_limit_figure(name: str) -> bool:
    """Whether ``limits.max_p95_latency_ms_at_load`` reads ``name``: a p95 at a fraction of the sustainable rate or at
    a rate, or the sustainable rate itself."""
    return (name == LOAD_SUSTAINABLE_QPS or name in {load_figure(f, LOAD_P95) for f in LOAD_FRACTIONS}
            or LOAD_P95_AT_RATE.match(name) is not None)


# Stores written before the sustainable-rate sweep hold these: one run at 1.5x the batch-1 capacity (1000 / p50 ms),
# with and without batching, which a served model often cannot sustain. They are saturation probes, not serving
# latencies: registered so an old store still reads, labelled so wherever they appear, never measured now; a sweep
# measures such a cell again (advisor.sweep.driver.load_mode_changed).
RETIRED_PROBE = "saturation probe, retired"
LOAD_TARGET_QPS = _fig("load_target_qps", "queries/s", 0, "info", f"offered load ({RETIRED_PROBE})", "the rate the "
                       "retired load test offered: 1.5x the batch-1 capacity (1000 / p50 ms), often past saturation")
_PROBE_MODES = {"batched": "with dynamic batching", "unbatched": "one query per batch"}
for _mode, _how in _PROBE_MODES.items():
    _probe = f"in the retired saturation probe at 1.5x the batch-1 capacity, {_how}: past saturation its latency is "\
             f"the queue's growth over the run, not a serving latency"
    _fig(f"load_{_mode}_qps", "queries/s", 0, "info", f"{_mode} answered ({RETIRED_PROBE})",
         f"queries/s answered {_probe}")
    _fig(f"load_{_mode}_mean_batch", "", 0, "info", f"{_mode} mean batch ({RETIRED_PROBE})", f"mean queries per batch "
         f"{_probe}")
    for _q in ("p50", "p95", "p99", "mean"):
        _fig(f"load_{_mode}_{_q}_ms", "ms", 0, "info", f"{_q} ({_mode}, {RETIRED_PROBE})",
             f"{_q} from scheduled send to answer {_probe}")
    _fig(f"load_{_mode}_samples", "samples", 0, "info", f"{_mode} samples ({RETIRED_PROBE})", f"requests timed "
         f"{_probe}", integer=True)
LOAD_MODES = tuple(_PROBE_MODES)  # the retired probe's two runs


def probe_figure(mode: str, what: str) -> str:
    """A figure of the retired saturation probe (``mode`` in LOAD_MODES; ``what`` LOAD_QPS, LOAD_P95 ...), for reading
    an old store: ``load_batched_p95_ms``."""
    return lookup(f"load_{mode}_{what}").name


RETIRED_LOAD_FIGURES = tuple(n for n in names() if n == LOAD_TARGET_QPS or any(n.startswith(f"load_{m}_")
                                                                              for m in _PROBE_MODES))

# advisor loadtest (advisor.cost.http_load, advisor.serving.loadgen): one row per offered rate against a server
TARGET_QPS = _fig("target_qps", "queries/s", 0, "info", "target rate", "the rate a load-test row aimed at")
OFFERED_QPS = _fig("offered_qps", "queries/s", 0, "info", "offered rate", "the rate the Poisson arrival schedule "
                   "actually offered (it varies around the target)")
ACHIEVED_QPS = _fig("achieved_qps", "queries/s", 1, "cost", "achieved rate", "answers per second the server gave "
                    "at this offered rate")
for _q in ("p50", "p95", "p99"):
    _fig(f"{_q}_ms", "ms", -1, "cost", f"{_q} served latency", f"{_q} latency from scheduled send to answer over "
         f"HTTP at this offered rate")
MAX_SEND_LAG_MS = _fig("max_send_lag_ms", "ms", -1, "info", "send lag", "how late the load client itself sent a "
                       "request (a check on the generator, not the server)")
SATURATION_QPS = _fig("saturation_qps", "queries/s", 1, "cost", "sustained rate", "the highest offered rate the "
                      "server kept up with (advisor.cost.http_load.SATURATION_RULE)")
SATURATED_AT = _fig("saturated_at", "queries/s", 0, "info", "saturated at", "the lowest offered rate the server did "
                    "not keep up with")

# Money (derived at ranking time from the cost figures and the prices, advisor.cost.money)
USD_PER_MILLION_DOCS = _fig("usd_per_million_docs", "USD", -1, "money", "money per million documents", "USD to "
                            "embed a million documents (per token, or the machine-hour over bulk docs/s)",
                            measurement="throughput", limit="usd_per_million_docs", objective="money")
USD_PER_THOUSAND_QUERIES = _fig("usd_per_thousand_queries", "USD", -1, "money", "money per thousand queries",
                                "USD to answer a thousand queries (per token, or the machine-hour over one query "
                                "at a time at p50)", measurement="latency", limit="usd_per_thousand_queries")

# Index cells (advisor.index.evaluation) and BM25's index (advisor.index.bm25)
SEARCH_P50_MS = _fig("search_p50_ms", "ms", -1, "index", "search p50", "median batch-1 search latency of the index")
SEARCH_P95_MS = _fig("search_p95_ms", "ms", -1, "index", "search p95", "95th-percentile batch-1 search latency of "
                     "the index")
END_TO_END_P95_MS = _fig("end_to_end_p95_ms", "ms", -1, "index", "end-to-end p95", "p95 query encode plus p95 "
                         "search: what a query costs behind this index (or hybrid)")
QPS = _fig("qps", "queries/s", 1, "index", "search queries/s", "batch-1 searches per second from several threads")
BUILD_S = _fig("build_s", "s", -1, "index", "build time", "seconds to build the index on the corpus")
MEMORY_BYTES = _fig("memory_bytes", "B", -1, "index", "index memory", "bytes the index holds in memory",
                    integer=True)
DISK_BYTES = _fig("disk_bytes", "B", -1, "index", "index on disk", "bytes the index takes on disk", integer=True)
N_DOCS = _fig("n_docs", "docs", 0, "info", "documents", "documents indexed", integer=True)
N_QUERIES = _fig("n_queries", "queries", 0, "info", "queries", "queries searched", integer=True)
INSERT_DOCS_PER_S = _fig("insert_docs_per_s", "docs/s", 1, "index", "insert rate", "documents per second added to "
                         "a built index")
INSERTED_DOCS = _fig("inserted_docs", "docs", 0, "info", "inserted documents", "documents inserted after the build",
                     integer=True)
INDEX_BUILD_S = _fig("index_build_s", "s", -1, "index", "BM25 index build", "seconds to tokenize and index the "
                     "corpus with BM25 (median of the builds)")
INDEX_MEMORY_BYTES = _fig("index_memory_bytes", "B", -1, "index", "BM25 index memory", "bytes of the BM25 index in "
                          "memory (postings and vocabulary)", integer=True)
INDEX_DISK_BYTES = _fig("index_disk_bytes", "B", -1, "index", "BM25 index on disk", "bytes of the BM25 index as "
                        "bm25s saves it", integer=True)
HYBRID_SEARCH_P50_MS = _fig("hybrid_search_p50_ms", "ms", -1, "index", "hybrid search p50", "median dense exact "
                            "search + BM25 + fusion, per query")
HYBRID_SEARCH_P95_MS = _fig("hybrid_search_p95_ms", "ms", -1, "index", "hybrid search p95", "p95 dense exact search "
                            "+ BM25 + fusion, per query")
HYBRID_SEARCH_SAMPLES = _fig("hybrid_search_samples", "samples", 1, "info", "hybrid search samples",
                             "queries timed for the hybrid search", integer=True)

del _sim, _sim_text, _stat, _stat_text, _mode, _how, _q, _probe, _fraction, _pct, _at, _run
