"""The one Prometheus text writer: checked against prometheus_client's own parser."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from modelmgmt._prometheus import Exposition, escape, format_value
from modelmgmt.errors import InvalidArgumentError


def parse(text: str) -> dict:
    return {f.name: f for f in text_string_to_metric_families(text)}


@settings(max_examples=200, deadline=None)
@given(label=st.text(), value=st.one_of(st.integers(-10**12, 10**12),
                                       st.floats(allow_nan=True, allow_infinity=True)),
       help_=st.text().filter(lambda s: s == s.strip()))
def test_any_label_and_value_round_trips_through_prometheus_client(label, value, help_):
    e = Exposition(labels={"model": label})
    e.family("x_gauge", help_, "gauge", [({"feature": label + "!"}, value)])
    fam = parse(e.text())["x_gauge"]
    (s,) = fam.samples
    assert s.labels == {"model": label, "feature": label + "!"}
    assert fam.documentation == help_
    if isinstance(value, float) and math.isnan(value):
        assert math.isnan(s.value)
    else:
        assert s.value == float(value)


def test_histogram_is_cumulative_with_inf_sum_and_count():
    e = Exposition()
    e.histogram("lat_seconds", "Latency.", [({"endpoint": "a"}, [0.1, 1.0], [2, 3, 1], 4.5)])
    fam = parse(e.text())["lat_seconds"]
    got = {(s.name, s.labels.get("le")): s.value for s in fam.samples}
    assert got[("lat_seconds_bucket", "0.1")] == 2 and got[("lat_seconds_bucket", "1.0")] == 5
    assert got[("lat_seconds_bucket", "+Inf")] == 6
    assert got[("lat_seconds_count", None)] == 6 and got[("lat_seconds_sum", None)] == 4.5
    with pytest.raises(InvalidArgumentError, match="need 3 counts"):
        e.histogram("other", "x", [({}, [0.1, 1.0], [2, 3], 1.0)])


def test_format_and_escape_rules_and_refusals():
    assert [format_value(v) for v in (3, True, 0.5, None, math.inf, -math.inf)] == \
        ["3", "1", "0.5", "NaN", "+Inf", "-Inf"]
    assert escape('a"b\\c\nd') == 'a\\"b\\\\c\\nd' and escape('a"b\n', quote=False) == 'a"b\\n'
    e = Exposition()
    e.family("ok", "x", "counter", [])
    with pytest.raises(InvalidArgumentError, match="written twice"):
        e.family("ok", "x", "counter", [])
    with pytest.raises(InvalidArgumentError, match="metric name"):
        e.family("bad-name", "x", "gauge", [])
    with pytest.raises(InvalidArgumentError, match="metric type"):
        e.family("fine", "x", "meter", [])
    with pytest.raises(InvalidArgumentError, match="label name"):
        e.family("fine2", "x", "gauge", [({"bad label": 1}, 1)])
