"""Built-in plugin: pgvector on a real PostgreSQL. Without a ``dsn`` setting the plugin starts a private server
(the ``pgserver`` wheel bundles PostgreSQL with pgvector) in ``pgdata`` (a temporary ``advisor-pgvector-*`` folder
unless given), on a unix socket, and ``stop_servers()`` stops it (so does process exit), removing a temporary
folder; a sweep worker registers both (``advisor.sweep.leftovers``), since PostgreSQL runs in a session of its own
and outlives a killed worker; with ``dsn`` (or the environment variable
ADVISOR_PGVECTOR_DSN, which keeps a password out of policies and stored results) it uses the user's own database.
Each index is its own table (dropped on ``close``); HNSW or IVFFlat over ``vector`` with ``vector_ip_ops``.
The extension's version decides what it can hold; ``describe_extension`` says what it found."""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import threading
import uuid
from typing import Any

import numpy as np

from advisor.errors import UserError
from advisor.hookspecs import Register, hookimpl
from advisor.index import Index, IndexType, pad_results
from advisor.quality.vectors import VectorSet

_servers: dict[str, Any] = {}
_lock = threading.Lock()


def private_server(pgdata: str | None = None) -> Any:
    """The pgserver for ``pgdata`` (started once per process and folder). A temporary folder is removed when the
    server stops (pgserver's "delete" mode, at ``stop_servers`` or process exit)."""
    import pgserver

    from advisor.sweep import leftovers

    with _lock:
        key = pgdata or "__temp__"
        if key not in _servers:
            folder = pgdata or tempfile.mkdtemp(prefix="advisor-pgvector-")
            if pgdata is None:
                leftovers.register(folder=folder)  # before the start: a kill mid-start leaves it too
            server = pgserver.get_server(folder, cleanup_mode="stop" if pgdata else "delete")
            server.advisor_temporary = None if pgdata else folder
            pid = server.get_pid()
            if pid is not None:
                leftovers.register(pid=int(pid))
            _servers[key] = server
        return _servers[key]


def stop_servers() -> list[int]:
    """Stop every private server this process started, and remove the temporary folders; returns their postmaster
    pids."""
    from advisor.sweep import leftovers

    pids = []
    with _lock:
        for key in list(_servers):
            server = _servers.pop(key)
            pid = server.get_pid()
            if pid is not None:
                pids.append(int(pid))
            server.cleanup()
            folder = getattr(server, "advisor_temporary", None)
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)  # pgserver removes it; a server another handle kept not
            leftovers.forget(pid=int(pid) if pid is not None else None, folder=folder)
    return pids


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".")[:3] if p.isdigit())


def describe_extension(conn: Any) -> dict[str, Any]:
    """The installed pgvector version and, from its release notes, the index types and operators it supports."""
    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()[0]
    v = _version_tuple(version)
    types = ["ivfflat"] + (["hnsw"] if v >= (0, 5, 0) else [])
    ops = {"vector": ["<-> (l2)", "<#> (negative inner product)", "<=> (cosine)"]}
    if v >= (0, 7, 0):
        ops["halfvec"] = ops["vector"]
        ops["bit"] = ["<~> (hamming)", "<%> (jaccard)"]
    return {"version": version, "index_types": types, "operators": ops,
            "used": "vector with vector_ip_ops (float32); float16/bit types need pgvector >= 0.7"}


def _literal(row: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in row) + "]"


