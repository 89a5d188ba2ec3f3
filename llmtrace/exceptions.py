"""The exception tree of llmtrace. Every error the library raises derives from `LlmtraceError`.

```
LlmtraceError
├── ConfigError          a setting or environment variable has an invalid value
├── StoreError           the store failed (database unreachable, migration needed, ...)
│   ├── NotFoundError    a trace, span, run, experiment or other entity does not exist
│   ├── AlreadyExistsError  an entity with that unique name already exists
│   └── MigrationError   the database schema is not at the expected revision
├── InvalidParameterError  an argument is invalid (a bad key, a too long value, a param
│                          logged again with another value)
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


class AlreadyExistsError(StoreError):
    """An entity with that unique name (an experiment name, ...) already exists."""


class InvalidStateError(LlmtraceError):
    """The entity's current state does not allow the operation: a transition request that was
    decided already, a stage change that needs an approved request."""


class ApprovalRequiredError(InvalidStateError):
    """The registered model requires approval for stage changes: create a transition request
    (`request_transition`) and have someone approve it."""


class MigrationError(StoreError):
    """The database schema is not at the revision this version of llmtrace expects."""


class InvalidParameterError(LlmtraceError, ValueError):
    """An argument is invalid: an empty or too long key, a value over its size limit, a metric
    that is not a number, or a param logged again with a different value (params are
    immutable). The message names the offending key and value."""


class InvalidQueryError(LlmtraceError, ValueError):
    """A search request is malformed (unknown order_by key, invalid page token, ...)."""


class FilterSyntaxError(InvalidQueryError):
    """A filter string cannot be parsed.

    `position` is the 0-based character offset where parsing failed, and `filter` the full text.
    """

    def __init__(self, message: str, *, filter: str, position: int) -> None:
        self.filter = filter
        self.position = position
        self.reason = message
        pointer = f"{filter}\n{' ' * position}^"
        super().__init__(f"{message} at position {position}:\n{pointer}")


__all__ = [
    "AlreadyExistsError",
    "ApprovalRequiredError",
    "ConfigError",
    "FilterSyntaxError",
    "InvalidParameterError",
    "InvalidQueryError",
    "InvalidStateError",
    "LlmtraceError",
    "MigrationError",
    "NotFoundError",
    "StoreError",
]
