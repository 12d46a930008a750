"""The worker side of a sweep: executes one ``GroupSpec`` (one model load) and yields finished cells.

Why this shape: loading a model and encoding texts is the whole cost of a cell; deriving a smaller output size or a
cheaper vector precision is arithmetic on the same embeddings. So a group loads its model once, encodes each text
set of each task once, and derives every (dim, vector precision) cell from those arrays via
``advisor.quality.evaluation.evaluate_embeddings``; cost figures come from ``advisor.cost.measure_cost`` on the same loaded
encoder. Cells already finished (an ``ok`` result under the same fingerprint) are skipped before anything is
loaded. Any failure (load, dataset, encode, evaluation) becomes a ``failed`` cell carrying the error, and the group
goes on with what it can still do. An out-of-memory error halves the batch size and retries; the cell's details say
so.

``run_group`` is a generator, so the same code serves a local subprocess (which writes each cell to the store as it
comes) and a Ray task (which streams cells back to the driver).
"""

from __future__ import annotations

import time
import traceback
from typing import TYPE_CHECKING, Any, Callable, Iterator

from advisor.sweep.events import Emit, Event
from advisor.sweep.planner import CellSpec, GroupSpec, TaskCells, with_hardware
from advisor.sweep.results import CellResult

STATIC_PRECISIONS = ("int8-static",)  # weight precisions whose runtimes calibrate on the task's texts

if TYPE_CHECKING:
    import numpy as np

    from advisor.models.backends import Encoder
    from advisor.datasets.tasks import Task


def _error_text(exc: BaseException, stage: str) -> str:
    """The failed cell's error: the stage, then a UserError's own one line (a model that cannot load says so,
    naming it), or any other exception's type and message."""
    from advisor.errors import UserError

    if isinstance(exc, UserError):
        return f"{stage}: {exc}"
    return f"{stage}: {type(exc).__name__}: {exc}"


def _failed(cell: CellSpec, key_of: Callable[[CellSpec], Any], error: str, started: float, **details: Any) -> Event:
    result = CellResult(key=key_of(cell), status="failed", error=error, started_at=started,
                        finished_at=time.time(), details={"flags": list(cell.flags), **details})
    return Event("cell", "", result=result)


def _load_task(tc: TaskCells, preloaded: dict[str, "Task"] | None) -> "Task":
    from advisor.errors import UserError

    task = (preloaded or {}).get(tc.task.name) or tc.task.load()
    if task.content_hash != tc.task.content_hash:
        raise UserError(f"dataset {tc.task.spec} changed since the run was planned (content hash "
                        f"{task.content_hash}, planned {tc.task.content_hash}); run 'advisor run' again")
    return task


def run_group(group: GroupSpec, *, is_done: Callable[[str], bool], force: bool = False,
              preloaded: dict[str, "Task"] | None = None, progress: Emit | None = None) -> Iterator[Event]:
    """Compute the group's unfinished cells, yielding one ``cell`` event per finished (ok or failed) cell.
    ``is_done(fingerprint)`` says whether a cell is already finished; ``force`` recomputes anyway. A failed
    cell's error and traceback are redacted (``advisor.errors.redact``: the model's own key, named by its
    ``api_key_env``, and anything shaped like a credential) before anyone stores or prints them."""
    secrets = [str(group.entry.options.get("api_key_env") or "")]
    for event in _run_group(group, is_done=is_done, force=force, preloaded=preloaded, progress=progress):
        yield _redacted(event, secrets)


def _redacted(event: Event, secrets: list[str]) -> Event:
    from advisor.errors import redact

    result = event.result
    if result is not None and result.status != "ok":
        result.error = redact(result.error, secrets)
        if isinstance(result.details.get("traceback"), str):
            result.details["traceback"] = redact(result.details["traceback"], secrets)
    if event.message:
        event.message = redact(event.message, secrets)
    return event


