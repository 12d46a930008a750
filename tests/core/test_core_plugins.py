"""The plugin system: built-in plugins found through entry points, run-time plugins that are always unregistered,
third-party plugins that fail to import reported without taking the tool down, ADVISOR_PLUGINS, and the contract
every registration is held to (its kind's ABC and a name nobody else registered)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from advisor.models.backends import Backend, BackendCapabilities
from advisor.hookspecs import hookimpl
from advisor.plugins import HOOK_KINDS, plugin_infos, register_plugin, registered, unregister_plugin

BUILTIN = {"torch", "onnx", "static", "packaged", "datasets", "quality", "cost", "sweep", "report", "tui",
           "training"}


class NullBackend(Backend):
    name = "null-test"
    description = "returns zeros"
    capabilities = BackendCapabilities(devices=("cpu",), weight_precisions={"cpu": ("fp32",)}, can_truncate=False)

    def load(self, entry, options):
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


def _distribution(root: Path, name: str, code: str) -> Path:
    """A third-party distribution ``advisor-<name>`` on PYTHONPATH whose plugin module ``advisor_<name>`` is
    ``code``, registered under the entry point ``name``."""
    (root / f"advisor_{name}.py").write_text(textwrap.dedent(code))
    dist = root / f"advisor_{name}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: advisor-{name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[advisor]\n{name} = advisor_{name}\n")
    return root


def _broken_distribution(root: Path) -> Path:
    """A third-party plugin that raises on import."""
    return _distribution(root, "broken", "raise RuntimeError('this plugin is broken on purpose')\n")


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


# -- the contract of a registration ------------------------------------------------------------------------------

def _registering(hook: str, *objects: object) -> object:
    """A plugin object whose ``hook`` registers ``objects``."""
    def impl(register):
        for obj in objects:
            register(obj)
    impl.__name__ = hook
    return type("P", (), {hook: staticmethod(hookimpl(impl))})()


class ImpostorTorch(Backend):
    name = "torch"
    description = "not the built-in torch backend"

    def load(self, entry, options):
        raise RuntimeError("the impostor ran")


def _info(name: str):
    return {i.name: i for i in plugin_infos()}[name]


def _rater(name: str):
    from advisor.quality.raters import Rater

    class Constant(Rater):
        def score(self, pairs):
            return [0.5] * len(pairs)

    rater = Constant()
    rater.name = name
    return rater


def test_a_backend_under_a_taken_name_is_refused_and_the_builtin_kept(plugin):
    from advisor.models.backends import get_backend

    builtin = type(get_backend("torch"))
    plugin(_registering("register_backends", ImpostorTorch(), NullBackend()), name="impostor")
    assert type(get_backend("torch")) is builtin and builtin is not ImpostorTorch
    info = _info("impostor")
    assert info.status == "failed"
    assert info.error == "backend 'torch' from plugin 'impostor' is already registered by plugin 'torch'; rename it"
    assert info.registers == {"backends": ["null-test"]}  # what it registered under its own name still works
    assert _info("torch").status == "loaded"


def test_a_refused_registration_is_forgotten_once_the_clash_is_gone(plugin):
    first = plugin(_registering("register_raters", _rater("twin")), name="first")
    plugin(_registering("register_raters", _rater("twin")), name="second")
    assert _info("second").status == "failed"
    unregister_plugin(first)
    assert _info("second").status == "loaded" and _info("second").error is None
    assert "twin" in registered("raters")


_IMPOSTOR = """\
    from advisor.hookspecs import hookimpl
    from advisor.models.backends import Backend


    class Impostor(Backend):
        name = "torch"
        description = "not the built-in torch backend"

        def load(self, entry, options):
            raise RuntimeError("the impostor ran")


    @hookimpl
    def register_backends(register):
        register(Impostor())
    """


def test_advisor_plugins_lists_a_clashing_third_party_plugin_as_failed(tmp_path, advisor_cli):
    done = advisor_cli("plugins", "--json", env={"PYTHONPATH": str(_distribution(tmp_path, "impostor", _IMPOSTOR))})
    assert done.returncode == 0, done.stderr
    plugins = {p["name"]: p for p in json.loads(done.stdout)}
    assert plugins["impostor"]["status"] == "failed"
    assert plugins["impostor"]["error"] == ("backend 'torch' from plugin 'impostor' is already registered by "
                                            "plugin 'torch'; rename it")
    assert plugins["torch"]["status"] == "loaded"
    assert plugins["torch"]["backends"]["torch"]["description"] != "not the built-in torch backend"


def test_a_clashing_plugin_asked_for_by_name_is_a_one_line_error(tmp_path, advisor_cli):
    env = {"PYTHONPATH": str(_distribution(tmp_path, "impostor", _IMPOSTOR)), "ADVISOR_PLUGINS": "impostor"}
    done = advisor_cli("plugins", env=env)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "advisor: error: backend 'torch' from plugin 'impostor' is already registered by plugin 'torch'; "
        "rename it (plugin 'impostor' is named in ADVISOR_PLUGINS)"]


class Lookalike:
    """Has a name and the right methods for nothing: not an instance of any contract."""

    name = "lookalike"


@pytest.mark.parametrize("hook", sorted(HOOK_KINDS))
def test_an_object_that_is_not_its_contract_is_refused_naming_the_plugin(plugin, hook):
    kind = HOOK_KINDS[hook]
    plugin(_registering(hook, Lookalike()), name="sloppy")
    assert "lookalike" not in registered(kind.key)
    info = _info("sloppy")
    assert info.status == "failed"
    assert info.error == (f"{kind.noun} Lookalike from plugin 'sloppy' is not an instance of "
                          f"{kind.contract.replace(':', '.')}; subclass it")


def test_a_registered_object_without_a_name_is_refused(plugin):
    plugin(_registering("register_raters", _rater("")), name="nameless")
    assert _info("nameless").error == ("rater Constant from plugin 'nameless' has no name; "
                                       "set the class attribute 'name'")


def test_a_report_writer_without_a_suffix_is_refused(plugin):
    from advisor.reporting import ReportWriter

    class NoSuffix(ReportWriter):
        name = "no-suffix"

        def write(self, report, out_dir):
            raise NotImplementedError

    plugin(_registering("register_report_writers", NoSuffix()), name="careless")
    assert "no-suffix" not in registered("report_writers")
    assert _info("careless").error == ("report writer 'no-suffix' from plugin 'careless' lacks 'suffix', which "
                                       "ReportWriter requires")
