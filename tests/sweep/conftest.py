"""Sweep test fixtures: the example hashing backend pip-installed into a scratch folder (a real third-party plugin,
deterministic and fast), catalogs of several hashing models, and a small variant grid."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RETRIEVAL = REPO / "data" / "rt-reviews-plots"


@pytest.fixture(scope="session")
def hashing_site(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("hashing-site")
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                           "--target", str(target), str(REPO / "examples" / "advisor-hashing-backend")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    write_crashy_plugin(target)
    return target


CRASHY = '''"""A third-party backend that fails the ways real models fail: an exception on load, the process killed (as the
kernel's OOM killer does), or out-of-memory errors from large batches. Otherwise it encodes like the hashing
backend."""
import os
import signal

from advisor.models.backends import Backend, BackendCapabilities
from advisor.hookspecs import hookimpl


class CrashyBackend(Backend):
    name = "crashy"
    capabilities = BackendCapabilities()

    def load(self, entry, options):
        from advisor_hashing.encoder import HashingEncoder

        mode = entry.options.get("mode")
        if mode == "raise":
            raise RuntimeError("weights file is corrupt")
        if mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if mode == "segfault":  # a crash in native code
            import ctypes
            ctypes.string_at(0)
        delay = float(entry.options.get("delay") or 0)  # a slow model: seconds per encode call
        max_batch = entry.options.get("max_batch")

        class Encoder(HashingEncoder):
            def encode(self, texts, *, kind="document", batch_size=32, progress=None):
                if max_batch and batch_size > max_batch:
                    raise RuntimeError(f"CUDA out of memory. Tried to allocate {batch_size * 64} MiB")
                if delay:
                    import time
                    time.sleep(delay)
                return super().encode(texts, kind=kind, batch_size=batch_size, progress=progress)

        return Encoder(entry.embed_dim)


@hookimpl
def register_backends(register):
    register(CrashyBackend())
'''


def write_crashy_plugin(site: Path) -> None:
    """A plugin distribution laid out as pip would install it: the module and its dist-info entry point."""
    (site / "crashy_backend.py").write_text(CRASHY)
    info = site / "crashy_backend-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: crashy-backend\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[advisor]\ncrashy = crashy_backend\n")


@pytest.fixture(scope="session")
def sweep_env(hashing_site) -> dict[str, str]:
    """Environment for a real ``advisor run`` subprocess that sees the hashing plugin."""
    path = os.pathsep.join(p for p in (str(hashing_site), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "HF_HUB_OFFLINE": "1", "RAY_AUTH_MODE": "disabled",
            "COLUMNS": "120"}


@pytest.fixture(scope="session")
def retrieval_dir() -> Path:
    if not (RETRIEVAL / "queries.jsonl").exists():
        pytest.skip("data/rt-reviews-plots not built")
    return RETRIEVAL


def hashing_catalog(path: Path, dims: list[int], matryoshka: dict[int, list[int]] | None = None,
                    crashy: dict[str, str] | None = None) -> Path:
    """Hashing models ``hash-DIM``; ``crashy`` adds crashy models: name -> option line (e.g. "mode: raise")."""
    lines = ["models:"]
    for name, option in (crashy or {}).items():
        lines += [f"  - name: {name}", "    source: builtin:crashy", "    backend: crashy", "    embed_dim: 128",
                  "    license: MIT", "    languages: [eng-Latn]", f"    options: {{{option}}}"]
    for dim in dims:
        lines += [f"  - name: hash-{dim}", "    source: builtin:hashing", "    backend: hashing",
                  f"    embed_dim: {dim}", "    license: MIT", "    languages: [eng-Latn]"]
        if matryoshka and dim in matryoshka:
            lines.append(f"    matryoshka_dims: {matryoshka[dim]}")
    path.write_text("\n".join(lines) + "\n")
    return path


def grid_policy(path: Path, dims: str = "[full, 128, 64]", precisions: str = "[float32, int8, binary]",
                extra: str = "", baselines: str | None = "[]") -> Path:
    """A policy of the given grid (``extra``: more lines under ``variants``). These tests count and run the
    models' cells, so BM25 (planned on retrieval tasks by default) is off unless a test asks for it:
    ``baselines=None`` leaves the line out (the default applies), ``"[bm25]"`` names it."""
    head = "name: sweep-test\n" + (f"baselines: {baselines}\n" if baselines is not None else "")
    path.write_text(head + textwrap.dedent(f"""\
        variants:
          dims: {dims}
          vector_precisions: {precisions}
        """) + extra)
    return path


@pytest.fixture
def hashing_plugin(hashing_site):
    """The hashing plugin registered in this process (and importable by spawned workers through sys.path)."""
    from advisor.plugins import get_plugin_manager, register_plugin, unregister_plugin

    pm = get_plugin_manager()  # built before sys.path changes, so the entry point is not picked up twice
    sys.path.insert(0, str(hashing_site))
    import importlib

    ours = [name for name in ("hashing", "crashy") if pm.get_plugin(name) is None]
    for name in ours:
        register_plugin(importlib.import_module({"hashing": "advisor_hashing", "crashy": "crashy_backend"}[name]),
                        name)
    try:
        yield
    finally:
        for name in ours:
            unregister_plugin(name)
        sys.path.remove(str(hashing_site))