def _run_group(group: GroupSpec, *, is_done: Callable[[str], bool], force: bool = False,
               preloaded: dict[str, "Task"] | None = None, progress: Emit | None = None) -> Iterator[Event]:
    from advisor.models.backends import load_encoder
    from advisor.environment import hardware_id, hardware_manifest, library_versions, versions_id

    label = group.label
    pending = {c.fingerprint for c in group.cells if force or not is_done(c.fingerprint)}
    yield Event("start", label, total=len(pending))
    if not pending:
        yield Event("end", label)
        return
    started = time.time()
    entry = group.entry
    keys: dict[str, Any] = {}
    key_of = lambda cell: keys.get(cell.fingerprint, cell.key)  # noqa: E731 - the key as measured here
    if entry.backend == "bm25":  # the BM25 baseline loads no model: its cells come from advisor.index.bm25
        yield from (_with_group(e, label) for e in _bm25_cells(group, pending, preloaded, is_done, force))
        yield Event("end", label)
        return
    try:
        if group.weight_precision in STATIC_PRECISIONS and group.calibration is None:
            group = _with_calibration(group, preloaded)
        t0 = time.perf_counter()
        encoder = load_encoder(entry, group.load_options())
        load_time = time.perf_counter() - t0
    except Exception as exc:  # noqa: BLE001 - a model that cannot load is a failed cell, not a dead sweep
        error = _error_text(exc, f"loading {entry.name} on {group.device}/{group.weight_precision}")
        for cell in group.cells:
            if cell.fingerprint in pending:
                yield _with_group(_failed(cell, key_of, error, started, traceback=traceback.format_exc(limit=8)),
                                  label)
        yield Event("end", label)
        return
    hardware, versions = hardware_id(group.device), versions_id()
    environment = {"hardware": hardware_manifest(group.device), "versions": library_versions()}
    try:
        for tc in group.tasks:
            todo = []
            for cell in tc.cells:
                if cell.fingerprint not in pending:
                    continue
                actual = with_hardware(cell.key, hardware, versions)
                keys[cell.fingerprint] = actual
                # planned on other hardware (a Ray node): the cell may be done here already
                if actual != cell.key and not force and is_done(actual.fingerprint()):
                    continue
                todo.append(cell)
            if todo:
                yield from (_with_group(e, label) for e in _run_task(group, tc, todo, encoder, key_of, preloaded,
                                                                      load_time, environment, progress))
    finally:
        try:
            encoder.close()
        except Exception:  # noqa: BLE001 - closing must not hide the results
            pass
    yield Event("end", label)


def _with_calibration(group: GroupSpec, preloaded: dict[str, "Task"] | None) -> GroupSpec:
    """The group with the calibration texts of a static quantization: a few hundred of its first task's own texts
    (``advisor.models.calibration``), recorded by the runtime in every cell's ``runtime`` details."""
    from dataclasses import replace

    from advisor.models.calibration import calibration_from

    task = _load_task(group.tasks[0], preloaded)
    sets = {name: (ts.kind, ts.texts) for name, ts in task.text_sets().items()}
    return replace(group, calibration=calibration_from(task.name, sets))


def _with_group(event: Event, label: str) -> Event:
    event.group = label
    return event


