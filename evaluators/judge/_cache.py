"""A persistent cache of judge replies in SQLite, so an unchanged evaluation re-runs for free."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from evaluators.judge._base import JudgeReply, TokenLogprob


def default_cache_path() -> Path:
    """`$LLMTRACE_HOME/judge_cache.db` (`~/.llmtrace` when `LLMTRACE_HOME` is unset)."""
    home = os.environ.get("LLMTRACE_HOME")
    return Path(home if home else Path.home() / ".llmtrace") / "judge_cache.db"


def cache_key(**parts: Any) -> str:
    """The SHA-256 of `parts` as canonical JSON (sorted keys)."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class JudgeCache:
    """Judge replies stored by request key in a SQLite file (WAL mode, safe across threads and
    processes). `hits` and `misses` count lookups made through this object.

    Example:
        >>> cache = JudgeCache("/tmp/judge_cache.db")
        >>> cache.get("missing") is None
        True
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_cache_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS judge_replies ("
                "key TEXT PRIMARY KEY, reply TEXT NOT NULL, created REAL DEFAULT (unixepoch()))"
            )
            self._conn.commit()

    def get(self, key: str) -> JudgeReply | None:
        """The stored reply for `key` (marked `cached=True`; its cost is 0: nothing was paid)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT reply FROM judge_replies WHERE key = ?", (key,)
            ).fetchone()
            if row is None:
                self.misses += 1
                return None
            self.hits += 1
        return _decode(row[0])

    def put(self, key: str, reply: JudgeReply) -> None:
        """Store `reply` under `key` (replacing any previous one)."""
        blob = json.dumps(_encode(reply), ensure_ascii=False, default=str)
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO judge_replies (key, reply) VALUES (?, ?)", (key, blob)
            )
            self._conn.commit()

    def clear(self) -> None:
        """Forget every stored reply."""
        with self._lock:
            self._conn.execute("DELETE FROM judge_replies")
            self._conn.commit()

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM judge_replies").fetchone()[0])

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._conn.close()


def _encode(reply: JudgeReply) -> dict[str, Any]:
    out = asdict(reply)
    out.pop("cached", None)
    if reply.logprobs is not None:
        out["logprobs"] = [
            {"token": t.token, "logprob": t.logprob, "top": dict(t.top)} for t in reply.logprobs
        ]
    return out


def _decode(blob: str) -> JudgeReply:
    raw: dict[str, Any] = json.loads(blob)
    logprobs = raw.get("logprobs")
    return JudgeReply(
        text=raw.get("text", ""),
        data=raw.get("data"),
        logprobs=None if logprobs is None else [_token(t) for t in logprobs],
        input_tokens=int(raw.get("input_tokens") or 0),
        output_tokens=int(raw.get("output_tokens") or 0),
        cost=None if raw.get("cost") is None else 0.0,
        cached=True,
        model=raw.get("model"),
    )


def _token(raw: Mapping[str, Any]) -> TokenLogprob:
    return TokenLogprob(raw["token"], float(raw["logprob"]), dict(raw.get("top") or {}))
