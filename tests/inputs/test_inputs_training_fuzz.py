"""The training inputs of ``advisor finetune`` / ``distill`` (pairs CSV/TSV/JSONL, raw text, raw JSONL) under bad
input: a fast hypothesis slice of ``benchmarks/fuzz_inputs.py``'s training targets, and the cases users meet
(BOMs, NUL bytes, CRLF, duplicate rows, empty files, huge fields, another encoding), each ending in parsed pairs
or a one-line error naming the file and line."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis", reason="the input fuzzer needs hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from advisor.errors import ConfigError  # noqa: E402
from advisor.training.data import load_training_task  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("fuzz_inputs", REPO / "benchmarks" / "fuzz_inputs.py")
fuzz = importlib.util.module_from_spec(_spec)
sys.modules["fuzz_inputs"] = fuzz  # dataclasses look their module up
_spec.loader.exec_module(fuzz)
TRAINING = [t for t in fuzz.targets() if t.name.startswith("train-")]
pytestmark = pytest.mark.skipif(not TRAINING, reason="data/rt-reviews-plots not built")
FAST = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def seed(name: str) -> tuple[str, bytes]:
    (target,) = [t for t in TRAINING if t.name == name]
    ((file, content),) = target.files.items()
    return file, content


def load(tmp_path: Path, file: str, content: bytes, source: str | None = "pairs"):
    path = tmp_path / file
    path.write_bytes(content)
    return load_training_task(path, source)


def one_line_error(tmp_path: Path, file: str, content: bytes, source: str | None = "pairs") -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, file, content, source)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(tmp_path / file))
    return message


@FAST
@given(target=st.sampled_from(TRAINING), rng=st.randoms(use_true_random=False))
def test_a_mutated_training_input_parses_or_is_a_one_line_user_error(target, rng):
    outcome, detail = fuzz.attempt(target, fuzz.mutated(target, rng))
    assert outcome != "TRACEBACK", detail


@pytest.mark.parametrize("file", ["pairs.csv", "pairs.tsv", "pairs.jsonl"])
def test_a_bom_and_crlf_line_endings_read_as_the_plain_file(tmp_path, file):
    _, content = seed(f"train-pairs-{file.split('.')[1]}")
    plain = load(tmp_path, file, content).data
    windows = load(tmp_path, file, b"\xef\xbb\xbf" + content.replace(b"\n", b"\r\n")).data
    words = lambda texts: [" ".join(t.split()) for t in texts.values()]  # noqa: E731 - CSV texts span lines
    assert words(windows.queries) == words(plain.queries) and words(windows.corpus) == words(plain.corpus)
    assert list(windows.qrels) == list(plain.qrels)


def test_nul_bytes_and_duplicate_rows_are_kept_as_text(tmp_path):
    file, content = seed("train-pairs-tsv")
    header, first, *rest = content.splitlines(keepends=True)
    task = load(tmp_path, file, header + b"\x00" + first + first + b"".join(rest))
    anchors = list(task.data.queries.values())
    assert anchors[0].startswith("\x00") and anchors[1] == first.split(b"\t")[0].decode()
    assert len(anchors) == len(rest) + 2  # the duplicate row is one more pair, not an error


@pytest.mark.parametrize("file,source", [("pairs.csv", "pairs"), ("pairs.jsonl", "pairs"),
                                         ("raw.txt", "next-sentence"), ("raw.jsonl", "span-corruption")])
def test_an_empty_file_names_the_file(tmp_path, file, source):
    message = one_line_error(tmp_path, file, b"", source)
    assert "no rows" in message or "found 0" in message or message.endswith(f"{file}: is empty")


def test_a_field_over_the_csv_limit_names_the_line(tmp_path):
    file, content = seed("train-pairs-csv")
    lines = content.splitlines(keepends=True)
    lines.insert(1, b'"' + b"x" * 140_000 + b'",a positive,a negative\n')
    message = one_line_error(tmp_path, file, b"".join(lines))
    assert f"{file}:2:" in message and "field larger than field limit" in message


@pytest.mark.parametrize("file,source", [("pairs.tsv", "pairs"), ("raw.txt", "next-sentence")])
def test_a_file_in_another_encoding_names_the_line_of_its_first_bad_byte(tmp_path, file, source):
    _, content = seed("train-pairs-tsv" if file.endswith("tsv") else "train-raw-text")
    lines = content.splitlines(keepends=True)
    lines[2] = "café ".encode("latin-1") + lines[2]
    message = one_line_error(tmp_path, file, b"".join(lines), source)
    assert f"{file}:3:" in message and "not UTF-8" in message


def test_a_number_too_long_to_convert_is_a_json_error_at_its_line(tmp_path):
    file, content = seed("train-pairs-jsonl")
    lines = content.splitlines(keepends=True)
    lines[1] = b'{"anchor": "a", "positive": "b", "negative": ' + b"9" * 5000 + b"}\n"
    message = one_line_error(tmp_path, file, b"".join(lines))
    assert f"{file}:2: is not valid JSON" in message and "digits" in message
