"""Official MTEB tasks by name (``mteb:STSBenchmark``): loaded through the ``mteb`` package, which fetches their
data from the Hugging Face hub or reads a filled HF cache. The hub is reached only when the run grants the network
(``--allow-network`` or the policy's ``network: true``: ``advisor.config.network``); otherwise mteb runs in offline
mode and reads the cache. Without either the load fails with a UserError that says so."""

from __future__ import annotations

from advisor.config.network import SWITCH, hub_offline_unless_granted
from advisor.errors import UserError
from advisor.datasets.tasks import Task, TaskSource

PREFIX = "mteb:"


def get_mteb_task(name: str):  # -> mteb.AbsTask (mteb is imported lazily)
    """The mteb task object for a name, or a UserError listing what mteb suggests."""
    import mteb

    try:
        return mteb.get_task(name)
    except KeyError as exc:
        raise UserError(f"{PREFIX}{name}: not an MTEB task ({str(exc).strip(chr(34))})") from None


def load_mteb_task(name: str) -> Task:
    """Load an official MTEB task's data and convert its first evaluation split into an advisor Task."""
    from advisor.datasets.mteb_local import from_mteb_task

    if not name:
        raise UserError("mteb: needs a task name, e.g. mteb:STSBenchmark")
    task = get_mteb_task(name)
    with hub_offline_unless_granted() as online:
        try:
            task.load_data()
        except Exception as exc:  # datasets/hub raise many kinds (ConnectionError, OfflineModeIsEnabled, ...)
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            need = ("the Hugging Face hub (HF_HUB_OFFLINE unset)" if online else
                    f"the Hugging Face hub, and the network is off (give {SWITCH}),")
            raise UserError(
                f"{PREFIX}{name}: its data could not be loaded ({type(exc).__name__}: {first[:200]}); official MTEB "
                f"tasks need {need} or a filled HF cache (HF_HOME); offline, evaluate a local dataset folder instead "
                "(see docs/datasets.md)") from None
    return from_mteb_task(task)


class MtebSource(TaskSource):
    name = "mteb"
    description = "an official MTEB task by name, e.g. mteb:STSBenchmark (needs the HF hub or a filled cache)"

    def detect(self, spec: str) -> bool:
        return spec.startswith(PREFIX)

    def load(self, spec: str) -> Task:
        return load_mteb_task(spec.removeprefix(PREFIX).strip())
