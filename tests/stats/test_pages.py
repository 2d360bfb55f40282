"""Statistics pages render in Korean and English (the figures themselves come from the API)."""

from __future__ import annotations

import pytest

from tests.stats.test_dashboards import _board, boards  # noqa: F401 - fixture
from tests.stats.test_indicators import _indicator

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])
KO = {"Accept-Language": "ko", "Accept": "text/html"}
EN = {"Accept-Language": "en", "Accept": "text/html"}


def test_indicator_pages(office, kosis) -> None:  # noqa: ANN001
    server, _ = kosis
    office.dataset("kosis-pop-ds")
    office.kosis_source("kosis-pop", server, "kosis-pop-ds")
    office.run("kosis-pop")
    _indicator(office)
    client = office.client
    page = client.get("/stats", headers=KO)
    assert page.status_code == 200 and "총인구" in page.text and "/stats/indicators/pop-total" in page.text
    page = client.get("/stats/indicators/pop-total", headers=EN)
    assert page.status_code == 200 and "Population" in page.text and 'data-slug="pop-total"' in page.text
    assert client.get("/stats/indicators/nope", headers=EN).status_code == 404
    assert client.get("/stats/workbench", headers=KO).status_code == 200


def test_dashboard_pages(office, boards) -> None:  # noqa: ANN001, F811
    _board(office, "air-patrols", [{"kind": "chart", "chart_id": boards["public"], "id": "air"}], visibility="public")
    client = office.client
    listing = client.get("/stats/dashboards", headers=EN)
    assert listing.status_code == 200 and "/stats/dashboards/air-patrols" in listing.text
    page = client.get("/stats/dashboards/air-patrols", headers=KO)
    assert page.status_code == 200 and 'data-card="air"' in page.text and "전체 화면" in page.text
    embed = client.get("/embed/dashboards/air-patrols", headers=EN)
    assert embed.status_code == 200 and "embedded" in embed.text
