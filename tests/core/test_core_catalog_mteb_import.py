"""`advisor catalog import-mteb` builds catalog entries from mteb's own model registry (offline), and the
training-data rules screen them: a model trained on data that may not be used commercially is rejected, naming the
data set; unknown provenance is said, and the policy decides whether it passes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from advisor.config.yamlfile import load_yaml
from advisor.errors import ConfigError
from advisor.config.shipped import shipped_catalog_files
from advisor.models.catalog import ModelEntry, load_catalog, load_catalogs
from advisor.policy.rules import check_metadata, metadata_notes
from advisor.policy.spec import Policy, load_policy

pytest.importorskip("mteb", reason="import-mteb reads mteb's model registry")

REPO = Path(__file__).resolve().parents[2]
COMMERCIAL = REPO / "advisor/shipped/policies" / "commercial-english-rag-cpu.yaml"


@pytest.fixture(scope="module")
def imported(tmp_path_factory, advisor_cli) -> Path:
    out = tmp_path_factory.mktemp("mteb") / "mteb.yaml"
    done = advisor_cli("catalog", "import-mteb", "--open-weights", "--max-params", "600M", "--out-file", str(out))
    assert done.returncode == 0, done.stderr
    assert f"entries to {out}" in done.stdout
    return out


def test_import_writes_at_least_a_hundred_entries_the_catalog_schema_loads(imported):
    entries = load_catalog(imported)
    assert len(entries) >= 100
    assert all(e.backend == "torch" and e.source == f"hub:{e.name}" for e in entries)
    assert all(e.n_parameters is not None and e.n_parameters <= 600_000_000 for e in entries)


def test_import_leaves_out_models_already_in_the_shipped_catalogs(imported):
    shipped = load_catalogs(shipped_catalog_files())
    hub_ids = {e.source_value.lower() for e in shipped if e.source_scheme == "hub"}
    names = {e.name.lower() for e in shipped}
    for e in load_catalog(imported):
        assert e.name.lower() not in hub_ids and e.name.split("/")[-1].lower() not in names


def test_fields_mteb_does_not_state_stay_unknown(imported):
    import mteb

    metas = {m.name: m for m in mteb.get_model_metas()}
    raw = {r["name"]: r for r in load_yaml(imported)["models"]}
    entries = load_catalog(imported)
    assert all(e.pooling is None and e.query_prompt == "" for e in entries)  # mteb does not state them
    unknown = [e for e in entries if metas[e.name].training_datasets is None]
    assert unknown and all(e.training_datasets is None and "training_datasets" not in raw[e.name] for e in unknown)
    known = next(e for e in entries if e.name == "sentence-transformers/all-MiniLM-L12-v2")
    assert "MSMARCO" in known.training_datasets
    assert known.training_data_licenses["MSMARCO"] == "LicenseRef-msr-la-nc"  # mteb's MSMARCO task metadata


def test_filters_keep_only_matching_names_and_licences(tmp_path, advisor_cli):
    out = tmp_path / "minilm.yaml"
    done = advisor_cli("catalog", "import-mteb", "--name-contains", "MiniLM", "--license", "apache-2.0",
                       "--languages", "eng-Latn", "--out-file", str(out), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    entries = load_catalog(out)
    assert summary["entries"] == len(entries) > 0
    assert all("minilm" in e.name.lower() and e.license == "Apache-2.0" and "eng-Latn" in e.languages
               for e in entries)


def test_a_bad_size_is_a_one_line_user_error(tmp_path, advisor_cli):
    done = advisor_cli("catalog", "import-mteb", "--max-params", "lots", "--out-file", str(tmp_path / "x.yaml"))
    assert done.returncode == 2 and "600M" in done.stderr and "Traceback" not in done.stderr


def test_commercial_policy_rejects_imported_models_by_licence_language_and_training_data(imported, advisor_cli):
    done = advisor_cli("catalog", "list", "--catalog", str(imported), "--policy", str(COMMERCIAL), "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert len(rows) >= 100
    rules = {r["rule"] for row in rows for r in row["rejections"]}
    assert {"licenses.allow", "languages.require", "licenses.training_data_commercial"} <= rules
    assert any(row["admitted"] for row in rows)
    text = advisor_cli("catalog", "list", "--catalog", str(imported), "--policy", str(COMMERCIAL)).stdout
    assert "rejected by licenses.training_data_commercial: trained on data that may not be used commercially" in text
    assert "note: licenses.training_data_commercial: training data unknown" in text


def _entry(**fields) -> ModelEntry:
    return ModelEntry(name="m", source="hub:org/m", backend="torch", embed_dim=8, license="MIT",
                      languages=("eng-Latn",), **fields)


def test_training_data_rule_names_the_noncommercial_data_set():
    policy = Policy(name="p", training_data_commercial=True)
    entry = _entry(training_datasets=("MSMARCO", "SQuAD"),
                   training_data_licenses={"MSMARCO": "LicenseRef-msr-la-nc", "SQuAD": "CC-BY-SA-4.0"})
    [rejection] = check_metadata(entry, policy)
    assert rejection.rule == "licenses.training_data_commercial" and "MSMARCO (LicenseRef-msr-la-nc)" in rejection.reason
    assert "SQuAD" not in rejection.reason


def test_unknown_training_data_passes_with_a_note_or_is_rejected_as_the_policy_says():
    entry = _entry()  # training_datasets None: unknown
    lenient = Policy(name="p", training_data_commercial=True)
    assert check_metadata(entry, lenient) == []
    assert "training data unknown" in metadata_notes(entry, lenient)[0]
    strict = Policy(name="p", training_data_commercial=True, unknown_training_data="reject")
    [rejection] = check_metadata(entry, strict)
    assert "unknown" in rejection.reason and "unknown_training_data: reject" in rejection.reason


def test_require_zero_shot_rejects_a_model_trained_on_the_task():
    policy = Policy(name="p", require_zero_shot=True)
    entry = _entry(training_datasets=("NQ",))
    [rejection] = check_metadata(entry, policy, tasks=["NQ"])
    assert rejection.rule == "require_zero_shot" and "NQ" in rejection.reason
    assert check_metadata(entry, policy, tasks=["SciFact"]) == []
    assert check_metadata(_entry(training_datasets=()), policy, tasks=["NQ"]) == []


def test_policy_file_reads_the_training_data_fields(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("licenses: {training_data_commercial: true}\nrequire_zero_shot: true\n"
                    "unknown_training_data: reject\n")
    policy = load_policy(path)
    assert policy.training_data_commercial and policy.require_zero_shot and policy.unknown_training_data == "reject"
    path.write_text("unknown_training_data: maybe\n")
    with pytest.raises(ConfigError, match="pass, reject"):
        load_policy(path)


def test_catalog_training_data_licences_must_name_listed_data_sets(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("models:\n  - {name: m, source: hub:o/m, backend: torch, embed_dim: 8, languages: [eng-Latn],\n"
                    "     training_datasets: [NQ], training_data_licenses: {MSMARCO: MIT}}\n")
    with pytest.raises(ConfigError, match="not in training_datasets"):
        load_catalog(path)
    path.write_text("models:\n  - {name: m, source: hub:o/m, backend: torch, embed_dim: 8, languages: [eng-Latn],\n"
                    "     training_datasets: [], training_data_licenses: {}}\n")
    assert load_catalog(path)[0].training_datasets == ()
