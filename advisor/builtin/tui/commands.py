"""Command palette: one entry for each TUI action, from the same table the help screen and docs use."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

# (title, help, app action). Every key-bound action of the app is here, so the palette can reach all of them.
ACTIONS: tuple[tuple[str, str, str], ...] = (
    ("Show catalog", "Candidates, filters, rejected ones with the rule that rejected them", "show('catalog')"),
    ("Show policy", "Pick a policy file, adjust limits and weights, save as a new file", "show('policy')"),
    ("Show datasets", "The evaluation tasks of the run", "show('datasets')"),
    ("Show run", "Per-cell progress of the sweep", "show('run')"),
    ("Show results", "Results table from the store; expand a model to see its variants", "show('results')"),
    ("Show plot", "Quality against p95 query latency", "show('plot')"),
    ("Show recommendation", "The ranked recommendation and why", "show('recommend')"),
    ("Select all admitted candidates", "Select every candidate the policy admits", "select_admitted"),
    ("Clear selection", "Unselect all candidates", "clear_selection"),
    ("Apply policy edits", "Run and rank with the edited limits and weights; no file is written", "apply_policy"),
    ("Save policy as…", "Write the adjusted policy to a new file (validated)", "save_policy"),
    ("Add example datasets", "Add the example tasks shipped in data/", "add_examples"),
    ("Start or resume run", "Run the selected candidates on the datasets; finished cells are reused",
     "start_run"),
    ("Cancel run", "Stop the run now; finished cells stay in the store, start again to resume", "cancel_run"),
    ("Export report", "Write the report (markdown, html, json) to the output folder", "export_report"),
    ("Reload results", "Read the store again", "reload_results"),
)


class AdvisorCommands(Provider):
    """Palette provider: fuzzy search over ``ACTIONS``; each hit runs the app action."""

    async def discover(self) -> Hits:
        for title, help_text, action in ACTIONS:
            yield DiscoveryHit(title, partial(self.app.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, action in ACTIONS:
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self.app.run_action, action), help=help_text)
