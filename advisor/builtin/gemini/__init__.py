"""Built-in plugin: the ``gemini`` backend, an embeddings client for the Gemini API and Vertex AI."""

from advisor.hookspecs import hookimpl


@hookimpl
def register_backends(register):
    from .backend import GeminiBackend

    register(GeminiBackend())
