"""The HTML report: one self-contained page (inline CSS, plots as base64 PNG, no script, no external link), safe
to mail or attach. Every piece of text that came from a model, a catalog, a policy or a dataset is escaped, and a
Content-Security-Policy forbids scripts even if something slipped through."""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

from advisor.ranking import Candidate, HardwareGroup, Recommendation
from advisor.reporting import Report, ReportWriter
from advisor.reporting.content import (MEMORY_COLUMNS, MEMORY_INTRO, MODEL_COLUMNS, STATUS_TEXT, candidate_columns,
                                      candidate_row, counts, headline, conditions_text, hardware_text, memory_rows,
                                      model_summary, money_text, near_miss_lines, not_evaluated)
from advisor.reporting.plots import all_figures
from advisor.reporting.race import raced_out

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
main{max-width:1180px;margin:0 auto;padding:24px 28px 48px;background:#fff}
h1{font-size:1.6rem;margin:0 0 4px}h2{font-size:1.2rem;margin:32px 0 8px;border-bottom:1px solid #d0d7de;
padding-bottom:4px}h3{font-size:1rem;margin:20px 0 6px}
.sub{color:#59636e;margin:0 0 16px}
.card{border:1px solid #1a7f37;background:#dafbe1;border-radius:8px;padding:14px 18px;margin:16px 0}
.card.none{border-color:#cf222e;background:#ffebe9}
.card .what{font-size:1.15rem;font-weight:600}.card .why{margin-top:6px;color:#1f2328}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;font-size:.92rem;margin:10px 0}
.facts dt{color:#59636e}.facts dd{margin:0}
.note{background:#fff8c5;border:1px solid #d4a72c;border-radius:6px;padding:6px 10px;margin:6px 0;font-size:.9rem}
table{border-collapse:collapse;width:100%;font-size:.82rem;margin:6px 0 12px}
th,td{border-bottom:1px solid #d8dee4;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f6f8fa;position:sticky;top:0}td.num{text-align:right;font-variant-numeric:tabular-nums;
white-space:nowrap}td.why{min-width:260px;max-width:420px;color:#31363b}
tr.recommended{background:#dafbe1;font-weight:600}tr.pareto{background:#f3faf5}
tr.rejected td,tr.failed td,tr.incomplete td{color:#6e7781}
.chip{display:inline-block;border-radius:10px;padding:0 7px;font-size:.75rem;white-space:nowrap;border:1px solid}
.chip.recommended{background:#1a7f37;color:#fff;border-color:#1a7f37}.chip.pareto{border-color:#1a7f37;color:#1a7f37}
.chip.dominated{border-color:#8c959f;color:#59636e}.chip.rejected,.chip.failed,.chip.incomplete{border-color:#cf222e;
color:#cf222e}
figure{margin:14px 0 22px}figure img{max-width:100%;border:1px solid #d8dee4;border-radius:6px}
figcaption{font-size:.85rem;color:#59636e;margin-top:4px}
details summary{cursor:pointer;color:#0969da;margin:6px 0}
footer{margin-top:36px;font-size:.8rem;color:#59636e}code{font-size:.85em;background:#f6f8fa;padding:1px 4px}
"""

NUMERIC = {"#", "bytes/vector", "quality retained", "p95 ms", "docs/s", "serving MB", "score"}


def e(text: object) -> str:
    return escape(str(text), quote=True)


def _rows(cands: list[Candidate], rec: Recommendation) -> str:
    columns = candidate_columns(rec.tasks)
    numeric = NUMERIC | set(columns[5:5 + len(rec.tasks)])
    head = "".join(f"<th>{e(c)}</th>" for c in columns)
    body = []
    for c in cands:
        cells = []
        for col, value in zip(columns, candidate_row(c, rec.tasks)):
            if col == "status":
                cells.append(f'<td><span class="chip {e(c.status)}">{e(STATUS_TEXT[c.status])}</span></td>')
            elif col == "why":
                cells.append(f'<td class="why">{e(value)}</td>')
            else:
                cells.append(f'<td class="num">{e(value)}</td>' if col in numeric else f"<td>{e(value)}</td>")
        body.append(f'<tr class="{e(c.status)}">' + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _group(group: HardwareGroup, rec: Recommendation, metric: str, index: int) -> str:
    n = counts(group)
    front = [c for c in group.candidates if c.status in ("recommended", "pareto")]
    dominated = [c for c in group.candidates if c.status == "dominated"]
    out_of_rules = [c for c in group.candidates if c.status not in ("recommended", "pareto", "dominated")]
    parts = [f"<h2>Candidates measured on {e(hardware_text(group))}</h2>",
             f"<p>{len(group.candidates)} candidates: " + ", ".join(f"{v} {e(STATUS_TEXT[k])}" for k, v in n.items())
             + f". Quality is {e(metric)}; cost figures are the worst over the tasks. Machine id "
               f"<code>{e(group.hardware)}</code>.</p>", f"<p class=\"conditions\">{e(conditions_text(group))}</p>",
               f"<p class=\"money\">{e(money_text(rec))}</p>"]
    memory = memory_rows(group)
    if memory:
        head = "".join(f"<th>{e(c)}</th>" for c in MEMORY_COLUMNS)
        body = "".join("<tr>" + "".join(f"<td>{e(v)}</td>" for v in row) + "</tr>" for row in memory)
        parts.append(f"<h3>Serving memory and its parts</h3><p>{e(MEMORY_INTRO)}</p>"
                     f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    misses = near_miss_lines(group)
    if misses:
        parts.append("<h3>Near misses: what each limit costs</h3><ul>"
                     + "".join(f"<li>{e(m)}</li>" for m in misses) + "</ul>")
    if front:
        parts.append("<h3>The Pareto front: no other candidate is better on quality and cost at once</h3>")
        parts.append(_rows(front, rec))
    if dominated:
        parts.append(f"<details><summary>{len(dominated)} dominated candidate(s): another candidate is at least as "
                     f"good on every figure</summary>{_rows(dominated, rec)}</details>")
    if out_of_rules:
        parts.append(f"<details><summary>{len(out_of_rules)} candidate(s) out by a rule, a failure or a missing "
                     f"task</summary>{_rows(out_of_rules, rec)}</details>")
    for fig in all_figures(group, metric):
        data = base64.b64encode(fig.png).decode("ascii")
        parts.append(f'<figure id="{e(fig.name)}-{index}"><h3>{e(fig.title)}</h3>'
                     f'<img alt="{e(fig.title)}" src="data:image/png;base64,{data}">'
                     f"<figcaption>{e(fig.caption)}</figcaption></figure>")
    return "\n".join(parts)


def _pairs(rec: Recommendation) -> str:
    """The three-way comparison of each pair candidate (``advisor.reporting.pairs``)."""
    from advisor.reporting.pairs import INTRO, TITLE, pair_sections

    sections = pair_sections(rec)
    if not sections:
        return ""
    parts = [f'<h2 id="pairs">{e(TITLE)}</h2>', f"<p>{e(INTRO)}</p>"]
    for s in sections:
        head = "".join(f"<th>{e(c)}</th>" for c in s.columns)
        body = "".join("<tr>" + "".join(f'<td class="num">{e(v)}</td>' if i >= 3 else f"<td>{e(v)}</td>"
                                        for i, v in enumerate(row)) + "</tr>" for row in s.rows)
        parts += [f"<h3>{e(s.title)}</h3>", f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>",
                  "<ul>" + "".join(f"<li>{e(x)}</li>" for x in s.lines) + "</ul>"]
    return "\n".join(parts)


def render(report: Report) -> str:
    rec = report.recommendation
    metric = rec.tasks[0].metric if len(rec.tasks) == 1 else "the mean of the tasks' main metrics"
    best = rec.recommended
    if best is not None:
        card = (f'<div class="card"><div class="what">{e(headline(rec))}</div>'
                f'<div class="why">{e(best.why)}</div></div>')
    else:
        card = f'<div class="card none"><div class="what">{e(headline(rec))}</div></div>'
    policy = rec.policy
    facts = [("Policy", policy.name + (f" ({policy.file})" if policy.file else "")),
             ("What it asks", policy.description or "–")]
    for t in rec.tasks:
        facts.append((f"Task {t.name}", f"{t.type or '?'}, ranked on {t.metric}"
                      + (f", {t.n_items} items" if t.n_items else "")
                      + (f", bootstrap over {t.units}" if t.units else "") + f", data {t.task_hash}"))
    if report.datasets:
        facts.append(("Datasets", ", ".join(report.datasets)))
    if report.catalogs:
        facts.append(("Catalogs", ", ".join(report.catalogs)))
    facts_html = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in facts)
    notes = "".join(f'<div class="note">{e(n)}</div>' for n in rec.notes)
    groups = "\n".join(_group(g, rec, metric, i) for i, g in enumerate(rec.groups))
    models = "".join(f"<tr><td>{e(m.name)}</td><td>{e(m.license)}</td>"
                     f"<td>{'admitted' if m.admitted else 'rejected'}</td><td class=\"why\">{e(m.why)}</td></tr>"
                     for m in rec.models)
    per_model = "".join("<tr>" + "".join(f'<td class="why">{e(v)}</td>' if i == 6 else
                                         f'<td class="num">{e(v)}</td>' if i in (3, 4, 5) else f"<td>{e(v)}</td>"
                                         for i, v in enumerate(row)) + "</tr>" for row in model_summary(rec))
    absent = [m for m in not_evaluated(rec) if m not in raced_out(report)]
    absent = (f"<p>Admitted by the policy but not in these results (not run yet, or left out with --model): "
              f"{e(', '.join(absent))}.</p>" if absent else "")
    per_model_head = "".join(f"<th>{e(c)}</th>" for c in MODEL_COLUMNS)
    skipped = ""
    if report.skipped:
        rows = "".join(f"<tr><td>{e(s.get('model', ''))}</td><td>{e(s.get('variant', ''))}</td>"
                       f"<td class=\"why\">{e(s.get('reason', ''))}</td></tr>" for s in report.skipped)
        skipped = ("<h2>Variants not planned</h2><table><thead><tr><th>model</th><th>variant</th><th>reason</th>"
                   f"</tr></thead><tbody>{rows}</tbody></table>")
    footer = [f"Generated {e(report.generated_at)}"]
    if report.store:
        footer.append(f"results store <code>{e(report.store)}</code>")
    if report.command:
        footer.append(f"command <code>{e(report.command)}</code>")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(report.title)} – {e(policy.name)}</title><style>{CSS}</style></head>
<body><main>
<h1>{e(report.title)}</h1>
<p class="sub">Which model and variant to ship under policy <b>{e(policy.name)}</b>, and the evidence.</p>
{card}
<dl class="facts">{facts_html}</dl>
<h2>Each model at its best</h2>
<table><thead><tr>{per_model_head}</tr></thead><tbody>{per_model}</tbody></table>
{_summary(rec)}
{notes}
{absent}
{_race(report)}
{_chunking(rec)}
{groups}
{_retrieval(rec)}
{_pairs(rec)}
<h2>Models and the policy's rules</h2>
<table><thead><tr><th>model</th><th>licence</th><th>verdict</th><th>why</th></tr></thead><tbody>{models}</tbody></table>
{skipped}
<h2>How to read this</h2>
<p>Hard rules first (licence, languages, remote code, pickle weights, then the policy's limits on measured figures);
then the Pareto front over quality and cost (p95 latency, throughput, serving memory, bytes per vector); then the
policy's weighted score orders the front. Two candidates whose quality differs by less than the paired-bootstrap
noise are reported as tied; intervals and ties resample each task's independent units, named beside the task (the
query; pairs or examples that share texts are resampled by text or group of texts). Figures from different machines
are never ranked against each other.</p>
<footer>{'; '.join(footer)}.</footer>
</main></body></html>
"""


def _race(report: Report) -> str:
    """The race (``advisor.reporting.race``) and the run's estimated time beside what it took."""
    from advisor.reporting.race import race_section, timing_lines

    out = "".join(f"<p>{e(x)}</p>" for x in timing_lines(report))
    s = race_section(report)
    if s is None:
        return out
    head = "".join(f"<th>{e(c)}</th>" for c in s.columns)
    body = "".join("<tr>" + "".join(f"<td>{e(v)}</td>" for v in row) + "</tr>" for row in s.rows)
    return (out + f'<h2 id="race">{e(s.title)}</h2><p>{e(s.intro)}</p>'
            + "<ul>" + "".join(f"<li>{e(x)}</li>" for x in s.rounds) + "</ul>"
            + f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            + "".join(f"<p>{e(x)}</p>" for x in s.lines))


def _chunking(rec: Recommendation) -> str:
    """Truncation share per model and truncate-or-chunk (``advisor.reporting.chunking``)."""
    from advisor.reporting.chunking import CHUNK_COLUMNS, TRUNCATION_COLUMNS, chunking_section

    s = chunking_section(rec)
    if s is None:
        return ""

    def tab(columns: list[str], rows: list[list[str]]) -> str:
        head = "".join(f"<th>{e(c)}</th>" for c in columns)
        body = "".join("<tr>" + "".join(f"<td>{e(v)}</td>" for v in row) + "</tr>" for row in rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    out = f"<h2>{e(s.title)}</h2><p>{e(s.intro)}</p>" + tab(TRUNCATION_COLUMNS, s.truncation)
    if s.chunks:
        out += tab(CHUNK_COLUMNS, s.chunks) + "<ul>" + "".join(f"<li>{e(x)}</li>" for x in s.lines) + "</ul>"
    return out


class HtmlWriter(ReportWriter):
    name = "html"
    suffix = ".html"
    description = "One self-contained HTML page with plots (no scripts, no external files)."

    def write(self, report: Report, out_dir: Path) -> Path:
        path = out_dir / "report.html"
        path.write_text(render(report), encoding="utf-8")
        return path


def _summary(rec: Recommendation) -> str:
    """One line per retrieval section for the first screen (its table is collapsed below the main tables)."""
    from advisor.reporting.retrieval import retrieval_sections

    items = "".join(f"<li><b>{e(s.label)}</b>: {e(s.summary)}</li>" for s in retrieval_sections(rec) if s.summary)
    return f'<ul class="summary">{items}</ul>' if items else ""


def _retrieval(rec: Recommendation) -> str:
    """The BM25 comparison and the switching cost of every ranked candidate: a heading, the one-line answer, and
    the table of every candidate collapsed in ``<details>`` (``advisor.reporting.retrieval``)."""
    from advisor.reporting.retrieval import retrieval_sections

    parts = []
    for s in retrieval_sections(rec):
        notes = "<ul>" + "".join(f"<li>{e(x)}</li>" for x in (s.notes if s.rows else s.lines)) + "</ul>"
        if not s.rows:
            parts.append(f"<h2>{e(s.title)}</h2><p>{e(s.intro)}</p>{notes}")
            continue
        head = "".join(f"<th>{e(c)}</th>" for c in s.columns)
        body = "".join("<tr>" + "".join(f"<td>{e(v)}</td>" for v in row) + "</tr>" for row in s.rows)
        parts.append(f"<h2>{e(s.title)}</h2><p>{e(s.summary)}</p><details><summary>{len(s.rows)} ranked "
                     f"candidate(s), one row each</summary><p>{e(s.intro)}</p><table><thead><tr>{head}</tr></thead>"
                     f"<tbody>{body}</tbody></table>{notes if s.notes else ''}</details>")
    return "\n".join(parts)
