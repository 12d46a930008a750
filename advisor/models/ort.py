"""ONNX Runtime, imported one way: with its telemetry events turned off, because the advisor opens no connection
off this machine unless the network is granted (a served model's process was seen sending a CONNECT for
ONNX Runtime's telemetry host through an environment proxy)."""

from __future__ import annotations

from types import ModuleType


def onnxruntime() -> ModuleType:
    """The ``onnxruntime`` module, telemetry off (a no-op where the build has none)."""
    import onnxruntime as ort

    disable = getattr(ort, "disable_telemetry_events", None)
    if disable is not None:
        disable()
    return ort
