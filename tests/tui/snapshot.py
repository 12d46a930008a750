"""SVG snapshot comparison for the TUI (pytest-textual-snapshot pins syrupy, which needs pytest < 9).

``app.export_screenshot()`` is compared with a committed SVG after normalising what changes between runs and
machines but not on screen: the hash Textual puts in CSS class names and clip-path ids. A missing snapshot fails;
set ``ADVISOR_UPDATE_SNAPSHOTS=1`` to (re)write snapshots, then look at them before committing.
"""

from __future__ import annotations

import difflib
import html
import os
import re
from pathlib import Path

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
UPDATE_ENV = "ADVISOR_UPDATE_SNAPSHOTS"


def normalise(svg: str) -> str:
    return re.sub(r"terminal-\d+", "terminal", svg)


def screen_text(svg: str) -> list[str]:
    """The visible text, line by line (for a readable failure message)."""
    lines: dict[str, list[tuple[float, str]]] = {}
    for match in re.finditer(r'<text[^>]*x="([\d.]+)" y="([\d.]+)"[^>]*>([^<]*)</text>', svg):
        x, y, text = match.groups()
        lines.setdefault(y, []).append((float(x), html.unescape(text).replace("\xa0", " ")))
    return ["".join(t for _, t in sorted(parts)).rstrip() for _, parts in
            sorted(lines.items(), key=lambda kv: float(kv[0]))]


async def settled_screenshot(app, pilot, tries: int = 20) -> str:
    """A screenshot once the screen stops changing (the footer and tables fill in after the first frame, later on
    a busy machine): two identical exports in a row."""
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()
    last = normalise(app.export_screenshot())
    for _ in range(tries):
        await pilot.pause(0.2)
        now = normalise(app.export_screenshot())
        if now == last:
            return now
        last = now
    return last


def assert_snapshot(svg: str, name: str, tmp_path: Path) -> None:
    path = SNAPSHOTS / f"{name}.svg"
    actual = normalise(svg)
    if os.environ.get(UPDATE_ENV) == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    if not path.exists():
        raise AssertionError(f"no snapshot {path}; run with {UPDATE_ENV}=1 to create it, then review it")
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        (tmp_path / f"{name}.svg").write_text(actual, encoding="utf-8")
        diff = "\n".join(difflib.unified_diff(screen_text(expected), screen_text(actual), "snapshot", "now",
                                              lineterm="", n=1))
        raise AssertionError(f"{name} differs from {path} (new screen in {tmp_path / (name + '.svg')}); "
                             f"visible text diff:\n{diff or '(same text: colours or layout changed)'}")