def _run_task(group: GroupSpec, tc: TaskCells, todo: list[CellSpec], encoder: "Encoder",
              key_of: Callable[[CellSpec], Any], preloaded: dict[str, "Task"] | None, load_time: float,
              environment: dict, progress: Emit | None) -> Iterator[Event]:
    started = time.time()
    try:
        task = _load_task(tc, preloaded)
    except Exception as exc:  # noqa: BLE001
        for cell in todo:
            yield _failed(cell, key_of, _error_text(exc, f"loading dataset {tc.task.spec}"), started)
        return
    cost = tc.cost if tc.cost is not None and tc.cost in todo else None
    quality = [c for c in todo if c.key.kind == "quality"]
    indexed = [c for c in todo if c.key.kind == "index"]
    hybrid = [c for c in todo if c.key.kind == "hybrid"]
    if not quality and not indexed and not hybrid:
        if cost is not None:  # the cost cell alone: its serving footprint encodes the documents itself
            yield _cost_cell(group, cost, task, encoder, key_of, load_time, environment, progress)
        return
    notes: list[str] = []
    sets = task.text_sets()
    total = sum(len(set(s.texts)) for s in sets.values())
    finished: dict[str, int] = {}

    def tick(name: str, done: int, _total: int) -> None:
        finished[name] = done
        if progress is not None:
            progress(Event("encode", group.label, n=sum(finished.values()), total=total,
                           message=f"{group.entry.name} {task.name}"))

    from advisor.quality.evaluation import encode_task

    truncation: dict[str, Any] = {}
    try:
        embeddings, seconds, batch_size = encode_task(encoder, task, batch_size=group.batch_size, notes=notes,
                                                      progress=tick, truncation=truncation)
        encode_s = {name: round(s, 4) for name, s in seconds.items()}
    except Exception as exc:  # noqa: BLE001
        error = _error_text(exc, f"encoding {task.name}")
        for cell in quality + indexed + hybrid:
            yield _failed(cell, key_of, error, started, notes=notes, traceback=traceback.format_exc(limit=8))
        if cost is not None:
            yield _cost_cell(group, cost, task, encoder, key_of, load_time, environment, progress)
        return
    if cost is not None:  # after the encode, so the serving footprint holds these document vectors as its index
        from advisor.cost.measure import document_vectors_of

        yield _cost_cell(group, cost, task, encoder, key_of, load_time, environment, progress,
                         document_vectors_of(task, embeddings))
    from advisor.quality.evaluation import evaluate_embeddings

    chunked = [c for c in quality if c.key.chunking]  # evaluated below, from chunk embeddings
    quality = [c for c in quality if not c.key.chunking]
    for cell in quality:
        t0 = time.time()
        try:
            q = evaluate_embeddings(task, embeddings, cell.variant, rescore_multiplier=group.rescore_multiplier)
        except Exception as exc:  # noqa: BLE001
            yield _failed(cell, key_of, _error_text(exc, f"evaluating {cell.variant.label()}"), t0,
                          traceback=traceback.format_exc(limit=8))
            continue
        details = {"main_metric": q.main_metric, "per_item": list(q.per_item), **dict(q.details),
                   "flags": list(cell.flags), "notes": list(notes), "batch_size": batch_size,
                   "encode_s": encode_s, "load_time_s": round(load_time, 4), "environment": environment,
                   "runtime": dict(getattr(encoder, "info", None) or {})}  # how the model ran: path, attention
        if truncation:
            details["truncation"] = truncation
        # where the task's data comes from, so the ranking can tell zero-shot figures from trained-on ones
        details["task_origin"] = {"origin": task.origin, "overlaps": list(task.overlaps)}
        yield Event("cell", group.label, result=CellResult(key=key_of(cell), status="ok", metrics=dict(q.metrics),
                                                           details=details, started_at=t0, finished_at=time.time()))
    if chunked:  # the corpus cut into chunks by this model's own tokenizer, each distinct chunk encoded once
        yield from _chunked_quality(group, chunked, task, encoder, embeddings, key_of, environment, truncation)
    encode_p95 = _query_encode_p95_ms(encoder, task) if indexed or hybrid else None
    for cell in indexed:  # the embeddings the quality cells used, searched through each index setting
        yield _index_cell(group, cell, task, embeddings, key_of, environment, encode_p95)
    lexical = None
    for cell in hybrid:  # the same embeddings fused with BM25's ranking by reciprocal rank fusion
        t0 = time.time()
        try:
            if lexical is None:
                from advisor.index.bm25 import bm25_search
                from advisor.index.hybrid import DEPTH, bm25_rows

                rows, scores, _ = bm25_search(task, DEPTH)
                lexical = bm25_rows(rows, scores)
            yield _hybrid_cell(group, cell, task, embeddings, lexical, key_of, environment, encode_p95)
        except Exception as exc:  # noqa: BLE001
            yield _failed(cell, key_of, _error_text(exc, f"hybrid {cell.variant.label()}"), t0,
                          traceback=traceback.format_exc(limit=8))


def _hybrid_cell(group: GroupSpec, cell: CellSpec, task: "Task", embeddings: dict, lexical: list,
                 key_of: Callable[[CellSpec], Any], environment: dict, encode_p95_ms: float | None) -> Event:
    from advisor.index.hybrid import dense_rows, hybrid_latency_ms, hybrid_quality
    from advisor.quality.vectors import derive

    t0 = time.time()
    from advisor.index.hybrid import rrf_k_of

    rrf_k = rrf_k_of(cell.key.options)
    vecs = derive(embeddings, cell.key.dim, cell.key.vector_precision or "float32", calibrate_on="corpus")
    q = hybrid_quality(task, dense_rows(task, vecs), lexical, rrf_k=rrf_k)
    metrics = {**q.metrics, **hybrid_latency_ms(task, vecs, rrf_k=rrf_k)}
    if encode_p95_ms is not None:  # a served hybrid query: encode it, then both searches and the fusion
        metrics["query_encode_p95_ms"] = encode_p95_ms
        metrics["end_to_end_p95_ms"] = encode_p95_ms + metrics["hybrid_search_p95_ms"]
    details = {"main_metric": q.main_metric, "per_item": list(q.per_item),
               **dict(q.details), "flags": list(cell.flags), "environment": environment}
    return Event("cell", group.label, result=CellResult(key=key_of(cell), status="ok", metrics=metrics,
                                                        details=details, started_at=t0, finished_at=time.time()))


