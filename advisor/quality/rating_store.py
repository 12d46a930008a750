"""Ratings kept on disk: a ``chat_ratings`` table in the results store's SQLite file, so a rater that costs money
or time (a chat model behind an API) is asked about each (rater identity, query, document) once, across runs and
processes, and its raw answers can be read back.

Why its own table and connection rather than ``ResultStore``: quality sits below the sweep layer, and a rating is
not a cell. The table lives in the same file (``.advisor/results.sqlite`` unless told otherwise), in WAL mode like
the store, so one file holds a project's measurements; ``CREATE TABLE IF NOT EXISTS`` leaves the store's own
schema alone. A malformed answer is stored with a NULL score: asked once, counted every time, never guessed.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from pathlib import Path
from typing import Iterable, Sequence

from advisor.errors import UserError

DEFAULT_STORE = ".advisor/results.sqlite"  # the results store's default file (advisor.sweep.store.DEFAULT_STORE)
_SCHEMA = ("CREATE TABLE IF NOT EXISTS chat_ratings (key TEXT PRIMARY KEY, rater TEXT NOT NULL, score REAL, "
           "answer TEXT, input_tokens INTEGER, output_tokens INTEGER, created_at REAL NOT NULL)")


class RatingStore:
    """Ratings by key (see ``advisor.quality.raters.rating_key``); thread-safe (one connection behind a lock)."""

    def __init__(self, path: str | Path = DEFAULT_STORE) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, timeout=60.0, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA busy_timeout = 60000")
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute(_SCHEMA)
        except (sqlite3.DatabaseError, OSError) as exc:
            raise UserError(f"{self.path}: cannot keep ratings there ({exc}); name another file in the rater's "
                            f"'store' field") from None

    def get_many(self, keys: Sequence[str]) -> dict[str, float]:
        """Stored scores of ``keys`` that have one (NaN for a stored malformed answer)."""
        out: dict[str, float] = {}
        unique = list(dict.fromkeys(keys))
        with self._lock:
            for i in range(0, len(unique), 500):  # under SQLite's bound-variable limit
                chunk = unique[i:i + 500]
                rows = self._conn.execute(f"SELECT key, score FROM chat_ratings WHERE key IN "
                                          f"({','.join('?' * len(chunk))})", chunk).fetchall()
                out.update((k, math.nan if s is None else float(s)) for k, s in rows)
        return out

    def put(self, key: str, rater: str, score: float | None, answer: str, input_tokens: int,
            output_tokens: int) -> None:
        """Keep one answer at once (an interrupted run loses none it paid for)."""
        with self._lock:
            self._conn.execute("INSERT OR REPLACE INTO chat_ratings VALUES (?, ?, ?, ?, ?, ?, ?)",
                               (key, rater, None if score is None or math.isnan(score) else float(score), answer,
                                int(input_tokens), int(output_tokens), time.time()))

    def answers(self, keys: Iterable[str]) -> dict[str, str]:
        """The raw answers stored for ``keys`` (to show what a malformed answer said)."""
        keys = list(dict.fromkeys(keys))
        with self._lock:
            rows = self._conn.execute(f"SELECT key, answer FROM chat_ratings WHERE key IN "
                                      f"({','.join('?' * len(keys))})", keys).fetchall() if keys else []
        return dict(rows)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
