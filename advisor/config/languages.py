"""Language codes: ISO 639-3 plus ISO 15924 script (``eng-Latn``), as mteb writes them.

The code tables are read from mteb's own JSON files without importing mteb (which is slow to import), so catalog
and policy validation agree with mteb's vocabulary. ISO 639-1 codes (``de``) are accepted and mapped.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path


@lru_cache(maxsize=None)
def _table(name: str) -> dict[str, str]:
    spec = find_spec("mteb")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("mteb is not installed; it ships the ISO language tables the advisor validates against")
    path = Path(list(spec.submodule_search_locations)[0]) / "languages" / name
    return json.loads(path.read_text(encoding="utf-8"))


def iso639_3_codes() -> dict[str, str]:
    return _table("iso_639_3_to_language.json")


def default_script(lang: str) -> str | None:
    return _table("iso_639_3_to_default_script.json").get(lang)


def normalize_language(code: str) -> str:
    """Return ``xxx-Scrp`` for ``xxx-Scrp``, ``xxx`` or a two-letter ISO 639-1 code; raise ValueError otherwise."""
    code = code.strip()
    lang, _, script = code.partition("-")
    if len(lang) == 2:
        mapped = _table("iso_639_1_to_3.json").get(lang.lower())
        if mapped is None:
            raise ValueError(f"'{code}' is not an ISO 639-1 code")
        lang = mapped
    lang = lang.lower()
    if lang not in iso639_3_codes():
        raise ValueError(f"'{code}' is not an ISO 639-3 language code (e.g. 'eng-Latn', 'deu-Latn', or 'de')")
    if script:
        script = script[:1].upper() + script[1:].lower()
        if script not in _table("iso_15924_to_script.json"):
            raise ValueError(f"'{code}': '{script}' is not an ISO 15924 script code (e.g. Latn, Cyrl, Hans)")
    else:
        script = default_script(lang) or ""
        if not script:
            raise ValueError(f"'{code}': no default script is known; write it as '{lang}-Scrp' (e.g. '{lang}-Latn')")
    return f"{lang}-{script}"


def language_only(code: str) -> str:
    return code.split("-", 1)[0]


def covers(model_languages: list[str], required: str) -> bool:
    """A model covers a required language when it lists the same language (any script if none was required)."""
    req_lang, _, req_script = required.partition("-")
    for have in model_languages:
        lang, _, script = have.partition("-")
        if lang == req_lang and (not req_script or not script or script == req_script):
            return True
    return False
