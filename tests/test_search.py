"""Search filters: the parser (tokens, grammar, errors that point at the token), and results
equal to MLflow's own filter (mlflow.utils.search_utils) on many generated runs."""

from __future__ import annotations

import math

import pytest
from _toy_models import ToyLinear
from hypothesis import given, settings
from hypothesis import strategies as st

import modelmgmt as mm
from modelmgmt.registry.search import compile_filter, compile_order, parse_filter, select, tokenize


def test_parse_every_operator_and_entity():
    clauses = parse_filter(
        "metrics.acc > 0.9 and params.lr = '0.1' AND tags.team LIKE 'ml%' and attributes.status = \"FINISHED\" "
        "and params.fit__optimizer.lr <= 1e-2 and tags.`my tag` ILIKE '%X' and metrics.\"val loss\" != -3 "
        "and version IN (1, 2, 3) and run_id NOT IN ('a', 'b') and metric.loss >= .5 and param.x < 2",
        "version")
    assert clauses == [
        ("metrics", "acc", ">", 0.9), ("params", "lr", "=", "0.1"), ("tags", "team", "LIKE", "ml%"),
        ("attributes", "status", "=", "FINISHED"), ("params", "fit__optimizer.lr", "<=", 0.01),
        ("tags", "my tag", "ILIKE", "%X"), ("metrics", "val loss", "!=", -3),
        ("attributes", "version", "IN", [1, 2, 3]), ("attributes", "run_id", "NOT IN", ["a", "b"]),
        ("metrics", "loss", ">=", 0.5), ("params", "x", "<", 2),
    ]
    assert parse_filter("") == [] and parse_filter("   ") == [] and parse_filter(None) == []
    assert parse_filter("status = 'x'", "run") == [("attributes", "status", "=", "x")]
    assert parse_filter("tags.q = 'it''s'") == [("tags", "q", "=", "it's")]
    assert [t.kind for t in tokenize("a.b >= 'x'")] == ["word", "dot", "word", "op", "string", "end"]


@pytest.mark.parametrize("text, position, expected", [
    ("metrics.acc >", 13, "a number or a quoted string"),
    ("metrics.acc > 0.9 or params.a = 'b'", 18, "OR is not supported"),
    ("metrics.acc 0.9", 12, "comparison operator"),
    ("metrics.acc > 'high'", 14, "a number to compare metrics.acc"),
    ("colour = 'red'", 0, "known attribute"),
    ("metrics.acc > 0.9 and", 21, "an identifier"),
    ("params.a IN ('x' 'y')", 17, "',' or ')'"),
    ("params.a IN 'x'", 12, "'('"),
    ("params.a = 'x' params.b = 'y'", 15, "AND or the end"),
    ("tags.x LIKE 3", 12, "a quoted pattern"),
    ("metrics.acc > 0.9 ; drop", 18, "a name, number"),
    ("params.a = 'unterminated", 11, "a name, number"),
])
def test_bad_filters_point_at_the_offending_token(text, position, expected):
    with pytest.raises(mm.InvalidArgumentError, match=f"position {position} .*expected.*{expected}"
                       .replace("(", r"\(").replace(")", r"\)")) as info:
        parse_filter(text)
    assert isinstance(info.value, ValueError)
    assert info.value.args[0].splitlines()[-1].index("^") - 2 == position


def test_bad_filter_types_and_order_by():
    with pytest.raises(mm.InvalidArgumentError, match="filter must be a str"):
        parse_filter(3)
    with pytest.raises(mm.InvalidArgumentError, match="ASC, DESC"):
        compile_order("metrics.acc DOWN")
    with pytest.raises(mm.InvalidArgumentError, match="order_by must be"):
        compile_order(5)
    assert compile_order(None) == [] and len(compile_order(["metrics.a", "params.b asc"])) == 2


ROWS = [
    {"metrics": {"acc": 0.8, "loss": 1.0}, "params": {"lr": 0.1}, "tags": {"team": "ML"}, "version": 1, "status": "ready"},
    {"metrics": {"acc": 0.95}, "params": {"lr": 0.01}, "tags": {"team": "ml-ops"}, "version": 2, "status": "ready"},
    {"metrics": {"acc": float("nan")}, "params": {}, "tags": {}, "version": 3, "status": "ready"},
    {"metrics": {"acc": 0.9}, "params": {"lr": "0.1"}, "tags": {"team": "data"}, "version": 4, "status": "ready"},
]


