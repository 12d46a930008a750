"""The one way a figure is written for people: the CLI, the reports, the policy's reasons and the TUI all call
these, so a latency reads ``1,209 ms`` everywhere and never ``1.21e+03``.

Plain numbers, thousands separated, about three significant digits (never fewer integer digits than the value
has), no exponent; a missing figure is ``n/a`` in a sentence and ``–`` in a table cell. Machines get the raw
numbers (JSON, CSV); nothing here is for them, but ``spreadsheet_text``: the text of a CSV cell, which a person
opens in a spreadsheet.
"""

from __future__ import annotations

import math
from typing import Any, Callable

MISSING = "n/a"
CELL_MISSING = "–"


def number(value: float | int | None, *, digits: int = 3, decimals: int | None = None,
           missing: str = MISSING) -> str:
    """``1209.4`` -> ``1,209``; ``23.47`` -> ``23.5``; ``1.764`` -> ``1.76``; ``2.0`` -> ``2``; ``0.000123`` ->
    ``0.000123``. ``digits`` significant digits (trailing zeros dropped); ``decimals`` asks for exactly that many
    decimals instead. Whole ``int`` values are written in full."""
    if value is None or isinstance(value, bool):
        return missing if value is None else str(value)
    if isinstance(value, float) and math.isnan(value):
        return missing
    if isinstance(value, float) and math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if decimals is not None:
        return f"{value:,.{decimals}f}"
    if isinstance(value, int):
        return f"{value:,}"
    if value == 0:
        return "0"
    places = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    text = f"{value:,.{places}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def figure(value: float | int | None, unit: str = "", *, digits: int = 3, decimals: int | None = None,
           missing: str = MISSING) -> str:
    """A number with its unit, for a sentence: ``figure(1209.4, "ms")`` -> ``1,209 ms``; None -> ``n/a``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return missing
    text = number(value, digits=digits, decimals=decimals, missing=missing)
    return f"{text} {unit}" if unit else text


def cell(value: Any, digits: int = 3, *, decimals: int | None = None, missing: str = CELL_MISSING) -> str:
    """A table cell: a number as ``number`` writes it (``decimals`` for a column that should line up, such as
    quality), ``–`` when missing, anything else as its text."""
    if value is None or isinstance(value, (int, float)):
        return number(value, digits=digits, decimals=decimals, missing=missing)
    return str(value)


def signed(value: float | None, *, decimals: int = 4, missing: str = MISSING) -> str:
    """A difference, with its sign always written: ``0.0123`` -> ``+0.0123``, ``-0.02`` -> ``-0.0200``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return missing
    return f"{value:+,.{decimals}f}"


def interval(low: float | None, high: float | None, unit: str = "", *, digits: int = 3,
             decimals: int | None = None, sign: bool = False, label: str = "95% CI",
             write: Callable[[float], str] | None = None, missing: str = MISSING) -> str:
    """The one way an interval is written: ``95% CI 221 to 240 ms``; ``sign`` for a difference
    (``95% CI -0.0120 to +0.0310``, ``decimals`` 4 unless given); ``label=""`` for a table cell whose column says
    what the interval is (``221 to 240``); ``write`` writes each end another way (money: ``$0.12 to $0.15``).
    "to", not a dash or a comma, because ``1,100-1,300`` and ``[1,100, 1,300]`` misread and a dash beside a minus
    sign does too."""
    if low is None or high is None or any(isinstance(x, float) and math.isnan(x) for x in (low, high)):
        return missing
    if write is not None:
        ends = [write(x) for x in (low, high)]
    elif sign:
        ends = [signed(x, decimals=4 if decimals is None else decimals) for x in (low, high)]
    else:
        ends = [number(x, digits=digits, decimals=decimals) for x in (low, high)]
    text = f"{ends[0]} to {ends[1]}" + (f" {unit}" if unit else "")
    return f"{label} {text}" if label else text


def percent(fraction: float | None, *, decimals: int = 1, missing: str = MISSING) -> str:
    """A fraction as a percentage: ``0.9731`` -> ``97.3%``."""
    if fraction is None or math.isnan(fraction):
        return missing
    return f"{100 * fraction:,.{decimals}f}%"


def duration(seconds: float | None, *, missing: str = MISSING) -> str:
    """A length of time in the unit that reads best: ``0.0421`` -> ``42.1 ms``, ``12.34`` -> ``12.3 s``,
    ``754`` -> ``12.6 min``, ``9000`` -> ``2.5 h``."""
    if seconds is None or math.isnan(seconds):
        return missing
    if abs(seconds) < 1:
        return figure(seconds * 1000, "ms")
    if abs(seconds) < 600:
        return figure(seconds, "s")
    if abs(seconds) < 36000:
        return figure(seconds / 60, "min")
    return figure(seconds / 3600, "h")


def megabytes(mb: float | None, *, missing: str = MISSING) -> str:
    """An amount of memory or storage given in MB (MiB, as the advisor measures it): ``512.3`` -> ``512 MB``,
    ``2150`` -> ``2.1 GB``, ``0.586`` -> ``0.586 MB``."""
    if mb is None or math.isnan(mb):
        return missing
    if abs(mb) >= 1024 * 1024:
        return figure(mb / (1024 * 1024), "TB")
    if abs(mb) >= 1024:
        return figure(mb / 1024, "GB")
    return figure(mb, "MB")


def count(n: int | float | None, *, missing: str = "?") -> str:
    """A large count (model parameters): ``640_000`` -> ``640 K``, ``22_713_216`` -> ``22.7 M``,
    ``1_300_000_000`` -> ``1.3 B``; below a thousand, the number itself."""
    if n is None:
        return missing
    for scale, suffix, places in ((1e9, "B", 1), (1e6, "M", 1), (1e3, "K", 0)):
        if abs(n) >= scale:
            return f"{number(n / scale, decimals=places)} {suffix}"
    return number(n)


def money(value: float | None, *, currency: str = "$", digits: int = 3, missing: str = MISSING) -> str:
    """An amount of money: ``0.000357`` -> ``$0.000357``, ``1234.5`` -> ``$1,234``."""
    if value is None or math.isnan(value):
        return missing
    return f"{currency}{number(value, digits=digits)}"


# What a spreadsheet reads as the start of a formula (OWASP, CSV injection): = + - @, and tab or carriage return
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(value: Any) -> Any:
    """A CSV cell's value: text that a spreadsheet would run as a formula (it starts with ``= + - @``, a tab or a
    carriage return; a model name can) gets a leading single quote, as OWASP advises, so it is shown as text;
    numbers and every other value are left as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
