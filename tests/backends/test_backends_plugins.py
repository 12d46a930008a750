"""The backend plugins register, declare their capabilities, and stay light at import time."""

from __future__ import annotations

import json
import subprocess
import sys


def test_backend_plugins_import_no_heavy_library():
    code = ("import advisor.builtin.torch, advisor.builtin.onnx, advisor.builtin.static, advisor.builtin.packaged, advisor.models.resolve, advisor.models.sources;"
            "from advisor.plugins import heavy_modules_loaded, registered;"
            "b = registered('backends'); assert {'torch','onnx','static','packaged'} <= set(b), b;"
            "from advisor.models.resolve import resolve_model; resolve_model('all-MiniLM-L6-v2');"
            "print(heavy_modules_loaded())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_plugins_json_shows_backend_capabilities(advisor_cli):
    result = advisor_cli("plugins", "--json")
    data = json.loads(result.stdout)
    caps = {name: b["capabilities"] for p in data for name, b in (p.get("backends") or {}).items()}
    assert caps["torch"]["weight_precisions"] == {"cpu": ["fp32", "fp16", "bf16", "int8"],
                                                  "cuda": ["fp32", "fp16", "bf16"]}
    assert caps["torch"]["runtimes"] == ["torch", "onnx", "openvino"]
    assert caps["static"]["devices"] == ["cpu"] and caps["packaged"]["weight_precisions"]["cpu"] == ["fp32", "int4"]
    assert all(c["can_truncate"] for c in caps.values())
