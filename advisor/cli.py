"""The ``advisor`` command. Core commands live here; plugins add the rest through ``register_commands``.

A user's mistake (a bad file, an unknown model, a wrong option) prints one line and exits with code 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Sequence

import click

from advisor import __version__
from advisor.errors import UserError
from advisor.options import catalog_option, deprecated_alias, json_option, option, policy_option, verbose_option


class AdvisorGroup(click.Group):
    """Loads plugin commands lazily (only when a command is looked up) and turns UserError into one line."""

    _plugins_added = False

    def _ensure_plugins(self) -> None:
        if not self._plugins_added:
            self._plugins_added = True
            from advisor.plugins import add_commands
            add_commands(self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._ensure_plugins()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        self._ensure_plugins()
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context) -> Any:
        from advisor.config.network import network_scope

        try:
            with network_scope():  # a command's network grant (--allow-network, the policy) ends with it
                return super().invoke(ctx)
        except UserError as exc:
            click.echo(f"advisor: error: {exc}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=AdvisorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="advisor")
@verbose_option
def cli(verbose: int) -> None:
    """Choose, shrink and ship an embedding model with evidence measured on your own data and hardware.

    \b
    Typical flow:
      advisor catalog list --policy commercial-english-rag-cpu
      advisor recommend --catalog offline --policy POLICY --dataset DATA --out report/
    """
    from advisor.logs import configure

    # before any library is imported, so none turns INFO logging on for the whole process (None: ADVISOR_VERBOSE)
    configure(verbose or None)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@cli.command("plugins")
@json_option
def plugins_command(as_json: bool) -> None:
    """List plugins: where each came from, what it registers, and each backend's capabilities."""
    from advisor.plugins import plugin_infos, registered

    infos = plugin_infos()
    backends = registered("backends")
    data = []
    for info in infos:
        item = {"name": info.name, "module": info.module, "distribution": info.distribution,
                "version": info.version, "builtin": info.builtin, "status": info.status, "error": info.error,
                "registers": info.registers}
        if "backends" in info.registers:
            item["backends"] = {name: {"description": backends[name].description,
                                       "capabilities": backends[name].capabilities.to_dict()}
                                for name in info.registers["backends"] if name in backends}
        data.append(item)
    if as_json:
        emit_json(data)
        return
    for item in data:
        origin = "built-in" if item["builtin"] else f"{item['distribution'] or 'runtime'} {item['version'] or ''}"
        click.echo(f"{item['name']:<16} {item['status']:<8} {origin.strip()}")
        if item["error"]:
            click.echo(f"    error: {item['error']}")
        for kind, names in item["registers"].items():
            click.echo(f"    {kind}: {', '.join(names)}")
        for name, b in item.get("backends", {}).items():
            caps = b["capabilities"]
            wp = "; ".join(f"{d}: {', '.join(p)}" for d, p in caps["weight_precisions"].items())
            click.echo(f"    backend {name}: devices {', '.join(caps['devices'])}; weights {wp}; "
                       f"truncate {'yes' if caps['can_truncate'] else 'no'}")


@cli.group("catalog")
def catalog_group() -> None:
    """Model catalogs: list candidates and what a policy says about them."""


@catalog_group.command("list")
@catalog_option
@policy_option
@json_option
def catalog_list(catalogs: tuple[Path, ...], policy: Path | None, as_json: bool) -> None:
    """Candidates in the catalogs; with --policy, which are admitted and which rule rejected each other."""
    from advisor.policy.screening import screen_catalog

    rows = screen_catalog(list(catalogs), policy)
    click.echo(in_force_line(catalogs, policy), err=True)  # which catalogs and policy: stderr keeps --json clean
    if policy is not None:
        from advisor.policy.spec import load_policy

        for note in load_policy(policy).notes:  # how the policy was read other than as written (a region dropped)
            click.echo(f"advisor: note: {note}", err=True)
    if as_json:
        emit_json([row.to_dict() for row in rows])
        return
    for row in rows:
        e = row.entry
        mark = "ok " if row.admitted else "no "
        click.echo(f"{mark} {e.name:<28} {e.backend:<10} {e.license:<14} dim {e.embed_dim:<5} "
                   f"{', '.join(e.languages[:3])}{'…' if len(e.languages) > 3 else ''}")
        for r in row.rejections:
            click.echo(f"      rejected by {r.rule}: {r.reason}")
        if policy is not None:
            from advisor.policy.rules import metadata_notes
            from advisor.policy.spec import load_policy

            for note in metadata_notes(e, load_policy(policy)):
                click.echo(f"      note: {note}")


@catalog_group.command("import-mteb")
@option("--out-file", required=True)
@deprecated_alias("--out", "--out-file")
@option("--name-contains")
@deprecated_alias("--name", "--name-contains")
@click.option("--license", "licenses", multiple=True, help="Keep models under this SPDX licence (repeatable).")
@click.option("--max-params", default=None, help="Keep models with at most this many parameters, e.g. 600M.")
@click.option("--languages", "languages", multiple=True,
              help="Keep models covering all these languages (repeatable or comma-separated), e.g. eng-Latn.")
