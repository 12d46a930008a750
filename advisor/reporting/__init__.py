"""Report writers: turn a ``Recommendation`` (and the facts of the run behind it) into files a person reads.

A writer is an object with a ``name``, a file ``suffix`` and ``write(report, out_dir) -> Path``; plugins
register writers through the ``register_report_writers`` hook (the built-in markdown, html, json and csv writers
come from the ``report`` plugin). Writers read the ranking only; they never run a model.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from advisor.errors import UserError
from advisor.ranking import Recommendation


@dataclass
class Report:
    """What every writer gets: the ranking and where it came from."""

    recommendation: Recommendation
    store: str | None = None
    catalogs: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    command: str | None = None
    skipped: list[dict] = field(default_factory=list)   # variants the planner left out, with the reason
    race: dict | None = None      # a racing sweep's record (advisor.sweep.racing.Race.to_dict): the race section
    timing: dict | None = None    # the run's estimate beside its wall time (advisor.sweep.estimate)
    generated_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()))
    title: str = "Embedding model recommendation"

    def meta(self) -> dict[str, Any]:
        return {"title": self.title, "generated_at": self.generated_at, "store": self.store,
                "catalogs": self.catalogs, "datasets": self.datasets, "command": self.command,
                "skipped": self.skipped, "race": self.race, "timing": self.timing}


class ReportWriter(ABC):
    """One output format."""

    name: str
    suffix: str
    description: str = ""

    @abstractmethod
    def write(self, report: Report, out_dir: Path) -> Path:
        """Write the report into ``out_dir`` (it exists) and return the main file's path."""


def report_writers() -> dict[str, ReportWriter]:
    from advisor.plugins import registered

    return registered("report_writers")


def write_reports(report: Report, out_dir: str | Path, formats: Sequence[str] | None = None) -> dict[str, Path]:
    """Write the report in each format (default: every registered writer); returns format -> path."""
    writers = report_writers()
    names = list(formats) if formats else list(writers)
    unknown = [n for n in names if n not in writers]
    if unknown:
        raise UserError(f"unknown report format(s) {', '.join(unknown)}; available: {', '.join(sorted(writers))}")
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--out {out}: cannot create the report folder ({exc.strerror})") from None
    return {name: writers[name].write(report, out) for name in names}
