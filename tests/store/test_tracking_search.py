"""`SqlStore.search_runs` on SQLite, PostgreSQL and MariaDB: every field kind and operator,
and/or/not, backquoted keys, order by metrics/params/tags/attributes with NULLs last and a run_id
tiebreak, keyset pagination, views, and errors with positions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from llmtrace.exceptions import FilterSyntaxError, InvalidQueryError, NotFoundError
from llmtrace.store import Metric, RunList, SqlStore
from llmtrace.store._tracking_read import latest_t, params_t, run_tags_t, runs_t

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
T0_MS = int(T0.timestamp() * 1000)
NAN, INF = float("nan"), float("inf")


@dataclass
class Data:
    exp_id: str
    ids: dict[str, str]  # run name -> run id

    def names(self, runs: RunList) -> list[str]:
        by_id = {v: k for k, v in self.ids.items()}
        return [by_id[r.run_id] for r in runs]


@pytest.fixture
def store(migrated_db_url: str) -> Iterator[SqlStore]:
    s = SqlStore(migrated_db_url)
    yield s
    s.close()


# name, status, start (s after T0), duration (ms, None: not ended), user, metrics, params, tags
RUNS = [
    ("alpha", "FINISHED", 0, 10_000, "ada", {"loss": 0.5, "acc": 0.7},
     {"model": "gpt-4o", "lr": "0.01"}, {"env": "prod"}),
    ("beta", "FAILED", 1, 5_000, "bob", {"loss": 0.3, "acc": NAN},
     {"model": "gpt-4o-mini", "lr": "0.1"}, {"env": "dev"}),
    ("gamma", "RUNNING", 2, None, None, {"loss": INF},
     {"model": "claude"}, {"env": "prod", "team": "x"}),
    ("delta", "FINISHED", 3, 1_000, "ada", {"loss": -INF}, {}, {}),
    ("epsilon", "KILLED", 4, 2_000, "cy", {}, {"lr": "0.001"}, {}),
    ("zeta_%", "FINISHED", 5, 500, None, {"val loss": 0.25, "val.loss": 0.2},
     {"batch size": "32"}, {"a.b": "c"}),
]  # fmt: skip


@pytest.fixture
def data(store: SqlStore) -> Data:
    exp_id = store.create_experiment("search", artifact_location="/a")
    ids: dict[str, str] = {}
    for name, status, start_s, duration, user, metrics, params, tags in RUNS:
        start = T0 + timedelta(seconds=start_s)
        parent = ids["alpha"] if name == "epsilon" else None
        run_id = store.create_run(
            exp_id, name=name, start_time=start, tags=tags, user_id=user, parent_run_id=parent
        ).run_id
        store.log_batch(
            run_id, metrics=[Metric(k, v, 0, T0_MS) for k, v in metrics.items()], params=params
        )
        end = None if duration is None else start + timedelta(milliseconds=duration)
        store.update_run(run_id, status=status, end_time=end)
        ids[name] = run_id
    return Data(exp_id, ids)


ALL = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta_%"]
FILTERS = [
    # metrics: latest values; NaN matches only != / not in; +/-inf beyond every number
    ("metrics.loss < 0.4", ["beta", "delta"]),
    ("metrics.loss >= 0.5", ["alpha", "gamma"]),
    ("metrics.loss = 0.3", ["beta"]),
    ("metrics.loss == 0.3", ["beta"]),
    ("metrics.loss != 0.3", ["alpha", "gamma", "delta"]),
    ("metrics.loss <> 0.3", ["alpha", "gamma", "delta"]),
    ("metrics.loss <= -1e308", ["delta"]),
    ("metric.loss > 1e300", ["gamma"]),
    ("metrics.acc = 0.7", ["alpha"]),
    ("metrics.acc != 0.7", ["beta"]),
    ("metrics.acc > 0", ["alpha"]),
    ("metrics.acc is null", ["gamma", "delta", "epsilon", "zeta_%"]),
    ("metrics.acc is not null", ["alpha", "beta"]),
    ("metrics.loss in (0.3, 0.5, 7)", ["alpha", "beta"]),
    ("metrics.loss not in (0.3)", ["alpha", "gamma", "delta"]),
    ("metrics.acc not in (0.7)", ["beta"]),
    ("metrics.`val loss` < 0.3", ["zeta_%"]),
    ("metrics.`val.loss` = 0.2", ["zeta_%"]),
    ("metrics.loss > 0", ["alpha", "beta", "gamma"]),
    ("metrics.loss > 0.5", ["gamma"]),
    # params: text
    ("params.model = 'gpt-4o'", ["alpha"]),
    ("params.model like 'gpt-%'", ["alpha", "beta"]),
    ("params.model ilike 'GPT-4O%'", ["alpha", "beta"]),
    ("params.model not like 'gpt%'", ["gamma"]),
    ("params.model not ilike 'GPT%'", ["gamma"]),
    ("params.model != 'claude'", ["alpha", "beta"]),
    ("params.model in ('claude', 'gpt-4o')", ["alpha", "gamma"]),
    ("params.model not in ('claude')", ["alpha", "beta"]),
    ("params.model > 'gpt'", ["alpha", "beta"]),
    ("params.lr = 0.01", ["alpha"]),
    ("params.lr = '0.001'", ["epsilon"]),
    ("params.lr is null", ["gamma", "delta", "zeta_%"]),
    ("param.lr is not null", ["alpha", "beta", "epsilon"]),
    ("params.`batch size` = '32'", ["zeta_%"]),
    # tags
    ("tags.env = 'prod'", ["alpha", "gamma"]),
    ("tag.env != 'prod'", ["beta"]),
    ("tags.`a.b` = 'c'", ["zeta_%"]),
    ("tags.env is null", ["delta", "epsilon", "zeta_%"]),
    ("tags.team like 'x'", ["gamma"]),
    # attributes
    ("status = 'FINISHED'", ["alpha", "delta", "zeta_%"]),
    ("status = 'finished'", ["alpha", "delta", "zeta_%"]),
    ("attributes.status = 'RUNNING'", ["gamma"]),
    ("status in ('FAILED', 'KILLED')", ["beta", "epsilon"]),
    ("status != 'RUNNING'", ["alpha", "beta", "delta", "epsilon", "zeta_%"]),
    ("name = 'alpha'", ["alpha"]),
    ("run_name like '%eta%'", ["beta", "zeta_%"]),
    ("name like 'zeta\\\\_\\\\%'", ["zeta_%"]),
    ("name like 'zeta_'", []),
    ("name ilike 'GAMMA'", ["gamma"]),
    ("start_time >= '2026-03-01T12:00:03Z'", ["delta", "epsilon", "zeta_%"]),
    (f"start_time < {T0_MS + 1000}", ["alpha"]),
    ("start_time >= '2026-03-01 13:00:01+01:00'", ["beta", "gamma", "delta", "epsilon", "zeta_%"]),
    ("start_time > '2026-03-01 13:00:01+01:00'", ["gamma", "delta", "epsilon", "zeta_%"]),
    ("end_time is null", ["gamma"]),
    ("end_time > '2026-03-01T12:00:06Z'", ["alpha"]),
    ("end_time >= '2026-03-01T12:00:06Z'", ["alpha", "beta", "epsilon"]),
    ("duration > 4000", ["alpha", "beta"]),
    ("duration_ms <= 1000", ["delta", "zeta_%"]),
    ("duration is null", ["gamma"]),
    ("user_id = 'ada'", ["alpha", "delta"]),
    ("user_id is null", ["gamma", "zeta_%"]),
    # boolean structure
    ("not status = 'FINISHED'", ["beta", "gamma", "epsilon"]),
    ("status = 'FINISHED' and metrics.loss < 1", ["alpha", "delta"]),
    ("STATUS = 'FAILED' OR tags.team = 'x'", ["beta", "gamma"]),
    (
        "(params.model like 'gpt%' or params.model = 'claude') and not tags.env = 'dev'",
        ["alpha", "gamma"],
    ),
    ("not metrics.loss > 0", ["delta", "epsilon", "zeta_%"]),
    ("not (metrics.loss > 0 or params.lr is not null)", ["delta", "zeta_%"]),
    ("   ", ALL),
]


def test_filters(store: SqlStore, data: Data) -> None:
    wrong = []
    for text, expected in FILTERS:
        got = data.names(store.search_runs([data.exp_id], text, limit=50))
        if sorted(got) != sorted(expected):
            wrong.append(f"{text!r}: expected {sorted(expected)}, got {sorted(got)}")
    assert not wrong, "\n".join(wrong)


def test_filters_on_ids(store: SqlStore, data: Data) -> None:
    ids = data.ids
    found = store.search_runs(data.exp_id, f"run_id = '{ids['delta']}'")
    assert data.names(found) == ["delta"]
    found = store.search_runs(data.exp_id, f"parent_run_id = '{ids['alpha']}'")
    assert data.names(found) == ["epsilon"]
    found = store.search_runs(data.exp_id, f"run_id in ('{ids['alpha']}', '{ids['beta']}')")
    assert sorted(data.names(found)) == ["alpha", "beta"]
    assert len(store.search_runs(data.exp_id, f"experiment_id = '{data.exp_id}'")) == 6


def _tied(data: Data, *names: str, desc: bool = False) -> list[str]:
    """`names` in run_id order (the tiebreak)."""
    return sorted(names, key=lambda n: data.ids[n], reverse=desc)


def test_order_by(store: SqlStore, data: Data) -> None:
    def order(*keys: str) -> list[str]:
        return data.names(store.search_runs([data.exp_id], order_by=list(keys)))

    assert order() == ["zeta_%", "epsilon", "delta", "gamma", "beta", "alpha"]
    assert order("start_time") == ["alpha", "beta", "gamma", "delta", "epsilon", "zeta_%"]
    # NULLs (no metric, or NaN) last in both directions, ties by run_id in the last direction.
    no_loss = _tied(data, "epsilon", "zeta_%")
    assert order("metrics.loss") == ["delta", "beta", "alpha", "gamma", *no_loss]
    no_loss_desc = _tied(data, "epsilon", "zeta_%", desc=True)
    assert order("metrics.loss desc") == ["gamma", "alpha", "beta", "delta", *no_loss_desc]
    others = _tied(data, "beta", "gamma", "delta", "epsilon", "zeta_%", desc=True)
    assert order("metrics.acc DESC") == ["alpha", *others]
    assert order("metrics.`val loss` desc")[0] == "zeta_%"
    no_model = _tied(data, "delta", "epsilon", "zeta_%")
    assert order("params.model") == ["gamma", "alpha", "beta", *no_model]
    assert order("params.model desc")[:3] == ["beta", "alpha", "gamma"]
    assert order("tags.env desc, name") == ["alpha", "gamma", "beta", "delta", "epsilon", "zeta_%"]
    assert order("duration") == ["zeta_%", "delta", "epsilon", "beta", "alpha", "gamma"]
    assert order("duration_ms desc") == ["alpha", "beta", "epsilon", "delta", "zeta_%", "gamma"]
    assert order("end_time desc")[-1] == "gamma"
    assert order("name desc") == ["zeta_%", "gamma", "epsilon", "delta", "beta", "alpha"]
    finished = _tied(data, "alpha", "delta", "zeta_%")
    assert order("status", "run_name") == ["beta", *sorted(finished), "epsilon", "gamma"]
    assert order("status") == ["beta", *finished, "epsilon", "gamma"]
    assert order("user_id", "start_time")[:3] == ["alpha", "delta", "beta"]
    assert order("run_id desc") == _tied(data, *ALL, desc=True)


ORDERS = [
    None,
    "start_time",
    "metrics.loss",
    "metrics.loss desc",
    "metrics.acc desc",
    "params.model desc",
    "params.lr",
    "tags.env, metrics.loss desc",
    "duration",
    "end_time desc",
    "status, user_id desc",
    "name",
]


@pytest.mark.parametrize("limit", [1, 2, 4])
def test_pages_concatenate_to_the_whole_result(store: SqlStore, data: Data, limit: int) -> None:
    for order_by in ORDERS:
        whole = [r.run_id for r in store.search_runs(data.exp_id, order_by=order_by)]
        pages: list[str] = []
        token = None
        for _ in range(10):
            page = store.search_runs(data.exp_id, order_by=order_by, limit=limit, page_token=token)
            assert len(page) <= limit
            pages += [r.run_id for r in page]
            token = page.next_page_token
            if token is None:
                break
        assert pages == whole, f"order_by={order_by!r}"


def test_pages_are_stable_while_runs_arrive(store: SqlStore, data: Data) -> None:
    first = store.search_runs(data.exp_id, limit=3)
    assert data.names(first) == ["zeta_%", "epsilon", "delta"]
    store.create_run(data.exp_id, name="newest")  # sorts first: pages already read stay read
    second = store.search_runs(data.exp_id, limit=3, page_token=first.next_page_token)
    assert data.names(second) == ["gamma", "beta", "alpha"]
    assert second.next_page_token is None


def test_page_token_is_bound_to_its_query(store: SqlStore, data: Data) -> None:
    token = store.search_runs(data.exp_id, "metrics.loss > 0", limit=1).next_page_token
    assert token is not None
    other_exp = store.create_experiment("other", artifact_location="/o")
    for kwargs in (
        {"filter": "metrics.loss > 1"},
        {"filter": "metrics.loss > 0", "order_by": "name"},
        {"filter": "metrics.loss > 0", "view": "all"},
    ):
        with pytest.raises(InvalidQueryError, match="page token does not belong to this query"):
            store.search_runs(data.exp_id, limit=1, page_token=token, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(InvalidQueryError, match="experiment ids, filter, order_by or view"):
        store.search_runs([data.exp_id, other_exp], "metrics.loss > 0", limit=1, page_token=token)
    with pytest.raises(InvalidQueryError, match="invalid page token"):
        store.search_runs(data.exp_id, page_token="garbage!")
    page = store.search_runs(data.exp_id, "metrics.loss > 0", limit=1, page_token=token)
    assert len(page) == 1


def test_views_and_experiments(store: SqlStore, data: Data) -> None:
    other = store.create_experiment("other", artifact_location="/o")
    extra = store.create_run(other, name="x", start_time=T0 + timedelta(hours=1)).run_id
    store.delete_run(data.ids["beta"])
    both = store.search_runs([data.exp_id, other])
    assert [r.run_id for r in both][:1] == [extra] and len(both) == 6
    assert "beta" not in data.names(store.search_runs(data.exp_id))
    deleted = store.search_runs(data.exp_id, view="deleted")
    assert data.names(deleted) == ["beta"]
    assert deleted[0].info.lifecycle_stage == "deleted"
    assert len(store.search_runs(data.exp_id, view="all")) == 6
    # Data comes with each run.
    (alpha,) = store.search_runs(data.exp_id, "name = 'alpha'")
    assert alpha.params == {"model": "gpt-4o", "lr": "0.01"}
    assert alpha.metrics == {"loss": 0.5, "acc": 0.7}
    assert alpha.tags == {"env": "prod"}
    assert alpha.info.status == "FINISHED" and alpha.info.duration_ms == 10_000

    with pytest.raises(NotFoundError, match="experiment\\(s\\) not found: nope"):
        store.search_runs([data.exp_id, "nope"])
    with pytest.raises(InvalidQueryError, match="at least one experiment id"):
        store.search_runs([])
    with pytest.raises(InvalidQueryError, match="view must be one of"):
        store.search_runs(data.exp_id, view="archived")
    for limit in (0, 10_001):
        with pytest.raises(InvalidQueryError, match="limit must be between 1 and 10000"):
            store.search_runs(data.exp_id, limit=limit)


def test_page_data_is_fetched_in_chunks(store: SqlStore) -> None:
    """More than 200 runs on a page: params, metrics and tags come for every one of them."""
    exp_id = store.create_experiment("many", artifact_location="/m")
    n = 230
    ids = [f"{i:032x}" for i in range(n)]
    with store.engine.begin() as conn:
        conn.execute(
            sa.insert(runs_t),
            [
                {
                    "run_id": rid,
                    "experiment_id": exp_id,
                    "name": f"r{i}",
                    "status": "FINISHED",
                    "start_time": T0 + timedelta(seconds=i),
                    "lifecycle_stage": "active",
                    "artifact_uri": f"/m/{rid}",
                }
                for i, rid in enumerate(ids)
            ],
        )
        conn.execute(
            sa.insert(latest_t),
            [
                {"run_id": rid, "key": "m", "value": float(i), "step": 0, "timestamp_ms": 0}
                for i, rid in enumerate(ids)
            ],
        )
        conn.execute(sa.insert(params_t), [{"run_id": r, "key": "p", "value": r} for r in ids])
        conn.execute(sa.insert(run_tags_t), [{"run_id": r, "key": "t", "value": r} for r in ids])
    page = store.search_runs(exp_id, "metrics.m >= 5", order_by="metrics.m desc", limit=220)
    assert [r.run_id for r in page] == ids[::-1][:220]
    assert all(r.metrics == {"m": float(int(r.run_id, 16))} for r in page)
    assert all(r.params == {"p": r.run_id} and r.tags == {"t": r.run_id} for r in page)
    rest = store.search_runs(
        exp_id,
        "metrics.m >= 5",
        order_by="metrics.m desc",
        limit=220,
        page_token=page.next_page_token,
    )
    assert [r.run_id for r in rest] == ids[::-1][220:225]
    assert rest.next_page_token is None


BAD_FILTERS = [
    ("metrics.loss <", "unexpected end of filter; expected a value", 14),
    ("metrics.loss like 'x'", "'like' needs a text field, but metrics.loss is a number", 13),
    ("metrics.loss = 'a'", "expected a number for metrics.loss", 15),
    ("metrics.loss = true", "expected a number for metrics.loss", 15),
    ("params.lr > 1", "expected a string for params.lr", 12),
    ("bogus = 1", "unknown field 'bogus'", 0),
    ("name = 'x' and attributes.bogus = 1", "unknown field 'attributes.bogus'", 15),
    ("metrics = 1", "expected '.' and a key after 'metrics'", 7),
    ("metrics.val.loss = 1", "keys containing '.' must be backquoted: metrics.`val.loss`", 0),
    ("status = 'DONE'", "unknown status 'DONE'", 9),
    ("start_time > 'yesterday'", "invalid time 'yesterday' for start_time", 13),
    ("name = 'a' and", "unexpected end of filter; expected a field name", 14),
    ("(status = 'FINISHED'", "expected ')' to close '(' at position 0", 20),
    ("metrics.loss = null", "compare with null using 'is null'", 15),
    ("duration like '1'", "'like' needs a text field, but duration is not text", 9),
    ("tags.`env = 'x'", "unterminated backquoted key", 5),
    ("name = 'a' metrics.loss > 1", "expected 'and', 'or' or end of filter", 11),
]


@pytest.mark.parametrize(("text", "message", "position"), BAD_FILTERS)
def test_bad_filters_point_at_the_error(
    sqlite_url: str, text: str, message: str, position: int
) -> None:
    store = SqlStore(sqlite_url)
    try:
        exp_id = store.create_experiment("e", artifact_location="/a")
        with pytest.raises(FilterSyntaxError) as info:
            store.search_runs(exp_id, text)
        assert message in str(info.value)
        assert info.value.position == position
        assert info.value.filter == text
    finally:
        store.close()


@pytest.mark.parametrize(
    ("order_by", "message"),
    [
        ("bogus", "invalid order_by 'bogus': unknown field 'bogus'"),
        ("metrics.loss sideways", "expected asc, desc, ',' or the end at position 13"),
        (["metrics.loss", "metric.loss desc"], "order_by repeats 'metrics.loss'"),
        ("metrics", "expected '.' and a key after 'metrics'"),
        ("name,", "expected a field name at position 5"),
        ("'name'", "expected a field name at position 0"),
    ],
)
def test_bad_order_by(sqlite_url: str, order_by: str | list[str], message: str) -> None:
    store = SqlStore(sqlite_url)
    try:
        exp_id = store.create_experiment("e", artifact_location="/a")
        with pytest.raises(InvalidQueryError) as info:
            store.search_runs(exp_id, order_by=order_by)
        assert message in str(info.value)
    finally:
        store.close()
