"""After training: evaluate the base and the trained model on the held-out split with the same harness as every
other model (backend encoder -> ``advisor.quality.evaluation.evaluate_model`` -> paired bootstrap), measure their cost when
asked, and write ``report.json`` / ``report.md`` with a plain verdict, including "training did not help"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from advisor.models.catalog import ModelEntry
from advisor.datasets.tasks import RetrievalData, Task
from advisor.figures import (DOCS_PER_S, LATENCY_P50_MS, LATENCY_P95_MS, LOAD_TIME_S, SERVING_MEMORY_MB, TOKENS_PER_S,
                             figure_of, lookup)
from advisor.formatting import duration, number, percent
from advisor.models.variants import Variant
from advisor.training.workspace import Workspace

HELDOUT_DIR = "heldout"
REPORT_JSON, REPORT_MD = "report.json", "report.md"


def write_beir(task: Task, folder: Path) -> Path:
    """The held-out split as a BEIR folder, so ``advisor evaluate --dataset OUT/heldout`` reproduces the figures."""
    data: RetrievalData = task.data
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    with (folder / "corpus.jsonl").open("w", encoding="utf-8") as fh:
        for did, text in data.corpus.items():
            fh.write(json.dumps({"_id": did, "title": "", "text": text}, ensure_ascii=False) + "\n")
    with (folder / "queries.jsonl").open("w", encoding="utf-8") as fh:
        for qid, text in data.queries.items():
            fh.write(json.dumps({"_id": qid, "text": text}, ensure_ascii=False) + "\n")
    with (folder / "qrels" / "test.tsv").open("w", encoding="utf-8") as fh:
        fh.write("query-id\tcorpus-id\tscore\n")
        for qid, rel in data.qrels.items():
            for did, score in rel.items():
                fh.write(f"{qid}\t{did}\t{score}\n")
    return folder


def _evaluate(entry: ModelEntry, task: Task, variants: list[Variant], device: str, measure: bool,
              progress: Any) -> tuple[dict[Variant, Any], dict[str, float] | None, str | None]:
    from advisor.models.backends import LoadOptions, load_encoder
    from advisor.quality.evaluation import evaluate_model

    load = LoadOptions(device=device, weight_precision="fp32")
    encoder = load_encoder(entry, load)
    try:
        def tick(name: str, done: int, total: int) -> None:
            if progress:
                progress("evaluate", done, total, {"model": entry.name, "set": name})

        results = evaluate_model(encoder, task, variants, progress=tick)
        cost, cost_note = None, None
        if measure:
            try:
                from advisor.cost import measure_cost
            except ImportError:
                cost_note = "the cost module (advisor.cost) is not installed; cost not measured"
            else:
                if progress:
                    progress("measure", 0, None, {"model": entry.name})
                cost = measure_cost(encoder, task, entry=entry, load=load)
        return results, cost, cost_note
    finally:
        encoder.close()


def verdict(comparison: dict[str, Any], metric: str, reference: str = "base") -> str:
    """One plain sentence: helped, hurt, or no difference beyond the paired-bootstrap noise. Against a teacher
    it says how much of the teacher's quality the student keeps."""
    diff, lo, hi = comparison["difference"], comparison["ci_low"], comparison["ci_high"]
    fig = figure_of(metric)
    span = f"{metric} {fig.text(comparison['b'])} -> {fig.text(comparison['a'])}, {fig.difference_text(diff, lo, hi)}"
    if reference.endswith(" alone"):  # an asymmetric pair against one of its sides
        if not comparison["different"]:
            return f"pair vs {reference}: no difference beyond the noise, {span}"
        return f"pair vs {reference}: the pair {'beats' if diff > 0 else 'trails'} it, {span}"
    if reference == "teacher":
        kept = comparison["a"] / comparison["b"] if comparison["b"] else float("nan")
        if not comparison["different"]:
            return f"student vs teacher: no difference beyond the noise, {span}"
        keeps = f"keeps {percent(kept, decimals=0)} of"
        return (f"student vs teacher: the student {'beats' if diff > 0 else keeps} "
                f"the teacher, {span}")
    if comparison["different"] and diff > 0:
        return f"training helped (vs {reference}): {span}"
    if comparison["different"] and diff < 0:
        return f"training made it WORSE (vs {reference}): {span}"
    return (f"training did not help (vs {reference}): {span}; the difference is within the paired bootstrap "
            f"interval")


