"""Policy files: the user's hard rules, the variant grid to try and the ranking weights, validated on load."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from advisor.errors import ConfigError
from advisor import formatting
from advisor.figures import (BYTES_PER_VECTOR, UnknownFigure, check as check_figure, figure_of, limit_figure,
                             limits as limit_figures, objectives, unknown_figure_message)
from advisor.figures import LOAD_FRACTIONS, LOAD_LIMIT, LOAD_P95, load_figure, load_rate_figure
from advisor.config.languages import normalize_language
from advisor.config.licenses import normalize_license
from advisor.config.schema import Fields, did_you_mean
from advisor.config.task_types import main_metrics
from advisor.models.variants import DEVICES, RUNTIMES, VECTOR_PRECISIONS, WEIGHT_PRECISIONS
from advisor.config.shipped import NO_POLICY, resolve_file
from advisor.config.yamlfile import dump_yaml, line_of, load_yaml

TOP_FIELDS = ("name", "description", "licenses", "languages", "domains", "remote_code", "pickle_weights", "limits",
              "variants", "ranking", "require_zero_shot", "unknown_training_data", "cell_timeout", "network", "data",
              "costs", "baselines", "budget")
UNKNOWN_TRAINING_DATA = ("pass", "reject")  # what a training-data rule does when a model's training data is unknown
# ``limits.<field>`` for each figure a policy can bound (advisor.figures: ``Figure.limit``, a maximum when lower is
# better, else a minimum)
NUMERIC_LIMIT_FIELDS = tuple(f.limit for f in limit_figures() if f.limit)
LIMIT_FIELDS = NUMERIC_LIMIT_FIELDS + (LOAD_LIMIT, "min_quality", "strict")
LOAD_LIMIT_FIELDS = ("ms", "rate_qps", "fraction")  # ``limits.max_p95_latency_ms_at_load``: ms and one of the others
RANKING_WEIGHT_NAMES = ("quality", *objectives())  # the cost objectives' figures: advisor.figures ``objective``
# The machine price a local candidate's money figures use when the policy states none (USD per hour, one machine
# like the one measured): a stated assumption, overridable with ``costs: {machine_usd_per_hour: ...}``.
DEFAULT_MACHINE_USD_PER_HOUR = 0.10
COSTS_FIELDS = ("machine_usd_per_hour", "corpus_documents", "load_server")
# Where a cost cell's load test runs (``costs: {load_server: ...}``): "in-process" runs advisor serve's batcher around
# the loaded model, without HTTP; "subprocess" starts a real ``advisor serve`` on 127.0.0.1 and drives it over HTTP.
LOAD_SERVERS = ("in-process", "subprocess")
# The corpus a switching-cost line re-embeds when the policy states none (``costs: {corpus_documents: ...}``).
DEFAULT_CORPUS_DOCUMENTS = 1_000_000
BASELINES = ("bm25",)  # baseline candidates a policy can name (``baselines: [bm25]``)
# What a policy that does not say ``baselines:`` gets: BM25 beside the models on every retrieval task, so each
# retrieval report answers "is this model better than BM25 on your data?"; ``baselines: []`` turns it off.
DEFAULT_BASELINES = ("bm25",)
DATA_FIELDS = ("stay_on_machine",)
# Which figure ranks each task type unless ``ranking.quality_metrics`` says otherwise: its main metric
DEFAULT_QUALITY_METRICS = main_metrics()
# The most a quality score can be: every score the figure registry holds (nDCG, recall, MAP, accuracy, F1, V-measure,
# Spearman ...) is at most 1, so a floor above it rejects every candidate (quality_retained, a ratio, is not bounded)
QUALITY_SCORE_MAXIMUM = 1.0


@dataclass(frozen=True)
class QualityFloor:
    task: str
    metric: str
    minimum: float


@dataclass(frozen=True)
class LoadLimit:
    """``limits.max_p95_latency_ms_at_load``: the most p95 under load, in ms, at an offered rate: ``rate_qps``
    (whole queries/s, the same load for every candidate; the cost cells measure a run at it) or ``fraction`` of each
    candidate's own sustainable rate (one of LOAD_FRACTIONS, which every cost cell measures)."""

    ms: float
    rate_qps: int | None = None
    fraction: float | None = None

    @property
    def figure(self) -> str:
        """The figure it bounds: ``load_p95_ms_at_20qps`` or ``load_p95_ms_at_80pct``."""
        if self.rate_qps is not None:
            return load_rate_figure(self.rate_qps)
        return load_figure(self.fraction or 0.0, LOAD_P95)

    def to_dict(self) -> dict[str, Any]:
        where = {"rate_qps": self.rate_qps} if self.rate_qps is not None else {"fraction": self.fraction}
        return {**where, "ms": self.ms}