def _bm25_cells(group: GroupSpec, pending: set[str], preloaded: dict[str, "Task"] | None,
                is_done: Callable[[str], bool], force: bool) -> Iterator[Event]:
    """The BM25 baseline group: per retrieval task, its quality cell (``bm25_quality``) and its cost cell
    (``bm25_cost``), stored under keys like a model's."""
    from advisor.environment import hardware_id, hardware_manifest, library_versions, versions_id
    from advisor.index.bm25 import bm25_cost, bm25_quality

    hardware, versions = hardware_id("cpu"), versions_id()
    environment = {"hardware": hardware_manifest("cpu"), "versions": library_versions()}
    keys: dict[str, Any] = {}
    key_of = lambda cell: keys.get(cell.fingerprint, cell.key)  # noqa: E731
    for tc in group.tasks:
        todo = []
        for cell in tc.cells:
            actual = with_hardware(cell.key, hardware, versions)
            keys[cell.fingerprint] = actual
            if cell.fingerprint in pending and (force or actual == cell.key or not is_done(actual.fingerprint())):
                todo.append(cell)
        if not todo:
            continue
        started = time.time()
        try:
            task = _load_task(tc, preloaded)
        except Exception as exc:  # noqa: BLE001
            for cell in todo:
                yield _failed(cell, key_of, _error_text(exc, f"loading dataset {tc.task.spec}"), started)
            continue
        for cell in todo:
            t0 = time.time()
            try:
                if cell.key.kind == "quality":
                    q = bm25_quality(task)
                    metrics = dict(q.metrics)
                    details = {"main_metric": q.main_metric, "per_item": list(q.per_item),
                               **dict(q.details), "environment": environment,
                               "task_origin": {"origin": task.origin, "overlaps": list(task.overlaps)}}
                else:
                    figures = bm25_cost(task)
                    metrics = {k: float(v) for k, v in figures.items() if isinstance(v, (int, float))}
                    details = {k: v for k, v in figures.items() if k not in metrics}
                    details["environment"] = environment
            except Exception as exc:  # noqa: BLE001
                yield _failed(cell, key_of, _error_text(exc, f"bm25 {cell.key.kind} on {task.name}"), t0,
                              traceback=traceback.format_exc(limit=8))
                continue
            yield Event("cell", group.label, result=CellResult(key=key_of(cell), status="ok", metrics=metrics,
                                                               details=details, started_at=t0,
                                                               finished_at=time.time()))


def _chunked_quality(group: GroupSpec, cells: list[CellSpec], task: "Task", encoder: "Encoder", embeddings: dict,
                     key_of: Callable[[CellSpec], Any], environment: dict, truncation: dict) -> Iterator[Event]:
    """The chunked quality cells of one retrieval task: per chunking, cut the corpus, encode its distinct chunks
    (as documents), then score each (dim, vector precision) with ``advisor.quality.chunked``."""
    from advisor.datasets.chunking import chunk_corpus, encoder_tokenizer
    from advisor.models.encode import encode_texts
    from advisor.models.variants import Chunking
    from advisor.quality.chunked import evaluate_chunked

    by_spec: dict[str, list[CellSpec]] = {}
    for cell in cells:
        by_spec.setdefault(cell.key.chunking, []).append(cell)
    limit = truncation.get("max_tokens") or getattr(encoder, "max_tokens", None) or getattr(encoder, "max_length", None)
    for spec, group_cells in by_spec.items():
        started = time.time()
        notes: list[str] = []
        try:
            chunked = chunk_corpus(task.data.corpus, encoder_tokenizer(encoder), Chunking.parse(spec),
                                   limit if isinstance(limit, int) else None)
            t = time.perf_counter()
            vectors, batch_size = encode_texts(encoder, list(chunked.texts), kind="document",
                                               batch_size=group.batch_size, notes=notes)
            encode_s = time.perf_counter() - t
        except Exception as exc:  # noqa: BLE001
            for cell in group_cells:
                yield _failed(cell, key_of, _error_text(exc, f"chunking {task.name} ({spec})"), started,
                              traceback=traceback.format_exc(limit=8))
            continue
        for cell in group_cells:
            t0 = time.time()
            try:
                q = evaluate_chunked(task, embeddings["queries"], vectors, chunked, cell.variant)
            except Exception as exc:  # noqa: BLE001
                yield _failed(cell, key_of, _error_text(exc, f"evaluating {cell.variant.label()}"), t0,
                              traceback=traceback.format_exc(limit=8))
                continue
            details = {"main_metric": q.main_metric, "per_item": list(q.per_item), **dict(q.details),
                       "flags": list(cell.flags), "notes": notes, "batch_size": batch_size,
                       "encode_s": {"chunks": round(encode_s, 4)}, "environment": environment,
                       "task_origin": {"origin": task.origin, "overlaps": list(task.overlaps)},
                       "runtime": dict(getattr(encoder, "info", None) or {})}
            if truncation:
                details["truncation"] = truncation
            yield Event("cell", group.label, result=CellResult(key=key_of(cell), status="ok",
                                                               metrics=dict(q.metrics), details=details,
                                                               started_at=t0, finished_at=time.time()))


