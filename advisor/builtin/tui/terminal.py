"""Keep worker processes from drawing over the TUI.

The local executor runs each model in a fresh subprocess, which inherits file descriptors 1 and 2: whatever it
prints (model-loading progress bars, library warnings) would land in the middle of the screen Textual draws.
While the TUI runs, descriptors 1 and 2 point at a log file, and Python's ``sys.__stdout__``/``sys.__stderr__``
(through which Textual draws and measures the terminal) point at duplicates of the terminal.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def child_output_to(log_path: Path) -> Iterator[Path | None]:
    """Yields the log path, or None where nothing was redirected (not a POSIX terminal)."""
    if os.name != "posix" or sys.__stderr__ is None or not sys.__stderr__.isatty():
        yield None
        return
    log_path.parent.mkdir(parents=True, exist_ok=True)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    originals = (sys.__stdout__, sys.__stderr__, sys.stdout, sys.stderr)
    terminal_out = os.fdopen(os.dup(saved[1]), "w", encoding=sys.__stdout__.encoding, errors="replace")
    terminal_err = os.fdopen(os.dup(saved[2]), "w", encoding=sys.__stderr__.encoding, errors="replace")
    with open(log_path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    sys.__stdout__ = sys.stdout = terminal_out  # type: ignore[misc]
    sys.__stderr__ = sys.stderr = terminal_err  # type: ignore[misc]
    try:
        yield log_path
    finally:
        for stream in (terminal_out, terminal_err):
            stream.flush()
        os.dup2(saved[1], 1)
        os.dup2(saved[2], 2)
        for fd in saved.values():
            os.close(fd)
        sys.__stdout__, sys.__stderr__, sys.stdout, sys.stderr = originals  # type: ignore[misc]
        terminal_out.close()
        terminal_err.close()
