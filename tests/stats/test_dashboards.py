"""Dashboards: filters across cards, sharing by link with per-card access, embedding public data only,
card CSV export (both backends)."""

from __future__ import annotations

import pytest

from tests.stats.test_charts import _readings


@pytest.fixture
def boards(office) -> dict:  # noqa: ANN001
    office.dataset("air-quality")
    air = office.upload("air-quality", "air.csv", _readings())
    office.dataset("patrols", access_level="internal")
    patrols = office.upload("patrols", "patrols.csv", "district,patrols\n중구,3\n서구,5\n동래구,2\n".encode())
    client, headers = office.client, office.steward.headers

    def chart(title: str, spec: dict) -> str:
        r = client.post("/api/v1/stats/charts", json={"title": title, "spec": spec}, headers=headers)
        assert r.status_code == 201, r.text
        return r.json()["id"]

    public = chart("PM2.5", {"type": "bar", "source": {"resource_id": air["id"]}, "x": {"column": "district"},
                             "y": [{"column": "pm25", "agg": "avg"}], "district_column": "district",
                             "time_column": "measured"})
    internal = chart("순찰", {"type": "bar", "source": {"resource_id": patrols["id"]}, "x": {"column": "district"},
                            "y": [{"column": "patrols", "agg": "sum"}], "district_column": "district"})
    return {"public": public, "internal": internal}


def _board(office, slug: str, cards: list[dict], visibility: str = "link", expect: int = 201) -> dict:  # noqa: ANN001
    body = {"slug": slug, "title": "대기와 순찰", "title_en": "Air and patrols", "cards": cards,
            "visibility": visibility, "refresh_seconds": 10}
    r = office.client.post("/api/v1/stats/dashboards", json=body, headers=office.steward.headers)
    assert r.status_code == expect, r.text
    return r.json()


def test_shared_by_link_each_viewer_sees_what_they_may(office, boards) -> None:  # noqa: ANN001
    board = _board(office, "air-patrols", [{"kind": "chart", "chart_id": boards["public"], "id": "air"},
                                          {"kind": "chart", "chart_id": boards["internal"], "id": "patrols"},
                                          {"kind": "text", "text": "메모", "id": "note"}])
    assert [c["id"] for c in board["cards"]] == ["air", "patrols", "note"]
    client = office.client
    cards = {c["id"]: c for c in client.get("/api/v1/stats/dashboards/air-patrols/data",
                                            headers=office.citizen.headers).json()}
    assert cards["air"]["status"] == "ok" and len(cards["air"]["chart"]["rows"]) == 3
    assert cards["patrols"]["status"] == "no_access" and cards["patrols"]["chart"] is None
    assert "no access" in cards["patrols"]["message"] and cards["note"]["status"] == "ok"
    staff = {c["id"]: c for c in client.get("/api/v1/stats/dashboards/air-patrols/data",
                                            headers=office.analyst.headers).json()}
    assert staff["patrols"]["status"] == "ok" and sorted(r[1] for r in staff["patrols"]["chart"]["rows"]) == [2, 3, 5]
    # anonymous visitors holding the link too; the dashboard is not listed for them
    assert client.get("/api/v1/stats/dashboards/air-patrols/data").status_code == 200
    assert client.get("/api/v1/stats/dashboards").json()["total"] == 0

    filtered = {c["id"]: c for c in client.get("/api/v1/stats/dashboards/air-patrols/data?district=서구",
                                               headers=office.analyst.headers).json()}
    assert [r[0] for r in filtered["air"]["chart"]["rows"]] == ["서구"]
    assert [r[0] for r in filtered["patrols"]["chart"]["rows"]] == ["서구"]

    csv = client.get("/api/v1/stats/dashboards/air-patrols/cards/patrols.csv", headers=office.analyst.headers)
    assert csv.status_code == 200 and csv.text.lstrip("\ufeff").splitlines()[0] == "x,y0"
    assert client.get("/api/v1/stats/dashboards/air-patrols/cards/patrols.csv",
                      headers=office.citizen.headers).status_code == 403


def test_private_dashboards_stay_private(office, boards) -> None:  # noqa: ANN001
    _board(office, "mine", [{"kind": "chart", "chart_id": boards["public"]}], visibility="private")
    assert office.client.get("/api/v1/stats/dashboards/mine/data", headers=office.citizen.headers).status_code == 404
    assert office.client.patch("/api/v1/stats/dashboards/mine", json={"title": "x"},
                               headers=office.citizen.headers).status_code == 404


def test_embedding_is_for_public_data_only(office, boards) -> None:  # noqa: ANN001
    _board(office, "mixed", [{"kind": "chart", "chart_id": boards["public"], "title": "대기"},
                             {"kind": "chart", "chart_id": boards["internal"], "title": "순찰 현황"}])
    refused = office.client.get("/api/v1/stats/dashboards/mixed/embed")
    assert refused.status_code == 403
    assert "순찰 현황" in refused.json()["detail"] and "internal" in refused.json()["detail"]
    _board(office, "open-air", [{"kind": "chart", "chart_id": boards["public"]}], visibility="public")
    cards = office.client.get("/api/v1/stats/dashboards/open-air/embed").json()
    assert cards[0]["status"] == "ok" and len(cards[0]["chart"]["rows"]) == 3
    page = office.client.get("/embed/dashboards/mixed", headers={"Accept": "text/html"})
    assert page.status_code == 403


def test_bad_dashboards_are_refused(office, boards) -> None:  # noqa: ANN001
    body = {"slug": "fast", "title": "x", "refresh_seconds": 5}
    r = office.client.post("/api/v1/stats/dashboards", json=body, headers=office.steward.headers)
    assert r.status_code == 422 and "refresh_seconds" in r.text
    r = office.client.post("/api/v1/stats/dashboards", json={"slug": "ghost", "title": "x",
                                                              "cards": [{"kind": "chart", "chart_id": "nope"}]},
                           headers=office.steward.headers)
    assert r.status_code == 404
