"""Screenshots of the main TUI screens for the README and docs/tui.md.

    advisor run --policy default --dataset data/rt-reviews-plots --store STORE [--model ...]
    python tests/tui/make_screenshots.py STORE [--extra-model NAME]

Opens the app on STORE under policies/default.yaml with data/rt-reviews-plots, selects the models in the store
(plus ``--extra-model``, not yet run, so the run screen shows live progress; that run is cancelled after the
screenshot), and saves docs/images/tui-{catalog,policy,run,results,plot,why}.png (SVG from app.save_screenshot, PNG via
rsvg-convert).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
IMAGES = REPO / "docs" / "images"
SVG_DIR = Path(os.environ.get("TMPDIR", "/tmp")) / "advisor-tui-screenshots"
SIZE = (150, 42)


async def wait_for(pilot, condition, timeout: float) -> None:
    end = time.monotonic() + timeout
    while not condition() and time.monotonic() < end:
        await pilot.pause(0.3)


async def shoot(store: Path, extra: str | None, measure_cost: bool = True) -> list[Path]:
    from advisor.sweep.store import ResultStore
    from advisor.builtin.tui.app import AdvisorApp
    from advisor.builtin.tui.session import Session

    os.chdir(REPO)
    with ResultStore(store) as s:
        models = sorted({r.key.model for r in s.results()})
    session = Session.open(policy="default", datasets=["data/rt-reviews-plots"], store=store)
    session.measure_cost = measure_cost
    app = AdvisorApp(session)
    saved: list[Path] = []

    def save(name: str) -> None:
        path = SVG_DIR / f"tui-{name}.svg"
        app.save_screenshot(str(path))
        saved.append(path)

    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: bool(session.tasks()), 60)
        session.selected = [m for m in models + ([extra] if extra else [])
                            if any(s.entry.name == m and s.admitted for s in session.screened)]
        app.screen.refresh_view()
        await pilot.pause()
        save("catalog")
        await pilot.press("2")
        await pilot.pause()
        save("policy")
        await pilot.press("4")
        await pilot.pause()
        await pilot.press("ctrl+r")
        sweep = app.sweep
        if extra:
            await wait_for(pilot, lambda: sweep.state.encode_done > 0 or not sweep.running, 600)
            await pilot.pause(1.0)
        else:
            await wait_for(pilot, lambda: not sweep.running, 600)
        save("run")
        if sweep.running:
            await pilot.press("c")
            await wait_for(pilot, lambda: not sweep.running, 120)
        app.sweep.invalidate()
        for key, name in (("5", "results"), ("6", "plot"), ("7", "why")):
            await pilot.press(key)
            await pilot.pause(0.5)
            await wait_for(pilot, lambda: not app.sweep.ranking_pending, 120)  # the ranking runs in a worker
            await pilot.pause()
            if name == "results":
                await pilot.press("enter")  # open the first model's variants
                await pilot.pause()
            if name == "plot":
                await pilot.press("h")  # show the variants the policy rejects on their figures too
                await pilot.pause()
            save(name)
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("--extra-model", default=None)
    parser.add_argument("--no-cost", action="store_true", help="run quality cells only (advisor run --no-cost)")
    args = parser.parse_args()
    IMAGES.mkdir(parents=True, exist_ok=True)
    SVG_DIR.mkdir(parents=True, exist_ok=True)
    if not shutil.which("rsvg-convert"):
        raise SystemExit("rsvg-convert not found: apt-get install librsvg2-bin")
    for svg in asyncio.run(shoot(args.store.resolve(), args.extra_model, not args.no_cost)):
        png = IMAGES / svg.with_suffix(".png").name
        # Textual's SVG starts text runs with non-breaking spaces; without xml:space="preserve" librsvg drops
        # them and the columns slide left
        svg.write_text(svg.read_text(encoding="utf-8").replace("<svg ", '<svg xml:space="preserve" ', 1),
                       encoding="utf-8")
        subprocess.run(["rsvg-convert", str(svg), "-o", str(png)], check=True)
        print(png)


if __name__ == "__main__":
    main()
