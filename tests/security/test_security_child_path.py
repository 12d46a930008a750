"""The Python processes the advisor starts import nothing from the working directory.

A working directory holding a ``click.py`` and a ``numpy.py`` that write a marker file when imported is the
attack: a child started with ``python -m`` puts that directory first on ``sys.path``. The served load test's
``advisor serve`` and the serving-memory probe are real children started from such a directory; the marker never
appears. A control shows the trap works on a child started without ``-P``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click  # noqa: F401 - imported before the working directory changes: this process stays clean
import numpy  # noqa: F401
import pytest

from ..serve.conftest import WORDLLAMA  # noqa: E402

SHADOWED = ("click", "numpy")


@pytest.fixture
def hostile_cwd(tmp_path, monkeypatch) -> Path:
    """Work from a folder whose click.py and numpy.py write the marker (returned) when imported."""
    marker = tmp_path / "SHADOW_MODULE_IMPORTED"
    work = tmp_path / "work"
    work.mkdir()
    for name in SHADOWED:
        (work / f"{name}.py").write_text(f"import pathlib\npathlib.Path({str(marker)!r}).write_text({name!r})\n")
    monkeypatch.chdir(work)
    return marker


def test_the_trap_catches_a_child_started_without_safe_path(hostile_cwd):
    subprocess.run([sys.executable, "-m", "numpy"], capture_output=True, timeout=60)
    assert hostile_cwd.exists()


def test_the_served_load_tests_server_imports_nothing_from_the_working_directory(hostile_cwd):
    from advisor.cost.served import _batch_totals, serve_subprocess
    from advisor.models.backends import LoadOptions
    from advisor.models.resolve import resolve_model
    from advisor.models.serve_config import ServeConfig

    with serve_subprocess(resolve_model(WORDLLAMA), LoadOptions(), ServeConfig(), ready_s=120) as served:
        assert _batch_totals(served.url) == (0.0, 0.0)
    assert not hostile_cwd.exists(), f"advisor serve imported {hostile_cwd.read_text()}.py from the working directory"


def test_the_memory_probe_imports_nothing_from_the_working_directory(hostile_cwd):
    from advisor.cost.memory import serving_memory
    from advisor.models.backends import LoadOptions, load_encoder
    from advisor.models.resolve import resolve_model

    entry = resolve_model(WORDLLAMA)
    encoder = load_encoder(entry)
    try:
        figures, notes = serving_memory(encoder, entry, LoadOptions(), ["a document", "another one"], ["a query"])
    finally:
        encoder.close()
    assert notes == [] and "error" not in figures["memory"], notes
    assert not hostile_cwd.exists(), f"the memory probe imported {hostile_cwd.read_text()}.py from the working directory"


def test_every_python_child_the_advisor_starts_is_started_with_safe_path():
    """Each place the advisor starts ``sys.executable`` passes ``-P`` on the same line (a new one must too)."""
    import advisor

    root = Path(advisor.__file__).parent
    starts = [(path.relative_to(root.parent), n, line.strip()) for path in sorted(root.rglob("*.py"))
              for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
              if "[sys.executable" in line]
    assert starts, "no child process found: the scan looks in the wrong place"
    assert [s for s in starts if '"-P"' not in s[2]] == []
