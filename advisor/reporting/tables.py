"""JSON and CSV writers: the ranking as data, for scripts and spreadsheets."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from advisor.formatting import spreadsheet_text
from advisor.reporting import Report, ReportWriter
from advisor.reporting.content import csv_row


class JsonWriter(ReportWriter):
    name = "json"
    suffix = ".json"
    description = "The whole ranking as JSON: policy, tasks, models, every candidate with its figures and why."

    def write(self, report: Report, out_dir: Path) -> Path:
        path = out_dir / "report.json"
        data = {"meta": report.meta(), **report.recommendation.to_dict()}
        data.update(_retrieval(report))
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
        return path


class CsvWriter(ReportWriter):
    name = "csv"
    suffix = ".csv"
    description = "One row per candidate (model x variant x machine) with plain numbers."
    # text a spreadsheet would take for a formula (a model named '=HYPERLINK(...)') is written as text

    def write(self, report: Report, out_dir: Path) -> Path:
        rec = report.recommendation
        rows = [{k: spreadsheet_text(v) for k, v in csv_row(g, c, rec.tasks).items()}
                for g in rec.groups for c in g.candidates]
        path = out_dir / "candidates.csv"
        columns: list[str] = []
        for row in rows:
            columns += [k for k in row if k not in columns]
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns or ["model"])
            writer.writeheader()
            writer.writerows(rows)
        return path


def _retrieval(report: Report) -> dict:
    """The BM25 comparisons (one object per candidate and task) and the switching-cost lines."""
    from advisor.ranking.baseline import bm25_lines
    from advisor.reporting.retrieval import switching_section

    switching = switching_section(report.recommendation)
    return {"bm25": [line.to_dict() for line in bm25_lines(report.recommendation)],
            "switching_cost": switching.to_dict() if switching else None}
