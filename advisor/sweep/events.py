"""What a worker tells the driver: one small dataclass, so a subprocess, a Ray task and the TUI speak alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from advisor.sweep.results import CellResult


@dataclass
class Event:
    """What a worker tells the driver. ``kind``: start (total = cells to compute), encode (n texts done of
    total), cell (a finished ``result``; ``stored`` says whether the worker already wrote it), end, error."""

    kind: str
    group: str
    n: int = 0
    total: int = 0
    result: CellResult | None = None
    stored: bool = False
    message: str = ""


Emit = Callable[[Event], None]
