"""Built-in plugin: backend ``pair``, an asymmetric pair (a small query model beside a big document model) run as
one candidate; the logic lives in ``advisor.models.pair``, the catalog entries in ``advisor.models.catalog``."""

from advisor.hookspecs import hookimpl


@hookimpl
def register_backends(register):
    from advisor.models.pair import PairBackend

    register(PairBackend())
