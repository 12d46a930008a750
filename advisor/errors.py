"""Errors a user can fix. The CLI prints them as one line and exits with code 2, never a traceback. And the
redaction of the credentials an error text can carry (``redact``), before it is stored or shown."""

from __future__ import annotations

import os
import re
from typing import Iterable


class UserError(Exception):
    """A mistake in the user's input (a file, a field, an option): the message says where and how to fix it."""

    exit_code = 2


class ConfigError(UserError):
    """A catalog, policy or dataset file that does not follow its schema. ``line``: where a text file's record
    starts; ``row``: the record's number in a file without lines (Parquet, Arrow), counted from 1."""

    def __init__(self, file: str, message: str, *, entry: str | None = None, field: str | None = None,
                 line: int | None = None, row: int | None = None) -> None:
        self.file, self.entry, self.field, self.line, self.row = file, entry, field, line, row
        where = str(file) + (f":{line}" if line else "") + (f": row {row}" if row else "")
        if entry is not None:
            where += f": entry '{entry}'"
        if field is not None:
            where += f": field '{field}'"
        super().__init__(f"{where}: {message}")


class PluginError(UserError):
    """A plugin the user asked for by name could not be loaded."""


# -- secrets in error texts ---------------------------------------------------------------------------------------
# An error a provider, a database or a library returns can carry a credential: OpenAI echoes the (masked) key it was
# given, a connection error its connection string. What the advisor stores, prints or reports of such a text goes
# through ``redact`` first.

REDACTED = "[redacted]"
_KEEP = r"(?P<keep>"  # the part before the secret, kept (a field name, a URL's user)
_SECRET_SHAPES = [re.compile(p) for p in (
    _KEEP + r"(?i:authorization)[\"']?\s*[:=]\s*[\"']?(?:(?i:bearer|basic|token)\s+)?)[^\s,;'\"]+",
    _KEEP + r"\b(?i:bearer)\s+)[A-Za-z0-9._~+/=*-]{6,}",
    _KEEP + r"(?i:api[-_ ]?key|x-goog-api-key|access[-_]?token|auth[-_]?token|client[-_]?secret|secret|password"
            r"|passwd|pwd)[\"']?\s*[:=]\s*[\"']?)[^\s,;'\"&}]+",
    _KEEP + r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]+:)[^@\s/]+(?=@)",  # a URL's password: scheme://user:PASSWORD@host
    _KEEP + r")\bsk-[A-Za-z0-9_*-]{6,}",          # OpenAI keys, and OpenAI's masked echo of one (sk-proj-ab***yz)
    _KEEP + r")\bAIza[0-9A-Za-z_-]{20,}",          # Google API keys
    _KEEP + r")\bya29\.[0-9A-Za-z_.-]{10,}",       # Google OAuth access tokens
    _KEEP + r")\bhf_[A-Za-z0-9]{20,}",             # Hugging Face tokens
    _KEEP + r")\bgh[pousr]_[A-Za-z0-9]{20,}",      # GitHub tokens
    _KEEP + r")\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",     # AWS access key ids
)]
_SECRET_VARIABLE = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|DSN", re.IGNORECASE)


def configured_secrets(names: Iterable[str] = ()) -> list[str]:
    """The values of the environment variables ``names`` and of every variable whose name says it holds a secret
    (``*_API_KEY``, ``*_TOKEN``, ``*PASSWORD*``, ``*_DSN`` ...), eight characters or longer."""
    values = {os.environ.get(name, "") for name in names}
    values |= {value for name, value in os.environ.items() if _SECRET_VARIABLE.search(name)}
    return sorted((v for v in values if len(v) >= 8), key=len, reverse=True)


def redact(text: str | None, secrets: Iterable[str] = ()) -> str | None:
    """``text`` with every credential in it replaced by ``[redacted]``: the configured keys themselves (``secrets``
    and the secret-named environment variables' values, ``configured_secrets``), Authorization and Bearer values,
    key/token/secret/password fields, a URL's password, and the shapes of well-known keys (OpenAI's, masked or
    not, Google's, Hugging Face's, GitHub's, AWS's)."""
    if not text:
        return text
    for value in configured_secrets(secrets):
        text = text.replace(value, REDACTED)
    for shape in _SECRET_SHAPES:
        text = shape.sub(lambda m: m.group("keep") + REDACTED, text)
    return text


def redact_dsn(dsn: str) -> str:
    """A PostgreSQL connection string without its password: ``postgresql://user:pw@host/db`` becomes
    ``postgresql://user@host/db``, and a ``password=...`` parameter (URI query or key=value form) is dropped."""
    if "://" in dsn:
        from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

        parts = urlsplit(dsn)
        netloc = parts.netloc
        if "@" in netloc:
            user, _, host = netloc.rpartition("@")
            netloc = f"{user.split(':', 1)[0]}@{host}"
        query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                           if k.lower() != "password"])
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    return re.sub(r"\s*\bpassword\s*=\s*(?:'(?:[^'\\]|\\.)*'|\S+)", "", dsn).strip()
