"""Start a local Ray instance the way the advisor's Ray executor does, run one task, and print (as JSON) every
listening socket of the instance's processes (its servers, agents and workers, and this driver), then shut it
down. Started by test_security_ray.py in a fresh process."""

from __future__ import annotations

import json
import os

import psutil


def listening(pids: set[int]) -> list[list]:
    out = []
    for pid in sorted(pids):
        try:
            process = psutil.Process(pid)
            for conn in process.net_connections(kind="inet"):
                if conn.status == psutil.CONN_LISTEN:
                    out.append([process.name(), conn.laddr.ip, conn.laddr.port])
        except psutil.Error:
            continue
    return out


def main() -> None:
    import ray

    from advisor.sweep.executors import start_local_ray

    start_local_ray(1)
    try:
        @ray.remote
        def task() -> int:
            return os.getpid()

        worker = ray.get(task.remote())
        node = ray._private.worker._global_node
        pids = {os.getpid(), worker}
        for infos in node.all_processes.values():
            pids.update(info.process.pid for info in infos if info.process is not None)
        for pid in list(pids):
            try:
                pids.update(child.pid for child in psutil.Process(pid).children(recursive=True))
            except psutil.Error:
                pass
        print(json.dumps({"node_ip_address": node.node_ip_address, "gcs_address": node.gcs_address,
                          "processes": len(pids), "listening": listening(pids)}))
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
