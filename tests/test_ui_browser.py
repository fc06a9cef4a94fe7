"""The web UI in a real headless Chromium (Debian's chromium + chromedriver via selenium):
every page renders, charts have SVG paths, tables have their rows, injected markup runs
nothing, the little JavaScript works. Screenshots are written as test artifacts (and into
docs/images/ when MODELMGMT_WRITE_SCREENSHOTS=1). Skipped only when /usr/bin/chromium is
missing; CI installs it."""

from __future__ import annotations

import base64
import os
import shutil
import sys
import tempfile
import urllib.parse
from pathlib import Path

import pytest

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
if not os.path.exists(CHROMIUM):
    pytest.skip("Debian's chromium is not installed (/usr/bin/chromium)", allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

import modelmgmt as mm  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _ui_data  # noqa: E402

DOCS_IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync")


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    path = Path(os.environ.get("MODELMGMT_TEST_ARTIFACTS") or tmp_path_factory.mktemp("ui-screenshots"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser():
    profile = tempfile.mkdtemp(prefix="modelmgmt-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={profile}")
    opts.add_argument("--window-size=1280,900")
    opts.add_argument("--hide-scrollbars")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    info = _ui_data.build(f"file://{tmp_path_factory.mktemp('ui-browser')}")
    with mm.ui.serve(info["registry"]) as ui:
        info["url"] = ui.url
        yield info


def open_page(driver, url: str) -> None:
    driver.get(url)
    assert driver.execute_script("return document.readyState") == "complete"


def screenshot(driver, path: Path) -> None:
    """A PNG of the whole page (Chrome DevTools: capture beyond the viewport), 1280 px wide."""
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    height = min(int(metrics["cssContentSize"]["height"]) + 16, 2400)
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": 1280, "height": height, "scale": 1}})
    path.write_bytes(base64.b64decode(shot["data"]))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def assert_clean(driver) -> None:
    """No injected script ran: the flag stays unset, no alert is open, no console error."""
    assert driver.execute_script("return window.__mm_xss") is None
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [], errors


def charts(driver):
    return driver.find_elements(By.CSS_SELECTOR, "svg.mm-chart")


def series_paths(driver):
    return [p.get_attribute("d") for p in driver.find_elements(By.CSS_SELECTOR, "svg.mm-chart path.mm-series")]


def rows(driver, table_id: str):
    return driver.find_elements(By.CSS_SELECTOR, f"#{table_id} tbody tr")


def test_every_page_renders_safely(browser, site, artifacts):
    name = urllib.parse.quote(_ui_data.XSS_NAME, safe="")
    ids = site["runs"]
    pages = {
        "models": "/", "model": "/models/churn", "version": "/models/churn/versions/2",
        "xss-model": f"/models/{name}", "xss-version": f"/models/{name}/versions/1",
        "compare": "/compare?a=churn/1&b=churn/2&all=1", "experiments": "/experiments",
        "experiment": "/experiments/churn-exp?columns=params.note,params.l2,metrics.accuracy",
        "run": f"/runs/{ids[0]}?smooth=0.6", "runs-compare": f"/runs/compare?ids={ids[0]},{ids[1]}&all=1",
        "monitor": "/monitors/churn", "deployments": "/deployments", "deployment": "/deployments/churn-api",
    }
    for label, path in pages.items():
        open_page(browser, site["url"] + path)
        assert browser.find_element(By.TAG_NAME, "h1").text
        assert "modelmgmt" in browser.title
        assert_clean(browser)
        screenshot(browser, artifacts / f"ui-test-{label}.png")


def test_injected_markup_shows_as_text(browser, site):
    open_page(browser, site["url"] + "/models/churn/versions/2")
    text = browser.find_element(By.TAG_NAME, "main").text
    assert _ui_data.XSS_SCRIPT in text and _ui_data.XSS_IMG in text
    assert browser.find_elements(By.CSS_SELECTOR, "main img") == []
    assert len(browser.find_elements(By.TAG_NAME, "script")) == 1  # only /static/app.js
    open_page(browser, site["url"] + "/")
    assert _ui_data.XSS_NAME in browser.find_element(By.ID, "models-table").text
    assert_clean(browser)


def test_tables_have_expected_rows(browser, site):
    open_page(browser, site["url"] + "/models")
    assert len(rows(browser, "models-table")) == 2
    open_page(browser, site["url"] + "/models/churn")
    assert [r.find_elements(By.TAG_NAME, "td")[0].text for r in rows(browser, "versions-table")] == ["3", "2", "1"]
    assert len(rows(browser, "alias-history")) == 4
    open_page(browser, site["url"] + "/experiments/churn-exp")
    assert len(rows(browser, "runs-table")) == 3
    open_page(browser, site["url"] + "/monitors/churn")
    assert len(rows(browser, "drift-table")) == 4
    open_page(browser, site["url"] + "/deployments/churn-api")
    assert len(rows(browser, "deployment-history")) == 3


def test_charts_contain_svg_paths(browser, site):
    open_page(browser, site["url"] + f"/runs/{site['runs'][0]}")
    paths = series_paths(browser)
    assert len(charts(browser)) >= 3 and paths and all(d.startswith("M") and "L" in d for d in paths)
    open_page(browser, site["url"] + f"/runs/compare?ids={site['runs'][0]},{site['runs'][1]},{site['runs'][2]}")
    first = charts(browser)[0]
    assert len(first.find_elements(By.CSS_SELECTOR, "path.mm-line")) == 3  # overlaid, one per run
    open_page(browser, site["url"] + "/models/churn")
    assert len(charts(browser)) == 2 and series_paths(browser)  # metric across versions, alias timeline
    open_page(browser, site["url"] + "/monitors/churn")
    bars = browser.find_elements(By.CSS_SELECTOR, "svg.mm-chart rect[fill-opacity]")
    assert len(charts(browser)) == 4 and len(bars) > 10
    box = charts(browser)[0].rect
    assert box["width"] > 200 and box["height"] > 100  # drawn, not collapsed


def test_sorting_and_column_choice(browser, site):
    open_page(browser, site["url"] + "/experiments/churn-exp")
    header = browser.find_element(By.CSS_SELECTOR, '#runs-table th[data-col="params.l2"]')

    def l2_values():
        return [c.text for c in browser.find_elements(By.CSS_SELECTOR, '#runs-table td[data-col="params.l2"]')]

    header.click()
    assert l2_values() == ["0", "0.01", "0.1"]
    header.click()
    assert l2_values() == ["0.1", "0.01", "0"]
    browser.find_element(By.CSS_SELECTOR, "details.columns summary").click()
    toggle = browser.find_element(By.CSS_SELECTOR, 'input.col-toggle[data-col="params.l2"]')
    toggle.click()
    assert not header.is_displayed()
    toggle.click()
    assert header.is_displayed()
    assert_clean(browser)


def test_filter_box_and_compare_selection(browser, site):
    open_page(browser, site["url"] + "/experiments/churn-exp")
    box = browser.find_element(By.CSS_SELECTOR, '#run-filter input[name="filter"]')
    box.send_keys("params.l2 >= 0.01")
    browser.find_element(By.CSS_SELECTOR, "#run-filter button").click()
    WebDriverWait(browser, 30).until(EC.url_contains("filter="))
    WebDriverWait(browser, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")
    assert len(rows(browser, "runs-table")) == 2
    for checkbox in browser.find_elements(By.CSS_SELECTOR, '#runs-table input[name="ids"]'):
        checkbox.click()
    browser.find_element(By.CSS_SELECTOR, "#compare-runs button").click()
    WebDriverWait(browser, 30).until(EC.url_contains("/runs/compare"))
    WebDriverWait(browser, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Compare 2 runs"
    assert_clean(browser)


def test_docs_screenshots(browser, tmp_path_factory, artifacts):
    """The screenshots of docs/ui.md, from a registry that looks like real work."""
    info = _ui_data.build_showcase(f"file://{tmp_path_factory.mktemp('ui-showcase')}")
    runs = info["runs"]
    shots = {"ui-models.png": "/", "ui-model.png": "/models/churn",
             "ui-version.png": "/models/churn/versions/5",
             "ui-runs.png": "/experiments/churn-grid?order_by=" + urllib.parse.quote("metrics.accuracy DESC"),
             "ui-compare-runs.png": f"/runs/compare?ids={','.join(runs[1:8:2])}&smooth=0.3",
             "ui-monitor.png": "/monitors/churn"}
    with mm.ui.serve(info["registry"]) as ui:
        for file, path in shots.items():
            open_page(browser, ui.url + path)
            assert_clean(browser)
            screenshot(browser, artifacts / file)
    if os.environ.get("MODELMGMT_WRITE_SCREENSHOTS") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        for file in shots:
            shutil.copyfile(artifacts / file, DOCS_IMAGES / file)
