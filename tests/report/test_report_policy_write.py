"""``advisor.policy.spec.write_policy`` is the one policy writer (the TUI saves through it): what it writes,
``load_policy`` reads back as the same policy, for every shipped policy and for one that sets every section; a
setting at its default is left out of the file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from advisor.policy.spec import load_policy, permissive_policy, policy_to_dict, write_policy

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted((REPO / "advisor/shipped/policies").glob("*.yaml"))

EVERY_SECTION = """\
name: everything
description: Every section set away from its default.
licenses: {commercial_use: true, allow: [MIT, Apache-2.0], deny: [GPL-3.0-only], training_data_commercial: true}
languages: {require: [eng-Latn, deu-Latn]}
domains: {allow: [news], deny: [medical]}
remote_code: true
pickle_weights: true
require_zero_shot: true
unknown_training_data: reject
cell_timeout: 90
network: true
data: {stay_on_machine: true}
costs: {machine_usd_per_hour: 0.5, corpus_documents: 20000, load_server: subprocess}
baselines: []
limits:
  max_p95_latency_ms: 80
  min_throughput_docs_per_s: 5
  max_peak_memory_mb: 900
  max_bytes_per_vector: 512
  usd_per_million_docs: 3.5
  usd_per_thousand_queries: 0.25
  strict: true
  min_quality: [{task: rt-reviews-plots, metric: ndcg_at_10, min: 0.3}]
variants:
  devices: [cpu, cuda]
  runtimes: [torch, onnx]
  weight_precisions: [fp32, int8]
  dims: [full, 128]
  vector_precisions: [float32, binary]
  trained_dims_only: true
  rescore_multiplier: 4
  indexes: [{name: exact}, {name: faiss-hnsw, M: 16, ef_search: 64}]
  hybrid: [{rrf_k: 60}, {rrf_k: 10}]
  chunking: [none, {tokens: 128, overlap: 32, aggregate: mean}]
ranking:
  weights: {quality: 2, latency: 0, money: 0.5}
  quality_metrics: {retrieval: mrr_at_10, sts: cosine_pearson}
"""


def _same(written: Path, policy) -> bool:
    return replace(load_policy(written), file=None) == replace(policy, file=None)


@pytest.mark.parametrize("shipped", SHIPPED, ids=lambda p: p.name)
def test_a_shipped_policy_written_again_loads_as_the_same_policy(tmp_path, shipped):
    policy = load_policy(shipped)
    assert _same(write_policy(policy, tmp_path / "again.yaml"), policy)


def test_a_policy_setting_every_section_written_again_loads_as_the_same_policy(tmp_path):
    source = tmp_path / "everything.yaml"
    source.write_text(EVERY_SECTION, encoding="utf-8")
    policy = load_policy(source)
    assert policy.baselines == () and policy.variants.chunking[1] == "128:32:mean"  # the text was read as meant
    assert _same(write_policy(policy, tmp_path / "again" / "everything.yaml"), policy)


def test_settings_at_their_defaults_are_left_out():
    assert policy_to_dict(permissive_policy()) == {"name": "permissive"}


def test_the_header_is_written_as_comments(tmp_path):
    path = write_policy(permissive_policy(), tmp_path / "p.yaml", header="Saved by a test.")
    assert path.read_text(encoding="utf-8") == "# Saved by a test.\nname: permissive\n"