@pytest.mark.parametrize("text, expected", [
    ("metrics.acc > 0.85", [2, 4]),
    ("metrics.acc != 0.8", [2, 3, 4]),  # NaN != x holds, as in Python and MLflow
    ("metrics.loss < 5", [1]),  # a missing metric never matches
    ("params.lr = 0.1", [1, 4]),  # numbers compare as numbers, also when stored as text
    ("params.lr = '0.1'", [1, 4]),
    ("params.lr IN (0.01, 0.5)", [2]),
    ("params.lr NOT IN ('0.1')", [2]),
    ("tags.team LIKE 'ml%'", [2]),
    ("tags.team ILIKE 'ml%'", [1, 2]),
    ("tags.team LIKE '_L'", [1]),
    ("status = 'READY' and version >= 3", [3, 4]),
    ("", [1, 2, 3, 4]),
])
def test_filter_semantics(text, expected):
    assert [r["version"] for r in select(ROWS, compile_filter(text), [], None)] == expected


def test_order_by_missing_and_nan_last_and_limit():
    order = compile_order(["metrics.acc DESC"])
    assert [r["version"] for r in select(ROWS, compile_filter(""), order, None)] == [2, 4, 1, 3]
    assert [r["version"] for r in select(ROWS, compile_filter(""), compile_order("metrics.acc"), 2)] == [1, 4]
    two = compile_order(["params.lr ASC", "version DESC"])
    # numbers first (ascending), then text values, then missing ones
    assert [r["version"] for r in select(ROWS, compile_filter(""), two, None)] == [2, 1, 4, 3]


# --- differential: the same answers as MLflow's filter on generated runs ---------------------
mlflow_search = pytest.importorskip("mlflow.utils.search_utils")
entities = pytest.importorskip("mlflow.entities")

TEXT = st.text(alphabet="abAB_%x.", min_size=0, max_size=4)
KEYS = st.sampled_from(["a", "b", "fit.lr"])


@st.composite
def runs_and_filter(draw):
    runs = []
    for i in range(draw(st.integers(1, 8))):
        metrics = draw(st.dictionaries(KEYS, st.floats(-2, 2, allow_nan=False).map(lambda x: round(x, 1)), max_size=3))
        params = draw(st.dictionaries(KEYS, TEXT, max_size=3))
        tags = draw(st.dictionaries(KEYS, TEXT, max_size=3))
        status = draw(st.sampled_from(["FINISHED", "FAILED", "RUNNING"]))
        runs.append((f"r{i}", metrics, params, tags, status))
    clauses = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["metrics", "params", "tags", "status"]))
        key = draw(KEYS)
        ident = f"{kind}.`{key}`" if "." in key else f"{kind}.{key}"
        if kind == "metrics":
            op = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">="]))
            clauses.append(f"{ident} {op} {draw(st.floats(-2, 2).map(lambda x: round(x, 1)))}")
        elif kind == "status":
            clauses.append(f"attributes.status = '{draw(st.sampled_from(['FINISHED', 'FAILED']))}'")
        else:
            op = draw(st.sampled_from(["=", "!=", "LIKE", "ILIKE"]))
            clauses.append(f"{ident} {op} '{draw(TEXT)}'")
    return runs, " and ".join(clauses)


def _mlflow_run(run_id, metrics, params, tags, status):
    info = entities.RunInfo(run_id=run_id, experiment_id="0", user_id="u", status=status, start_time=0,
                            end_time=None, lifecycle_stage="active")
    data = entities.RunData(metrics=[entities.Metric(k, v, 0, 0) for k, v in metrics.items()],
                            params=[entities.Param(k, v) for k, v in params.items()],
                            tags=[entities.RunTag(k, v) for k, v in tags.items()])
    return entities.Run(info, data)


@settings(max_examples=300, deadline=None)
@given(runs_and_filter())
def test_filter_equals_mlflow_on_generated_runs(case):
    runs, text = case
    ours = [r["run_id"] for r in select(
        [{"run_id": i, "metrics": m, "params": p, "tags": t, "status": s.lower()} for i, m, p, t, s in runs],
        compile_filter(text, "run"), [], None)]
    theirs = [r.info.run_id for r in mlflow_search.SearchUtils.filter([_mlflow_run(*r) for r in runs], text)]
    assert ours == theirs, text


@settings(max_examples=100, deadline=None)
@given(runs_and_filter(), st.sampled_from(["metrics.a", "metrics.b DESC", "params.a", "tags.b DESC"]))
def test_order_by_equals_mlflow_on_generated_runs(case, order):
    runs, _ = case
    rows = [{"run_id": i, "metrics": m, "params": p, "tags": t} for i, m, p, t, s in runs]
    ours = [r["run_id"] for r in select(rows, compile_filter(""), compile_order(order, "run"), None)]
    sorted_runs = mlflow_search.SearchUtils.sort([_mlflow_run(*r) for r in runs], [order])
    theirs = [r.info.run_id for r in sorted_runs]
    # MLflow breaks ties by start time then run id; compare the sort keys, not tie order
    key = order.split()[0].split(".", 1)
    values = {r[0]: {"metrics": r[1], "params": r[2], "tags": r[3]}[key[0]].get(key[1]) for r in runs}
    assert [values[i] for i in ours] == [values[i] for i in theirs] or _nan_equal(
        [values[i] for i in ours], [values[i] for i in theirs])


