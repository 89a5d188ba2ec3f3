"""The exception tree of llmtrace. Every error the library raises derives from `LlmtraceError`.

```
LlmtraceError
├── ConfigError          a setting or environment variable has an invalid value
├── StoreError           the store failed (database unreachable, migration needed, ...)
│   ├── NotFoundError    a trace, span or other entity does not exist
│   └── MigrationError   the database schema is not at the expected revision
└── InvalidQueryError    a search request is malformed (bad order_by, bad page token)
    └── FilterSyntaxError  the filter string cannot be parsed; carries the position
```
"""

from __future__ import annotations


class LlmtraceError(Exception):
    """Base class of every llmtrace error."""


class ConfigError(LlmtraceError, ValueError):
    """A configuration value is invalid. The message names the setting and what is accepted."""


class StoreError(LlmtraceError):
    """The store could not complete an operation."""


class NotFoundError(StoreError, LookupError):
    """The requested entity does not exist."""


class MigrationError(StoreError):
    """The database schema is not at the revision this version of llmtrace expects."""


class InvalidQueryError(LlmtraceError, ValueError):
    """A search request is malformed (unknown order_by key, invalid page token, ...)."""


class FilterSyntaxError(InvalidQueryError):
    """A filter string cannot be parsed.

    `position` is the 0-based character offset where parsing failed, and `filter` the full text.
    """

    def __init__(self, message: str, *, filter: str, position: int) -> None:
        self.filter = filter
        self.position = position
        pointer = f"{filter}\n{' ' * position}^"
        super().__init__(f"{message} at position {position}:\n{pointer}")


__all__ = [
    "ConfigError",
    "FilterSyntaxError",
    "InvalidQueryError",
    "LlmtraceError",
    "MigrationError",
    "NotFoundError",
    "StoreError",
]