@dataclass(frozen=True)
class Limits:
    max_p95_latency_ms: float | None = None
    min_throughput_docs_per_s: float | None = None
    max_peak_memory_mb: float | None = None
    max_bytes_per_vector: int | None = None
    usd_per_million_docs: float | None = None      # money: most USD to embed a million documents
    usd_per_thousand_queries: float | None = None  # money: most USD to answer a thousand queries
    max_p95_latency_ms_at_load: LoadLimit | None = None  # p95 under load at a rate (advisor.cost.sustainable)
    min_quality: tuple[QualityFloor, ...] = ()
    strict: bool = False  # reject candidates whose measured interval straddles a limit (default: flag them)


@dataclass(frozen=True)
class VariantGrid:
    """The variants to try; ``dims`` holds None for the full size. ``trained_dims_only`` keeps to the sizes each
    model was trained for (its Matryoshka dims)."""

    devices: tuple[str, ...] = ("cpu",)
    weight_precisions: tuple[str, ...] = ("fp32",)
    runtimes: tuple[str, ...] = ()  # empty: each backend's own runtime; e.g. (torch, onnx) for transformer models
    dims: tuple[int | None, ...] = (None,)
    vector_precisions: tuple[str, ...] = ("float32",)
    trained_dims_only: bool = False
    rescore_multiplier: int = 0
    # index settings to measure on each retrieval variant: ((name, ((setting, value), ...)), ...); empty = none
    indexes: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()
    # chunking of retrieval corpora (advisor.models.variants.Chunking.spec()); "" = documents truncated, not chunked
    chunking: tuple[str, ...] = ("",)
    # hybrid variants: the RRF constants to fuse BM25 with each dense retrieval variant at; empty = none
    hybrid: tuple[int, ...] = ()


@dataclass(frozen=True)
class Ranking:
    # money (USD per million documents) weighs 0 unless the policy says: for local models it follows throughput.
    # A weight is named for its objective (advisor.figures ``Figure.objective``; bytes per vector's is the figure's
    # own name).
    weights: dict[str, float] = field(default_factory=lambda: {"quality": 1.0, "latency": 0.25, "throughput": 0.1,
                                                               "memory": 0.1, BYTES_PER_VECTOR: 0.1,
                                                               "money": 0.0})
    quality_metrics: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_QUALITY_METRICS))


@dataclass(frozen=True)
class Costs:
    """Prices the money figures use. ``machine_usd_per_hour``: one machine like the one measured, per hour (the
    default is a stated assumption, shown in the report)."""

    machine_usd_per_hour: float = DEFAULT_MACHINE_USD_PER_HOUR
    machine_price_stated: bool = False  # True when the policy gave the price (else the default applies)
    corpus_documents: int = DEFAULT_CORPUS_DOCUMENTS  # the corpus a switch of models re-embeds and re-indexes
    corpus_documents_stated: bool = False
    load_server: str = "in-process"  # where the cost cells' load test runs (LOAD_SERVERS)


