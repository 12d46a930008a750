"""Money in the ranking and the hosting rules: USD per million documents and per thousand queries from the stored
figures and the prices, money limits with their reasons, the shipped hosted catalog, and the policy rules that
screen hosted models out (no network allowed) or deny them (data stays on the machine)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from advisor.errors import ConfigError
from advisor.models.catalog import ModelEntry, load_catalog
from advisor.models.destination import off_machine
from advisor.policy.rules import check_metadata
from advisor.policy.screening import screen
from advisor.policy.spec import DEFAULT_MACHINE_USD_PER_HOUR, load_policy, permissive_policy
from advisor.ranking import rank

REPO = Path(__file__).resolve().parents[2]
HOSTED = REPO / "advisor/shipped/catalogs" / "hosted.yaml"


def _policy(tmp_path: Path, text: str):
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return load_policy(path)


def _hosted(name: str = "api-model", price: float | None = 0.02, url: str = "https://api.example.com/v1",
            **kw) -> ModelEntry:
    return ModelEntry(name=name, source="builtin:openai", backend="openai", embed_dim=384, license="Apache-2.0",
                      languages=("eng-Latn",), price_per_million_tokens=price, options={"base_url": url}, **kw)


def _billed(cells, model: str, *, per_doc: float, per_query: float, docs: float = 50.0):
    r = cells.cost(model, p95=40.0, docs=docs, mem=100.0)
    r.metrics.update(billed_tokens_per_doc=per_doc, billed_tokens_per_query=per_query)
    return r


def test_the_shipped_hosted_catalog_loads_with_sources_dates_and_prices():
    entries = load_catalog(HOSTED)
    names = {e.name for e in entries}
    assert {"openai/text-embedding-3-small", "openai/text-embedding-3-large", "gemini/gemini-embedding-001",
            "azure/text-embedding-3-small", "vertex/gemini-embedding-001"} <= names
    for e in entries:
        assert e.price_per_million_tokens is not None and e.price_per_million_tokens > 0
        assert e.max_tokens and e.matryoshka_dims and e.embed_dim in (1536, 3072)
        assert "https://" in e.notes and "2026-12-01" in e.notes and "check" in e.notes
        assert "not checked live" in e.notes  # no claim of a check that was not made
        assert off_machine(e) is not None


def test_hosted_models_are_screened_out_unless_the_policy_allows_network(tmp_path):
    entries = load_catalog(HOSTED)
    closed = screen(entries, permissive_policy())
    assert all(s.rejections[0].rule == "network" for s in closed)
    assert "off this machine" in closed[0].rejections[0].reason and "network: true" in closed[0].rejections[0].reason
    opened = screen(entries, _policy(tmp_path, "name: open\nnetwork: true\n"))
    assert all(s.admitted for s in opened)


def test_stay_on_machine_denies_hosted_models_even_with_network(tmp_path):
    policy = _policy(tmp_path, "name: private\nnetwork: true\ndata: {stay_on_machine: true}\n")
    rejections = check_metadata(_hosted(), policy)
    assert [r.rule for r in rejections] == ["data.stay_on_machine"]
    assert "https://api.example.com/v1" in rejections[0].reason
    assert policy.load_grants()["allow_network"] is False


def test_a_server_on_this_machine_is_not_hosted_unless_marked():
    local = _hosted(url="http://127.0.0.1:8080/v1")
    assert off_machine(local) is None and check_metadata(local, permissive_policy()) == []
    marked = replace(local, hosted=True)
    assert off_machine(marked) and check_metadata(marked, permissive_policy())[0].rule == "network"


@pytest.mark.parametrize("text, field", [
    ("name: p\ndata: {stay_on_machin: true}\n", "stay_on_machin"),
    ("name: p\ndata: {stay_on_machine: yes-please}\n", "stay_on_machine"),
    ("name: p\ncosts: {machine_usd_per_hour: -1}\n", "machine_usd_per_hour"),
    ("name: p\nlimits: {usd_per_million_docs: cheap}\n", "usd_per_million_docs"),
    ("name: p\nnetwork: sometimes\n", "network"),
])
def test_a_wrong_field_is_a_one_line_error_naming_it(tmp_path, text, field):
    with pytest.raises(ConfigError) as info:
        _policy(tmp_path, text)
    message = str(info.value)
    assert field in message and "\n" not in message and "policy.yaml:" in message


def test_a_wrong_field_on_the_command_line_is_one_line(tmp_path, advisor_cli):
    path = tmp_path / "bad.yaml"
    path.write_text("name: p\ndata: {stay_on_machin: true}\n", encoding="utf-8")
    proc = advisor_cli("catalog", "list", "--catalog", str(HOSTED), "--policy", str(path))
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "stay_on_machin" in proc.stderr


def test_per_token_money_is_tokens_times_the_price(cells, tmp_path):
    policy = _policy(tmp_path, "name: open\nnetwork: true\n")
    entries = [_hosted(price=0.13)]
    results = [cells.quality("api-model", cells.scores(0.6)), _billed(cells, "api-model", per_doc=250, per_query=12)]
    c = rank(results, entries, policy).candidates()[0]
    assert c.cost["usd_per_million_docs"] == pytest.approx(250 * 0.13)
    assert c.cost["usd_per_thousand_queries"] == pytest.approx(12 * 0.13 / 1000)
    assert c.money_basis["pricing"] == "per token" and "reported usage" in c.money_basis["usd_per_million_docs"]


def test_machine_money_uses_the_stated_or_the_default_price(cells, tmp_path):
    entries = [cells.entry("local")]
    results = [cells.quality("local", cells.scores(0.6)), cells.cost("local", p95=20.0, docs=400.0, mem=300.0)]
    default = rank(results, entries, permissive_policy()).candidates()[0]
    assert default.cost["usd_per_million_docs"] == pytest.approx(DEFAULT_MACHINE_USD_PER_HOUR / 3600 * 1e6 / 400)
    assert "the default" in default.money_basis["usd_per_million_docs"]
    stated = rank(results, entries, _policy(tmp_path, "name: p\ncosts: {machine_usd_per_hour: 2.5}\n"))
    c = stated.candidates()[0]
    assert c.cost["usd_per_million_docs"] == pytest.approx(2.5 / 3600 * 1e6 / 400)
    # queries: one at a time at the p50 latency (the fixture's p50 is p95 / 2 = 10 ms)
    assert c.cost["usd_per_thousand_queries"] == pytest.approx(2.5 / 3600 * 1000 * 10.0 / 1000)


def test_a_money_limit_rejects_the_costly_candidate_with_its_reason(cells, tmp_path):
    policy = _policy(tmp_path, "name: p\nnetwork: true\nlimits: {usd_per_million_docs: 10}\n")
    entries = [_hosted(price=0.13), cells.entry("local")]
    results = [cells.quality("api-model", cells.scores(0.7, seed=1)),
               _billed(cells, "api-model", per_doc=250, per_query=12),
               cells.quality("local", cells.scores(0.6)), cells.cost("local", p95=20.0, docs=400.0, mem=300.0)]
    rec = rank(results, entries, policy)
    by_model = {c.model: c for c in rec.candidates()}
    assert by_model["api-model"].status == "rejected"
    assert by_model["api-model"].rejections[0].rule == "limits.usd_per_million_docs"
    assert "money per million documents $32.5 is over the limit of $10" in by_model["api-model"].why
    assert by_model["local"].status == "recommended"
    assert rec.groups[0].near_misses[0].rule == "limits.usd_per_million_docs"


def test_money_in_the_score_can_change_the_recommendation(cells, tmp_path):
    entries = [_hosted(price=0.13), cells.entry("local")]
    results = [cells.quality("api-model", cells.scores(0.62, seed=1)),
               _billed(cells, "api-model", per_doc=250, per_query=12, docs=500.0),
               cells.quality("local", cells.scores(0.6)), cells.cost("local", p95=40.0, docs=400.0, mem=100.0)]
    plain = rank(results, entries, _policy(tmp_path, "name: p\nnetwork: true\n"))
    assert plain.recommended.model == "api-model"
    weighed = rank(results, entries, _policy(tmp_path, "name: p\nnetwork: true\nranking: {weights: {money: 2}}\n"))
    assert weighed.recommended.model == "local"


def test_a_hosted_candidate_denied_by_the_policy_says_why_in_the_ranking(cells, tmp_path):
    policy = _policy(tmp_path, "name: private\ndata: {stay_on_machine: true}\n")
    results = [cells.quality("api-model", cells.scores(0.7)), _billed(cells, "api-model", per_doc=250, per_query=12)]
    rec = rank(results, [_hosted()], policy)
    c = rec.candidates()[0]
    assert c.status == "rejected" and "rejected by rule data.stay_on_machine" in c.why
    assert "keeps all data on this machine" in rec.models[0].why