def _query_encode_p95_ms(encoder: "Encoder", task: "Task", n: int = 50) -> float | None:
    """Batch-1 query encode p95 (ms) over the task's first ``n`` queries: the encode half of a served query."""
    import numpy as np

    queries = list(task.data.queries.values())[:n] if hasattr(task.data, "queries") else []
    if not queries:
        return None
    encoder.encode_one(queries[0], kind="query")
    seconds = []
    for text in queries:
        t = time.perf_counter()
        encoder.encode_one(text, kind="query")
        seconds.append(time.perf_counter() - t)
    return float(np.percentile(np.array(seconds) * 1000.0, 95))


def _index_cell(group: GroupSpec, cell: CellSpec, task: "Task", embeddings: dict, key_of: Callable[[CellSpec], Any],
                environment: dict, encode_p95_ms: float | None = None) -> Event:
    import json

    from advisor.index.evaluation import evaluate_index

    t0 = time.time()
    spec = json.loads(cell.key.options)
    settings = {**spec["settings"], "dsn": cell.dsn} if cell.dsn else spec["settings"]  # the key's has no password
    try:
        r = evaluate_index(task, embeddings, index=spec["index"], settings=settings, dim=cell.key.dim,
                           precision=cell.key.vector_precision or "float32")
    except Exception as exc:  # noqa: BLE001
        return _failed(cell, key_of, _error_text(exc, f"index {spec['index']} on {cell.variant.label()}"), t0,
                       traceback=traceback.format_exc(limit=8))
    metrics = dict(r.metrics)
    if encode_p95_ms is not None:  # what a served query costs end to end: encode it, then search the index
        metrics["query_encode_p95_ms"] = encode_p95_ms
        metrics["end_to_end_p95_ms"] = encode_p95_ms + metrics["search_p95_ms"]
    details = {"index": spec["index"], "settings": spec["settings"], **r.info, "environment": environment}
    return Event("cell", group.label, result=CellResult(key=key_of(cell), status="ok", metrics=metrics,
                                                        details=details, started_at=t0, finished_at=time.time()))


def _cost_cell(group: GroupSpec, cell: CellSpec, task: "Task", encoder: "Encoder",
               key_of: Callable[[CellSpec], Any], load_time: float, environment: dict,
               progress: Emit | None = None, document_vectors: "np.ndarray | None" = None) -> Event:
    started = time.time()

    def stage(name: str, done: int, total: int | None) -> None:
        if progress is not None:
            progress(Event("encode", group.label, n=done, total=total or max(done, 1),
                           message=f"{group.entry.name} {task.name} cost: {name}"))

    try:
        from advisor.cost import CostOptions, measure_cost
        from advisor.sweep.planner import probe_parts

        probe = probe_parts(cell.key)  # a racing sweep's quick probe measures only what the limits need
        quick = {} if probe is None else {"load_test": "load" in probe, "memory": "memory" in probe}
        figures = measure_cost(encoder, task, entry=group.entry, load=group.load_options(),
                               options=CostOptions(batch_size=group.batch_size, load_server=group.load_server,
                                                   load_rates=group.load_rates, **quick),
                               progress=stage, document_vectors=document_vectors)
    except Exception as exc:  # noqa: BLE001
        return _failed(cell, key_of, _error_text(exc, "measuring cost"), started,
                       traceback=traceback.format_exc(limit=8))
    metrics = {k: float(v) for k, v in figures.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    metrics.setdefault("load_time_s", load_time)
    details = {k: v for k, v in figures.items() if k not in metrics}
    details.setdefault("environment", environment)
    return Event("cell", group.label, result=CellResult(key=key_of(cell), status="ok", metrics=metrics,
                                                        details=details, started_at=started,
                                                        finished_at=time.time()))
