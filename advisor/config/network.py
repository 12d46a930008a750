"""The one network gate: whether the advisor may reach a host off this machine, and the clients it talks HTTP with.

Every outbound path asks here: hub models (``advisor.models.sources``), official MTEB tasks (their data comes from
the hub), hosted embedding APIs (the ``openai`` and ``gemini`` backends) and the chat rater. A loopback destination
always passes. Any other needs the run's grant: ``--allow-network`` or the policy's ``network: true`` (a policy's
``data.stay_on_machine: true`` still wins: ``Policy.load_grants``). The edge that read them calls
``grant_network`` once; the grant lives in the environment (``ADVISOR_ALLOW_NETWORK``) so that worker processes the
run starts (a sweep's workers, a served load test) hold the same one, and the CLI restores it after each command.
A caller that holds its own grant (``LoadOptions.allow_network``, planned from the same policy) passes it.

Libraries that reach the hub by themselves (mteb and datasets, for an MTEB task's data) run inside
``hub_offline_unless_granted``: offline mode while the network is off, so a filled cache still serves them.

HTTP clients for the advisor's own traffic come from ``http_client``: one to a loopback address ignores the proxy
variables (``HTTP_PROXY``, ``ALL_PROXY``...), so a request to ``http://127.0.0.1:PORT`` (its API key and texts)
never leaves the machine through a proxy.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
from typing import Any, Iterator
from urllib.parse import urlsplit

from advisor.errors import UserError

ENV = "ADVISOR_ALLOW_NETWORK"
SWITCH = "--allow-network, or 'network: true' in the policy (whose 'data: {stay_on_machine: true}' still wins)"


def is_loopback(url_or_host: str) -> bool:
    """True when a URL's host, or a bare host name or address, is this machine (localhost or a loopback address).
    The one definition: the network gate, hosted backends, the chat rater, the policy's destination rules and
    ``advisor serve`` / ``loadtest`` all ask this."""
    value = url_or_host.strip()
    host = (urlsplit(value).hostname or "") if "://" in value else value.strip("[]")
    host = host.lower()
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def grant_network(allowed: bool) -> None:
    """Set the run's grant (the edge calls it once it knows ``--allow-network`` and the policy); processes started
    after this inherit it."""
    os.environ[ENV] = "1" if allowed else "0"


def network_allowed(allowed: bool = False) -> bool:
    """Whether a host off this machine may be reached: the caller's own grant, else the run's."""
    return bool(allowed) or os.environ.get(ENV, "0").strip().lower() in ("1", "true", "yes", "on")


@contextlib.contextmanager
def network_scope() -> Iterator[None]:
    """Whatever is granted inside the block ends with it (each CLI command runs in one)."""
    before = os.environ.get(ENV)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = before


def require_network(what: str, destination: str, allowed: bool = False) -> None:
    """Refuse, in one line naming the switch, to reach ``destination`` (a URL or host) off this machine unless the
    network is granted (``allowed``: the caller's own grant)."""
    if is_loopback(destination) or network_allowed(allowed):
        return
    raise UserError(f"{what} would reach {destination}, off this machine, and the network is off: give {SWITCH}")


@contextlib.contextmanager
def hub_offline_unless_granted(allowed: bool = False) -> Iterator[bool]:
    """Run a library that reaches the Hugging Face hub by itself (mteb, datasets) in offline mode unless the
    network is granted; yields whether it is online. Only the cache is read offline, so a filled cache still
    works. Not thread-safe: it sets the libraries' process-wide offline switches for the block."""
    if network_allowed(allowed):
        yield True
        return
    switches: list[tuple[Any, str, Any]] = []
    for module_name, attr in (("huggingface_hub.constants", "HF_HUB_OFFLINE"), ("datasets.config", "HF_HUB_OFFLINE"),
                              ("datasets.config", "HF_DATASETS_OFFLINE")):
        try:
            module = __import__(module_name, fromlist=[attr])
        except ImportError:
            continue
        if hasattr(module, attr):
            switches.append((module, attr, getattr(module, attr)))
            setattr(module, attr, True)
    try:
        yield False
    finally:
        for module, attr, value in switches:
            setattr(module, attr, value)


def http_client(url: str, *, asynchronous: bool = False, **kwargs: Any) -> Any:
    """An ``httpx`` client for requests to ``url`` (a base URL or any URL on the same host): to a loopback host it
    never uses a proxy from the environment (``trust_env=False``); to another host it honours them as httpx does.
    ``kwargs`` go to the client (``base_url``, ``headers``, ``timeout``, ``limits``)."""
    import httpx

    kwargs["trust_env"] = bool(kwargs.get("trust_env", True)) and not is_loopback(url)
    return httpx.AsyncClient(**kwargs) if asynchronous else httpx.Client(**kwargs)
