"""Built-in plugin: the ``openai`` backend, an embeddings client for OpenAI, Azure OpenAI and any
OpenAI-compatible server (vLLM, TEI, infinity, ``advisor serve``)."""

from advisor.hookspecs import hookimpl


@hookimpl
def register_backends(register):
    from .backend import OpenAIBackend

    register(OpenAIBackend())