@dataclass(frozen=True)
class Policy:
    name: str
    description: str = ""
    commercial_use: bool = False
    allow_licenses: tuple[str, ...] = ()
    deny_licenses: tuple[str, ...] = ()
    required_languages: tuple[str, ...] = ()
    allow_domains: tuple[str, ...] = ()
    deny_domains: tuple[str, ...] = ()
    allow_remote_code: bool = False
    allow_pickle_weights: bool = False
    # Training data: reject a model trained on data not cleared for commercial use; require quality figures on
    # data the model did not train on; and whether unknown training data passes these rules.
    training_data_commercial: bool = False
    require_zero_shot: bool = False
    unknown_training_data: str = "pass"
    limits: Limits = Limits()
    variants: VariantGrid = VariantGrid()
    ranking: Ranking = Ranking()
    cell_timeout: float | None = None  # seconds a sweep waits for a model's next cell before killing its worker
    # Hosted models: ``network`` lets texts go to a model off this machine (else hosted entries are screened out);
    # ``data.stay_on_machine`` denies hosted entries whatever else is allowed.
    allow_network: bool = False
    stay_on_machine: bool = False
    costs: Costs = Costs()
    # baseline candidates planned beside the catalog's models on retrieval tasks (``baselines: []``: none)
    baselines: tuple[str, ...] = DEFAULT_BASELINES
    # a racing sweep's time budget in seconds (``budget: 2h``; advisor.sweep.racing), None: every candidate in full
    budget_s: float | None = None
    file: str | None = None
    # how the loader read something other than as written (``es-ES`` read as spa-Latn, its region dropped): one
    # line each, naming the file, line and field; shown by the commands and in the report, never part of equality
    notes: tuple[str, ...] = field(default=(), compare=False)

    def load_grants(self) -> dict[str, bool]:
        """The ``LoadOptions`` fields this policy grants (``load_encoder`` adds the entry's half of the rule)."""
        return {"allow_remote_code": self.allow_remote_code, "allow_pickle": self.allow_pickle_weights,
                "allow_network": self.allow_network and not self.stay_on_machine}


def _licenses(f: Fields, key: str) -> list[str]:
    return f.list(key, normalize_license)


def _dim(value: Any) -> int | None:
    if value in ("full", None):
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"dims are positive integers or 'full', got {value!r}")
    return value


def _choice(allowed: tuple[str, ...]):
    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"'{value}' is not allowed; allowed: {', '.join(allowed)}{did_you_mean(value, allowed)}")
        return value
    return check


def _indexes(var: Fields, file: str) -> tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]:
    """``variants.indexes``: a list of ``{name: faiss-hnsw, M: 16, ef_search: 64}`` (names checked when planned)."""
    out = []
    for i, raw in enumerate(var.list("indexes", item_type=dict)):
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            raise ConfigError(file, f"variants.indexes[{i}]: 'name' is required (an index such as faiss-hnsw)")
        out.append((name, tuple(sorted((str(k), v) for k, v in raw.items() if k != "name"))))
    return tuple(dict.fromkeys(out))


def _chunking(var: Fields, file: str) -> tuple[str, ...]:
    """``variants.chunking``: a list of ``none`` and ``{tokens: 128, overlap: 32, aggregate: max}``."""
    from advisor.models.variants import AGGREGATES, Chunking

    out = []
    for i, raw in enumerate(var.list("chunking", item_type=(str, dict))):
        where = f"variants.chunking[{i}]"
        if raw == "none":
            out.append("")
            continue
        if not isinstance(raw, dict):
            raise ConfigError(file, f"{where}: must be 'none' or a mapping like {{tokens: 128, overlap: 32, "
                                    f"aggregate: max}}, got {raw!r}", line=line_of(var.data, "chunking"))
        f = Fields(raw, file, where, ("tokens", "overlap", "aggregate"), what="chunking")
        tokens = f.int("tokens", required=True, minimum=1)
        overlap = f.int("overlap", 0, minimum=0) or 0
        if overlap >= tokens:
            raise f.error("overlap", f"must be smaller than tokens ({tokens}), got {overlap}")
        aggregate = f.str("aggregate", "max", choices=AGGREGATES) or "max"
        out.append(Chunking(tokens, overlap, aggregate).spec())
    return tuple(dict.fromkeys(out)) or ("",)


