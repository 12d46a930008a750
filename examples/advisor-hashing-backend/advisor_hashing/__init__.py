"""Example plugin: registers the ``hashing`` backend. The plugin module itself imports nothing heavy."""

from __future__ import annotations

from advisor.models.backends import Backend, BackendCapabilities
from advisor.hookspecs import hookimpl


class HashingBackend(Backend):
    name = "hashing"
    description = "Feature-hashing bag of words (unigrams + bigrams); a no-weights quality floor"
    capabilities = BackendCapabilities(devices=("cpu",), weight_precisions={"cpu": ("fp32",)}, can_truncate=True,
                                       prompts=False, notes="deterministic; no model weights")

    def load(self, entry, options):
        from .encoder import HashingEncoder

        return HashingEncoder(entry.embed_dim)


@hookimpl
def register_backends(register):
    register(HashingBackend())
