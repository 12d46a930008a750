"""Plugins import heavy libraries lazily: importing the package, loading every plugin and printing the help must
not pull in torch, transformers, textual, sentence-transformers or mteb (a cold CLI stays fast)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("torch", "transformers", "textual", "sentence_transformers", "mteb")


def _heavy_after(code: str) -> dict[str, bool]:
    probe = code + f"\nimport json, sys\nprint(json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))\n"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_import_advisor_loads_no_heavy_library():
    loaded = _heavy_after("import advisor")
    assert not any(loaded.values()), loaded


def test_loading_every_plugin_loads_no_heavy_library():
    loaded = _heavy_after("from advisor.plugins import registry, plugin_infos\nregistry()\nplugin_infos()")
    assert not any(loaded.values()), loaded


def test_advisor_help_loads_no_heavy_library():
    code = ("import sys\nfrom advisor.cli import cli\n"
            "try:\n    cli(['--help'], prog_name='advisor', standalone_mode=False)\nexcept SystemExit:\n    pass\n")
    loaded = _heavy_after(code)
    assert not any(loaded.values()), loaded


def test_the_issue_one_liner_prints_false_false():
    done = subprocess.run([sys.executable, "-c",
                           "import advisor, sys; print('torch' in sys.modules, 'textual' in sys.modules)"],
                          capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False False"