def load_policy(path: str | Path) -> Policy:
    """A policy file by path, or a shipped policy by name (``default``: advisor.config.shipped), validated."""
    path = resolve_file("policy", path)
    file = str(path)
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(file, "a policy is a mapping of sections (licenses, languages, limits, variants, ranking)")
    top = Fields(data, file, None, TOP_FIELDS, what="policy")
    lic = Fields(top.mapping("licenses"), file, "licenses", ("commercial_use", "allow", "deny",
                                                            "training_data_commercial"), what="section")
    langs = Fields(top.mapping("languages"), file, "languages", ("require",), what="section")
    doms = Fields(top.mapping("domains"), file, "domains", ("allow", "deny"), what="section")
    lim = Fields(top.mapping("limits"), file, "limits", LIMIT_FIELDS, what="section")
    var = Fields(top.mapping("variants"), file, "variants",
                 ("devices", "runtimes", "weight_precisions", "dims", "vector_precisions", "trained_dims_only",
                  "rescore_multiplier", "indexes", "hybrid", "chunking"), what="section")
    rank = Fields(top.mapping("ranking"), file, "ranking", ("weights", "quality_metrics"), what="section")
    data_section = Fields(top.mapping("data"), file, "data", DATA_FIELDS, what="section")
    costs_section = Fields(top.mapping("costs"), file, "costs", COSTS_FIELDS, what="section")

    floors = []
    for i, raw in enumerate(lim.list("min_quality", item_type=dict)):
        q = Fields(raw, file, f"limits.min_quality[{i}]", ("task", "metric", "min"), what="rule")
        minimum = q.number("min")
        if minimum is None:
            raise q.error("min", "is required (the lowest acceptable value)")
        metric = _quality_metric(q, "metric", required=True)
        _check_floor(q, metric, minimum)
        floors.append(QualityFloor(q.str("task", required=True), metric, minimum))
    limits = Limits(**{f: _limit(lim, f) for f in NUMERIC_LIMIT_FIELDS}, min_quality=tuple(floors),
                    strict=lim.bool("strict"), max_p95_latency_ms_at_load=_load_limit(lim))

    grid = VariantGrid(
        devices=tuple(var.list("devices", _choice(DEVICES))) or ("cpu",),
        weight_precisions=tuple(var.list("weight_precisions", _choice(WEIGHT_PRECISIONS))) or ("fp32",),
        runtimes=tuple(dict.fromkeys(var.list("runtimes", _choice(RUNTIMES)))),
        dims=tuple(dict.fromkeys(var.list("dims", _dim, item_type=(int, str)))) or (None,),
        vector_precisions=tuple(var.list("vector_precisions", _choice(VECTOR_PRECISIONS))) or ("float32",),
        trained_dims_only=var.bool("trained_dims_only"),
        rescore_multiplier=var.int("rescore_multiplier", 0, minimum=0) or 0,
        indexes=_indexes(var, file),
        chunking=_chunking(var, file),
        hybrid=_hybrid(var),
    )

    weights = dict(Ranking().weights)
    w = Fields(rank.mapping("weights"), file, "ranking.weights", RANKING_WEIGHT_NAMES, what="section")
    for name in RANKING_WEIGHT_NAMES:
        value = w.number(name, minimum=0)
        if value is not None:
            weights[name] = value
    metrics = dict(DEFAULT_QUALITY_METRICS)
    qm = Fields(rank.mapping("quality_metrics"), file, "ranking.quality_metrics", DEFAULT_QUALITY_METRICS,
                what="section")
    for task_type in DEFAULT_QUALITY_METRICS:
        metrics[task_type] = _quality_metric(qm, task_type, metrics[task_type]) or metrics[task_type]

    notes: list[str] = []
    required_languages = tuple(langs.list("require", lambda code: normalize_language(code, notes)))
    where = f"{file}:{line_of(langs.data, 'require') or ''}".rstrip(":")
    return Policy(
        name=top.str("name") or Path(file).stem, description=top.str("description", "") or "",
        commercial_use=lic.bool("commercial_use"), allow_licenses=tuple(_licenses(lic, "allow")),
        deny_licenses=tuple(_licenses(lic, "deny")),
        required_languages=required_languages, notes=tuple(f"{where}: languages.require: {n}" for n in notes),
        allow_domains=tuple(d.lower() for d in doms.list("allow")),
        deny_domains=tuple(d.lower() for d in doms.list("deny")),
        allow_remote_code=top.bool("remote_code"), allow_pickle_weights=top.bool("pickle_weights"),
        training_data_commercial=lic.bool("training_data_commercial"), require_zero_shot=top.bool("require_zero_shot"),
        unknown_training_data=top.str("unknown_training_data", "pass", choices=UNKNOWN_TRAINING_DATA) or "pass",
        limits=limits, variants=grid, ranking=Ranking(weights=weights, quality_metrics=metrics), file=file,
        cell_timeout=top.number("cell_timeout", minimum=0) or None,
        allow_network=top.bool("network"), stay_on_machine=data_section.bool("stay_on_machine"),
        costs=_costs(costs_section),
        baselines=_baselines(top),
        budget_s=_budget(top),
    )


