"""Lengths of time as people write them: ``--budget 2h``, a policy's ``budget: 45m``. One parser, so the command line
and a policy file read the same words the same way."""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(hours?|h|minutes?|mins?|m|seconds?|secs?|s)", re.IGNORECASE)
_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0}
EXAMPLES = "90s, 45m, 2h, 1h30m or a number of seconds"


def parse_duration(value: object) -> float:
    """Seconds in ``value``: a number (seconds), or parts like ``1h30m``, ``45 min``, ``90s``. Raises ValueError
    with the forms it takes; zero or less is no time at all, so it is refused too."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration; write {EXAMPLES}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = str(value).strip()
        try:
            seconds = float(text)
        except ValueError:
            parts = _PART.findall(text)
            if not parts or _PART.sub("", text).strip():
                raise ValueError(f"'{text}' is not a duration; write {EXAMPLES}") from None
            seconds = sum(float(n) * _SECONDS[unit[0].lower()] for n, unit in parts)
    if not seconds > 0:
        raise ValueError(f"a duration of {value!r} leaves no time; write a positive one ({EXAMPLES})")
    return seconds
