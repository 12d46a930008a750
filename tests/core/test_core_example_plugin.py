"""The example third-party plugin in examples/advisor-hashing-backend: pip-installed into a scratch target, it
is picked up by the advisor through its entry point and its backend really encodes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def installed_example(repo, tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("site")
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                           "--target", str(target), str(repo / "examples" / "advisor-hashing-backend")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return target


def test_pip_installed_example_plugin_is_listed(installed_example, advisor_cli):
    done = advisor_cli("plugins", "--json", env={"PYTHONPATH": str(installed_example)})
    assert done.returncode == 0, done.stderr
    plugins = {p["name"]: p for p in json.loads(done.stdout)}
    hashing = plugins["hashing"]
    assert hashing["status"] == "loaded" and not hashing["builtin"]
    assert hashing["distribution"] == "advisor-hashing-backend"
    assert hashing["backends"]["hashing"]["capabilities"]["devices"] == ["cpu"]


def test_example_backend_encodes_through_the_advisor(installed_example, tmp_path):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(textwrap.dedent("""\
        models:
          - name: hashing-512
            source: builtin:hashing
            backend: hashing
            embed_dim: 512
            license: MIT
            languages: [eng-Latn]
        """))
    code = textwrap.dedent(f"""\
        import json, numpy as np
        from advisor.models.catalog import load_catalog
        from advisor.models.backends import get_backend, load_encoder
        entry = load_catalog({str(catalog)!r})[0]
        enc = load_encoder(entry)
        v = enc.encode(["the cat sat on the mat", "the cat sat on a mat", "stock markets fell sharply"])
        v = v / np.linalg.norm(v, axis=1, keepdims=True)
        print(json.dumps({{"shape": list(v.shape), "near": float(v[0] @ v[1]), "far": float(v[0] @ v[2])}}))
        """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "PYTHONPATH": str(installed_example)})
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["shape"] == [3, 512]
    assert out["near"] > out["far"]
