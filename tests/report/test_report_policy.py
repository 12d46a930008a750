"""Policy files and rules: the shipped policies load, ISO 639-1 codes map, unsafe or uncleared models are rejected
with a reason a person can act on, and limits on measured figures hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from advisor.models.catalog import ModelEntry, load_catalog
from advisor.errors import ConfigError
from advisor.policy.spec import load_policy
from advisor.policy.rules import check_measured, check_metadata

POLICIES = Path(__file__).resolve().parents[2] / "advisor/shipped/policies"


def entry(**kw) -> ModelEntry:
    base = dict(name="m", source="path:/nowhere", backend="torch", embed_dim=384, license="Apache-2.0",
                languages=("eng-Latn",))
    base.update(kw)
    return ModelEntry(**base)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["default", "commercial-english-rag-cpu", "multilingual-european-search",
                                  "gpu-latency-budget"])
def test_shipped_policies_load(name):
    policy = load_policy(POLICIES / f"{name}.yaml")
    assert policy.name == name
    assert policy.commercial_use
    assert not policy.allow_remote_code and not policy.allow_pickle_weights


def test_shipped_policy_contents():
    euro = load_policy(POLICIES / "multilingual-european-search.yaml")
    assert {"deu-Latn", "fra-Latn", "spa-Latn", "ita-Latn"} <= set(euro.required_languages)
    gpu = load_policy(POLICIES / "gpu-latency-budget.yaml")
    assert gpu.variants.devices == ("cuda",) and gpu.limits.max_p95_latency_ms == 15
    default = load_policy(POLICIES / "default.yaml")
    assert default.variants.devices == ("cpu",) and default.variants.weight_precisions == ("fp32",)


def test_the_quick_start_policy_measures_bm25_and_its_rules_let_it_through():
    pytest.importorskip("bm25s")
    from advisor.index.bm25 import bm25_entry

    default = load_policy(POLICIES / "default.yaml")
    assert default.baselines == ("bm25",)
    assert check_metadata(bm25_entry(), default) == []  # MIT, English: ranked beside the models, not rejected


def test_iso_639_1_codes_are_mapped(tmp_path):
    policy = load_policy(write(tmp_path, "languages:\n  require: [de, fr, eng-Latn]\n"))
    assert policy.required_languages == ("deu-Latn", "fra-Latn", "eng-Latn")


def test_bad_language_code_names_file_field_and_line(tmp_path):
    path = write(tmp_path, "name: x\nlanguages:\n  require: [de, qq]\n")
    with pytest.raises(ConfigError) as err:
        load_policy(path)
    message = str(err.value)
    assert str(path) in message and "require" in message and ":3" in message and "qq" in message


def test_unknown_field_is_rejected(tmp_path):
    with pytest.raises(ConfigError, match="max_latency.*unknown field"):
        load_policy(write(tmp_path, "limits:\n  max_latency: 5\n"))


def test_unknown_licence_rejected_for_commercial_use(tmp_path):
    policy = load_policy(write(tmp_path, "licenses:\n  commercial_use: true\n"))
    rules = {r.rule: r.reason for r in check_metadata(entry(license="unknown"), policy)}
    assert "licenses.commercial_use" in rules and "unknown" in rules["licenses.commercial_use"]
    assert check_metadata(entry(license="Apache-2.0"), policy) == []
    nc = check_metadata(entry(license="CC-BY-NC-4.0"), policy)
    assert [r.rule for r in nc] == ["licenses.commercial_use"]
    # The same unknown licence is fine when the use is not commercial.
    assert check_metadata(entry(license="unknown"), load_policy(write(tmp_path, "name: research\n"))) == []


def test_allow_and_deny_lists(tmp_path):
    policy = load_policy(write(tmp_path, "licenses:\n  allow: [MIT]\n  deny: [GPL-3.0-only]\n"))
    assert [r.rule for r in check_metadata(entry(license="Apache-2.0"), policy)] == ["licenses.allow"]
    assert [r.rule for r in check_metadata(entry(license="GPL-3.0-only"), policy)] == ["licenses.deny"]
    assert check_metadata(entry(license="MIT"), policy) == []


def test_remote_code_and_pickle_weights_rejected_by_default(tmp_path):
    policy = load_policy(write(tmp_path, "name: p\n"))
    rules = [r.rule for r in check_metadata(entry(trust_remote_code=True, weights_format="pickle"), policy)]
    assert rules == ["remote_code", "pickle_weights"]
    relaxed = load_policy(write(tmp_path, "remote_code: true\npickle_weights: true\n"))
    assert check_metadata(entry(trust_remote_code=True, weights_format="pickle"), relaxed) == []


def test_required_languages_all_covered(tmp_path):
    policy = load_policy(write(tmp_path, "languages:\n  require: [en, de]\n"))
    reasons = check_metadata(entry(languages=("eng-Latn",)), policy)
    assert [r.rule for r in reasons] == ["languages.require"] and "deu-Latn" in reasons[0].reason
    assert check_metadata(entry(languages=("eng-Latn", "deu-Latn", "fra-Latn")), policy) == []


def test_limits_on_measured_figures(tmp_path):
    policy = load_policy(write(tmp_path, """
