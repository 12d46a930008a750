"""JSON and CSV writers: the ranking as data, for scripts and spreadsheets."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from advisor.reporting import Report, ReportWriter
from advisor.reporting.content import csv_row


class JsonWriter(ReportWriter):
    name = "json"
    suffix = ".json"
    description = "The whole ranking as JSON: policy, tasks, models, every candidate with its figures and why."

    def write(self, report: Report, out_dir: Path) -> Path:
        path = out_dir / "report.json"
        data = {"meta": report.meta(), **report.recommendation.to_dict()}
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
        return path


class CsvWriter(ReportWriter):
    name = "csv"
    suffix = ".csv"
    description = "One row per candidate (model x variant x machine) with plain numbers."

    def write(self, report: Report, out_dir: Path) -> Path:
        rec = report.recommendation
        rows = [csv_row(g, c, rec.tasks) for g in rec.groups for c in g.candidates]
        path = out_dir / "candidates.csv"
        columns: list[str] = []
        for row in rows:
            columns += [k for k in row if k not in columns]
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns or ["model"])
            writer.writeheader()
            writer.writerows(rows)
        return path