def _limit(section: Fields, field: str) -> float | int | None:
    """A numeric limit: an integer when its figure is whole (bytes per vector), else a number. A limit no candidate
    can meet by construction is an error, as is a negative one: a maximum of 0 or less on a cost figure (latency,
    memory, bytes are always above 0), and a negative minimum or money limit (throughput and money are never
    negative, so it would be no limit at all). Money may be limited to 0: a model on a free machine costs nothing."""
    fig = limit_figure(field)
    value = section.number(field)
    if value is None:
        return None
    if fig.integer and value != int(value):
        raise section.error(field, f"must be a whole number of {fig.unit}, got {section.raw(field)!r}")
    written = fig.text(value, exact=True)
    if fig.bound == "max" and fig.kind != "money" and value <= 0:
        raise section.error(field, f"a maximum of {written} rejects every candidate ({fig.label} is always above "
                                   f"0); write a positive limit, or leave the field out for none")
    if value < 0:
        raise section.error(field, f"a {fig.bound}imum of {written} is no limit at all ({fig.label} is never "
                                   f"negative); write a positive limit, or leave the field out for none")
    return int(value) if fig.integer else value


def _check_floor(rule: Fields, metric: str | None, minimum: float) -> None:
    """A quality floor above the most its score can be rejects every candidate: an error."""
    fig = figure_of(metric or "")
    if fig.unit == "" and minimum > QUALITY_SCORE_MAXIMUM:
        raise rule.error("min", f"a floor of {formatting.number(minimum)} on {metric} rejects every candidate "
                                f"({fig.label} is at most {formatting.number(QUALITY_SCORE_MAXIMUM)}); write a value "
                                f"up to {formatting.number(QUALITY_SCORE_MAXIMUM)}")


LOAD_LIMIT_EXAMPLE = "{rate_qps: 20, ms: 200} or {fraction: 0.8, ms: 200}"


def _load_limit(section: Fields) -> LoadLimit | None:
    """``limits.max_p95_latency_ms_at_load``: ``{rate_qps: 20, ms: 200}`` (p95 of a run offering 20 queries/s) or
    ``{fraction: 0.8, ms: 200}`` (p95 at 80% of each candidate's sustainable rate). Each mistake is one line."""
    if not section.has(LOAD_LIMIT):
        return None
    raw = section.raw(LOAD_LIMIT)
    if not isinstance(raw, dict):
        raise section.error(LOAD_LIMIT, f"must be a mapping like {LOAD_LIMIT_EXAMPLE}, got {raw!r}")
    f = Fields(raw, section.file, f"limits.{LOAD_LIMIT}", LOAD_LIMIT_FIELDS, what="limit")
    ms = f.number("ms", minimum=0)
    if ms is None:
        raise f.error("ms", f"is required: the most p95 latency in ms (e.g. {LOAD_LIMIT_EXAMPLE})")
    if f.has("rate_qps") == f.has("fraction"):
        raise f.error("rate_qps", f"give exactly one of rate_qps (an offered rate, whole queries/s) or fraction (of "
                                  f"each candidate's sustainable rate), e.g. {LOAD_LIMIT_EXAMPLE}")
    if f.has("rate_qps"):
        return LoadLimit(ms, rate_qps=f.int("rate_qps", minimum=1))
    fraction = f.number("fraction")
    if fraction not in LOAD_FRACTIONS:
        allowed = ", ".join(str(x) for x in LOAD_FRACTIONS)
        raise f.error("fraction", f"must be one of {allowed} (the fractions of its sustainable rate a cost cell "
                                  f"measures), got {fraction!r}; for another load give rate_qps")
    return LoadLimit(ms, fraction=fraction)


def load_rates(policy: "Policy") -> tuple[int, ...]:
    """The offered rates the policy's limits ask the cost cells to measure p95 at (none, or the load limit's)."""
    load = policy.limits.max_p95_latency_ms_at_load
    return (load.rate_qps,) if load is not None and load.rate_qps is not None else ()