def finish(ws: Workspace, references: list[tuple[str, ModelEntry]], trained: ModelEntry, heldout: Task,
           training: dict[str, Any], *, device: str, evaluate: bool, measure: bool, progress: Any = None,
           dims: tuple[int, ...] = ()) -> dict[str, Any]:
    """Evaluate the trained model and each reference (the base; or the student before training and the teacher)
    on the held-out split, compare them pairwise per query, and write the report; returns it as a dict."""
    from advisor.quality import bootstrap

    write_beir(heldout, ws.path(HELDOUT_DIR))
    report: dict[str, Any] = {"kind": ws.kind, "base": references[0][1].name, "trained": trained.name,
                              "references": {label: e.name for label, e in references},
                              "catalog": str(ws.path("catalog.yaml")), "model_dir": str(ws.path("model")),
                              "heldout": {"task": heldout.name, "hash": heldout.content_hash,
                                          "queries": len(heldout.data.queries), "documents": len(heldout.data.corpus),
                                          "folder": str(ws.path(HELDOUT_DIR))},
                              "training": training, "device": device}
    if evaluate:
        smallest = min([trained.embed_dim] + [e.embed_dim for _, e in references])
        variants = [Variant(device=device)] + [Variant(device=device, dim=d) for d in dims if d < smallest]
        after, cost_after, note = _evaluate(trained, heldout, variants, device, measure, progress)
        rows, verdicts, costs = [], [], {"trained": cost_after}
        for label, entry in references:
            before, cost_before, _ = _evaluate(entry, heldout, variants, device, measure, progress)
            costs[label] = cost_before
            for v in variants:
                b, a = before[v], after[v]
                comp = bootstrap.compare(a, b).to_dict()
                rows.append({"reference": label, "reference_model": entry.name, "variant": v.label(), "dim": v.dim,
                             "metric": a.main_metric, "before": b.main_score, "after": a.main_score,
                             "comparison": comp, "metrics_before": b.metrics, "metrics_after": a.metrics,
                             "verdict": verdict(comp, a.main_metric, label)})
            verdicts.append(next(r["verdict"] for r in rows if r["reference"] == label))
        report["quality"] = rows
        report["verdict"] = "; ".join(verdicts)
        if measure:
            report["cost"] = {**costs, "note": note}
    ws.path(REPORT_JSON).write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
    ws.path(REPORT_MD).write_text(render_markdown(report), encoding="utf-8")
    return report


def render_markdown(report: dict[str, Any]) -> str:
    t = report["training"]
    refs = ", ".join(f"{label} `{name}`" for label, name in report.get("references", {}).items())
    lines = [f"# {report['kind']}: `{report['trained']}`", "", f"Compared on the held-out split with: {refs}.", ""]
    if "verdict" in report:
        lines += [f"**{report['verdict']}**", ""]
    lines += [f"- held-out split: {report['heldout']['queries']} queries over {report['heldout']['documents']} "
              f"documents (never used for training; folder `{report['heldout']['folder']}`)",
              f"- training: {t.get('train_rows')} rows from {t.get('train_queries')} queries, loss {t.get('loss')}, "
              f"{t['log']['steps']} steps in {duration(t['log']['runtime_s'])} on {report['device']}",
              f"- catalog entry: `{report['catalog']}` (model `{report['model_dir']}`)", ""]
    if report.get("quality"):
        lines += [f"| variant | metric | reference | reference score | {report['trained']} | difference (95% CI) |",
                  "|---|---|---|---|---|---|"]
        for row in report["quality"]:
            c, fig = row["comparison"], figure_of(row["metric"])
            lines.append(f"| {row['variant']} | {row['metric']} | {row['reference']}: {row['reference_model']} | "
                         f"{fig.cell(row['before'])} | {fig.cell(row['after'])} | "
                         f"{fig.difference_text(c['difference'], c['ci_low'], c['ci_high'])} |")
        lines.append("")
    cost = report.get("cost")
    measured = {label: c for label, c in (cost or {}).items() if isinstance(c, dict) and c}
    if measured:
        labels = list(measured)
        keys = [k for k in (DOCS_PER_S, TOKENS_PER_S, LATENCY_P50_MS, LATENCY_P95_MS, SERVING_MEMORY_MB, LOAD_TIME_S)
                if all(k in measured[label] for label in labels)]
        lines += ["| cost | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
        lines += [f"| {k} | " + " | ".join(lookup(k).text(measured[label][k]) for label in labels) + " |"
                  for k in keys]
        lines.append("")
    elif cost and cost.get("note"):
        lines += [f"- cost: {cost['note']}", ""]
    losses = t["log"]["losses"]
    if losses:
        lines.append(f"- training loss: {number(losses[0][1], decimals=4)} (step {losses[0][0]}) -> "
                     f"{number(losses[-1][1], decimals=4)} "
                     f"(step {losses[-1][0]})")
    return "\n".join(lines) + "\n"
