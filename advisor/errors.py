"""Errors a user can fix. The CLI prints them as one line and exits with code 2, never a traceback."""

from __future__ import annotations


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
