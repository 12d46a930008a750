"""Quiet terminals: the libraries the advisor drives write their warnings and errors only, unless ``advisor
--verbose`` asks for their INFO (``--verbose --verbose``: DEBUG) lines.

Some libraries turn INFO logging on for the whole process when they are imported (wordllama calls
``logging.basicConfig(level=INFO)``), and then every HTTP request of the served load test's client is one
``INFO:httpx`` line on stderr. ``configure`` gives the root logger its handler first (so a library's later
``basicConfig`` does nothing), gives that handler the chosen level (a record reaches the root's handlers whatever
the root's own level, and bm25s sets its logger to DEBUG at import) and sets each library's own logger to the
chosen level (so a library that raises the root's level, or adds a handler of its own, still stays quiet). The
level travels to the processes the advisor starts (sweep workers, the served load test's server) through the
environment variable ``ADVISOR_VERBOSE``; each calls ``configure()`` without an argument to read it.
"""

from __future__ import annotations

import logging
import os
import sys

ENV = "ADVISOR_VERBOSE"
# the libraries whose loggers are held to the chosen level (their child loggers follow them)
LIBRARIES = ("httpx", "httpcore", "urllib3", "requests", "transformers", "sentence_transformers", "mteb",
             "datasets", "huggingface_hub", "filelock", "uvicorn", "uvicorn.access", "uvicorn.error", "starlette",
             "wordllama", "model2vec", "bm25s", "onnxruntime", "optimum", "torch", "faiss", "usearch", "ray",
             "asyncio", "matplotlib", "PIL", "numba", "textual", "markdown_it")
FORMAT = "%(levelname)s %(name)s: %(message)s"


class _Stderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a line is logged (a test runner swaps it), never a closed one."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def level_of(verbose: int) -> int:
    """0: WARNING (the default), 1: INFO, 2 or more: DEBUG."""
    return logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG


def verbosity() -> int:
    """The verbosity this process runs at (``ADVISOR_VERBOSE``, 0 when unset or not a number)."""
    try:
        return max(0, int(os.environ.get(ENV, "0")))
    except ValueError:
        return 0


def configure(verbose: int | None = None) -> int:
    """Set this process's logging to ``verbose`` (None: the inherited ``ADVISOR_VERBOSE``) and hand it on to the
    processes it starts. Returns the level set. Safe to call more than once."""
    verbose = verbosity() if verbose is None else max(0, int(verbose))
    os.environ[ENV] = str(verbose)
    if verbose and "TRANSFORMERS_VERBOSITY" not in os.environ:  # transformers sets its own level on first use
        os.environ["TRANSFORMERS_VERBOSITY"] = "info" if verbose == 1 else "debug"
    level = level_of(verbose)
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, _Stderr)), None)
    if handler is None:
        handler = _Stderr()
        handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handler)
    # the handler holds the level too: a record propagates to the root's handlers whatever the root's level, so a
    # library that sets its own logger to DEBUG at import (bm25s does) would otherwise print every debug line
    handler.setLevel(level)
    root.setLevel(level)
    for name in LIBRARIES:
        logging.getLogger(name).setLevel(level)
    return level