def _quality_metric(section: Fields, field: str, default: str | None = None, *, required: bool = False) -> str | None:
    """A quality figure's name (``ndcg_at_10``), checked against the figure registry: a name it does not know is
    one line with the closest registered name (``ndcg@10`` -> did you mean 'ndcg_at_10'?)."""
    name = section.str(field, default, required=required)
    if name is not None:
        try:
            check_figure(name, "", kind="quality")
        except UnknownFigure:
            raise section.error(field, unknown_figure_message(name, kind="quality")) from None
    return name


def _baselines(top: Fields) -> tuple[str, ...]:
    """``baselines``: BM25 unless the policy says otherwise; ``baselines: []`` (or an empty ``baselines:``) is none."""
    if "baselines" not in top.data:
        return DEFAULT_BASELINES
    return tuple(dict.fromkeys(top.list("baselines", _choice(BASELINES))))


def _budget(top: Fields) -> float | None:
    """``budget``: a racing sweep's time budget, written as on the command line (``2h``, ``45m``, ``1h30m``, or a
    number of seconds); ``--budget`` wins over it."""
    from advisor.config.durations import parse_duration

    if not top.has("budget"):
        return None
    try:
        return parse_duration(top.raw("budget"))
    except ValueError as exc:
        raise top.error("budget", str(exc)) from None


def _costs(section: Fields) -> Costs:
    price = section.number("machine_usd_per_hour", minimum=0)
    costs = Costs(machine_usd_per_hour=price, machine_price_stated=True) if price is not None else Costs()
    corpus = section.int("corpus_documents")
    if corpus is not None:
        costs = replace(costs, corpus_documents=corpus, corpus_documents_stated=True)
    return replace(costs, load_server=section.str("load_server", "in-process", choices=LOAD_SERVERS) or "in-process")


def _hybrid(var: Fields) -> tuple[int, ...]:
    """``variants.hybrid``: ``true`` (RRF k = 60), ``{rrf_k: 60}`` or a list of such mappings."""
    raw = var.raw("hybrid")
    if raw is None or raw is False:
        return ()
    items = [raw] if isinstance(raw, (bool, dict)) else raw
    if not isinstance(items, list):
        raise var.error("hybrid", "is true, a mapping like {rrf_k: 60} or a list of them")
    out = []
    for i, item in enumerate(items):
        if item is True:
            out.append(60)
            continue
        f = Fields(item, var.file, f"variants.hybrid[{i}]" if isinstance(raw, list) else "variants.hybrid",
                   ("rrf_k",), what="section")
        out.append(f.int("rrf_k", 60) or 60)
    return tuple(dict.fromkeys(out))


def permissive_policy() -> Policy:
    """What applies when the user gives no policy: no metadata rule beyond the safe defaults. Its name is not
    'default': that is a shipped policy, which applies only when named (advisor.config.shipped.NO_POLICY)."""
    return Policy(name=NO_POLICY)


def policy_with_limits(policy: Policy, limits: Mapping[str, float | None] | None = None,
                       weights: Mapping[str, float] | None = None, *, name: str | None = None) -> Policy:
    """``policy`` with some numeric limits (None: no limit) and ranking weights replaced, checked as
    ``load_policy`` checks a file, so an edited policy can be run and ranked without writing it anywhere. The result
    has no ``file``: it is no longer what a file says."""
    where = f"policy '{policy.name}'"
    numeric = NUMERIC_LIMIT_FIELDS
    lim = Fields(dict(limits or {}), where, "limits", numeric, what="section")
    changed: dict[str, Any] = {}
    for key in lim.data:
        changed[key] = _limit(lim, key)
    new_weights = dict(policy.ranking.weights)
    w = Fields(dict(weights or {}), where, "ranking.weights", RANKING_WEIGHT_NAMES, what="section")
    for key in w.data:
        new_weights[key] = w.number(key, 0.0, minimum=0)
    return replace(policy, name=name or policy.name, file=None, limits=replace(policy.limits, **changed),
                   ranking=replace(policy.ranking, weights=new_weights))


# Writing: the one way a policy file is written (the TUI's "save as"). What it writes, load_policy reads back as the
# same Policy (only ``file`` differs); a setting at its default is left out, so the file shows what was chosen.

def _without_defaults(section: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in section.items() if k not in defaults or v != defaults[k]}


def _chunking_record(spec: str) -> Any:
    from advisor.models.variants import Chunking

    if not spec:
        return "none"
    chunking = Chunking.parse(spec)
    return {"tokens": chunking.tokens, "overlap": chunking.overlap, "aggregate": chunking.aggregate}


