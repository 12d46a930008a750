"""The results store: one SQLite file (WAL) holding every finished cell under its fingerprint, plus run records.

Why SQLite: embedded, one file, atomic transactions. Each finished cell is written in its own transaction, so a
sweep killed at any moment (even SIGKILL) leaves every finished cell readable and the database intact, and a resumed
sweep skips them. Several processes (subprocess or Ray workers) may write at once: WAL lets readers go on while one
writer commits, and writers wait for each other (``busy_timeout``) instead of failing.

Every computation of a cell is also logged in ``computations``, so "no finished cell computed twice" can be
checked, and a run's status can be shown from the store alone.
"""

from __future__ import annotations

import json
import os
import sqlite3
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from advisor.errors import UserError, redact
from advisor.formatting import spreadsheet_text
from advisor.sweep.results import CellKey, CellResult

if TYPE_CHECKING:
    import pandas as pd

SCHEMA_VERSION = 3
DEFAULT_STORE = ".advisor/results.sqlite"
KEY_FIELDS = tuple(f.name for f in fields(CellKey))
RUN_STATUSES = ("running", "finished", "failed", "interrupted")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cells (
    fingerprint TEXT PRIMARY KEY,
    kind TEXT NOT NULL, model TEXT NOT NULL, revision TEXT, backend TEXT NOT NULL, device TEXT NOT NULL,
    weight_precision TEXT NOT NULL, task TEXT NOT NULL, task_hash TEXT NOT NULL, dim INTEGER,
    vector_precision TEXT, hardware TEXT NOT NULL, versions TEXT NOT NULL, options TEXT NOT NULL,
    runtime TEXT NOT NULL DEFAULT '', status TEXT NOT NULL, metrics TEXT NOT NULL, details TEXT NOT NULL, error TEXT,
    started_at REAL, finished_at REAL, run_id TEXT, compute_count INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS cells_model ON cells(model, task, kind);
CREATE TABLE IF NOT EXISTS computations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint TEXT NOT NULL, run_id TEXT, status TEXT NOT NULL, finished_at REAL, pid INTEGER
);
CREATE INDEX IF NOT EXISTS computations_fp ON computations(fingerprint);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, created_at REAL NOT NULL, finished_at REAL, status TEXT NOT NULL,
    executor TEXT, command TEXT, plan TEXT NOT NULL, summary TEXT NOT NULL DEFAULT '{}', pid INTEGER, host TEXT,
    pid_started REAL
);
CREATE TABLE IF NOT EXISTS leases (
    fingerprint TEXT PRIMARY KEY, run_id TEXT, pid INTEGER NOT NULL, host TEXT NOT NULL,
    pid_started REAL, claimed_at REAL NOT NULL, heartbeat REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS run_cells (
    run_id TEXT NOT NULL, fingerprint TEXT NOT NULL, label TEXT, PRIMARY KEY (run_id, fingerprint)
);
"""
# Steps from one schema version to the next; a store of any older version is brought up to date on open.
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    2: ("ALTER TABLE cells ADD COLUMN runtime TEXT NOT NULL DEFAULT ''",),
    3: ("ALTER TABLE runs ADD COLUMN pid_started REAL",
        "CREATE TABLE IF NOT EXISTS leases (fingerprint TEXT PRIMARY KEY, run_id TEXT, pid INTEGER NOT NULL, "
        "host TEXT NOT NULL, pid_started REAL, claimed_at REAL NOT NULL, heartbeat REAL NOT NULL)"),
}
# SQLite result codes (the low byte of ``sqlite_errorcode``) that mean the store cannot be written, not that it is
# broken: disk full or a file-size limit (FULL, IOERR: a write() failing with ENOSPC/EFBIG), read-only file or folder.
_FULL_CODES = {13: "disk full", 10: "write failed"}
_READONLY_CODES = {8: "read-only", 14: "cannot open", 3: "permission denied", 23: "not authorized"}
LEASE_STALE_S = 30.0  # a lease from another host whose heartbeat is older than this is dead
HEARTBEAT_S = 2.0


class StoreError(UserError):
    """The results store cannot be written (disk full, a file-size limit, a read-only file or folder). Every cell
    committed before stays intact: SQLite rolls back the transaction that failed, and nothing else was written."""


def store_error(path: Path, exc: BaseException, doing: str = "writing") -> StoreError | None:
    """The one-line error for an OS-level write failure of the store at ``path``; None for any other error."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(exc, PermissionError) or (code is not None and code & 0xFF in _READONLY_CODES):
        return StoreError(f"{path}: the results store is read-only ({exc}); every finished cell is kept: make "
                          f"the file and its folder writable (SQLite writes {path.name}-wal and {path.name}-shm "
                          f"beside it) or pass --store FILE elsewhere, then run the same command again")
    if isinstance(exc, OSError) or (code is not None and code & 0xFF in _FULL_CODES):
        if doing == "checkpoint":
            return StoreError(f"{path}: the disk filled (or a file-size limit was hit) while folding the write-ahead "
                              f"log into the store ({exc}); every finished cell is kept in {path.name}-wal, so keep "
                              f"that file: free space, then run the same command again")
        return StoreError(f"{path}: cannot write the results store ({exc}: the disk is full or a file-size limit "
                          f"was reached); every finished cell is kept: free space or pass --store FILE on another "
                          f"disk, then run the same command again to resume")
    return None


def _alive(pid: int | None) -> bool:
    """Whether ``pid`` is a running process; a zombie (exited, not yet reaped by its parent) holds nothing."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        import psutil
    except ImportError:
        return True
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True


def process_started(pid: int | None = None) -> float | None:
    """When a process started (seconds since the epoch), so a recycled pid is not taken for the one recorded."""
    try:
        import psutil

        return round(psutil.Process(pid or os.getpid()).create_time(), 2)
    except Exception:  # noqa: BLE001 - psutil missing, or the process is gone
        return None


def _same_process(pid: int | None, started: float | None, heartbeat: float | None = None) -> bool:
    """Whether ``pid`` (on this host) is still the process that started at ``started``.

    A gone pid is never the same process. A live pid whose start time is unknown (not recorded, because psutil was
    missing then, or unreadable now) cannot be told from a process that reused the pid: a lease, which its holder
    refreshes every ``HEARTBEAT_S``, then counts as held only while its heartbeat is fresh (as another host's
    does); a run, which has no heartbeat, counts as running (conservative: a live run is never marked interrupted,
    and only 'runs list' shows a stale one)."""
    if not _alive(pid):
        return False
    now = process_started(pid) if started is not None else None
    if started is not None and now is not None:
        return abs(now - started) < 1.0
    if heartbeat is not None:
        return time.time() - heartbeat < LEASE_STALE_S
    return True


def _row_to_result(row: sqlite3.Row) -> CellResult:
    key = CellKey(**{name: row[name] for name in KEY_FIELDS})
    return CellResult(key=key, status=row["status"], metrics=json.loads(row["metrics"]),
                      details=json.loads(row["details"]), error=row["error"], started_at=row["started_at"],
                      finished_at=row["finished_at"])


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=_jsonable)


def _jsonable(obj: Any) -> Any:
    """numpy scalars and arrays, tuples, dataclasses: whatever a metric or a detail may hold."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "__dataclass_fields__"):
        return {k: getattr(obj, k) for k in obj.__dataclass_fields__}
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    return str(obj)


class ResultStore:
    """A results database at ``path`` (created with its folder on first use). Cheap to pickle: a worker process
    gets the path and opens its own connection."""

    def __init__(self, path: str | Path = DEFAULT_STORE) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._connect()  # create and migrate now, so a bad file fails here with a clear message
        self.mark_dead_runs()

    # -- connection -------------------------------------------------------------------------------------------
    def __getstate__(self) -> dict:
        return {"path": self.path}

    def __setstate__(self, state: dict) -> None:
        self.path = state["path"]
        self._local = threading.local()

    def _connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "pid", None) == os.getpid():
            return conn
        conn = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout = 60000")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            conn.execute("PRAGMA synchronous = FULL")
            self._migrate(conn)
        except (sqlite3.DatabaseError, OSError) as exc:
            if conn is not None:
                conn.close()
            unwritable = store_error(self.path, exc)
            if unwritable is not None:
                raise unwritable from None
            raise UserError(f"{self.path}: not a usable results database ({exc}); pass another --store FILE "
                            f"or move this file away") from None
        if str(mode).lower() != "wal":
            raise UserError(f"{self.path}: SQLite could not switch to WAL mode (got {mode}); put the store on a "
                            f"local disk with --store FILE")
        self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise UserError(f"{self.path}: written by a newer advisor (store schema {version}, this one reads "
                            f"{SCHEMA_VERSION}); upgrade embedding-advisor or use another --store FILE")
        if version == SCHEMA_VERSION:
            return
        with self._write(conn):
            current = conn.execute("PRAGMA user_version").fetchone()[0]  # re-check inside the write lock
            if current == 0:
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    conn.execute(statement)
            else:
                for step in range(current + 1, SCHEMA_VERSION + 1):
                    for statement in _MIGRATIONS.get(step, ()):
                        conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def _write(self, conn: sqlite3.Connection | None = None) -> Iterator[sqlite3.Connection]:
        """One write transaction; IMMEDIATE takes the write lock up front, so concurrent writers queue."""
        conn = conn or self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    try:
                        conn.execute("ROLLBACK")
                    except sqlite3.Error:  # SQLite already rolled back after an I/O error
                        pass
                raise
        except sqlite3.OperationalError as exc:
            unwritable = store_error(self.path, exc)
            if unwritable is not None:
                raise unwritable from None
            raise

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the store file (without waiting for other readers), so a run ends with its
        cells in the main file and a disk that fills here is reported now, not found at the next write. A failed
        checkpoint loses nothing: the log keeps every committed cell and the next open completes it."""
        try:
            self._connect().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.OperationalError as exc:
            unwritable = store_error(self.path, exc, "checkpoint")
            if unwritable is not None:
                raise unwritable from None
            raise

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "pid", None) == os.getpid():
            conn.close()
        self._local.conn = None

    def __enter__(self) -> "ResultStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- cells ------------------------------------------------------------------------------------------------
    def get(self, fingerprint: str) -> CellResult | None:
        row = self._connect().execute("SELECT * FROM cells WHERE fingerprint = ?", (fingerprint,)).fetchone()
        return _row_to_result(row) if row else None

    def has(self, fingerprint: str, *, ok_only: bool = True) -> bool:
        sql = "SELECT 1 FROM cells WHERE fingerprint = ?" + (" AND status = 'ok'" if ok_only else "")
        return self._connect().execute(sql, (fingerprint,)).fetchone() is not None

    def put(self, result: CellResult, *, run_id: str | None = None) -> None:
        """Store one finished cell (replacing an older result under the same fingerprint) in one transaction,
        and log the computation. A failed cell's error and traceback are stored redacted (``redact``): a
        provider's error text can echo the key it was given."""
        key = result.key
        values = [getattr(key, name) for name in KEY_FIELDS]
        details = result.details
        if isinstance(details.get("traceback"), str):
            details = {**details, "traceback": redact(details["traceback"])}
        row = [result.fingerprint, *values, result.status, _json(result.metrics), _json(details),
               redact(result.error), result.started_at, result.finished_at, run_id]
        cols = ("fingerprint", *KEY_FIELDS, "status", "metrics", "details", "error", "started_at", "finished_at",
                "run_id")
        updates = ", ".join(f"{c} = excluded.{c}" for c in cols[1:])
        with self._write() as conn:
            conn.execute(f"INSERT INTO cells ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
                         f"ON CONFLICT(fingerprint) DO UPDATE SET {updates}, "
                         f"compute_count = cells.compute_count + 1", row)
            conn.execute("INSERT INTO computations (fingerprint, run_id, status, finished_at, pid) "
                         "VALUES (?, ?, ?, ?, ?)",
                         (result.fingerprint, run_id, result.status, result.finished_at, os.getpid()))

    def put_many(self, results: list[CellResult], *, run_id: str | None = None) -> None:
        for result in results:
            self.put(result, run_id=run_id)

    def results(self, **filters: Any) -> list[CellResult]:
        """Cells matching every filter: any CellKey field (``model=``, ``task=``, ``kind=``, ``dim=``, ...),
        ``status=``, ``run_id=`` (cells computed by that run) or ``fingerprint=``. A list or tuple value matches
        any of its items; ``None`` matches SQL NULL."""
        allowed = set(KEY_FIELDS) | {"status", "run_id", "fingerprint"}
        clauses, params = [], []
        for name, value in filters.items():
            if name not in allowed:
                raise UserError(f"unknown results filter '{name}'; use one of {', '.join(sorted(allowed))}")
            if value is None:
                clauses.append(f"{name} IS NULL")
            elif isinstance(value, (list, tuple, set, frozenset)):
                items = list(value)
                clauses.append(f"{name} IN ({', '.join('?' * len(items))})" if items else "0")
                params.extend(items)
            else:
                clauses.append(f"{name} = ?")
                params.append(value)
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        rows = self._connect().execute(f"SELECT * FROM cells{where} ORDER BY model, task, kind, device, "
                                       f"weight_precision, dim IS NULL DESC, dim DESC, vector_precision",
                                       params).fetchall()
        return [_row_to_result(r) for r in rows]

    def delete(self, fingerprint: str) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM cells WHERE fingerprint = ?", (fingerprint,))

    def compute_counts(self) -> dict[str, int]:
        """How many times each fingerprint was computed and stored (the resume test expects 1 everywhere)."""
        rows = self._connect().execute("SELECT fingerprint, COUNT(*) FROM computations GROUP BY fingerprint")
        return {fp: n for fp, n in rows}

    def integrity_check(self) -> str:
        return self._connect().execute("PRAGMA integrity_check").fetchone()[0]

    # -- export -----------------------------------------------------------------------------------------------
    def to_dataframe(self, **filters: Any) -> "pd.DataFrame":
        """One row per cell: the key fields, fingerprint, status, error, times, then one column per metric
        (a metric whose name clashes with a key field gets a ``metric_`` prefix) and ``details`` as JSON."""
        import pandas as pd

        rows = []
        for r in self.results(**filters):
            row: dict[str, Any] = {"fingerprint": r.fingerprint, **r.key.__dict__, "status": r.status,
                                   "error": r.error, "started_at": r.started_at, "finished_at": r.finished_at}
            for name, value in r.metrics.items():
                row[f"metric_{name}" if name in row else name] = value
            row["details"] = _json(r.details)
            rows.append(row)
        columns = ["fingerprint", *KEY_FIELDS, "status", "error", "started_at", "finished_at"]
        frame = pd.DataFrame(rows, columns=None if rows else columns + ["details"])
        if "dim" in frame:
            frame["dim"] = frame["dim"].astype("Int64")
        return frame

    def export(self, path: str | Path, fmt: str | None = None, **filters: Any) -> Path:
        """Write the cells to CSV or Parquet (picked from the suffix unless ``fmt`` says)."""
        path = Path(path)
        fmt = (fmt or path.suffix.lstrip(".") or "csv").lower()
        frame = self.to_dataframe(**filters)
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "csv":  # text a spreadsheet would run as a formula (a model's name can) is written as text
            frame.map(spreadsheet_text).to_csv(path, index=False)
        elif fmt in ("parquet", "pq"):
            try:
                frame.to_parquet(path, index=False)
            except ImportError:
                raise UserError("Parquet export needs pyarrow: pip install 'embedding-advisor[parquet]'") from None
        elif fmt == "json":
            frame.to_json(path, orient="records", indent=2)
        else:
            raise UserError(f"{path}: unknown export format '{fmt}'; use .csv, .parquet or .json")
        return path

    # -- runs -------------------------------------------------------------------------------------------------
    def start_run(self, plan: dict, *, cells: list[tuple[str, str]] = (), executor: str | None = None,
                  command: str | None = None, run_id: str | None = None) -> str:
        """Record a new run with its plan (pure data) and the fingerprints it covers; returns the run id."""
        run_id = run_id or time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
        with self._write() as conn:
            conn.execute("INSERT INTO runs (run_id, created_at, status, executor, command, plan, pid, host, "
                         "pid_started) VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?)",
                         (run_id, time.time(), executor, command, _json(plan), os.getpid(), socket.gethostname(),
                          process_started()))
            conn.executemany("INSERT OR IGNORE INTO run_cells (run_id, fingerprint, label) VALUES (?, ?, ?)",
                             [(run_id, fp, label) for fp, label in cells])
        return run_id

    def finish_run(self, run_id: str, status: str, summary: dict | None = None) -> None:
        if status not in RUN_STATUSES:
            raise ValueError(f"run status {status!r} not in {RUN_STATUSES}")
        with self._write() as conn:
            conn.execute("UPDATE runs SET status = ?, finished_at = ?, summary = ? WHERE run_id = ?",
                         (status, time.time(), _json(summary or {}), run_id))

    def _dead(self, conn: sqlite3.Connection) -> tuple[list[str], list[sqlite3.Row]]:
        """(runs of this host still 'running' whose driver is gone, leases of this host whose holder is gone)."""
        host = socket.gethostname()
        rows = conn.execute("SELECT run_id, pid, pid_started FROM runs WHERE status = 'running' AND host = ?",
                            (host,)).fetchall()
        dead = [r["run_id"] for r in rows if not _same_process(r["pid"], r["pid_started"])]
        leases = conn.execute("SELECT * FROM leases WHERE host = ?", (host,)).fetchall()
        return dead, [r for r in leases if not _same_process(r["pid"], r["pid_started"], r["heartbeat"])]

    def mark_dead_runs(self) -> list[str]:
        """Mark 'interrupted' every run of this host still 'running' whose driver is gone (pid and its start time
        checked, so a recycled pid does not keep a dead run alive), and drop the leases of dead workers.

        The leases are judged and dropped in one write transaction (``BEGIN IMMEDIATE``), and a lease is deleted
        only as the row that was judged (its holder and claim time): a worker that takes over a dead lease between
        a look and a delete keeps its claim. A cheap read first, so opening a store with nothing dead writes
        nothing."""
        dead, gone = self._dead(self._connect())
        if not (dead or gone):
            return []
        with self._write() as conn:
            dead, gone = self._dead(conn)  # again, under the write lock: what was dead may have been taken over
            reason = _json({"interrupted": "its driver process died without recording an end (SIGKILL, "
                                          "power loss); found by a later command"})
            conn.executemany("UPDATE runs SET status = 'interrupted', finished_at = ?, summary = ? "
                             "WHERE run_id = ? AND status = 'running'", [(time.time(), reason, r) for r in dead])
            conn.executemany("DELETE FROM leases WHERE fingerprint = ? AND pid = ? AND host = ? AND claimed_at = ?",
                             [(r["fingerprint"], r["pid"], r["host"], r["claimed_at"]) for r in gone])
        return dead

    # -- leases -----------------------------------------------------------------------------------------------
    def _lease_live(self, row: sqlite3.Row, now: float) -> bool:
        if row["host"] == socket.gethostname():
            return _same_process(row["pid"], row["pid_started"], row["heartbeat"])
        return now - row["heartbeat"] < LEASE_STALE_S

    def claim(self, fingerprints: list[str], run_id: str | None = None, *,
              recompute: frozenset[str] | set[str] = frozenset()) -> tuple[list[str], list[str]]:
        """Claim the unfinished ``fingerprints`` (and those in ``recompute``, finished or not) for this process,
        all or none, in one transaction: returns (claimed, held) where ``held`` are the cells another live process
        has claimed (then nothing is claimed, and the caller waits). Dead or stale leases are taken over."""
        now, me, host, started = time.time(), os.getpid(), socket.gethostname(), process_started()
        with self._write() as conn:
            pending = [fp for fp in fingerprints
                       if fp in recompute or conn.execute("SELECT 1 FROM cells WHERE fingerprint = ? AND status = 'ok'",
                                       (fp,)).fetchone() is None]
            held = []
            for fp in pending:
                row = conn.execute("SELECT * FROM leases WHERE fingerprint = ?", (fp,)).fetchone()
                if row is not None and not (row["pid"] == me and row["host"] == host) and self._lease_live(row, now):
                    held.append(fp)
            if held:
                return [], held
            conn.executemany("INSERT OR REPLACE INTO leases (fingerprint, run_id, pid, host, pid_started, "
                             "claimed_at, heartbeat) VALUES (?, ?, ?, ?, ?, ?, ?)",
                             [(fp, run_id, me, host, started, now, now) for fp in pending])
        return pending, []

    def heartbeat(self) -> None:
        """Refresh this process's leases (a lease from another host counts as dead once its heartbeat is old)."""
        with self._write() as conn:
            conn.execute("UPDATE leases SET heartbeat = ? WHERE pid = ? AND host = ?",
                         (time.time(), os.getpid(), socket.gethostname()))

    def release(self, fingerprints: list[str] | None = None) -> None:
        """Drop this process's leases (all of them, or those of ``fingerprints``)."""
        with self._write() as conn:
            if fingerprints is None:
                conn.execute("DELETE FROM leases WHERE pid = ? AND host = ?", (os.getpid(), socket.gethostname()))
            else:
                conn.executemany("DELETE FROM leases WHERE fingerprint = ? AND pid = ? AND host = ?",
                                 [(fp, os.getpid(), socket.gethostname()) for fp in fingerprints])

    def leases(self) -> list[dict]:
        return [dict(r) for r in self._connect().execute("SELECT * FROM leases ORDER BY fingerprint")]

    def runs(self) -> list[dict]:
        """Every run, newest first, with counts of its planned cells that are done, failed or still missing."""
        conn = self._connect()
        rows = conn.execute("SELECT * FROM runs ORDER BY created_at DESC").fetchall()
        return [self._run_dict(conn, r, with_plan=False) for r in rows]

    def run(self, run_id: str) -> dict:
        """One run with its plan; ``run_id`` may be a unique prefix or 'latest'."""
        conn = self._connect()
        if run_id == "latest":
            row = conn.execute("SELECT * FROM runs ORDER BY created_at DESC LIMIT 1").fetchone()
        else:
            escaped = run_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            found = conn.execute("SELECT * FROM runs WHERE run_id LIKE ? ESCAPE '\\' ORDER BY created_at DESC",
                                 (escaped + "%",)).fetchall()
            if len(found) > 1 and not any(r["run_id"] == run_id for r in found):
                raise UserError(f"run id '{run_id}' is ambiguous ({len(found)} runs); give more characters")
            row = next((r for r in found if r["run_id"] == run_id), found[0] if found else None)
        if row is None:
            raise UserError(f"{self.path}: no run '{run_id}'; see 'advisor runs list --store {self.path}'")
        return self._run_dict(conn, row, with_plan=True)

    def run_cells(self, run_id: str) -> list[dict]:
        """The planned cells of a run with their current state: ok, failed or missing."""
        rows = self._connect().execute(
            "SELECT rc.fingerprint, rc.label, c.status, c.error, c.run_id AS computed_by FROM run_cells rc "
            "LEFT JOIN cells c ON c.fingerprint = rc.fingerprint WHERE rc.run_id = ? ORDER BY rc.label",
            (run_id,)).fetchall()
        return [{"fingerprint": r["fingerprint"], "label": r["label"], "state": r["status"] or "missing",
                 "error": r["error"], "computed_by": r["computed_by"]} for r in rows]

    def _run_dict(self, conn: sqlite3.Connection, row: sqlite3.Row, *, with_plan: bool) -> dict:
        counts = dict(conn.execute(
            "SELECT COALESCE(c.status, 'missing'), COUNT(*) FROM run_cells rc LEFT JOIN cells c "
            "ON c.fingerprint = rc.fingerprint WHERE rc.run_id = ? GROUP BY 1", (row["run_id"],)).fetchall())
        computed = conn.execute("SELECT COUNT(*) FROM computations WHERE run_id = ?", (row["run_id"],)).fetchone()[0]
        status = row["status"]
        if status == "running" and row["host"] == socket.gethostname() and not _alive(row["pid"]):
            status = "killed"  # its process is gone without recording an end (SIGKILL, power loss)
        out = {"run_id": row["run_id"], "status": status, "created_at": row["created_at"],
               "finished_at": row["finished_at"], "executor": row["executor"], "command": row["command"],
               "cells": sum(counts.values()), "ok": counts.get("ok", 0), "failed": counts.get("failed", 0),
               "missing": counts.get("missing", 0), "computed": computed, "summary": json.loads(row["summary"])}
        if with_plan:
            out["plan"] = json.loads(row["plan"])
        return out