def _nan_equal(a, b):
    return len(a) == len(b) and all(x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y))
                                    for x, y in zip(a, b))


# --- through the registry ----------------------------------------------------------------------
def test_search_versions_and_runs_in_a_registry(tmp_path):
    reg = mm.Registry(tmp_path)
    for i in range(6):
        with reg.start_run("exp", params={"lr": 10.0 ** -i}) as run:
            run.log_metric("r2", i / 10)
        reg.register("a" if i % 2 else "b", ToyLinear.random(seed=i), metrics={"acc": i / 10},
                     params={"lr": 10.0 ** -i}, tags={"team": "x" if i < 3 else "y"}, run=run)
    found = reg.search_versions("metrics.acc >= 0.2 and tags.team = 'y'", order_by="metrics.acc DESC")
    assert [v.ref for v in found] == ["a/3", "b/3", "a/2"]
    assert [v.ref for v in reg.search_versions("", name="a", limit=2)] == ["a/1", "a/2"]
    assert [v.ref for v in reg.search_versions("params.lr <= 0.001", order_by=["attributes.version"])] == [
        "a/2", "a/3", "b/3"]
    reg.set_tags("a/1", {"team": "z", "reviewed": True})
    assert [v.ref for v in reg.search_versions("tags.team = 'z'")] == ["a/1"]
    assert reg.get("a/1").tags == {"team": "z", "reviewed": True}
    reg.delete_version("b", 1)
    assert [v.ref for v in reg.search_versions("name = 'b'")] == ["b/2", "b/3"]
    runs = reg.search_runs("metrics.r2 > 0.25 and status = 'FINISHED'", order_by=["metrics.r2 DESC"], limit=2)
    assert [r.latest("r2") for r in runs] == [0.5, 0.4]
    assert reg.search_runs("params.lr = 0.01", experiment="exp")[0].params == {"lr": 0.01}
    with pytest.raises(mm.InvalidArgumentError, match="position 11"):
        reg.search_runs("metrics.r2 ~ 1")
    with pytest.raises(mm.NotFoundError, match="no model named 'c'"):
        reg.search_versions("", name="c")
    with pytest.raises(mm.InvalidArgumentError, match="limit"):
        reg.search_versions("", limit=-1)


def test_the_index_survives_other_writers_and_crashes(tmp_path):
    """Another process's register, set_tags and delete, and a stale or damaged index file."""
    reg = mm.Registry(tmp_path)
    for i in range(70):  # above the rewrite threshold: the index file gets written
        reg.register("m", ToyLinear.random(seed=i), metrics={"i": i})
    assert len(reg.search_versions("metrics.i >= 0")) == 70
    other = mm.Registry(tmp_path)
    other.register("m", ToyLinear.random(seed=99), metrics={"i": 70})
    other.set_tags("m/3", {"hot": 1})
    other.delete_version("m", 5)
    assert [v.version for v in reg.search_versions("metrics.i >= 69")] == [70, 71]
    assert [v.version for v in reg.search_versions("tags.hot = 1")] == [3]
    assert 5 not in [v.version for v in reg.search_versions("metrics.i < 10")]
    # a claimed number whose writer is still in flight shows up once its manifest exists
    reg.store.put_if_absent("models/m/versions/72/claim.json", b"{}")
    assert len(mm.Registry(tmp_path).search_versions("")) == 70
    reg.store.put("models/m/index.json", b"not json")
    assert len(mm.Registry(tmp_path).search_versions("")) == 70


def test_run_index_sees_new_runs_late_changes_and_running_runs(tmp_path):
    reg = mm.Registry(tmp_path)
    for i in range(70):  # above the rewrite threshold: the summary file gets written
        with reg.start_run("e", params={"i": i}) as run:
            run.log_metric("m", float(i))
    assert len(reg.search_runs("metrics.m >= 0", experiment="e")) == 70
    assert reg.store.exists("run-index/e.json")
    other = mm.Registry(tmp_path)  # another process
    late = other.get_run(run.id)
    late.set_tag("late", "yes")  # an ended run written again
    late.log_metric("m", 1000.0)
    late.flush()
    live = other.start_run("e", params={"i": 70})
    live.log_metric("m", 5.0)
    live.flush()
    for r in (reg, mm.Registry(tmp_path)):  # the same process (memo) and a fresh one (file)
        assert [x.id for x in r.search_runs("tags.late = 'yes'", experiment="e")] == [run.id]
        assert [x.id for x in r.search_runs("metrics.m > 999", experiment="e")] == [run.id]
        assert [x.status for x in r.search_runs("params.i = 70", experiment="e")] == ["running"]
    live.end()
    assert [x.status for x in reg.search_runs("params.i = 70", experiment="e")] == ["finished"]
    reg.store.put("run-index/e.json", b"damaged")
    assert len(mm.Registry(tmp_path).runs("e")) == 71
