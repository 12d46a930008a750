"""A dataset spec with options: ``PATH#key=value,...`` (or ``hf:ORG/NAME#...``). The options say how to read the
data, so they travel with the spec wherever it goes (a sweep worker reads the same task from the same string):

- ``pseudo-queries=N`` (with optional ``span=W``, ``seed=S``, ``mask=R``): build N queries from a corpus that has
  none (``advisor.datasets.pseudo``); its judgements are synthetic and every output says so.
- ``FIELD=COLUMN`` (``query=question``, ``positive=context``, ``text=body`` ...): read the table's column COLUMN as
  the known field FIELD, when the columns do not carry one of the known names.

The command line's ``--pseudo-queries`` and ``--columns`` write the same options onto each ``--dataset``
(:func:`with_options`). A spec that exists as a path is a path, ``#`` and all."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from advisor.datasets.spans import MASK_RATIO
from advisor.errors import UserError

SEPARATOR = "#"
PSEUDO = "pseudo-queries"
DEFAULT_SPAN = 12  # words of a document a pseudo-query is cut from (about a sentence)
MIN_SPAN = 4       # shorter spans leave too few words after the corruption
MAX_MASK = 0.4     # as training's span corruption: at most 40% of a span's words removed
PSEUDO_SETTINGS = ("span", "seed", "mask")
# the fields a column may be read as: every name a reader knows
FIELDS = ("query", "positive", "negative", "score", "sentence1", "sentence2", "text", "title", "id", "label",
          "text1", "text2", "cluster", "group")


@dataclass(frozen=True)
class PseudoQueries:
    """How pseudo-queries are built: ``count`` documents each give one query, a ``span``-word passage at a random
    start with about ``mask`` of its words removed in spans, drawn from generators seeded by ``seed``."""

    count: int
    span: int = DEFAULT_SPAN
    seed: int = 0
    mask: float = MASK_RATIO

    def text(self) -> str:
        """The options as a spec writes them (every setting, so the spec is complete on its own)."""
        return f"{PSEUDO}={self.count},span={self.span},seed={self.seed},mask={self.mask:g}"


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset spec split into the data it names (``base``) and how to read it."""

    base: str
    pseudo_queries: PseudoQueries | None = None
    columns: Mapping[str, str] = field(default_factory=dict)

    @property
    def has_options(self) -> bool:
        return self.pseudo_queries is not None or bool(self.columns)

    def text(self) -> str:
        """The spec again, its options in a fixed order."""
        parts = ([self.pseudo_queries.text()] if self.pseudo_queries else []) + \
            [f"{k}={v}" for k, v in sorted(self.columns.items())]
        return self.base + (SEPARATOR + ",".join(parts) if parts else "")


def _unknown(spec: str, key: str) -> UserError:
    known = (PSEUDO, *PSEUDO_SETTINGS, *FIELDS)
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return UserError(f"{spec}: unknown dataset option '{key}'; {hint}the options are {PSEUDO}=N (with span=, seed=, "
                     f"mask=) and FIELD=COLUMN to read a column as one of: {', '.join(FIELDS)}")


def _number(spec: str, key: str, value: str, kind: type) -> int | float:
    try:
        return kind(value)
    except ValueError:
        raise UserError(f"{spec}: {key}={value}: must be {'an integer' if kind is int else 'a number'}") from None


def pseudo_queries_of(spec: str, settings: Mapping[str, str]) -> PseudoQueries:
    """The pseudo-query settings of ``settings`` (``pseudo-queries``, ``span``, ``seed``, ``mask``), checked."""
    count = int(_number(spec, PSEUDO, settings[PSEUDO], int))
    span = int(_number(spec, "span", settings.get("span", str(DEFAULT_SPAN)), int))
    seed = int(_number(spec, "seed", settings.get("seed", "0"), int))
    mask = float(_number(spec, "mask", settings.get("mask", str(MASK_RATIO)), float))
    if count < 1:
        raise UserError(f"{spec}: {PSEUDO}={count}: give the number of queries to build (1 or more)")
    if span < MIN_SPAN:
        raise UserError(f"{spec}: span={span}: a pseudo-query is a span of at least {MIN_SPAN} words")
    if not 0 <= mask <= MAX_MASK:
        raise UserError(f"{spec}: mask={mask:g}: removes 0 to {MAX_MASK:g} of a span's words")
    return PseudoQueries(count=count, span=span, seed=seed, mask=mask)