def policy_to_dict(policy: Policy) -> dict[str, Any]:
    """``policy`` as the mapping a policy file holds (plain lists and dicts, YAML-safe), sections in the order
    ``TOP_FIELDS`` names them; empty sections are left out."""
    default = Policy(name=policy.name)
    grid, lim, costs = policy.variants, policy.limits, policy.costs
    sections: dict[str, Any] = {
        "name": policy.name,
        "description": policy.description,
        "licenses": _without_defaults({"commercial_use": policy.commercial_use,
                                       "allow": list(policy.allow_licenses), "deny": list(policy.deny_licenses),
                                       "training_data_commercial": policy.training_data_commercial},
                                      {"commercial_use": False, "allow": [], "deny": [],
                                       "training_data_commercial": False}),
        "languages": {"require": list(policy.required_languages)} if policy.required_languages else {},
        "domains": _without_defaults({"allow": list(policy.allow_domains), "deny": list(policy.deny_domains)},
                                     {"allow": [], "deny": []}),
        "remote_code": policy.allow_remote_code,
        "pickle_weights": policy.allow_pickle_weights,
        "limits": {**{k: getattr(lim, k) for k in NUMERIC_LIMIT_FIELDS if getattr(lim, k) is not None},
                   **({LOAD_LIMIT: lim.max_p95_latency_ms_at_load.to_dict()} if lim.max_p95_latency_ms_at_load
                      else {}),
                   **({"min_quality": [{"task": q.task, "metric": q.metric, "min": q.minimum}
                                       for q in lim.min_quality]} if lim.min_quality else {}),
                   **({"strict": True} if lim.strict else {})},
        "variants": _without_defaults({
            "devices": list(grid.devices), "runtimes": list(grid.runtimes),
            "weight_precisions": list(grid.weight_precisions),
            "dims": ["full" if d is None else d for d in grid.dims],
            "vector_precisions": list(grid.vector_precisions), "trained_dims_only": grid.trained_dims_only,
            "rescore_multiplier": grid.rescore_multiplier,
            "indexes": [{"name": name, **dict(settings)} for name, settings in grid.indexes],
            "hybrid": [{"rrf_k": k} for k in grid.hybrid],
            "chunking": [_chunking_record(c) for c in grid.chunking]},
            {"devices": ["cpu"], "runtimes": [], "weight_precisions": ["fp32"], "dims": ["full"],
             "vector_precisions": ["float32"], "trained_dims_only": False, "rescore_multiplier": 0, "indexes": [],
             "hybrid": [], "chunking": ["none"]}),
        "ranking": _without_defaults({"weights": dict(policy.ranking.weights),
                                      "quality_metrics": _without_defaults(dict(policy.ranking.quality_metrics),
                                                                           DEFAULT_QUALITY_METRICS)},
                                     {"weights": dict(default.ranking.weights), "quality_metrics": {}}),
        "require_zero_shot": policy.require_zero_shot,
        "unknown_training_data": policy.unknown_training_data,
        "cell_timeout": policy.cell_timeout,
        "network": policy.allow_network,
        "data": {"stay_on_machine": True} if policy.stay_on_machine else {},
        "costs": {**({"machine_usd_per_hour": costs.machine_usd_per_hour} if costs.machine_price_stated else {}),
                  **({"corpus_documents": costs.corpus_documents} if costs.corpus_documents_stated else {}),
                  **({"load_server": costs.load_server} if costs.load_server != Costs().load_server else {})},
        "baselines": list(policy.baselines),
    }
    defaults = {"description": "", "remote_code": False, "pickle_weights": False, "require_zero_shot": False,
                "unknown_training_data": default.unknown_training_data, "cell_timeout": None, "network": False,
                "baselines": list(DEFAULT_BASELINES)}
    return {k: v for k, v in sections.items()
            if v != {} and (k not in defaults or v != defaults[k])}


def write_policy(policy: Policy, path: str | Path, *, header: str = "") -> Path:
    """Write ``policy`` as a policy file that :func:`load_policy` reads back as the same policy; ``header`` becomes
    ``#`` comment lines at the top."""
    return dump_yaml(policy_to_dict(policy), path, header=header)
