"""The web UI over an S3 registry (moto's S3 server on 127.0.0.1): same pages, same data."""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("jinja2")
pytest.importorskip("s3fs")
boto3 = pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")

import modelmgmt as mm  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _ui_data  # noqa: E402


@pytest.fixture(scope="module")
def s3_registry_url(moto_s3):
    boto3.client("s3", endpoint_url=moto_s3, region_name="us-east-1").create_bucket(Bucket="modelmgmt-ui")
    return "s3://modelmgmt-ui/registry", moto_s3


def test_every_page_over_s3(s3_registry_url):
    url, endpoint = s3_registry_url
    info = _ui_data.build(url, client_kwargs={"endpoint_url": endpoint})
    reg = mm.Registry(url, client_kwargs={"endpoint_url": endpoint})
    ids = info["runs"]
    with mm.ui.serve(reg) as ui:
        for path in ("/", "/models/churn", "/models/churn/versions/2", "/compare?a=churn/1&b=churn/3",
                     "/experiments", "/experiments/churn-exp", f"/runs/{ids[0]}",
                     f"/runs/compare?ids={ids[0]},{ids[1]}", "/monitors/churn", "/deployments/churn-api"):
            with urllib.request.urlopen(ui.url + path, timeout=60) as resp:
                body = resp.read().decode()
                assert resp.status == 200 and "<h1>" in body and "<script>window" not in body, path
        with urllib.request.urlopen(ui.url + "/api/models/churn", timeout=60) as resp:
            data = json.load(resp)
        assert [v["version"] for v in data["versions"]] == [3, 2, 1]
        assert data["aliases"] == {"production": 1, "staging": 3}
        assert ui.url.startswith("http://127.0.0.1:")
