"""Built-in plugin: the torch backend (sentence-transformers and plain transformers folders)."""

from advisor.hookspecs import hookimpl

from .backend import TorchBackend


@hookimpl
def register_backends(register):
    register(TorchBackend())
