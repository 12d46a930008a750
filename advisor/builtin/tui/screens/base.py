"""The frame every screen shares: header, a one-line hint, the body and the footer with the key bindings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Header, Static

from advisor.errors import UserError

if TYPE_CHECKING:
    from ..app import AdvisorApp
    from ..session import Session


class AdvisorScreen(Screen):
    """Subclasses give ``HINT``, ``body()`` and ``refresh_view()``; the view is refreshed whenever the screen is
    shown again, so each screen reads the session as it is now."""

    HINT = ""
    MAIN_WIDGET: str | None = None  # where escape leaves a text field for (default: AUTO_FOCUS)
    BINDINGS = [("escape", "leave_field", "")]

    @property
    def advisor(self) -> "AdvisorApp":
        return self.app  # type: ignore[return-value]

    @property
    def session(self) -> "Session":
        return self.advisor.session

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self.HINT, classes="hint")
        yield from self.body()
        yield Footer()

    def body(self) -> Iterable[Widget]:
        return ()

    def refresh_view(self) -> None:
        """Re-read the session (and store) into the widgets."""

    def ranking(self) -> tuple[Any, str | None]:
        """The store's ranking under the session's policy, or None and why: nothing stored yet, or it is being
        ranked in a worker (the screen is refreshed when it arrives)."""
        try:
            rec = self.advisor.sweep.recommendation()
        except UserError as exc:
            return None, str(exc)
        return rec, None if rec is not None else "ranking the results in the store…"

    def waiting_lines(self) -> list[str]:
        """One line per dataset of the session that the shown ranking leaves out: no results in the store yet."""
        return [f"{name}: no results in the store yet, so the ranking is of the other datasets; run it (4, then "
                f"ctrl+r)" for name in self.advisor.sweep.tasks_waiting]

    def action_leave_field(self) -> None:
        """Escape leaves a text field (where number keys type digits) for the screen's main widget."""
        main = self.MAIN_WIDGET or self.AUTO_FOCUS
        target = self.query(main).first() if main else None
        self.set_focus(target)

    def on_mount(self) -> None:
        self.refresh_view()

    def on_screen_resume(self) -> None:
        self.refresh_view()
