"""Bad input never shows a traceback: mutated catalogs, policies and datasets (a fast slice of
``benchmarks/fuzz_inputs.py``: every dataset shape, corpora of text files with pseudo-queries, mapped columns and
Hugging Face datasets, saved or cached, included) end in a parsed object or a one-line UserError, and a catalog
that is not UTF-8 is a one-line error naming the file and the byte offset."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis", reason="the input fuzzer needs hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("fuzz_inputs", REPO / "benchmarks" / "fuzz_inputs.py")
fuzz = importlib.util.module_from_spec(_spec)
sys.modules["fuzz_inputs"] = fuzz  # dataclasses look their module up
_spec.loader.exec_module(fuzz)
TARGETS = fuzz.targets()
FAST = settings(max_examples=200, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_the_unmutated_input_parses(target):
    assert fuzz.attempt(target, dict(target.files)) == ("parsed", "")


def test_the_new_input_shapes_are_fuzzed():
    names = {t.name for t in TARGETS}
    assert {"documents-txt", "pseudo-queries", "documents-jsonl", "columns-csv"} <= names
    if importlib.util.find_spec("datasets") is not None:
        assert {"hf-disk", "hf-cache"} <= names


@FAST
@given(target=st.sampled_from(TARGETS), rng=st.randoms(use_true_random=False))
def test_a_mutated_input_parses_or_is_a_one_line_user_error(target, rng):
    outcome, detail = fuzz.attempt(target, fuzz.mutated(target, rng))
    assert outcome != "TRACEBACK", detail


@FAST
@given(target=st.sampled_from(TARGETS), junk=st.binary(max_size=300))
def test_random_bytes_are_a_one_line_user_error_or_parse(target, junk):
    files = dict(target.files)
    files[sorted(files)[0]] = junk
    outcome, detail = fuzz.attempt(target, files)
    assert outcome != "TRACEBACK", detail


def test_a_catalog_that_is_not_utf8_names_the_file_and_byte_offset(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"models:\n  - name: caf\xe9\n")
    script = Path(sys.executable).parent / "advisor"
    base = [str(script)] if script.exists() else [sys.executable, "-m", "advisor.cli"]
    done = subprocess.run(base + ["catalog", "list", "--catalog", str(bad)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert str(bad) in line and "not UTF-8" in line and "offset 21" in line
