"""Built-in plugin: the onnxruntime backend (an ONNX encoder plus a tokenizer.json, CPU and CUDA providers)."""

from advisor.hookspecs import hookimpl

from .backend import OnnxBackend


@hookimpl
def register_backends(register):
    register(OnnxBackend())
