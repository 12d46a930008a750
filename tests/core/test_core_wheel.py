"""The front door: the wheel, installed into a fresh virtual environment, works from an empty folder.

The wheel is built from a copy of the package's own files (a checkout's stale build/ folder cannot leak into it)
and installed, without its dependencies, into a new venv made without pip, by the outer pip (``pip --python``). The
dependencies (torch, the model packages...) are the outer environment's: its site-packages folder is one plain path
line in a .pth file of the new venv. A path line adds that folder to sys.path without processing the folder's own
.pth files, so the outer editable install's finder never runs: ``advisor`` can only come from the wheel, which the
first test checks before the commands run from an empty temporary folder, as a new user's would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data" / "rt-reviews-plots"
# What a wheel carries beside the package: the package's data files (advisor/shipped, the TUI's stylesheet, the
# rater's prompt) ride in advisor/, and nothing of the repository (tests, data, docs, benchmarks) is in it.
TOP_LEVEL = {"advisor"}


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    python: Path
    advisor: Path
    site: Path
    empty: Path  # the working folder the commands run in

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
                   RAY_AUTH_MODE="disabled", PATH=f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}")
        return env

    def run(self, *command: str | Path, timeout: float = 240) -> subprocess.CompletedProcess:
        return subprocess.run([str(c) for c in command], capture_output=True, text=True, env=self.env(),
                              cwd=self.empty, timeout=timeout)


def _checked(command: list[str | Path], cwd: Path | None = None) -> None:
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, cwd=cwd, timeout=300)
    assert result.returncode == 0, f"{' '.join(map(str, command))} failed:\n{result.stdout}\n{result.stderr}"


def _copy_sources(target: Path) -> Path:
    """The files a wheel is built from (pyproject.toml, README.md, the package), without caches or build output."""
    import shutil

    target.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (REPO / name).exists():
            shutil.copy2(REPO / name, target / name)
    shutil.copytree(REPO / "advisor", target / "advisor", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    root = tmp_path_factory.mktemp("wheel")
    source = _copy_sources(root / "source")
    dist = root / "dist"
    _checked([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "--quiet",
              "--wheel-dir", dist, source])
    (wheel,) = dist.glob("embedding_advisor-*.whl")
    venv = root / "venv"
    _checked([sys.executable, "-m", "venv", "--without-pip", venv])
    python = venv / "bin" / "python"
    _checked([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "--quiet",
              wheel])
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    outer = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (site / "zz_outer_dependencies.pth").write_text("".join(f"{path}\n" for path in outer), encoding="utf-8")
    empty = root / "empty"
    empty.mkdir()
    return Installed(wheel=wheel, venv=venv, python=python, advisor=venv / "bin" / "advisor", site=site, empty=empty)


def test_the_wheel_holds_the_package_and_its_shipped_files_only(installed):
    names = zipfile.ZipFile(installed.wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops - {n for n in tops if n.endswith(".dist-info")} == TOP_LEVEL
    shipped = {name for name in names if name.startswith("advisor/shipped/")}
    for kind, folder in (("catalog", "catalogs"), ("policy", "policies"), ("template", "templates")):
        on_disk = {f"advisor/shipped/{folder}/{p.name}" for p in (REPO / "advisor" / "shipped" / folder).glob("*.yaml")}
        assert on_disk and on_disk <= shipped, kind
    assert "advisor/builtin/tui/advisor.tcss" in names


def test_advisor_is_imported_from_the_new_venv_not_the_repository(installed):
    probe = ("import advisor, json, sys, importlib.metadata as md; "
             "dist = md.distribution('embedding-advisor'); "
             "print(json.dumps({'file': advisor.__file__, 'path': sys.path, 'dist': str(dist._path), "
             "'finders': [repr(f) for f in sys.meta_path], "
             "'entry_points': sorted(e.value for e in md.entry_points(group='advisor'))}))")
    result = installed.run(installed.python, "-c", probe)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert Path(seen["file"]).is_relative_to(installed.site)
    assert not any(Path(p).resolve() == REPO for p in seen["path"] if p), "the repository is on sys.path"
    assert not any("__editable__" in finder for finder in seen["finders"]), "the editable install's finder runs"
    assert Path(seen["dist"]).parent == installed.site  # the wheel's metadata comes first
    import tomllib

    declared = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["entry-points"]
    assert seen["entry_points"] == sorted(declared["advisor"].values())
    assert installed.advisor.read_text(encoding="utf-8").splitlines()[0] == f"#!{installed.python}"


def test_catalog_list_from_an_empty_folder_lists_the_shipped_offline_catalog(installed):
    import yaml

    result = installed.run(installed.advisor, "catalog", "list", "--json")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[0].startswith("catalogs: offline (shipped) · policy: none")
    offline = yaml.safe_load((REPO / "advisor/shipped/catalogs/offline.yaml").read_text(encoding="utf-8"))
    assert {row["name"] for row in json.loads(result.stdout)} == {m["name"] for m in offline["models"]}


def test_the_tui_session_offers_no_examples_from_a_wheel_and_says_what_is_in_force(installed):
    probe = ("from advisor.builtin.tui.session import EXAMPLES_MISSING, Session; s = Session.open(); "
             "print(s.example_datasets(), s.catalogs_in_force, s.policy.name, sep='|')")
    result = installed.run(installed.python, "-c", probe)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]|offline (shipped)|permissive"


def test_recommend_from_an_empty_folder_writes_the_report(installed):
    out = installed.empty.parent / "report"
    result = installed.run(installed.advisor, "recommend", "--catalog", "offline", "--policy", "default",
                           "--model", "wordllama-l2-supercat-256", "--dataset", DATA, "--out", out, "--json")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    files = json.loads(result.stdout)["files"]
    assert {"markdown", "html", "json", "csv"} <= set(files)
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert Path(report["policy"]["file"]).is_relative_to(installed.site)  # the shipped policy, from the wheel
    assert (installed.empty / ".advisor" / "results.sqlite").is_file()  # the store, in the folder it ran from
