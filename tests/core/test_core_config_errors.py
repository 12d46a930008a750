"""A malformed catalog or policy gives one line that names the file, the entry and field (or the YAML line) and
what is allowed; exit code 2; no traceback."""

from __future__ import annotations

import textwrap

import pytest

GOOD_ENTRY = """\
models:
  - name: tiny
    source: builtin:tiny
    backend: hashing
    embed_dim: 64
    license: {license}
    languages: {languages}
    n_parameters: {n_parameters}
"""

CATALOG_CASES = {
    "wrong type": (dict(license="MIT", languages="[eng-Latn]", n_parameters="lots"), ["n_parameters", "tiny"]),
    "unknown licence": (dict(license="Apache-9.9", languages="[eng-Latn]", n_parameters=10),
                        ["license", "Apache-9.9"]),
    "unknown language": (dict(license="MIT", languages="[klingon]", n_parameters=10), ["languages", "klingon"]),
}


def _one_line_error(done, *needles):
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


@pytest.mark.parametrize("case", sorted(CATALOG_CASES))
def test_malformed_catalog_is_one_line_error(case, tmp_path, advisor_cli):
    fields, needles = CATALOG_CASES[case]
    path = tmp_path / "catalog.yaml"
    path.write_text(GOOD_ENTRY.format(**fields))
    _one_line_error(advisor_cli("catalog", "list", "--catalog", str(path)), str(path), *needles)


def test_bad_yaml_names_the_line(tmp_path, advisor_cli):
    path = tmp_path / "catalog.yaml"
    path.write_text("models:\n  - name: tiny\n    source: [unclosed\n")
    line = _one_line_error(advisor_cli("catalog", "list", "--catalog", str(path)), str(path))
    # the parser finds the missing ']' where the file ends: line 4 (the text after the path may hold "line")
    assert f"{path}:4: invalid YAML: expected ',' or ']'" in line, line


def test_missing_catalog_file(tmp_path, advisor_cli):
    _one_line_error(advisor_cli("catalog", "list", "--catalog", str(tmp_path / "nope.yaml")), "nope.yaml")


POLICY_CASES = {
    "wrong type": ("limits:\n  max_p95_latency_ms: fast\n", ["max_p95_latency_ms"]),
    "unknown licence": ("licenses:\n  allow: [MIT, NotALicence-1.0]\n", ["licenses", "NotALicence-1.0"]),
    "unknown language": ("languages:\n  require: [eng-Latn, xx-Fake]\n", ["languages", "xx-Fake"]),
    "unknown field": ("limits:\n  max_latency: 3\n", ["max_latency", "max_p95_latency_ms"]),
    "bad precision": ("variants:\n  weight_precisions: [fp32, fp8]\n", ["weight_precisions", "fp8"]),
}


@pytest.mark.parametrize("case", sorted(POLICY_CASES))
def test_malformed_policy_is_one_line_error(case, tmp_path, advisor_cli):
    text, needles = POLICY_CASES[case]
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(GOOD_ENTRY.format(license="MIT", languages="[eng-Latn]", n_parameters=10))
    policy = tmp_path / "policy.yaml"
    policy.write_text(text)
    done = advisor_cli("catalog", "list", "--catalog", str(catalog), "--policy", str(policy))
    _one_line_error(done, str(policy), *needles)


def test_unknown_option_value_is_not_a_traceback(advisor_cli):
    done = advisor_cli("catalog", "list", "--catalog")
    assert done.returncode == 2 and "Traceback" not in done.stderr
