"""``python -P -m advisor.serving SPEC.json``: serve exactly the catalog entry, ``LoadOptions`` and ``ServeConfig`` of
a ``ServeSpec`` file on this machine. It is how a cost cell's served load test starts its server
(``advisor.cost.served``: the measuring process writes the spec of the model it has loaded). Not a user command
(``advisor serve`` is): it takes no options and listens on a loopback address only.
"""

from __future__ import annotations

import sys
from pathlib import Path

from advisor.errors import UserError


def main(argv: list[str] | None = None) -> int:
    from advisor.logs import configure

    configure()  # the measuring process's log level (ADVISOR_VERBOSE), before any library is imported
    from advisor.models.hosted import is_loopback
    from advisor.models.serve_config import ServeSpec
    from advisor.serving.server import load_served, serve

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -P -m advisor.serving SPEC.json (a ServeSpec; people use 'advisor serve')",
              file=sys.stderr)
        return 2
    try:
        try:
            text = Path(args[0]).read_text(encoding="utf-8")
        except OSError as exc:
            raise UserError(f"cannot read the serve spec {args[0]}: {exc}") from None
        spec = ServeSpec.from_json(text)
        if not is_loopback(spec.config.host):
            raise UserError(f"{args[0]}: host {spec.config.host} is not a loopback address; this entry serves "
                            f"127.0.0.1 only (use 'advisor serve --host' to listen elsewhere)")
        serve(load_served(spec.entry, spec.load, config=spec.config))
    except UserError as exc:
        print(f"advisor: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
