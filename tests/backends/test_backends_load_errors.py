"""A model that cannot load is one line naming it and the reason, never a traceback: through the real commands
(evaluate, measure, serve: exit code 2) and in a sweep (advisor run), where its cells are recorded failed with
that line while the other model's cells are computed. The broken models are the real all-MiniLM-L6-v2 folder
with its weights cut short, or with a config naming an architecture transformers does not know."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REASONS = {"corrupt-minilm": "SafetensorError", "alien-minilm": "no-such-architecture"}


@pytest.fixture(scope="module")
def broken(tmp_path_factory, minilm_dir) -> dict[str, Path]:
    """Two copies of the real MiniLM folder that cannot load, by folder name (the name --model gives them)."""
    root = tmp_path_factory.mktemp("broken")
    corrupt, alien = root / "corrupt-minilm", root / "alien-minilm"
    for folder in (corrupt, alien):
        shutil.copytree(minilm_dir, folder)
    weights = corrupt / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100_000])
    config = json.loads((alien / "config.json").read_text())
    (alien / "config.json").write_text(json.dumps({**config, "model_type": "no-such-architecture"}))
    return {"corrupt-minilm": corrupt, "alien-minilm": alien}


@pytest.fixture(scope="module")
def polarity_slice(tmp_path_factory, repo) -> Path:
    """40 labelled sentences of data/pang-lee-polarity (20 of each label): enough to evaluate, quick to encode."""
    rows = (repo / "data" / "pang-lee-polarity" / "polarity.tsv").read_text(encoding="utf-8").splitlines()
    header, body = rows[0], rows[1:]
    folder = tmp_path_factory.mktemp("polarity-slice")
    picked = [r for r in body if r.endswith("\tneg")][:20] + [r for r in body if r.endswith("\tpos")][:20]
    (folder / "polarity.tsv").write_text("\n".join([header, *picked]) + "\n", encoding="utf-8")
    return folder


@pytest.mark.parametrize("command, model", [("evaluate", "corrupt-minilm"), ("measure", "alien-minilm"),
                                            ("serve", "corrupt-minilm"), ("serve", "alien-minilm")])
def test_a_model_that_cannot_load_is_one_line_naming_it(command, model, broken, polarity_slice, advisor_cli):
    args = {"evaluate": ["--dataset", str(polarity_slice), "--resamples", "0"],
            "measure": ["--dataset", str(polarity_slice), "--docs", "4", "--queries", "2", "--no-load",
                        "--no-memory"],
            "serve": ["--port", "0"]}[command]
    proc = advisor_cli(command, "--model", str(broken[model]), *args, timeout=120)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"advisor: error: cannot load {model} ") and REASONS[model] in lines[0]


def test_a_sweep_records_the_failed_load_in_one_line_and_goes_on(broken, polarity_slice, tmp_path, advisor_cli):
    """The broken model's cells fail with the load's one line; all-mpnet-base-v2 (no SDPA in transformers 5.x)
    loads with the attention its architecture supports and its cells are computed and record it."""
    from transformers import MPNetModel

    from advisor.sweep.store import ResultStore

    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(f"""\
models:
  - name: corrupt-minilm
    source: path:{broken['corrupt-minilm']}
    backend: torch
    license: Apache-2.0
    languages: [eng-Latn]
    embed_dim: 384
""")
    policy = tmp_path / "policy.yaml"
    policy.write_text("name: load-errors\nbaselines: []\nvariants:\n  dims: [full]\n  vector_precisions: [float32]\n")
    store = tmp_path / "results.sqlite"
    proc = advisor_cli("run", "--catalog", str(catalog), "--catalog", "offline", "--policy", str(policy),
                       "--dataset", str(polarity_slice), "--model", "corrupt-minilm", "--model", "all-mpnet-base-v2",
                       "--no-cost", "--store", str(store), "--json", timeout=600)
    assert proc.returncode == 1, proc.stderr[-2000:]  # some cells failed; the sweep finished
    assert "Traceback" not in proc.stderr + proc.stdout
    summary = json.loads(proc.stdout)
    assert summary["status"] == "finished" and summary["failed"] >= 1
    results = ResultStore(store)
    try:
        failed, computed = results.results(model="corrupt-minilm"), results.results(model="all-mpnet-base-v2")
    finally:
        results.close()
    assert failed and all(c.status == "failed" for c in failed)
    for cell in failed:
        assert "\n" not in cell.error and "cannot load corrupt-minilm" in cell.error and "SafetensorError" in cell.error
    assert computed and all(c.status == "ok" for c in computed)
    expected = "sdpa" if MPNetModel._supports_sdpa else "eager"
    assert {c.details["runtime"]["attn_implementation"] for c in computed} == {expected}
