"""The house by stage: the import-linter contract in pyproject.toml holds, and it catches an arrow back."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).parent / "lint-imports"


def _lint(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT), "--config", str(cwd / "pyproject.toml"), "--no-cache"], cwd=cwd,
                          capture_output=True, text=True, env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"})


def test_layers_contract_is_kept():
    result = _lint(REPO)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "1 kept, 0 broken" in result.stdout


def test_an_import_from_a_lower_layer_to_a_higher_one_breaks_the_contract(tmp_path):
    shutil.copytree(REPO / "advisor", tmp_path / "advisor", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    variants = tmp_path / "advisor" / "models" / "variants.py"
    variants.write_text(variants.read_text() + "\n\ndef _back_arrow():\n    from advisor.pipeline import recommend\n")
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert "advisor.models is not allowed to import advisor.pipeline" in result.stdout
