"""A dataset folder is read from inside only: a symbolic link in it whose target lies outside the folder (a
downloaded dataset whose ``corpus.jsonl`` points at a private file) is refused in one line before the file is read,
so its lines are never embedded, stored, shown, or sent to a hosted model. A link to a file inside the folder is
fine. Real folders built from the shipped example datasets, read by the real ``advisor datasets show``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data"
SECRET = "PRIVATE-LINE-THAT-MUST-NOT-BE-READ"


def show(folder: Path) -> subprocess.CompletedProcess:
    script = Path(sys.executable).parent / "advisor"
    base = [str(script)] if script.exists() else [sys.executable, "-m", "advisor.cli"]
    return subprocess.run(base + ["datasets", "show", str(folder)], env={**os.environ, "HF_HUB_OFFLINE": "1"},
                          capture_output=True, text=True, timeout=300)


def copy(name: str, target: Path) -> Path:
    if not (DATA / name).is_dir():
        pytest.skip(f"data/{name} not built")
    shutil.copytree(DATA / name, target)
    return target


def outside_file(tmp_path: Path, original: Path) -> Path:
    """A file outside the dataset folder, in the original's format, whose every text is the secret line (so a
    reader that follows the link would take it as data)."""
    private = tmp_path / "private" / original.name
    private.parent.mkdir()
    if original.suffix == ".jsonl":
        rows = [json.loads(line) for line in original.read_text(encoding="utf-8").splitlines() if line.strip()]
        private.write_text("".join(json.dumps({**row, "text": SECRET}) + "\n" for row in rows), encoding="utf-8")
    else:
        private.write_text(original.read_text(encoding="utf-8"), encoding="utf-8")
    return private


def refused(done: subprocess.CompletedProcess, link: Path) -> bool:
    return (done.returncode == 2 and "Traceback" not in done.stderr and "outside the dataset folder" in done.stderr
            and str(link) in done.stderr and SECRET not in done.stdout + done.stderr)


@pytest.mark.parametrize("linked", ["corpus.jsonl", "queries.jsonl", "qrels/test.tsv"])
def test_a_beir_file_linked_outside_the_folder_is_refused(tmp_path, linked):
    folder = copy("rt-reviews-plots", tmp_path / "downloaded")
    private = outside_file(tmp_path, folder / linked)
    (folder / linked).unlink()
    (folder / linked).symlink_to(private)
    assert refused(show(folder), folder / linked)


def test_a_qrels_folder_linked_outside_is_refused(tmp_path):
    folder = copy("rt-reviews-plots", tmp_path / "downloaded")
    shutil.move(str(folder / "qrels"), str(tmp_path / "elsewhere"))
    (folder / "qrels").symlink_to(tmp_path / "elsewhere")
    assert refused(show(folder), folder / "qrels" / "test.tsv")


def test_a_table_linked_outside_the_folder_is_refused(tmp_path):
    folder = copy("lee-sts", tmp_path / "downloaded")
    private = outside_file(tmp_path, folder / "pairs.tsv")
    (folder / "pairs.tsv").unlink()
    (folder / "pairs.tsv").symlink_to(private)
    assert refused(show(folder), folder / "pairs.tsv")


def test_a_link_to_a_file_inside_the_folder_is_read(tmp_path):
    folder = copy("rt-reviews-plots", tmp_path / "downloaded")
    (folder / "data").mkdir()
    (folder / "corpus.jsonl").rename(folder / "data" / "corpus.jsonl")
    (folder / "corpus.jsonl").symlink_to(Path("data") / "corpus.jsonl")
    done = show(folder)
    assert done.returncode == 0, done.stderr


def test_a_document_linked_outside_a_text_folder_is_refused(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.txt").write_text("A plain document about movies.\n", encoding="utf-8")
    private = tmp_path / "private.txt"
    private.write_text(SECRET + "\n", encoding="utf-8")
    (folder / "b.txt").symlink_to(private)
    assert refused(show(folder), folder / "b.txt")
