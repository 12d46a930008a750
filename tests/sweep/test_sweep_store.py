"""The results store on a real SQLite file: round trip, filters, exports, run records, concurrent writers from
separate processes, and an intact database after a writer is SIGKILLed mid-stream."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from advisor.errors import UserError
from advisor.sweep.results import CellKey, CellResult
from advisor.sweep.store import SCHEMA_VERSION, ResultStore


def make_cell(i: int, *, model: str = "m", kind: str = "quality", status: str = "ok") -> CellResult:
    key = CellKey(kind, model, "r1", "hashing", "cpu", "fp32", "task-a", "h1",
                  dim=None if i % 3 == 0 else 32 * (i % 3), vector_precision="float32" if i % 2 else "int8",
                  hardware="hw", versions="v", options=f"i={i}")
    return CellResult(key=key, status=status, metrics={"ndcg_at_10": i / 100, "recall_at_10": 0.5},
                      details={"per_item": [0.1 * i, 0.2], "note": "x"}, error=None if status == "ok" else "boom",
                      started_at=1.0, finished_at=2.0 + i)


def test_round_trip_and_filters(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "sub" / "r.sqlite")
    cells = [make_cell(i) for i in range(6)] + [make_cell(9, model="other", status="failed")]
    for c in cells:
        store.put(c, run_id="run1")
    for c in cells:
        back = store.get(c.fingerprint)
        assert back == c  # dataclass equality: key, metrics, details, error, times
    assert store.get("nope") is None
    assert len(store.results()) == 7
    assert {r.key.model for r in store.results(status="failed")} == {"other"}
    assert len(store.results(model="m", dim=None)) == 2
    assert len(store.results(vector_precision=["int8"])) == sum(c.key.vector_precision == "int8" for c in cells)
    with pytest.raises(UserError, match="unknown results filter"):
        store.results(colour="red")
    assert sqlite3.connect(tmp_path / "sub" / "r.sqlite").execute("PRAGMA user_version").fetchone()[0] == \
        SCHEMA_VERSION
    assert store.integrity_check() == "ok"


def test_put_replaces_and_counts_computations(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "r.sqlite")
    cell = make_cell(1)
    store.put(cell)
    cell.metrics["ndcg_at_10"] = 0.99
    store.put(cell)
    assert store.get(cell.fingerprint).metrics["ndcg_at_10"] == 0.99
    assert len(store.results()) == 1
    assert store.compute_counts() == {cell.fingerprint: 2}


def test_dataframe_csv_parquet_export(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "r.sqlite")
    cells = [make_cell(i) for i in range(5)]
    for c in cells:
        store.put(c)
    frame = store.to_dataframe()
    assert len(frame) == 5
    assert set(frame["fingerprint"]) == {c.fingerprint for c in cells}
    by_fp = frame.set_index("fingerprint")
    for c in cells:
        assert by_fp.loc[c.fingerprint, "ndcg_at_10"] == pytest.approx(c.metrics["ndcg_at_10"])
        assert (pd.isna(by_fp.loc[c.fingerprint, "dim"]) if c.key.dim is None
                else by_fp.loc[c.fingerprint, "dim"] == c.key.dim)
    csv = store.export(tmp_path / "out" / "cells.csv")
    back = pd.read_csv(csv)
    assert sorted(back["fingerprint"]) == sorted(frame["fingerprint"])
    assert back["ndcg_at_10"].sum() == pytest.approx(sum(c.metrics["ndcg_at_10"] for c in cells))
    pq = store.export(tmp_path / "cells.parquet")
    back = pd.read_parquet(pq)
    assert back.shape == frame.shape
    assert list(back["dim"]) == list(frame["dim"])
    with pytest.raises(UserError, match="unknown export format"):
        store.export(tmp_path / "cells.xlsx")


def test_run_records(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "r.sqlite")
    cells = [make_cell(i) for i in range(4)]
    run_id = store.start_run({"specs": ["a"]}, cells=[(c.fingerprint, c.key.options) for c in cells],
                             executor="local", command="advisor run")
    store.put(cells[0], run_id=run_id)
    store.put(make_cell(1, status="failed"), run_id=run_id)
    info = store.run(run_id[:10])
    assert (info["cells"], info["ok"], info["failed"], info["missing"], info["status"]) == (4, 1, 1, 2, "running")
    assert info["plan"] == {"specs": ["a"]}
    store.finish_run(run_id, "interrupted", {"computed": 2})
    assert store.runs()[0]["status"] == "interrupted"
    assert store.run("latest")["summary"] == {"computed": 2}
    states = {c["label"]: c["state"] for c in store.run_cells(run_id)}
    assert states == {"i=0": "ok", "i=1": "failed", "i=2": "missing", "i=3": "missing"}
    with pytest.raises(UserError, match="no run"):
        store.run("zzz")


def test_not_a_database_is_a_user_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sqlite"
    bad.write_text("this is not sqlite" * 100)
    with pytest.raises(UserError, match="not a usable results database"):
        ResultStore(bad)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    ResultStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(UserError, match="newer advisor"):
        ResultStore(path)


WRITE_N = """
import sys
sys.path.insert(0, {tests!r})
from test_sweep_store import make_cell
from advisor.sweep.store import ResultStore
store = ResultStore({path!r})
for i in range({n}):
    store.put(make_cell(i, model="w{worker}"), run_id="w{worker}")
"""


def test_concurrent_writer_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "r.sqlite")
    procs = [subprocess.Popen([sys.executable, "-c", WRITE_N.format(tests=str(Path(__file__).parent), path=path,
                                                                     n=40, worker=w)]) for w in range(4)]
    assert [p.wait(120) for p in procs] == [0, 0, 0, 0]
    store = ResultStore(path)
    assert len(store.results()) == 160
    assert set(store.compute_counts().values()) == {1}
    assert store.integrity_check() == "ok"


WRITE_FOREVER = """
import sys
sys.path.insert(0, {tests!r})
from test_sweep_store import make_cell
from advisor.sweep.store import ResultStore
store = ResultStore({path!r})
i = 0
while True:
    store.put(make_cell(i, model="k"), run_id="k")
    i += 1
    if i == 5:
        print("started", flush=True)
"""


def test_sigkill_mid_write_leaves_an_intact_database(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    code = WRITE_FOREVER.format(tests=str(Path(__file__).parent), path=str(path))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "started"
    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    store = ResultStore(path)
    assert store.integrity_check() == "ok"
    cells = store.results(model="k")
    assert len(cells) >= 5
    # every committed cell is whole, and the log agrees with the table: no half-written transaction
    assert sum(store.compute_counts().values()) == len(cells)
    assert all(c.metrics["recall_at_10"] == 0.5 for c in cells)
