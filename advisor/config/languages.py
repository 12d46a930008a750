"""Language codes: ISO 639-3 plus ISO 15924 script (``eng-Latn``), as mteb writes them.

The code tables are read from mteb's own JSON files without importing mteb (which is slow to import), so catalog
and policy validation agree with mteb's vocabulary. ISO 639-1 codes (``de``) are accepted and mapped. A locale's
region (``es-ES``, ``pt_BR``, ``es-419``) is dropped, with a note, where the caller collects notes (a policy), and is
an error with the code to write where it does not (a catalog entry states exactly what a model covers). A code or a
name that is not known gets a "did you mean" (``sp`` -> ``es`` or ``spa-Latn``, ``Spanish`` -> the same).
"""

from __future__ import annotations

import difflib
import json
import re
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


_REGION = re.compile(r"^([A-Za-z]{2}|[0-9]{3})$")  # ISO 3166-1 alpha-2 (ES, BR) or UN M.49 (419)
_SCRIPT = re.compile(r"^[A-Za-z]{4,}$")  # ISO 15924 (Latn, Hans); longer: a misspelt one (Latin)


def normalize_language(code: str, notes: list[str] | None = None) -> str:
    """Return ``xxx-Scrp`` for ``xxx-Scrp``, ``xxx`` or a two-letter ISO 639-1 code; raise ValueError (with a "did
    you mean" where a code or name is close) otherwise. A region (``es-ES``) is dropped with a note appended to
    ``notes``; without ``notes`` a region is an error naming the code to write, so it is never dropped silently."""
    written = code.strip()
    lang, *rest = written.replace("_", "-").split("-")
    script = region = ""
    lang = _language(written, lang)
    for part in rest:
        if _SCRIPT.match(part) and not script and not region:
            script = part
        elif _REGION.match(part) and not region:
            region = part.upper()
        else:
            example = f"{lang}-{default_script(lang) or 'Latn'}"
            raise ValueError(f"'{written}': '{part}' is neither an ISO 15924 script (Latn, Cyrl, Hans) nor a region "
                             f"(ES, BR); write the language and its script, like '{example}'")
    if script:
        script = _script(written, script)
    else:
        script = default_script(lang) or ""
        if not script:
            raise ValueError(f"'{written}': no default script is known; write it as '{lang}-Scrp' (e.g. "
                             f"'{lang}-Latn')")
    result = f"{lang}-{script}"
    if region:
        name = iso639_3_codes()[lang]
        if notes is None:
            raise ValueError(f"'{written}': languages are written without a region ('{region}'); did you mean "
                             f"'{result}' ({name})?")
        notes.append(f"'{written}' read as {result} ({name}): the region {region} is dropped, since models declare "
                     f"languages without regions")
    return result


def _language(written: str, lang: str) -> str:
    """The ISO 639-3 code of ``lang`` (a 639-1 or 639-3 code), or a ValueError with a did-you-mean."""
    if len(lang) == 2:
        mapped = _table("iso_639_1_to_3.json").get(lang.lower())
        if mapped is None:
            raise ValueError(f"'{written}' is not an ISO 639-1 language code" + _hint(lang))
        return mapped
    if lang.lower() not in iso639_3_codes():
        raise ValueError(f"'{written}' is not an ISO 639-3 language code (e.g. 'eng-Latn', 'deu-Latn', or 'de')"
                         + _hint(lang))
    return lang.lower()


def _script(written: str, script: str) -> str:
    scripts = _table("iso_15924_to_script.json")
    script = script[:1].upper() + script[1:].lower()
    if script in scripts:
        return script
    by_name = {name.lower(): code for code, name in scripts.items()}
    close = [by_name[script.lower()]] if script.lower() in by_name else difflib.get_close_matches(script, scripts, n=1)
    hint = f"; did you mean '{close[0]}' ({scripts[close[0]]})?" if close else ""
    raise ValueError(f"'{written}': '{script}' is not an ISO 15924 script code (e.g. Latn, Cyrl, Hans){hint}")


def suggest_languages(written: str) -> list[str]:
    """ISO 639-3 codes a mistyped language code or name may mean, best first: the language of that English name
    (``spanish``), the major languages (those with an ISO 639-1 code) whose name starts with what was written
    (``sp`` -> Spanish) or is close to it (``spansh``), and major languages' codes with the same letters (``egn`` ->
    eng)."""
    low = written.strip().lower()
    if not low:
        return []
    names = iso639_3_codes()
    by_name = {name.lower(): code for code, name in names.items()}
    if low in by_name:
        return [by_name[low]]
    major = list(dict.fromkeys(_table("iso_639_1_to_3.json").values()))
    major_names = {names[c].lower(): c for c in major if c in names}
    starts = [c for name, c in major_names.items() if len(low) >= 2 and name.startswith(low)]
    if starts:
        return starts[:3]
    close = [major_names[n] for n in difflib.get_close_matches(low, list(major_names), n=2, cutoff=0.75)]
    if close:
        return close
    return [c for c in major if sorted(c) == sorted(low)][:2]


def _hint(written: str) -> str:
    """``; did you mean 'es' or 'spa-Latn' (Spanish)?`` for a mistyped language, or "" when nothing is close."""
    to_1 = {three: one for one, three in _table("iso_639_1_to_3.json").items()}
    names = iso639_3_codes()
    options = []
    for code in suggest_languages(written):
        full = f"{code}-{default_script(code)}" if default_script(code) else code
        spelled = f"'{to_1[code]}' or '{full}'" if code in to_1 else f"'{full}'"
        options.append(f"{spelled} ({names[code]})")
    return f"; did you mean {', '.join(options)}?" if options else ""


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
