"""The planner on real catalogs and policies: groups per model load, every invalid variant dropped with its reason,
untrained truncations flagged, fingerprints unique and stable, specs picklable."""

from __future__ import annotations

import pickle

import pytest

from advisor.models.catalog import load_catalog, load_catalogs
from advisor.sweep.planner import UNTRAINED, build_plan, model_loads, plan_sweep
from advisor.policy.spec import load_policy
from advisor.datasets.tasks import load_task

from .conftest import grid_policy, hashing_catalog


def test_groups_cells_and_skips(tmp_path, hashing_plugin, retrieval_dir, repo):
    entries = load_catalog(hashing_catalog(tmp_path / "c.yaml", [256, 512], {512: [128]}))
    policy = load_policy(grid_policy(tmp_path / "p.yaml", dims="[full, 512, 384, 128, 64]",
                                     extra="  weight_precisions: [fp32, int8]\n  devices: [cpu, cuda]\n"))
    task = load_task(retrieval_dir)
    plan = build_plan(entries, policy, [task])
    # hashing runs fp32 on cpu only: one group (one load) per model
    assert [(g.entry.name, g.device, g.weight_precision) for g in plan.groups] == [
        ("hash-256", "cpu", "fp32"), ("hash-512", "cpu", "fp32")]
    skipped = {(s.model, s.variant): s.reason for s in plan.skipped}
    assert "larger than the model's output size 256" in skipped[("hash-256", "dim=512")]
    assert "larger than the model's output size 256" in skipped[("hash-256", "dim=384")]
    assert "does not support int8" in skipped[("hash-256", "cpu/int8")]
    assert "runs on cpu only, not cuda" in skipped[("hash-512", "cuda/fp32")]
    g256, g512 = plan.groups
    # dim 512 on the 512 model is its full size: one cell set, not two
    assert sorted({c.key.dim or 0 for c in g512.tasks[0].quality}) == [0, 64, 128, 384]
    assert len(g512.tasks[0].quality) == 4 * 3 and g512.tasks[0].cost is not None
    flags = {c.key.dim: c.flags for c in g512.tasks[0].quality}
    assert flags[None] == () and flags[128] == () and flags[384] == (UNTRAINED,) and flags[64] == (UNTRAINED,)
    fingerprints = [c.fingerprint for c in plan.cells]
    assert len(fingerprints) == len(set(fingerprints)) == (3 * 3 + 1) + (4 * 3 + 1)
    again = build_plan(entries, policy, [task])
    assert [c.fingerprint for c in again.cells] == fingerprints
    assert all(c.key.task_hash == task.content_hash for c in plan.cells)
    back = pickle.loads(pickle.dumps(plan.groups))
    assert [c.fingerprint for g in back for c in g.cells] == fingerprints


def test_trained_dims_only_and_no_cost(tmp_path, hashing_plugin, retrieval_dir):
    entries = load_catalog(hashing_catalog(tmp_path / "c.yaml", [512], {512: [256, 128]}))
    policy = load_policy(grid_policy(tmp_path / "p.yaml", dims="[full, 256, 100]",
                                     extra="  trained_dims_only: true\n"))
    plan = build_plan(entries, policy, [load_task(retrieval_dir)], measure_cost=False)
    assert {c.key.dim for c in plan.cells} == {None, 256}
    assert all(c.key.kind == "quality" for c in plan.cells)
    assert "trained_dims_only" in plan.skipped[0].reason and plan.skipped[0].variant == "dim=100"


def test_torch_backend_reasons_and_fixed_precision(tmp_path, repo, retrieval_dir):
    entries = [e for e in load_catalogs([repo / "advisor/shipped/catalogs" / "offline.yaml"])
               if e.name in ("all-MiniLM-L6-v2", "all-MiniLM-L6-v2-onnx-int8")]
    if len(entries) < 2 or entries[1].weight_precision != "int8":
        pytest.skip("offline catalog without the MiniLM torch and ONNX int8 entries")
    policy = load_policy(grid_policy(tmp_path / "p.yaml", extra="  weight_precisions: [fp32, fp16, int8]\n"))
    from advisor.plugins import registered

    if "onnx" not in registered("backends"):
        entries = entries[:1]
    plan = build_plan(entries, policy, [load_task(retrieval_dir)])
    groups = {(g.entry.name, g.weight_precision) for g in plan.groups}
    # fp16 on a CPU is a variant like any other: whether it is fast is for the measurement to say
    assert {("all-MiniLM-L6-v2", wp) for wp in ("fp32", "fp16", "int8")} <= groups
    if len(entries) == 2:  # a model that ships int8 weights runs at int8 only, whatever the grid says
        assert {wp for name, wp in groups if name.endswith("onnx-int8")} == {"int8"}


def test_inputs_refuse_an_unknown_model_and_two_datasets_of_one_name(tmp_path, hashing_plugin, retrieval_dir):
    from advisor.errors import UserError
    from advisor.inputs import read_inputs

    catalog = hashing_catalog(tmp_path / "c.yaml", [128])
    with pytest.raises(UserError, match="nope"):
        read_inputs(catalogs=[catalog], datasets=[str(retrieval_dir)], models=["nope"])
    with pytest.raises(UserError, match="both named"):
        read_inputs(catalogs=[catalog], datasets=[str(retrieval_dir), str(retrieval_dir)])


