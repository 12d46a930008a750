"""Policy screen: pick a policy file, read its rules, adjust limits and ranking weights, apply them to the session
or save them as a new file.

Applying and saving both check the values with ``advisor.policy.spec.policy_with_limits`` (the checks of
``load_policy``); an applied policy is run and ranked as it is, without a file. Saving writes YAML and reads it
back with ``load_policy``, as the CLI will; a bad value is reported with the field, and nothing is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from rich.table import Table
from textual import on
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, Static

from advisor.config.shipped import display_name
from advisor.errors import UserError
from advisor.figures import limit_figure, lookup
from advisor.policy.spec import RANKING_WEIGHT_NAMES, Policy

from ..session import NUMERIC_LIMITS
from .base import AdvisorScreen

LIMIT_LABELS = {name: limit_figure(name).limit_label for name in NUMERIC_LIMITS}  # "max p95 query latency (ms)"


def policy_summary(policy: Policy, source: str | None = None, edited: bool = False) -> Table:
    """The rules of a policy as a person reads them (a long value wraps beside its label); an ``edited`` policy
    is ``source``'s (a file, or None for the defaults) with limits or weights adjusted in this session."""
    text = Table.grid(padding=(0, 2))
    text.add_column(style="bold", no_wrap=True)
    text.add_column()

    def line(label: str, value: str) -> None:
        text.add_row(label, value)

    if edited:
        line("file", f"{display_name(source) or 'permissive defaults'}, adjusted in this session (not saved)")
    else:
        line("file", display_name(policy.file) or "(none: permissive defaults)")
    if policy.description:
        line("description", policy.description)
    line("commercial use", "required" if policy.commercial_use else "not required")
    line("licences allowed", ", ".join(policy.allow_licenses) or "any")
    if policy.deny_licenses:
        line("licences denied", ", ".join(policy.deny_licenses))
    line("languages", ", ".join(policy.required_languages) or "any")
    if policy.allow_domains or policy.deny_domains:
        line("domains", f"allow {', '.join(policy.allow_domains) or 'any'}; deny "
                        f"{', '.join(policy.deny_domains) or 'none'}")
    line("remote code", "allowed" if policy.allow_remote_code else "refused")
    line("pickle weights", "allowed" if policy.allow_pickle_weights else "refused")
    grid = policy.variants
    line("devices", ", ".join(grid.devices))
    line("weights", ", ".join(grid.weight_precisions))
    line("dims", ", ".join("full" if d is None else str(d) for d in grid.dims)
         + (" (trained sizes only)" if grid.trained_dims_only else ""))
    line("vectors", ", ".join(grid.vector_precisions))
    for floor in policy.limits.min_quality:
        line("quality floor", f"{floor.task}: {floor.metric} ≥ {floor.minimum}")
    load = policy.limits.max_p95_latency_ms_at_load
    if load is not None:  # kept as the file says by Apply and Save as (the form edits the numeric limits)
        line("load limit", f"{lookup(load.figure).label} ≤ {number_text(load.ms)} ms")
    return text


