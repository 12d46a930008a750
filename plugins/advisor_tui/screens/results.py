"""Placeholder until the core code lands."""

from __future__ import annotations

from .base import AdvisorScreen


class ResultsScreen(AdvisorScreen):
    HINT = "results"
