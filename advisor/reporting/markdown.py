"""The Markdown report: readable in a terminal, a pull request or a wiki; plots are PNG files beside it."""

from __future__ import annotations

from pathlib import Path

from advisor.reporting import Report, ReportWriter
from advisor.reporting.content import (MEMORY_COLUMNS, MEMORY_INTRO, MODEL_COLUMNS, candidate_columns, candidate_row,
                                      conditions_text, counts, hardware_text, headline, memory_rows, model_summary,
                                      money_text, near_miss_lines, not_evaluated)
from advisor.reporting.plots import all_figures
from advisor.reporting.race import raced_out


def md(text: object) -> str:
    """Model-supplied text inside a table cell: no pipes, no line breaks, no raw HTML."""
    return (str(text).replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\n", " "))


def table(columns: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(md(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(md(v) for v in row) + " |" for row in rows]
    return out


def quality_label(report: Report) -> str:
    tasks = report.recommendation.tasks
    return tasks[0].metric if len(tasks) == 1 else "mean of the tasks' main metrics"


def _pair_lines(rec) -> list[str]:
    """The three-way comparison of each pair candidate (``advisor.reporting.pairs``)."""
    from advisor.reporting.pairs import INTRO, TITLE, pair_sections

    sections = pair_sections(rec)
    if not sections:
        return []
    lines = [f"## {TITLE}", "", INTRO, ""]
    for s in sections:
        lines += [f"### {md(s.title)}", ""] + table(s.columns, s.rows) + [""] + [f"- {md(x)}" for x in s.lines]
        lines.append("")
    return lines


def _race_lines(report: Report) -> list[str]:
    """The race (``advisor.reporting.race``): its rounds, each candidate's last round and why it left; and the
    run's estimated time beside what it took."""
    from advisor.reporting.race import race_section, timing_lines

    out = [md(x) for x in timing_lines(report)]
    out += [""] if out else []
    s = race_section(report)
    if s is None:
        return out
    out += [f"## {md(s.title)}", "", md(s.intro), ""] + [f"- {md(x)}" for x in s.rounds] + [""]
    out += table(s.columns, s.rows) + [""] + ([f"- {md(x)}" for x in s.lines] + [""] if s.lines else [])
    return out


def _chunking_lines(rec) -> list[str]:
    """Truncation share per model and truncate-or-chunk (``advisor.reporting.chunking``)."""
    from advisor.reporting.chunking import CHUNK_COLUMNS, TRUNCATION_COLUMNS, chunking_section

    s = chunking_section(rec)
    if s is None:
        return []
    out = [f"## {md(s.title)}", "", md(s.intro), ""] + table(TRUNCATION_COLUMNS, s.truncation) + [""]
    if s.chunks:
        out += table(CHUNK_COLUMNS, s.chunks) + [""] + [f"- {md(x)}" for x in s.lines] + [""]
    return out


class MarkdownWriter(ReportWriter):
    name = "markdown"
    suffix = ".md"
    description = "A Markdown report with PNG plots in plots/."

    def write(self, report: Report, out_dir: Path) -> Path:
        rec = report.recommendation
        lines = [f"# {md(report.title)}", "", f"**{md(headline(rec))}**", ""]
        policy = rec.policy
        lines += [f"Policy **{md(policy.name)}**" + (f" ({md(policy.file)})" if policy.file else "")
                  + (f": {md(policy.description)}" if policy.description else ""), ""]
        if rec.tasks:
            lines += ["Tasks: " + "; ".join(f"{md(t.name)} ({md(t.type or '?')}, ranked on {md(t.metric)}"
                                            + (f", {t.n_items} items" if t.n_items else "")
                                            + (f", bootstrap over {md(t.units)}" if t.units else "") + ")"
                                            for t in rec.tasks), ""]
        # the first screen: which model, at which settings and why (one short row per model), then one line each
        # for the per-candidate lists, whose tables come below the main ones
        lines += ["## Each model at its best", ""] + table(MODEL_COLUMNS, model_summary(rec)) + [""]
        lines += _summary_lines(rec)
        for note in rec.notes:
            lines.append(f"> Note: {md(note)}")
        if rec.notes:
            lines.append("")
        lines += _race_lines(report)
        lines += _chunking_lines(rec)
        absent = [m for m in not_evaluated(rec) if m not in raced_out(report)]
        if absent:
            lines += ["Admitted by the policy but not in these results (not run yet, or left out with --model): "
                      + md(", ".join(absent)) + ".", ""]
        plots_dir = out_dir / "plots"
        for i, group in enumerate(rec.groups):
            suffix = "" if len(rec.groups) == 1 else f"-{i + 1}"
            n = counts(group)
            lines += [f"## Candidates measured on {md(hardware_text(group))}", "",
                      f"{len(group.candidates)} candidates: " + ", ".join(f"{v} {k}" for k, v in n.items())
                      + f". Quality is {md(quality_label(report))}; cost figures are the worst over the tasks.", ""]
            lines += [md(conditions_text(group)), ""]
            lines += [md(money_text(rec)), ""]
            lines += table(candidate_columns(rec.tasks), [candidate_row(c, rec.tasks) for c in group.candidates])
            lines.append("")
            memory = memory_rows(group)
            if memory:
                lines += ["### Serving memory and its parts", "", md(MEMORY_INTRO), ""]
                lines += table(MEMORY_COLUMNS, memory) + [""]
            misses = near_miss_lines(group)
            if misses:
                lines += ["### Near misses: what each limit costs", ""] + [f"- {md(m)}" for m in misses] + [""]
            figures = all_figures(group, quality_label(report))
            if figures:
                plots_dir.mkdir(exist_ok=True)
            for fig in figures:
                name = f"{fig.name}{suffix}.png"
                (plots_dir / name).write_bytes(fig.png)
                lines += [f"### {fig.title}", "", f"![{fig.title}](plots/{name})", "", fig.caption, ""]
        lines += _retrieval_lines(rec)
        lines += _pair_lines(rec)
        lines += ["## Models and the policy's rules", ""]
        lines += table(["model", "licence", "verdict"],
                       [[m.name, m.license, m.why] for m in rec.models])
        lines.append("")
        if report.skipped:
            lines += ["## Variants not planned", ""]
            lines += table(["model", "variant", "reason"],
                           [[s.get("model", ""), s.get("variant", ""), s.get("reason", "")] for s in report.skipped])
            lines.append("")
        lines += ["## How to read this", "",
                  "Hard rules first (licence, languages, remote code, pickle weights, then the policy's limits on "
                  "measured figures); then the Pareto front over quality and cost (p95 latency, throughput, serving "
                  "memory, bytes per vector); then the policy's weighted score orders the front. Two candidates "
                  "whose quality differs by less than the paired-bootstrap noise are reported as tied; intervals "
                  "and ties resample each task's independent units, named on the Tasks line (the query; pairs or "
                  "examples that share texts are resampled by text or group of texts, see docs/quality.md). Figures "
                  "from different machines are never ranked against each other.", ""]
        meta = [f"Generated {report.generated_at}"]
        if report.store:
            meta.append(f"results store {md(report.store)}")
        if report.command:
            meta.append(f"command: {md(report.command)}")
        lines += ["---", "; ".join(meta) + ".", ""]
        path = out_dir / "report.md"
        path.write_text("\n".join(lines), encoding="utf-8")
        return path


def _summary_lines(rec) -> list[str]:
    """One line per retrieval section for the first screen (its table comes below the main tables)."""
    from advisor.reporting.retrieval import retrieval_sections

    lines = [f"- **{md(s.label)}**: {md(s.summary)}" for s in retrieval_sections(rec) if s.summary]
    return lines + [""] if lines else []


def _retrieval_lines(rec) -> list[str]:
    """The BM25 comparison and the switching cost of every ranked candidate, each as one compact table
    (``advisor.reporting.retrieval``)."""
    from advisor.reporting.retrieval import retrieval_sections

    out: list[str] = []
    for s in retrieval_sections(rec):
        out += [f"## {md(s.title)}", "", md(s.intro), ""]
        if s.rows:
            out += table(s.columns, s.rows) + [""] + ([f"- {md(x)}" for x in s.notes] + [""] if s.notes else [])
        else:
            out += [f"- {md(x)}" for x in s.lines] + [""]
    return out
