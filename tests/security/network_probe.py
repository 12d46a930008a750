"""Run every outbound path of the advisor with the network off and report each socket it opened to a host off this
machine. Started by test_security_network_gate.py in a fresh process: ``python network_probe.py WORKDIR`` prints
one JSON object, path -> {"error": the one-line refusal or null, "off_machine": [...]}.

An audit hook (``sys.addaudithook``) sees every name lookup (``socket.getaddrinfo``) and every connect
(``socket.connect``) the process makes, whichever library makes it; nothing is patched. A lookup is reported too,
since a machine without DNS fails there before any connect."""

from __future__ import annotations

import ipaddress
import json
import sys
import traceback
from pathlib import Path

CURRENT: list[str] = []
SEEN: dict[str, list[str]] = {}


def _host_is_loopback(host: object) -> bool:
    text = str(host.decode() if isinstance(host, bytes) else host).strip("[]").lower()
    if text in ("localhost", "localhost.localdomain", "", "none"):
        return True
    try:
        return ipaddress.ip_address(text.split("%")[0]).is_loopback
    except ValueError:
        return False


def _audit(event: str, args: tuple) -> None:
    if not CURRENT:
        return
    if event == "socket.getaddrinfo" and not _host_is_loopback(args[0]):
        SEEN.setdefault(CURRENT[-1], []).append(f"lookup {args[0]}:{args[1]}")
    elif event == "socket.connect":
        address = args[1]
        if isinstance(address, tuple) and not _host_is_loopback(address[0]):
            SEEN.setdefault(CURRENT[-1], []).append(f"connect {address[0]}:{address[1]}")


def _paths(work: Path) -> dict:
    from advisor.models.catalog import ModelEntry

    def hub_model() -> None:
        from advisor.models.backends import load_encoder

        load_encoder(ModelEntry(name="not-cached", source="hub:advisor-tests/not-cached-model", backend="torch",
                                embed_dim=8))

    def hub_model_by_name() -> None:
        from advisor.models.resolve import resolve_model

        resolve_model("advisor-tests/not-cached-model")

    def mteb_task() -> None:
        from advisor.datasets.tasks import load_task

        load_task("mteb:STSBenchmark")

    def hosted(backend: str) -> None:
        from advisor.models.backends import load_encoder

        options = {"base_url": "https://embeddings.example.com/v1", "model": "m", "api_key_env": "PROBE_KEY"}
        entry = ModelEntry(name=f"remote-{backend}", source=f"builtin:{backend}", backend=backend, embed_dim=8,
                           hosted=True, options=options)
        load_encoder(entry).encode(["a text that must stay here"])

    def chat_rater() -> None:
        from advisor.quality.chat_rater import ChatRater, load_config

        config = work / "chat.yaml"
        config.write_text("model: m\nbase_url: https://chat.example.com/v1\nallow_network: true\n"
                          "api_key_env: PROBE_KEY\n")
        rater = ChatRater(load_config(config))
        reason = rater.available()
        rater.score([("a query", "a document")])
        raise AssertionError(f"the chat rater graded off this machine (available() said {reason!r})")

    return {"hub model": hub_model, "hub model by name": hub_model_by_name, "mteb task": mteb_task,
            "openai backend": lambda: hosted("openai"), "gemini backend": lambda: hosted("gemini"),
            "chat rater": chat_rater}


def main() -> None:
    import os

    work = Path(sys.argv[1])
    os.environ["PROBE_KEY"] = "sk-probe"
    from advisor.errors import UserError

    sys.addaudithook(_audit)
    report = {}
    for name, call in _paths(work).items():
        CURRENT.append(name)
        error = None
        try:
            call()
        except UserError as exc:
            error = str(exc)
        except Exception:  # noqa: BLE001 - reported, the test fails on it
            error = "NOT A USER ERROR: " + traceback.format_exc()
        finally:
            CURRENT.pop()
        report[name] = {"error": error, "off_machine": SEEN.get(name, [])}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
