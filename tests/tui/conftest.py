"""TUI test helpers: Textual's Pilot under anyio (asyncio only)."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