def number_text(value: float | int | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


class PolicyScreen(AdvisorScreen):
    HINT = ("pick a policy file · edit limits (empty = no limit) and weights · enter: apply to this session · "
            "ctrl+s: save as a new file")
    BINDINGS = [Binding("ctrl+s", "save", "Save as")]

    def body(self) -> Iterable[Widget]:
        files = self.session.policy_files()
        current = self.session.policy_source
        options = [(display_name(p), str(p)) for p in files]
        with Horizontal(id="policy-main"):
            with Vertical(id="policy-left"):
                yield Label("Policy file", classes="section")
                yield Select(options, prompt="(no policy: permissive)", id="policy-file",
                             value=current if current in {v for _, v in options} else Select.NULL)
                yield Static(id="policy-summary")
            with VerticalScroll(id="policy-right"):
                yield Label("Limits", classes="section")
                for name in NUMERIC_LIMITS:
                    with Horizontal(classes="field"):
                        yield Label(LIMIT_LABELS.get(name, name), classes="field-label")
                        yield Input(id=f"limit-{name}", type="number", placeholder="no limit",
                                    classes="policy-value")
                yield Label("Ranking weights", classes="section")
                for name in RANKING_WEIGHT_NAMES:
                    with Horizontal(classes="field"):
                        yield Label(name.replace("_", " "), classes="field-label")
                        yield Input(id=f"weight-{name}", type="number", classes="policy-value")
                with Horizontal(id="apply-row"):
                    yield Button("Apply", id="apply")
                    yield Static("run and rank with these values; no file is written")
                with Horizontal(id="save-row"):
                    yield Input(id="save-name", placeholder="new file, e.g. policies/my-policy.yaml")
                    yield Button("Save as", id="save", variant="primary")

    def refresh_view(self) -> None:
        policy = self.session.policy
        self.query_one("#policy-summary", Static).update(policy_summary(policy, self.session.policy_source,
                                                                        self.session.policy_edited))
        for name in NUMERIC_LIMITS:
            self.query_one(f"#limit-{name}", Input).value = number_text(getattr(policy.limits, name))
        for name in RANKING_WEIGHT_NAMES:
            self.query_one(f"#weight-{name}", Input).value = number_text(policy.ranking.weights.get(name, 0.0))

    @on(Select.Changed, "#policy-file")
    def _pick(self, event: Select.Changed) -> None:
        path = None if event.value is Select.NULL else event.value
        if path == self.session.policy_source and not self.session.policy_edited:
            return
        try:
            self.session.use_policy(path)
        except UserError as exc:
            self.notify(str(exc), severity="error", timeout=10)
            return
        self.advisor.policy_changed()
        self.refresh_view()

    def edited(self) -> tuple[dict[str, float | None], dict[str, float]]:
        """The values in the form; a field that is not a number raises UserError naming it."""
        def number(widget_id: str, label: str) -> float | None:
            raw = self.query_one(widget_id, Input).value.strip()
            if not raw:
                return None
            try:
                value = float(raw)
            except ValueError:
                raise UserError(f"{label}: '{raw}' is not a number") from None
            return int(value) if value.is_integer() else value

        limits = {name: number(f"#limit-{name}", name) for name in NUMERIC_LIMITS}
        weights = {}
        for name in RANKING_WEIGHT_NAMES:
            weights[name] = number(f"#weight-{name}", f"ranking.weights.{name}") or 0.0
        return limits, weights

    @on(Button.Pressed, "#apply")
    @on(Input.Submitted, ".policy-value")
    def action_apply(self) -> None:
        """Use the edited limits and weights for this session's runs and rankings (no file is written)."""
        try:
            limits, weights = self.edited()
            self.session.adjust_policy(limits, weights)
        except UserError as exc:
            self.notify(str(exc), severity="error", timeout=10)
            return
        self.advisor.policy_changed()
        self.refresh_view()
        admitted = sum(s.admitted for s in self.session.screened)
        self.notify(f"policy {self.session.policy.name} applied to this session; {admitted} candidate(s) "
                    f"admitted · ctrl+s saves it as a file")

    @on(Button.Pressed, "#save")
    @on(Input.Submitted, "#save-name")
    def action_save(self) -> None:
        dest = self.query_one("#save-name", Input).value.strip()
        if not dest:
            self.notify("type the new file name first", severity="warning")
            self.query_one("#save-name", Input).focus()
            return
        try:
            limits, weights = self.edited()
            policy = self.session.save_policy_as(Path(dest), limits, weights)
        except UserError as exc:
            self.notify(str(exc), severity="error", timeout=10)
            return
        select = self.query_one("#policy-file", Select)
        options = [(display_name(p), str(p)) for p in self.session.policy_files()]
        select.set_options(options)
        if policy.file in {v for _, v in options}:
            select.value = policy.file
        self.advisor.policy_changed()
        self.refresh_view()
        admitted = sum(s.admitted for s in self.session.screened)
        self.notify(f"saved {policy.file}; {admitted} candidate(s) admitted")