@click.option("--open-weights", is_flag=True, help="Keep only models whose weights are open.")
@catalog_option
@json_option
def catalog_import_mteb(out_file: Path, names: tuple[str, ...], licenses: tuple[str, ...], max_params: str | None,
                        languages: tuple[str, ...], open_weights: bool, catalogs: tuple[Path, ...],
                        as_json: bool) -> None:
    """Write catalog entries from mteb's model registry (offline) into a catalog YAML file; fields mteb does not
    state stay unknown, and models already in the catalogs (default: every shipped catalog) are left out."""
    from advisor.config.languages import normalize_language
    from advisor.config.licenses import normalize_license
    from advisor.config.shipped import shipped_catalog_files
    from advisor.models.catalog import load_catalog, load_catalogs
    from advisor.models.mteb_import import ImportFilters, import_mteb, parse_size, write_import

    try:
        langs = tuple(normalize_language(x) for v in languages for x in v.split(",") if x.strip())
        lics = tuple(normalize_license(x) for x in licenses)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    filters = ImportFilters(names=names, licenses=lics, max_params=parse_size(max_params) if max_params else None,
                            languages=langs, open_weights=open_weights)
    existing = load_catalogs(list(catalogs) or shipped_catalog_files())
    try:
        import mteb  # noqa: F401
    except ImportError:
        raise UserError("import-mteb needs the mteb package: pip install mteb") from None
    result = import_mteb(filters, existing)
    if not result.entries:
        raise UserError("no mteb model passes the filters (and is not already in the catalogs); loosen them")
    path = write_import(result, out_file, filters)
    load_catalog(path)  # the same schema as any hand-written catalog
    if as_json:
        emit_json({"catalog": str(path), "entries": len(result.entries), "duplicates": result.duplicates,
                   "skipped": dict(result.skipped)})
        return
    click.echo(f"wrote {len(result.entries)} entries to {path}")
    if result.duplicates:
        click.echo(f"  left out {len(result.duplicates)} already in the catalogs: {', '.join(result.duplicates[:8])}"
                   f"{'…' if len(result.duplicates) > 8 else ''}")
    for reason, count in result.skipped.most_common():
        click.echo(f"  skipped {count}: {reason}")


def in_force_line(catalogs: Sequence[Path], policy: Path | None) -> str:
    """``catalogs: offline (shipped) · policy: none (permissive: ...)``: the catalogs and policy in force."""
    from advisor.config.shipped import NO_POLICY, display_name, files_in_force, resolve_file
    from advisor.models.catalog import default_catalog_paths

    paths = list(catalogs) or default_catalog_paths()
    named = display_name(resolve_file("policy", policy)) if policy is not None else \
        f"none ({NO_POLICY}: no remote code, no pickle weights, no hosted model)"
    return f"catalogs: {files_in_force(paths)} · policy: {named}"


@catalog_group.command("template")
@option("--out-file")
def catalog_template(out_file: Path | None) -> None:
    """A commented catalog to start your own from (every field explained; it loads as it is): printed, or written
    to --out-file."""
    write_template("catalog", out_file)


@cli.group("policy")
def policy_group() -> None:
    """Policies: the shipped ones, and a template to write your own."""


@policy_group.command("list")
@json_option
def policy_list(as_json: bool) -> None:
    """The shipped policies, each named by its name alone (--policy NAME), with what it is for."""
    from advisor.config.shipped import shipped_file, shipped_names
    from advisor.policy.spec import load_policy

    rows = [(name, load_policy(shipped_file("policy", name))) for name in shipped_names("policy")]
    if as_json:
        emit_json([{"name": name, "description": p.description, "file": p.file} for name, p in rows])
        return
    for name, p in rows:
        click.echo(f"{name:<30} {p.description}")
    click.echo("no --policy: none (permissive); 'advisor policy template' starts your own", err=True)


@policy_group.command("template")
@option("--out-file")
def policy_template(out_file: Path | None) -> None:
    """A commented policy to start your own from (every field explained; it loads as it is): printed, or written
    to --out-file."""
    write_template("policy", out_file)


def write_template(kind: str, out_file: Path | None) -> None:
    """The shipped template of ``kind`` on stdout, or copied to ``out_file`` (the file's own comments say how to use
    it)."""
    from advisor.config.shipped import shipped_file

    text = shipped_file("template", kind).read_text(encoding="utf-8")
    if out_file is None:
        click.echo(text, nl=False)
        return
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(text, encoding="utf-8")
    click.echo(f"wrote {out_file}: edit it, then --{kind} {out_file}")


def main() -> None:
    cli(prog_name="advisor")


if __name__ == "__main__":
    sys.exit(main())
