"""``advisor serve`` refuses what it cannot serve with one line, before any model loads."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from advisor.cli import cli

from .conftest import WORDLLAMA, require_serve_deps

require_serve_deps()


@pytest.mark.parametrize("args, says", [
    (["--model", WORDLLAMA, "--vector-precision", "int8"], "int8 codes need the ranges"),
    (["--model", WORDLLAMA, "--dim", "64", "--dim", "128"], "--dim was given 2 times; 'serve' takes one"),
    (["--model", WORDLLAMA, "--report", "report.json"], "give --model or --report, not both"),
    (["--report", "no/such/report.json"], "does not exist"),
    ([], "give --model NAME or --report"),
    (["--model", WORDLLAMA, "--api-key-env", "ADVISOR_TEST_UNSET_KEY_VAR"], "is not set or empty"),
])
def test_serve_refuses_with_one_line(args, says):
    result = CliRunner().invoke(cli, ["serve", *args])
    assert result.exit_code == 2 and says in result.output and "Traceback" not in result.output
