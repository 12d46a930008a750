"""``--allow-network`` grants what a policy's ``network: true`` does: a hosted candidate whose base URL is off this
machine is refused without it (the reason names both switches) and planned with it; ``data.stay_on_machine``
still wins. Only ``advisor run --dry-run`` is used, so nothing is sent anywhere."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from advisor.cli import cli

HOSTED = "remote-embedder"


def _inputs(tmp_path: Path, policy: str) -> list[str]:
    catalog = tmp_path / "hosted.yaml"
    catalog.write_text(f"""models:
  - name: {HOSTED}
    source: builtin:openai
    backend: openai
    license: LicenseRef-Proprietary
    languages: [eng-Latn]
    embed_dim: 256
    price_per_million_tokens: 0.02
    options:
      base_url: https://embeddings.example.com/v1
      model: text-embedding-3-small
""", encoding="utf-8")
    (tmp_path / "policy.yaml").write_text(f"name: p\nbaselines: []\n{policy}", encoding="utf-8")
    repo = Path(__file__).resolve().parents[2]
    return ["run", "--catalog", str(catalog), "--policy", str(tmp_path / "policy.yaml"), "--dataset",
            str(repo / "data" / "rt-reviews-plots"), "--store", str(tmp_path / "none.sqlite"), "--dry-run", "--json"]


def _planned(result) -> list[str]:
    assert result.exit_code == 0, result.output
    return [g["model"] for g in json.loads(result.stdout)["groups"]]


def _refusal(result) -> str:
    """The one-line error of a sweep whose only candidate the policy refused."""
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("advisor: error: no model in the catalogs passes the policy") and HOSTED in line
    return line


def test_an_off_machine_candidate_is_refused_without_allow_network(tmp_path):
    line = _refusal(CliRunner().invoke(cli, _inputs(tmp_path, "")))
    assert "https://embeddings.example.com/v1" in line
    assert "'network: true' in the policy" in line and "--allow-network" in line


def test_allow_network_plans_the_off_machine_candidate(tmp_path):
    result = CliRunner().invoke(cli, [*_inputs(tmp_path, ""), "--allow-network"])
    assert _planned(result) == [HOSTED]
    assert f"rejected {HOSTED}" not in result.stderr
    assert not (tmp_path / "none.sqlite").exists()  # a dry run: no store, no request


def test_stay_on_machine_wins_over_allow_network(tmp_path):
    line = _refusal(CliRunner().invoke(cli, [*_inputs(tmp_path, "data:\n  stay_on_machine: true\n"),
                                             "--allow-network"]))
    assert "data.stay_on_machine: true" in line and "--allow-network" in line
