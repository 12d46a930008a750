"""The Ray executor's local instance cannot be reached from the network: every server it starts listens on a
loopback address only (a Ray instance runs whatever task it is sent, without authentication).

A real local instance, started in a fresh process by the executor's own ``start_local_ray``, runs one task; the
listening sockets of all its processes (GCS, raylet, agents, the worker, the driver) are read with psutil, and the
instance is shut down."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

PROBE = Path(__file__).with_name("ray_probe.py")


def _loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


@pytest.fixture(scope="module")
def ray_instance(tmp_path_factory) -> dict:
    pytest.importorskip("ray")
    pytest.importorskip("psutil")
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    env.pop("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", None)  # the executor sets Ray's switch itself
    proc = subprocess.run([sys.executable, "-P", str(PROBE)], capture_output=True, text=True, env=env,
                          cwd=tmp_path_factory.mktemp("ray"), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_local_ray_instance_listens_on_loopback_addresses_only(ray_instance):
    assert ray_instance["listening"], "no listening socket was found: the probe saw no Ray process"
    exposed = [entry for entry in ray_instance["listening"] if not _loopback(entry[1])]
    assert exposed == [], f"Ray listens off loopback: {exposed}"


def test_the_local_ray_node_address_is_loopback(ray_instance):
    assert _loopback(ray_instance["node_ip_address"])
    assert _loopback(ray_instance["gcs_address"].rsplit(":", 1)[0])