limits:
  max_p95_latency_ms: 20
  min_throughput_docs_per_s: 100
  max_peak_memory_mb: 500
  max_bytes_per_vector: 512
  min_quality:
    - {task: reviews, metric: ndcg_at_10, min: 0.5}
"""))
    ok = {"latency_p95_ms": 19.9, "docs_per_s": 100.0, "serving_memory_mb": 500.0, "bytes_per_vector": 512}
    assert check_measured(policy, ok, quality={"reviews": {"ndcg_at_10": 0.5}}) == ([], [])
    bad = {"latency_p95_ms": 20.1, "docs_per_s": 99.0, "serving_memory_mb": 501.0, "bytes_per_vector": 1536}
    rules = [r.rule for r in check_measured(policy, bad, quality={"reviews": {"ndcg_at_10": 0.499}})[0]]
    assert rules == ["limits.max_p95_latency_ms", "limits.min_throughput_docs_per_s", "limits.max_peak_memory_mb",
                     "limits.max_bytes_per_vector", "limits.min_quality"]
    floor, _ = check_measured(policy, ok, quality={"reviews": {"ndcg_at_10": 0.41}})
    assert floor[0].reason == "below the quality floor on reviews: ndcg_at_10 0.4100 < 0.5"
    # A limit whose figure was never measured cannot be shown to hold.
    unmeasured, _ = check_measured(policy, {"bytes_per_vector": 64}, quality={})
    assert [r.rule for r in unmeasured] == ["limits.max_p95_latency_ms", "limits.min_throughput_docs_per_s",
                                            "limits.max_peak_memory_mb"]
    assert all("not measured" in r.reason for r in unmeasured)


def test_policy_with_limits_replaces_limits_and_weights_without_a_file():
    from advisor.policy.spec import policy_with_limits

    base = load_policy(POLICIES / "default.yaml")
    edited = policy_with_limits(base, {"max_p95_latency_ms": None, "max_bytes_per_vector": 600}, {"latency": 0.5})
    assert edited.limits.max_p95_latency_ms is None and edited.limits.max_bytes_per_vector == 600
    assert edited.ranking.weights == {**base.ranking.weights, "latency": 0.5}
    assert edited.variants == base.variants and edited.file is None and edited.name == base.name


def test_policy_with_limits_checks_values_as_a_policy_file_would():
    from advisor.policy.spec import policy_with_limits

    base = load_policy(POLICIES / "default.yaml")
    with pytest.raises(ConfigError, match="ranking.weights.*memory.*>= 0"):
        policy_with_limits(base, weights={"memory": -1})
    with pytest.raises(ConfigError, match="max_latency.*unknown field"):
        policy_with_limits(base, {"max_latency": 10})


def test_offline_catalog_under_shipped_policies(repo):
    """The shipped catalog judged by the shipped policies: the model without a stated licence is out for
    commercial use, English-only models are out when German is required, and the reasons say why."""
    entries = {e.name: e for e in load_catalog(repo / "advisor/shipped/catalogs" / "offline.yaml")}
    default = load_policy(POLICIES / "default.yaml")
    verdicts = {name: check_metadata(e, default) for name, e in entries.items()}
    assert [r.rule for r in verdicts["tokenlearn-static-64"]] == ["licenses.commercial_use"]
    assert "no stated licence" in verdicts["tokenlearn-static-64"][0].reason
    assert verdicts["all-MiniLM-L6-v2"] == [] and verdicts["wordllama-l2-supercat-256"] == []

    euro = load_policy(POLICIES / "multilingual-european-search.yaml")
    minilm = check_metadata(entries["all-MiniLM-L6-v2"], euro)
    assert [r.rule for r in minilm] == ["languages.require"]
    assert "deu-Latn" in minilm[0].reason and "covers eng-Latn" in minilm[0].reason
    assert check_metadata(entries["multilingual-e5-small-q4"], euro) == []
    assert check_metadata(entries["use-multilingual-v3"], euro) == []
