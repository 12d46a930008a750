"""Placeholder until the core code lands."""

from __future__ import annotations

from .base import AdvisorScreen


class RunScreen(AdvisorScreen):
    HINT = "run"
