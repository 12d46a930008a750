"""The plugin system: built-in plugins found through entry points, run-time plugins that are always unregistered,
third-party plugins that fail to import reported without taking the tool down, and ADVISOR_PLUGINS."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from advisor.models.backends import Backend, BackendCapabilities
from advisor.hookspecs import hookimpl
from advisor.plugins import plugin_infos, register_plugin, registered, unregister_plugin

BUILTIN = {"torch", "onnx", "static", "packaged", "datasets", "quality", "cost", "sweep", "report", "tui",
           "training"}


class NullBackend(Backend):
    name = "null-test"
    description = "returns zeros"
    capabilities = BackendCapabilities(devices=("cpu",), weight_precisions={"cpu": ("fp32",)}, can_truncate=False)

    def load(self, entry, *, device="cpu", weight_precision="fp32", allow_network=False):
        raise NotImplementedError


class FakePlugin:
    @hookimpl
    def register_backends(self, register):
        register(NullBackend())


@pytest.fixture
def fake_plugin():
    register_plugin(FakePlugin(), name="fake-test-plugin")
    try:
        yield "fake-test-plugin"
    finally:
        unregister_plugin("fake-test-plugin")


def test_builtin_plugins_are_found_through_entry_points():
    infos = {info.name: info for info in plugin_infos()}
    assert BUILTIN <= set(infos)
    assert all(infos[name].builtin and infos[name].distribution == "embedding-advisor" for name in BUILTIN)


def test_runtime_plugin_registers_and_is_removed_again(fake_plugin):
    assert "null-test" in registered("backends")
    info = {i.name: i for i in plugin_infos()}[fake_plugin]
    assert info.registers == {"backends": ["null-test"]}
    unregister_plugin(fake_plugin)
    assert "null-test" not in registered("backends")


def test_backend_says_why_it_cannot_run_a_variant(fake_plugin):
    from advisor.models.catalog import ModelEntry
    from advisor.models.variants import Variant

    backend = registered("backends")["null-test"]
    entry = ModelEntry(name="m", source="builtin:m", backend="null-test", embed_dim=64, languages=("eng-Latn",))
    assert "cpu" in backend.unsupported_reason(entry, Variant("cuda", "fp32", None, "float32"))
    assert "bf16" in backend.unsupported_reason(entry, Variant("cpu", "bf16", None, "float32"))
    assert "truncate" in backend.unsupported_reason(entry, Variant("cpu", "fp32", 32, "float32"))
    assert "larger" in backend.unsupported_reason(entry, Variant("cpu", "fp32", 128, "float32"))
    assert backend.unsupported_reason(entry, Variant("cpu", "fp32", None, "float32")) is None


def _broken_distribution(root: Path) -> Path:
    """A third-party distribution on PYTHONPATH whose plugin module raises on import."""
    (root / "advisor_broken.py").write_text("raise RuntimeError('this plugin is broken on purpose')\n")
    dist = root / "advisor_broken-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: advisor-broken\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[advisor]\nbroken = advisor_broken\n")
    return root


def test_broken_third_party_plugin_is_listed_as_failed_and_the_rest_work(tmp_path, advisor_cli):
    env = {"PYTHONPATH": str(_broken_distribution(tmp_path))}
    done = advisor_cli("plugins", "--json", env=env)
    assert done.returncode == 0, done.stderr
    plugins = {p["name"]: p for p in json.loads(done.stdout)}
    assert plugins["broken"]["status"] == "failed"
    assert "broken on purpose" in plugins["broken"]["error"]
    assert plugins["broken"]["distribution"] == "advisor-broken"
    assert all(plugins[name]["status"] == "loaded" for name in BUILTIN)
    listed = advisor_cli("catalog", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr


def test_a_plugin_asked_for_by_name_that_fails_is_an_error(tmp_path, advisor_cli):
    env = {"PYTHONPATH": str(_broken_distribution(tmp_path)), "ADVISOR_PLUGINS": "broken"}
    done = advisor_cli("plugins", env=env)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "plugin 'broken'" in done.stderr and "broken on purpose" in done.stderr


def test_advisor_plugins_env_restricts_third_party_plugins(tmp_path, advisor_cli):
    env = {"PYTHONPATH": str(_broken_distribution(tmp_path)), "ADVISOR_PLUGINS": ""}
    done = advisor_cli("plugins", "--json", env=env)
    plugins = {p["name"]: p for p in json.loads(done.stdout)}
    assert plugins["broken"]["status"] == "disabled"
    assert all(plugins[name]["status"] == "loaded" for name in BUILTIN)


def test_plugins_text_output_names_origin_and_status(tmp_path, advisor_cli):
    done = advisor_cli("plugins", env={"PYTHONPATH": str(_broken_distribution(tmp_path))})
    assert done.returncode == 0
    lines = [line for line in done.stdout.splitlines() if line.startswith("broken")]
    assert lines and "failed" in lines[0] and "advisor-broken" in lines[0]
