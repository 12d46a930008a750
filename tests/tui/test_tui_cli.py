"""The ``advisor tui`` command: registered by the plugin, light to import, one-line errors for bad inputs."""

from __future__ import annotations

import subprocess
import sys


def test_plugin_import_does_not_import_textual():
    code = ("import sys, advisor.builtin.tui; from advisor.cli import cli; cli.get_command(None, 'tui'); "
            "print(sorted(m for m in ('textual', 'torch', 'textual_plotext') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_tui_help_lists_the_options(advisor_cli):
    result = advisor_cli("tui", "--help")
    assert result.returncode == 0, result.stderr
    for option in ("--catalog", "--policy", "--dataset", "--store", "--out"):
        assert option in result.stdout


def test_bad_policy_is_one_line_error_before_the_screen_opens(advisor_cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("limits:\n  max_p95_latency_ms: fast\n", encoding="utf-8")
    result = advisor_cli("tui", "--policy", str(bad))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad.yaml" in lines[0] and "max_p95_latency_ms" in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_missing_catalog_is_one_line_error(advisor_cli, tmp_path):
    result = advisor_cli("tui", "--catalog", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2 and "nope.yaml" in result.stderr and "no such file or directory" in result.stderr
