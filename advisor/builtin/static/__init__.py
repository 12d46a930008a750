"""Built-in plugin: static embeddings (model2vec format and WordLlama): a table lookup and a mean, CPU only."""

from advisor.hookspecs import hookimpl

from .backend import StaticBackend


@hookimpl
def register_backends(register):
    register(StaticBackend())