def _options(spec: str, text: str) -> tuple[PseudoQueries | None, dict[str, str]]:
    settings: dict[str, str] = {}
    columns: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, eq, value = (s.strip() for s in item.partition("="))
        if not eq or not value:
            raise UserError(f"{spec}: dataset option '{item}' needs a value (key=value)")
        if key in (PSEUDO, *PSEUDO_SETTINGS):
            target = settings
        elif key in FIELDS:
            target = columns
        else:
            raise _unknown(spec, key)
        if key in target and target[key] != value:
            raise UserError(f"{spec}: the option {key} is given twice ({target[key]} and {value}); keep one")
        target[key] = value
    if settings and PSEUDO not in settings:
        raise UserError(f"{spec}: {', '.join(sorted(settings))} set how pseudo-queries are built; add {PSEUDO}=N")
    taken = [c for c in columns.values() if list(columns.values()).count(c) > 1]
    if taken:
        raise UserError(f"{spec}: the column '{taken[0]}' is read as two fields; map each field to its own column")
    return (pseudo_queries_of(spec, settings) if settings else None), columns


def parse_spec(spec: str | Path) -> DatasetSpec:
    """``spec`` split into the data it names and its options (none when the whole spec is an existing path)."""
    text = str(spec)
    if SEPARATOR not in text or Path(text).expanduser().exists():
        return DatasetSpec(text)
    base, _, options = text.rpartition(SEPARATOR)
    if not base:
        raise UserError(f"{text}: options without a dataset; write DATASET{SEPARATOR}{options}")
    pseudo, columns = _options(text, options)
    return DatasetSpec(base, pseudo, columns)


def parse_pseudo_queries(value: str) -> PseudoQueries:
    """``--pseudo-queries``'s value: ``N`` or ``N,span=W,seed=S,mask=R``."""
    count, _, rest = value.partition(",")
    pseudo, columns = _options(f"--pseudo-queries {value}", ",".join(filter(None, (f"{PSEUDO}={count}", rest))))
    if columns or pseudo is None:
        raise UserError(f"--pseudo-queries {value}: takes N and span=, seed=, mask= (columns go to --columns)")
    return pseudo


def parse_columns(value: str) -> dict[str, str]:
    """``--columns``'s value: ``FIELD=COLUMN,...``."""
    pseudo, columns = _options(f"--columns {value}", value)
    if pseudo is not None or not columns:
        raise UserError(f"--columns {value}: takes FIELD=COLUMN pairs such as query=question,positive=answer")
    return columns


def with_options(spec: str, pseudo_queries: str | None = None, columns: str | None = None) -> str:
    """``spec`` with the command line's ``--pseudo-queries`` and ``--columns`` written onto it; an option the spec
    sets already to another value is one line saying so."""
    if not pseudo_queries and not columns:
        return spec
    parsed = parse_spec(spec)
    pseudo = parse_pseudo_queries(pseudo_queries) if pseudo_queries else None
    if pseudo is not None and parsed.pseudo_queries is not None and parsed.pseudo_queries != pseudo:
        raise UserError(f"{spec}: sets {parsed.pseudo_queries.text()} and --pseudo-queries says {pseudo.text()}; "
                        "keep one")
    mapping = dict(parsed.columns)
    for key, value in (parse_columns(columns) if columns else {}).items():
        if mapping.get(key, value) != value:
            raise UserError(f"{spec}: reads {key} from '{mapping[key]}' and --columns says '{value}'; keep one")
        mapping[key] = value
    return DatasetSpec(parsed.base, pseudo or parsed.pseudo_queries, mapping).text()


def absolute_spec(spec: str) -> str:
    """``spec`` with its path made absolute when it names one (a sweep's workers may run elsewhere), its options
    kept; a name (``mteb:``, ``hf:``) is returned as it is."""
    parsed = parse_spec(spec)
    path = Path(parsed.base).expanduser()
    if not path.exists():
        return spec
    return DatasetSpec(str(path.resolve()), parsed.pseudo_queries, parsed.columns).text()