def test_inputs_device_option_replaces_the_policy_devices(tmp_path, hashing_plugin):
    from advisor.inputs import read_inputs

    policy = grid_policy(tmp_path / "p.yaml", extra="  devices: [cpu]\n")
    inputs = read_inputs(catalogs=[hashing_catalog(tmp_path / "c.yaml", [128])], policy=policy, devices=["cuda"])
    assert inputs.policy.variants.devices == ("cuda",) and inputs.policy.name == load_policy(policy).name


def test_plan_sweep_plans_the_selected_models_of_the_inputs(tmp_path, hashing_plugin, retrieval_dir):
    from advisor.inputs import read_inputs

    catalog = hashing_catalog(tmp_path / "c.yaml", [128, 256])
    inputs = read_inputs(catalogs=[catalog], datasets=[str(retrieval_dir)], models=["hash-128"])
    plan = plan_sweep(inputs.entries, inputs.policy, inputs.tasks, task_refs=inputs.task_refs)
    # no policy given: the selected model, and BM25 beside it on the retrieval task (the default baseline)
    assert [g.entry.name for g in plan.groups] == ["hash-128", "bm25"]
    assert plan.tasks == inputs.task_refs and inputs.tasks[0].name == plan.tasks[0].name


def test_plan_sweep_needs_a_task_and_an_admitted_model(tmp_path, hashing_plugin, retrieval_dir):
    from dataclasses import replace

    from advisor.errors import UserError

    entries = load_catalog(hashing_catalog(tmp_path / "c.yaml", [128]))
    policy = load_policy(grid_policy(tmp_path / "p.yaml"))
    with pytest.raises(UserError, match="no dataset"):
        plan_sweep(entries, policy, [])
    chinese_only = replace(policy, required_languages=("zho-Hans",))
    with pytest.raises(UserError, match="passes the policy"):
        plan_sweep(entries, chinese_only, [load_task(retrieval_dir)])


def test_runtimes_in_the_grid_plan_onnx_beside_torch_and_say_why_a_precision_is_left_out(tmp_path, repo,
                                                                                           retrieval_dir):
    entries = [e for e in load_catalogs([repo / "advisor/shipped/catalogs" / "offline.yaml"]) if e.name == "all-MiniLM-L6-v2"]
    policy = load_policy(grid_policy(tmp_path / "p.yaml", extra="  runtimes: [torch, onnx]\n"
                                                                 "  weight_precisions: [fp32, bf16, int8]\n"))
    plan = build_plan(entries, policy, [load_task(retrieval_dir)])
    loads = {(g.runtime, g.weight_precision) for g in plan.groups}
    assert loads == {(None, "fp32"), (None, "bf16"), (None, "int8"), ("onnx", "fp32"), ("onnx", "int8")}
    [skip] = [s for s in plan.skipped if "onnx" in s.variant]
    assert skip.variant == "cpu/onnx:bf16" and "does not run bf16" in skip.reason
    onnx_cells = [c for g in plan.groups if g.runtime == "onnx" for c in g.cells]
    assert all(c.key.runtime == "onnx" for c in onnx_cells)
    plain = [c for g in plan.groups if g.runtime is None for c in g.cells]
    # cells of the backend's own runtime keep the fingerprints they had before runtimes existed
    assert all(c.key.runtime == "" for c in plain)


def test_a_policy_without_baselines_plans_bm25_on_retrieval_tasks_only(tmp_path, hashing_plugin, retrieval_dir,
                                                                       repo):
    entries = load_catalog(hashing_catalog(tmp_path / "c.yaml", [128]))
    policy = load_policy(grid_policy(tmp_path / "p.yaml", baselines=None))
    assert policy.baselines == ("bm25",)
    retrieval, sts = load_task(retrieval_dir), load_task(repo / "data" / "lee-sts")
    assert (retrieval.type, sts.type) == ("retrieval", "sts")
    plan = build_plan(entries, policy, [retrieval, sts])
    bm25 = [c for c in plan.cells if c.key.model == "bm25"]
    assert sorted((c.key.kind, c.key.task) for c in bm25) == [("cost", retrieval.name), ("quality", retrieval.name)]
    # the model itself is planned on both tasks, as without BM25; BM25's group loads no model
    assert {c.key.task for c in plan.cells if c.key.model == "hash-128"} == {retrieval.name, sts.name}
    assert len(plan.groups) == 2 and model_loads(plan.groups) == 1


def test_a_policy_without_baselines_plans_no_bm25_when_every_task_is_sts(tmp_path, hashing_plugin, repo):
    entries = load_catalog(hashing_catalog(tmp_path / "c.yaml", [128]))
    policy = load_policy(grid_policy(tmp_path / "p.yaml", baselines=None))
    plan = build_plan(entries, policy, [load_task(repo / "data" / "lee-sts")])
    assert [g.entry.name for g in plan.groups] == ["hash-128"]


def test_baselines_empty_plans_no_bm25(tmp_path, hashing_plugin, retrieval_dir):
    entries = load_catalog(hashing_catalog(tmp_path / "c.yaml", [128]))
    task = load_task(retrieval_dir)
    for line in ("[]", ""):  # ``baselines: []`` and an empty ``baselines:`` both say none
        policy = load_policy(grid_policy(tmp_path / "p.yaml", baselines=line))
        assert policy.baselines == ()
        plan = build_plan(entries, policy, [task])
        assert [g.entry.name for g in plan.groups] == ["hash-128"]
        assert not [c for c in plan.cells if c.key.model == "bm25"]
