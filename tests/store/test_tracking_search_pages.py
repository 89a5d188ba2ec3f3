"""`search_runs` ordered by a metric, param or tag: the page is read first from the runs that
have a value for the key, then from the runs without one (missing or NaN, NULLs last). Pages
must concatenate to the whole result across that boundary, in both directions, with ties broken
by run_id, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from llmtrace.store import Metric, SqlStore

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
NAN, INF = float("nan"), float("inf")
# Value of metric "m" per run (None: never logged): ties, NaN, +/-inf and missing values mixed.
VALUES = [0.5, 0.5, None, 0.2, NAN, INF, 0.5, -INF, None, 0.2, NAN, 1.0, None]


@pytest.fixture
def store(migrated_db_url: str) -> Iterator[SqlStore]:
    s = SqlStore(migrated_db_url)
    yield s
    s.close()


@pytest.fixture
def runs(store: SqlStore) -> tuple[str, dict[str, tuple[float | None, int]]]:
    """Experiment id and, per run id, (metric m or None, index); run i also has metric
    `other` = i, param `p` = i % 3 (none for every fourth run) and name r<i>."""
    exp_id = store.create_experiment("pages", artifact_location="/p")
    out: dict[str, tuple[float | None, int]] = {}
    for i, value in enumerate(VALUES):
        run_id = store.create_run(exp_id, name=f"r{i:02d}", start_time=T0 + timedelta(seconds=i))
        metrics = [Metric("other", float(i), 0, 0)]
        if value is not None:
            metrics.append(Metric("m", value, 0, 0))
        params = {} if i % 4 == 3 else {"p": str(i % 3)}
        store.log_batch(run_id.run_id, metrics=metrics, params=params)
        out[run_id.run_id] = (value, i)
    return exp_id, out


def _expected(data: dict[str, tuple[float | None, int]], desc: bool, flt_min: int) -> list[str]:
    """Order of `metrics.m [desc]`: numbers by value, then missing/NaN; run_id breaks ties in
    the direction of the (single) key."""
    chosen = {rid: v for rid, (v, i) in data.items() if i >= flt_min}
    present = [(v, rid) for rid, v in chosen.items() if v is not None and not math.isnan(v)]
    absent = [rid for rid, v in chosen.items() if v is None or math.isnan(v)]
    return [rid for _, rid in sorted(present, reverse=desc)] + sorted(absent, reverse=desc)


def _pages(store: SqlStore, exp_id: str, flt: str | None, order: str, limit: int) -> list[str]:
    got: list[str] = []
    token = None
    for _ in range(len(VALUES) + 2):
        page = store.search_runs(exp_id, flt, order_by=order, limit=limit, page_token=token)
        assert len(page) <= limit
        got += [r.run_id for r in page]
        token = page.next_page_token
        if token is None:
            return got
    raise AssertionError("too many pages")


@pytest.mark.parametrize("desc", [False, True])
def test_metric_order_pages_cross_to_runs_without_the_metric(
    store: SqlStore, runs: tuple[str, dict[str, tuple[float | None, int]]], desc: bool
) -> None:
    exp_id, data = runs
    order = "metrics.m desc" if desc else "metrics.m"
    for flt, flt_min in ((None, 0), ("metrics.other >= 3", 3)):
        expected = _expected(data, desc, flt_min)
        whole = store.search_runs(exp_id, flt, order_by=order)
        assert [r.run_id for r in whole] == expected, (flt, order)
        assert whole.next_page_token is None
        for limit in range(1, len(expected) + 1):
            assert _pages(store, exp_id, flt, order, limit) == expected, (flt, order, limit)


def test_metric_order_with_a_second_key(
    store: SqlStore, runs: tuple[str, dict[str, tuple[float | None, int]]]
) -> None:
    """The remaining keys order the runs with the metric and, after them, those without."""
    exp_id, data = runs
    name = {rid: f"r{i:02d}" for rid, (_, i) in data.items()}
    present = [(-v, name[r]) for r, (v, _) in data.items() if v is not None and not math.isnan(v)]
    absent = sorted(name[r] for r, (v, _) in data.items() if v is None or math.isnan(v))
    expected = [n for _, n in sorted(present)] + absent
    for order in ("metrics.m desc, name", ["metrics.m desc", "name asc"]):
        whole = store.search_runs(exp_id, order_by=order)
        assert [r.info.name for r in whole] == expected
        for limit in (1, 2, 3, 5):
            by_id = {r.run_id: r.info.name for r in whole}
            paged = _pages(store, exp_id, None, "metrics.m desc, name", limit)
            assert [by_id[r] for r in paged] == expected


@pytest.mark.parametrize("order", ["params.p", "params.p desc, metrics.other desc"])
def test_param_order_pages_cross_to_runs_without_the_param(
    store: SqlStore, runs: tuple[str, dict[str, tuple[float | None, int]]], order: str
) -> None:
    exp_id, data = runs
    param = {rid: None if i % 4 == 3 else str(i % 3) for rid, (_, i) in data.items()}
    index = {rid: i for rid, (_, i) in data.items()}
    if order == "params.p":
        present = sorted((p, rid) for rid, p in param.items() if p is not None)
        absent = sorted(rid for rid, p in param.items() if p is None)
    else:  # p descending, then metric `other` (= index) descending
        present = sorted(((p, index[r]), r) for r, p in param.items() if p is not None)[::-1]
        absent = sorted((r for r, p in param.items() if p is None), key=index.get)[::-1]
    expected = [rid for _, rid in present] + absent
    assert [r.run_id for r in store.search_runs(exp_id, order_by=order)] == expected
    for limit in (1, 2, 4, 7):
        assert _pages(store, exp_id, None, order, limit) == expected


def test_nan_values_come_back_and_sort_with_missing_ones(
    store: SqlStore, runs: tuple[str, dict[str, tuple[float | None, int]]]
) -> None:
    exp_id, _ = runs
    found = store.search_runs(exp_id, order_by="metrics.m desc", limit=50)
    tail = found[-5:]
    assert all(r.metrics.get("m") is None or math.isnan(r.metrics["m"]) for r in tail)
    assert sum(1 for r in tail if "m" in r.metrics) == 2  # the two NaN runs
    assert [r.metrics["m"] for r in found[:2]] == [INF, 1.0]
    assert found[-6].metrics["m"] == -INF
