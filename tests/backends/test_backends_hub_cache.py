"""A hub model missing from the Hugging Face cache is one line that says where the advisor looked (the cache folder
and the variable that put it there), whether HF_HUB_OFFLINE is set, and the exact command that fills the cache:
the installed huggingface_hub's own CLI (``hf download``, ``huggingface-cli download`` before 0.34) or the Python
call, with the catalog entry's pinned revision. Run as a user runs it: the real command, a real empty HF_HOME."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data" / "rt-reviews-plots"
HUB = REPO / "advisor" / "shipped" / "catalogs" / "hub.yaml"


def _env(hf_home: Path, *, offline: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_CACHE", "HF_HOME", "HF_HUB_OFFLINE")}
    env["HF_HOME"] = str(hf_home)
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    return env


def _advisor(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    """The installed ``advisor`` in a fresh process with exactly ``env`` (HF_HUB_OFFLINE unset when left out)."""
    script = Path(sys.executable).parent / "advisor"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "advisor.cli"]
    return subprocess.run(command + list(args), capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def _error_line(result) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("advisor: error:")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def _cli_named(line: str) -> str:
    """The program the error tells the user to run, which must be installed beside this Python."""
    program = line.split("To fill it, run '", 1)[1].split()[0]
    assert shutil.which(program, path=str(Path(sys.executable).parent)), f"'{program}' is not installed here"
    return program


def test_a_hub_id_not_in_an_empty_cache_names_the_cache_the_offline_state_and_the_fill_command(tmp_path):
    hf_home = tmp_path / "hf-home"
    hf_home.mkdir()
    result = _advisor("evaluate", "--model", "hub:example-org/not-cached-model", "--dataset", str(DATA),
                      env=_env(hf_home, offline=True), cwd=tmp_path)
    line = _error_line(result)
    assert f"the Hugging Face cache {hf_home / 'hub'} (HF_HOME={hf_home})" in line
    assert "HF_HUB_OFFLINE=1" in line
    program = _cli_named(line)
    assert f"run '{program} download example-org/not-cached-model' with the same HF_HOME" in line
    assert "huggingface_hub.snapshot_download('example-org/not-cached-model')" in line
    assert list(hf_home.iterdir()) in ([], [hf_home / "hub"])  # nothing was downloaded


def test_a_catalog_entry_with_a_hub_source_names_its_pinned_revision(tmp_path):
    pytest.importorskip("torch")
    entry = next(m for m in yaml.safe_load(HUB.read_text(encoding="utf-8"))["models"]
                 if m["name"] == "bge-small-en-v1.5")
    repo_id, revision = entry["source"].removeprefix("hub:"), entry["revision"]
    hf_home = tmp_path / "hf-home"
    hf_home.mkdir()
    result = _advisor("evaluate", "--catalog", "hub", "--model", "bge-small-en-v1.5", "--dataset", str(DATA),
                      env=_env(hf_home, offline=False), cwd=tmp_path)
    line = _error_line(result)
    assert f"'{repo_id}@{revision}' is not in the Hugging Face cache {hf_home / 'hub'}" in line
    assert "HF_HUB_OFFLINE is not set" in line and "--allow-network" in line
    program = _cli_named(line)
    assert f"run '{program} download {repo_id} --revision {revision}'" in line
    assert f"snapshot_download('{repo_id}', revision='{revision}')" in line