class PgvectorIndex(Index):
    def __init__(self, **settings: Any) -> None:
        self.settings = dict(settings)
        self.table = f"advisor_idx_{uuid.uuid4().hex[:12]}"
        self.conn: Any = None
        self.notes: list[str] = []
        self.extension: dict[str, Any] = {}
        self.n = 0
        self._private = True

    def _connect(self) -> Any:
        import psycopg

        dsn = self.settings.get("dsn") or os.environ.get("ADVISOR_PGVECTOR_DSN")  # keep passwords out of policies
        self._private = not dsn
        if not dsn:
            dsn = private_server(self.settings.get("pgdata")).get_uri()
        try:
            conn = psycopg.connect(dsn, autocommit=True)
        except psycopg.OperationalError as exc:
            raise UserError(f"cannot connect to PostgreSQL ({exc.__class__.__name__}): {str(exc).strip()[:200]}")
        self.extension = describe_extension(conn)
        if self.settings["kind"] not in self.extension["index_types"]:
            raise UserError(f"pgvector {self.extension['version']} has no {self.settings['kind']} index")
        return conn

    def build(self, vectors: VectorSet, ids: np.ndarray) -> None:
        if self.conn is None:
            self.conn = self._connect()
        c, s, d = self.conn, self.settings, vectors.dim
        c.execute(f"DROP TABLE IF EXISTS {self.table}")
        c.execute(f"CREATE TABLE {self.table} (id bigint PRIMARY KEY, embedding vector({d}))")
        self._insert(vectors, ids)
        if s["kind"] == "hnsw":
            c.execute(f"CREATE INDEX ON {self.table} USING hnsw (embedding vector_ip_ops) "
                      f"WITH (m = {int(s['M'])}, ef_construction = {int(s['ef_construction'])})")
        else:
            lists = max(1, min(int(s["lists"]), len(vectors)))
            if lists != int(s["lists"]):
                self.notes.append(f"lists reduced to {lists} (the table has {len(vectors)} rows)")
            c.execute(f"CREATE INDEX ON {self.table} USING ivfflat (embedding vector_ip_ops) WITH (lists = {lists})")
            self._lists = lists
        c.execute(f"ANALYZE {self.table}")

    def _insert(self, vectors: VectorSet, ids: np.ndarray) -> None:
        x = vectors.as_float()
        with self.conn.cursor() as cur:
            with cur.copy(f"COPY {self.table} (id, embedding) FROM STDIN") as copy:
                for i, row in zip(np.asarray(ids, dtype=np.int64), x):
                    copy.write_row((int(i), _literal(row)))
        self.n += len(x)

    def add(self, vectors: VectorSet, ids: np.ndarray) -> None:
        self._insert(vectors, ids)

    def search(self, queries: VectorSet, k: int) -> tuple[np.ndarray, np.ndarray]:
        s = self.settings
        if s["kind"] == "hnsw":
            ef = max(int(s["ef_search"]), k)
            if ef != int(s["ef_search"]):  # pgvector < 0.8 returns at most ef_search rows from an HNSW scan
                note = f"hnsw.ef_search raised to k={k} for the search (it caps the rows returned)"
                if note not in self.notes:
                    self.notes.append(note)
            self.conn.execute(f"SET hnsw.ef_search = {ef}")
        else:
            self.conn.execute(f"SET ivfflat.probes = {min(int(s['probes']), getattr(self, '_lists', 1))}")
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        sql = (f"SELECT id, -(embedding <#> %s::vector) FROM {self.table} "
               f"ORDER BY embedding <#> %s::vector LIMIT {int(k)}")
        for qi, row in enumerate(queries.as_float()):
            lit = _literal(row)
            hits = self.conn.execute(sql, (lit, lit)).fetchall()
            if hits:
                ids[qi, :len(hits)] = [h[0] for h in hits]
                scores[qi, :len(hits)] = [h[1] for h in hits]
        return pad_results(ids, scores, k)

    def memory_bytes(self) -> int:
        """The index relation's size: what PostgreSQL keeps in shared buffers to search it fast."""
        row = self.conn.execute(f"SELECT coalesce(sum(pg_relation_size(indexrelid)), 0) FROM pg_index "
                                f"WHERE indrelid = '{self.table}'::regclass").fetchone()
        return int(row[0])

    def disk_bytes(self) -> int:
        return int(self.conn.execute(f"SELECT pg_total_relation_size('{self.table}')").fetchone()[0])

    def info(self) -> dict[str, Any]:
        return {"library": "pgvector", "extension": self.extension, "notes": self.notes,
                "server": "private pgserver" if self._private else "user dsn"}

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.execute(f"DROP TABLE IF EXISTS {self.table}")
            finally:
                self.conn.close()
                self.conn = None


class _PgvectorType(IndexType):
    kind = ""
    precisions = ("float32",)

    def available(self) -> str | None:
        for module, pip in (("psycopg", "psycopg[binary]"), ("pgserver", "pgserver")):
            if not importlib.util.find_spec(module):
                return f"{module} is not installed (pip install '{pip}')"
        return None

    def create(self, **settings: Any) -> Index:
        return PgvectorIndex(**{**self.defaults, **settings, "kind": self.kind})


class PgvectorHNSW(_PgvectorType):
    name, kind = "pgvector-hnsw", "hnsw"
    description = "pgvector HNSW (vector_ip_ops) on PostgreSQL"
    defaults = {"M": 16, "ef_construction": 64, "ef_search": 40, "dsn": None, "pgdata": None}


class PgvectorIVFFlat(_PgvectorType):
    name, kind = "pgvector-ivfflat", "ivfflat"
    description = "pgvector IVFFlat (vector_ip_ops) on PostgreSQL"
    defaults = {"lists": 100, "probes": 10, "dsn": None, "pgdata": None}


@hookimpl
def register_indexes(register: Register) -> None:
    register(PgvectorHNSW())
    register(PgvectorIVFFlat())
