"""API keys of the server, stored hashed (filled in by the auth work)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ApiKey:
    """An API key's record (never the secret itself)."""

    key_id: str
    name: str
    scope: str  # "read" or "write"
    created_at: datetime | None = None
    revoked_at: datetime | None = None


class ApiKeysMixin:
    """Create, list, revoke and authenticate API keys (mixed into `SqlStore`)."""

    def authenticate_api_key(self, secret: str) -> ApiKey | None:
        """The active key whose secret this is, or None."""
        return None


__all__ = ["ApiKey", "ApiKeysMixin"]
