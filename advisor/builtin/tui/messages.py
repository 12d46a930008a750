"""What the TUI's thread workers tell the UI, as Textual messages carrying plain data (the toolong / harlequin
pattern): a worker posts one, the app's ``on_...`` handler applies it on the UI thread. A worker never calls into
the app or a screen."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from advisor.pipeline import Ranked
    from advisor.sweep.driver import RunSummary
    from advisor.sweep.events import Event
    from advisor.sweep.planner import Plan
    from advisor.sweep.results import CellResult

    from .session import DatasetState


@dataclass
class RunPlanned(Message):
    """The sweep's plan, and the planned cells already in the store (fingerprint -> result)."""

    plan: "Plan"
    done: dict[str, "CellResult"]


@dataclass
class RunProgress(Message):
    """One of the runner's events other than a finished cell: the run id, a model load starting, encoding
    progress, an error."""

    event: "Event"


@dataclass
class CellFinished(Message):
    """A cell computed (ok or failed) and stored."""

    result: "CellResult"


@dataclass
class RunFinished(Message):
    """The run ended: finished, interrupted (cancelled) or with failed cells; the summary says which."""

    summary: "RunSummary"


@dataclass
class SweepFailed(Message):
    """The sweep could not be planned or the runner stopped with an error (one line for the user)."""

    message: str


@dataclass
class RankingReady(Message):
    """The store ranked for ``key`` (generation, policy, tasks): the ranking, or why there is none; ``waiting``:
    the session's tasks with no results in the store yet (ranked without them, and named on the screens)."""

    key: tuple[Any, ...]
    ranked: "Ranked | None" = None
    error: str | None = None
    waiting: tuple[str, ...] = ()


@dataclass
class ReportWritten(Message):
    """The exported report: format -> path, or why it could not be written."""

    out_dir: Path
    paths: dict[str, Path]
    error: str | None = None


@dataclass
class DatasetLoaded(Message):
    """A dataset finished loading (its state holds the task or the loader's error)."""

    state: "DatasetState"
