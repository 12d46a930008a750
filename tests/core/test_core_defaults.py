"""'Default' means one thing: with no --catalog, every command, the TUI and a --model name read the shipped catalogs
of advisor.config.shipped.DEFAULT_CATALOGS (offline) and say so; with no --policy they apply the permissive policy,
named so, never the shipped policy called 'default'. The shipped templates load and explain every field, and the
commands that print them and list the shipped policies work from the real command tree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from advisor.cli import cli
from advisor.config.shipped import (DEFAULT_CATALOGS, NO_POLICY, shipped_catalog_files, shipped_dir, shipped_file,
                                    shipped_names)
from advisor.config.yamlfile import load_yaml
from advisor.errors import UserError
from advisor.inputs import read_catalogs, read_policy
from advisor.models.catalog import ENTRY_FIELDS, PAIR_FIELDS, default_catalog_paths, load_catalog
from advisor.models.resolve import resolve_model
from advisor.policy.screening import screen_catalog
from advisor.policy.spec import (COSTS_FIELDS, DATA_FIELDS, DEFAULT_QUALITY_METRICS, LIMIT_FIELDS,
                                 RANKING_WEIGHT_NAMES, TOP_FIELDS, Policy, load_policy, permissive_policy)

REPO = Path(__file__).resolve().parents[2]
OFFLINE = REPO / "advisor" / "shipped" / "catalogs" / "offline.yaml"


def _offline_names() -> set[str]:
    """The entry names written in the offline catalog file, read as plain YAML (not through the advisor's loader)."""
    import yaml

    return {m["name"] for m in yaml.safe_load(OFFLINE.read_text(encoding="utf-8"))["models"]}


def test_the_default_catalogs_are_the_shipped_offline_file():
    assert DEFAULT_CATALOGS == ("offline",)
    assert default_catalog_paths() == [OFFLINE]


def test_no_catalog_means_the_same_catalog_for_commands_screening_and_model_names():
    paths, entries = read_catalogs(())
    assert paths == [OFFLINE] and {e.name for e in entries} == _offline_names()
    assert {row.entry.name for row in screen_catalog([], None)} == _offline_names()
    for name in _offline_names():
        assert resolve_model(name).catalog == str(OFFLINE)


def test_a_name_only_another_shipped_catalog_has_says_the_catalog_that_brings_it_in():
    with pytest.raises(UserError) as info:
        resolve_model("bge-small-en-v1.5")
    message = str(info.value)
    assert "offline (shipped)" in message and "add --catalog hub" in message
    assert resolve_model("bge-small-en-v1.5", ["hub"]).source == "hub:BAAI/bge-small-en-v1.5"


def test_every_shipped_catalog_is_known_but_not_in_force():
    assert [p.stem for p in shipped_catalog_files()] == sorted(p.stem for p in shipped_dir("catalog").glob("*.yaml"))
    assert set(DEFAULT_CATALOGS) < {p.stem for p in shipped_catalog_files()}


def test_no_policy_is_the_permissive_policy_named_so_not_the_shipped_default():
    shipped_default = load_policy("default")
    assert read_policy(None) == permissive_policy() == Policy(name=NO_POLICY)
    assert read_policy(None).name == "permissive" != shipped_default.name
    assert shipped_default.commercial_use and not read_policy(None).commercial_use


def test_catalog_list_says_which_catalogs_and_policy_are_in_force():
    runner = CliRunner()
    plain = runner.invoke(cli, ["catalog", "list"])
    assert plain.exit_code == 0, plain.output
    assert plain.stderr.splitlines()[0] == ("catalogs: offline (shipped) · policy: none (permissive: no remote code, "
                                            "no pickle weights, no hosted model)")
    named = runner.invoke(cli, ["catalog", "list", "--catalog", "hub", "--catalog", str(OFFLINE), "--policy",
                                "default", "--json"])
    assert named.exit_code == 0, named.output
    assert named.stderr.splitlines()[0] == "catalogs: hub, offline (shipped) · policy: default (shipped policy)"
    assert named.stdout.lstrip().startswith("[")  # the line goes to stderr: --json output stays JSON


def test_the_policy_template_loads_and_sets_every_field():
    path = shipped_file("template", "policy")
    policy = load_policy(path)
    assert policy.name == "my-policy"
    data = load_yaml(path)
    fix = f"advisor/shipped/templates/{path.name} shows every field a policy takes, each with a comment: add or remove"
    assert set(data) == set(TOP_FIELDS), f"{fix} {sorted(set(TOP_FIELDS) ^ set(data))}"
    sections = {"limits": LIMIT_FIELDS, "costs": COSTS_FIELDS, "data": DATA_FIELDS,
                "licenses": ("commercial_use", "allow", "deny", "training_data_commercial"),
                "languages": ("require",), "domains": ("allow", "deny"), "ranking": ("weights", "quality_metrics"),
                "variants": ("devices", "runtimes", "weight_precisions", "dims", "vector_precisions",
                             "trained_dims_only", "rescore_multiplier", "indexes", "hybrid", "chunking")}
    for section, fields in sections.items():
        assert set(data[section]) == set(fields), f"{fix} {section}: {sorted(set(fields) ^ set(data[section]))}"
    assert set(data["ranking"]["weights"]) == set(RANKING_WEIGHT_NAMES)
    assert set(data["ranking"]["quality_metrics"]) == set(DEFAULT_QUALITY_METRICS)


@pytest.mark.parametrize("kind", ["policy", "catalog"])
def test_every_value_a_template_sets_carries_its_comment(kind):
    setting = re.compile(r"^\s*(?:- )?([a-z_]+):\s*(\S.*)$")
    quality_metric_lines = set(DEFAULT_QUALITY_METRICS)  # under 'quality_metrics:', whose comment says what they are
    explained: set[str] = set()
    for number, line in enumerate(shipped_file("template", kind).read_text(encoding="utf-8").splitlines(), 1):
        match = setting.match(line)
        if line.lstrip().startswith("#") or not match or match.group(2) == ">-" or match.group(1) in \
                quality_metric_lines | explained:
            continue
        assert "#" in line, f"{kind} template line {number} sets {match.group(1)} without saying what it is"
        explained.add(match.group(1))  # a field is explained once, where it first appears


def test_the_catalog_template_loads_and_shows_every_entry_field():
    path = shipped_file("template", "catalog")
    entries = {e.name: e for e in load_catalog(path)}
    assert set(entries) == {"my-hub-model", "my-local-model", "my-local-model+my-hub-model"}
    models = load_yaml(path)["models"]
    full = next(m for m in models if m["name"] == "my-hub-model")
    pair = next(m for m in models if "query_model" in m)
    fix = f"advisor/shipped/templates/{path.name} shows every field of an entry, each with a comment: add or remove"
    assert set(full) == set(ENTRY_FIELDS), f"{fix} {sorted(set(ENTRY_FIELDS) ^ set(full))}"
    assert set(pair) == set(PAIR_FIELDS), f"{fix} (pair entry) {sorted(set(PAIR_FIELDS) ^ set(pair))}"
    assert entries["my-local-model+my-hub-model"].backend == "pair"


@pytest.mark.parametrize("kind", ["catalog", "policy"])
def test_the_template_command_prints_or_writes_the_shipped_template(kind, tmp_path):
    shipped = shipped_file("template", kind).read_text(encoding="utf-8")
    runner = CliRunner()
    printed = runner.invoke(cli, [kind, "template"])
    assert printed.exit_code == 0 and printed.stdout == shipped
    out = tmp_path / "mine" / f"my-{kind}.yaml"
    written = runner.invoke(cli, [kind, "template", "--out-file", str(out)])
    assert written.exit_code == 0, written.output
    assert out.read_text(encoding="utf-8") == shipped
    (load_policy if kind == "policy" else load_catalog)(out)  # a copy loads where the user put it


def test_policy_list_names_every_shipped_policy_with_its_description():
    result = CliRunner().invoke(cli, ["policy", "list", "--json"])
    assert result.exit_code == 0, result.output
    import json

    rows = json.loads(result.stdout)
    assert [r["name"] for r in rows] == shipped_names("policy") == sorted(p.stem for p in
                                                                          shipped_dir("policy").glob("*.yaml"))
    default = next(r for r in rows if r["name"] == "default")
    assert default["description"] == load_yaml(shipped_file("policy", "default"))["description"]
