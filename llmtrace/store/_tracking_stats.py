"""Planner statistics for the tracking tables on PostgreSQL: ANALYZE them once, when a search
finds them filled but never analysed.

Without statistics (a bulk load, and autovacuum off or not yet around: it analyses a table
within about a minute of a large change) PostgreSQL's planner guesses every selectivity; for
`search_runs` ordered by a metric it then loops over every run of the experiments and sorts
them (~90 ms for 10,000 runs, growing with the runs) instead of reading the page off the
`(key, value, run_id)` index (~12 ms). So the first `search_runs` of a store checks, with one
catalog query, whether a tracking table holds at least `MIN_BYTES` but has no column statistics
(`pg_stats`), and if so runs ANALYZE on those tables, with a small statistics target
(`STATISTICS_TARGET`: a sample of 300 x 30 rows per table; ~55 ms for 10,000 runs with 20
metrics each) — autovacuum or a manual ANALYZE refines them later. The search that triggers it
pays for it.

Each table is analysed at most once per store (a user who does not own the tables gets a
warning from PostgreSQL and nothing else); tables still below `MIN_BYTES` are looked at again
`RECHECK_S` later, until every table has statistics or was analysed. Several processes racing
on a new database: one takes a transaction-scoped advisory lock and analyses, the others skip.
A failure here (a lock timeout, privileges) is logged and never fails the search.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

logger = logging.getLogger("llmtrace")

#: The tables `search_runs` reads; `metrics` (the history) is only read by primary-key prefix.
TABLES = ("runs", "latest_metrics", "params", "run_tags")
#: Smaller tables are left alone: a sequential scan of 16 pages costs nothing.
MIN_BYTES = 128 * 1024
#: Seconds between two checks while some table is still too small to be analysed.
RECHECK_S = 60.0
#: The statistics target of this one-off ANALYZE (PostgreSQL's default is 100).
STATISTICS_TARGET = 30
#: How long ANALYZE waits for a table's lock (held by a concurrent VACUUM or ANALYZE).
LOCK_TIMEOUT_MS = 2000

# (name, has column statistics, size in bytes) of each existing table of `tables`.
_CHECK = sa.text(
    """SELECT c.relname,
  EXISTS (SELECT 1 FROM pg_stats AS s WHERE s.schemaname = ns.nspname AND s.tablename = c.relname),
  pg_relation_size(c.oid)
FROM unnest(CAST(:tables AS text[])) AS t(name)
JOIN pg_class AS c ON c.oid = to_regclass(t.name)
JOIN pg_namespace AS ns ON ns.oid = c.relnamespace"""
)
# Lowers the statistics target for this transaction (never raises it above the server's).
_TARGET = sa.text(
    "SELECT set_config('default_statistics_target', "
    "least(current_setting('default_statistics_target')::int, :target)::text, true)"
)
_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"llmtrace.store.tracking_stats").digest()[:8], "big", signed=True
)


class PlannerStats:
    """Per store: which tracking tables may still need their first ANALYZE."""

    def __init__(self) -> None:
        self.pending = set(TABLES)
        self.next_check = 0.0
        self._lock = threading.Lock()

    def ensure(self, engine: sa.Engine) -> list[str]:
        """ANALYZE the pending tables that are filled but have no statistics; the tables
        analysed (empty when nothing was needed, or another thread or process is at it)."""
        if not self.pending or time.monotonic() < self.next_check:
            return []
        if not self._lock.acquire(blocking=False):
            return []
        try:
            return self._ensure(engine)
        except DBAPIError as exc:
            logger.warning("could not analyse the tracking tables for the planner: %s", exc.orig)
            self.pending.clear()
            return []
        finally:
            self.next_check = time.monotonic() + RECHECK_S
            self._lock.release()

    def _ensure(self, engine: sa.Engine) -> list[str]:
        with engine.connect() as conn:
            rows = conn.execute(_CHECK, {"tables": sorted(self.pending)}).all()
        wanted = []
        found = set()
        for name, has_stats, size in rows:
            found.add(name)
            if has_stats:
                self.pending.discard(name)
            elif size >= MIN_BYTES:
                wanted.append(name)
        self.pending &= found  # a table that does not exist will not need statistics
        if not wanted:
            return []
        with engine.begin() as conn:
            got = conn.exec_driver_sql(f"SELECT pg_try_advisory_xact_lock({_LOCK_KEY})").scalar()
            if not got:
                return []
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = {int(LOCK_TIMEOUT_MS)}")
            conn.execute(_TARGET, {"target": STATISTICS_TARGET})
            conn.exec_driver_sql("ANALYZE " + ", ".join(wanted))  # names from TABLES
        self.pending.difference_update(wanted)
        logger.info("analysed %s for the query planner (no statistics yet)", ", ".join(wanted))
        return wanted


__all__ = [
    "LOCK_TIMEOUT_MS",
    "MIN_BYTES",
    "RECHECK_S",
    "STATISTICS_TARGET",
    "TABLES",
    "PlannerStats",
]
