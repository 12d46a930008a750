"""With the network off, no outbound path opens a socket to a host off this machine, and each refuses in one line.

Every path (hub models by source and by name, official MTEB tasks, the openai and gemini backends at a remote base
URL, the chat rater whose own file says ``allow_network: true``) runs in a fresh process under an audit hook that
records each name lookup and connect (tests/security/network_probe.py). ``HF_HUB_OFFLINE`` and
``TRANSFORMERS_OFFLINE`` are unset there, so the advisor's gate, not the environment, is what keeps it home."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = Path(__file__).with_name("network_probe.py")
PATHS = ("hub model", "hub model by name", "mteb task", "openai backend", "gemini backend", "chat rater")
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "ADVISOR_ALLOW_NETWORK")


@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("network-probe")
    env = {k: v for k, v in os.environ.items() if k not in OFFLINE_VARIABLES and not k.endswith("_PROXY")}
    env["HF_HOME"] = str(work / "hf-home")  # an empty cache: nothing can be served from it
    proc = subprocess.run([sys.executable, "-P", str(PROBE), str(work)], capture_output=True, text=True, env=env,
                          cwd=work, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("path", PATHS)
def test_no_socket_leaves_the_machine_while_the_network_is_off(probe, path):
    assert probe[path]["off_machine"] == [], f"{path} reached off this machine with the network off"


@pytest.mark.parametrize("path", PATHS)
def test_each_outbound_path_refuses_in_one_line_naming_the_switch(probe, path):
    error = probe[path]["error"]
    assert error is not None and not error.startswith("NOT A USER ERROR"), error
    assert "\n" not in error
    assert "--allow-network" in error or "network: true" in error, error


def test_the_chat_rater_needs_the_runs_network_grant_besides_its_own_file(tmp_path, monkeypatch):
    """The rater's file saying ``allow_network: true`` is its consent; the run's grant (--allow-network, the
    policy's network: true) is still needed, and the policy's data.stay_on_machine: true still denies it."""
    from advisor.inputs import read_policy
    from advisor.quality.chat_rater import ChatRater, load_config

    config = tmp_path / "chat.yaml"
    config.write_text("model: m\nbase_url: https://chat.example.com/v1\nallow_network: true\napi_key_env: PROBE_KEY\n")
    monkeypatch.setenv("PROBE_KEY", "sk-probe")
    rater = ChatRater(load_config(config))
    read_policy(None)
    assert "--allow-network" in (rater.available() or "")
    stay = tmp_path / "stay.yaml"
    stay.write_text("name: stay\nnetwork: true\ndata:\n  stay_on_machine: true\n")
    read_policy(stay, allow_network=True)
    assert "network is off" in (rater.available() or "")
    read_policy(None, allow_network=True)
    assert rater.available() is None
