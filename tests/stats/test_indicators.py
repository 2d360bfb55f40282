"""Indicators fed by a KOSIS source through the collection system (fake KOSIS), on both backends."""

from __future__ import annotations

import csv
import io


def _indicator(office, slug: str = "pop-total", item: str = "T20", expect: int = 201) -> dict:  # noqa: ANN001
    body = {"slug": slug, "title": "총인구", "title_en": "Population", "unit": "명", "unit_en": "persons",
            "period": "M", "topic": "population", "kosis": {"source": "kosis-pop", "item": item}}
    r = office.client.post("/api/v1/stats/indicators", json=body, headers=office.steward.headers)
    assert r.status_code == expect, r.text
    return r.json()


def test_kosis_indicator_series_comparison_and_download(office, kosis) -> None:  # noqa: ANN001
    server, _ = kosis
    office.dataset("kosis-pop-ds")
    office.kosis_source("kosis-pop", server, "kosis-pop-ds")
    assert office.run("kosis-pop")["status"] == "succeeded"
    ind = _indicator(office)
    assert ind["values_count"] == 18 * 17 and ind["first_period"] == "2025-01" and ind["last_period"] == "2026-06"
    client = office.client
    listed = client.get("/api/v1/stats/indicators").json()
    assert [i["slug"] for i in listed["items"]] == ["pop-total"] and listed["items"][0]["unit"] == "명"

    series = client.get("/api/v1/stats/indicators/pop-total/series?district=11,구2").json()
    assert [s["district_code"] for s in series["series"]] == ["11", "13"]
    assert len(series["series"][0]["points"]) == 18
    assert series["series"][0]["points"][0] == {"period": "2025-01", "value": 1_000_000 + 0 + 1 * 7 + 0}

    comp = client.get("/api/v1/stats/indicators/pop-total/districts").json()
    assert comp["period"] == "2026-06" and comp["previous_period"] == "2025-06"
    first = comp["districts"][0]
    assert first["value"] - first["previous"] == first["change"] == 0  # the fake's figure depends on the month
    assert len(comp["districts"]) == 17

    page = client.get("/api/v1/stats/indicators/pop-total/page?district=11").json()
    assert page["indicator"]["source_status"]["status"] == "ok" and len(page["districts"]) == 17

    download = client.get("/api/v1/stats/indicators/pop-total/series?district=11&format=csv")
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(download.text.lstrip("\ufeff"))))
    assert len(rows) == 18 and rows[0]["district_code"] == "11" and rows[0]["period"] == "2025-01"

    bad = client.get("/api/v1/stats/indicators/pop-total/series?district=nowhere")
    assert bad.status_code == 422 and "nowhere" in bad.text
    assert client.get("/api/v1/stats/indicators/pop-total/districts?period=2026-13").status_code == 422


def test_suppressed_cells_are_missing_values(office, kosis) -> None:  # noqa: ANN001
    server, _ = kosis
    office.dataset("kosis-pop-ds")
    office.kosis_source("kosis-pop", server, "kosis-pop-ds")
    office.run("kosis-pop")
    _indicator(office, slug="pop-female", item="T22")
    series = office.client.get("/api/v1/stats/indicators/pop-female/series?district=14,15").json()
    assert all(p["value"] is None for s in series["series"] for p in s["points"])  # "-" and "x"


def test_failing_source_keeps_last_good_figures_and_says_when(office, kosis) -> None:  # noqa: ANN001
    server, behaviour = kosis
    office.dataset("kosis-pop-ds")
    office.kosis_source("kosis-pop", server, "kosis-pop-ds")
    office.run("kosis-pop")
    before = _indicator(office)
    behaviour.fail_with = "50"  # KOSIS server error (retried, then the run fails)
    behaviour.value_bump = 5
    run = office.run("kosis-pop")
    assert run["status"] == "failed"
    after = office.client.get("/api/v1/stats/indicators/pop-total").json()
    assert after["values_count"] == before["values_count"] and after["updated_at"] == before["updated_at"]
    status = after["source_status"]
    assert status["status"] == "failing" and status["last_success_at"] and "last good" in status["message"]
    series = office.client.get("/api/v1/stats/indicators/pop-total/series?district=11").json()
    assert series["series"][0]["points"][0]["value"] == 1_000_007  # the old figure, not the bumped one

    behaviour.fail_with = None  # the source recovers: the next run's rows flow into the indicator by themselves
    assert office.run("kosis-pop")["status"] == "succeeded"
    series = office.client.get("/api/v1/stats/indicators/pop-total/series?district=11").json()
    assert series["series"][0]["points"][0]["value"] == 1_000_012
    assert office.client.get("/api/v1/stats/indicators/pop-total").json()["source_status"]["status"] == "ok"


def test_indicator_of_an_internal_dataset_is_invisible_to_citizens(office, kosis) -> None:  # noqa: ANN001
    server, _ = kosis
    office.dataset("kosis-internal", access_level="internal")
    office.kosis_source("kosis-pop", server, "kosis-internal")
    office.run("kosis-pop")
    _indicator(office)
    client = office.client
    assert client.get("/api/v1/stats/indicators", headers=office.citizen.headers).json()["total"] == 0
    assert client.get("/api/v1/stats/indicators/pop-total", headers=office.citizen.headers).status_code == 404
    assert client.get("/api/v1/stats/indicators/pop-total/series").status_code == 404
    assert client.get("/api/v1/stats/indicators/pop-total", headers=office.analyst.headers).status_code == 200


def test_only_stewards_define_indicators(office, kosis) -> None:  # noqa: ANN001
    body = {"slug": "x-1", "title": "x", "period": "Y", "kosis": {"source": "nope", "item": "T1"}}
    r = office.client.post("/api/v1/stats/indicators", json=body, headers=office.citizen.headers)
    assert r.status_code == 403
    r = office.client.post("/api/v1/stats/indicators", json=body, headers=office.steward.headers)
    assert r.status_code == 404 and "nope" in r.text


def test_indicator_computed_from_a_city_dataset(office) -> None:  # noqa: ANN001
    from tests.stats.test_charts import _readings

    office.dataset("air-quality")
    air = office.upload("air-quality", "air.csv", _readings())
    body = {"slug": "pm25-monthly", "title": "월평균 초미세먼지", "unit": "㎍/㎥", "period": "M",
            "topic": "environment",
            "dataset": {"resource_id": air["id"], "time": "measured", "value": "pm25", "agg": "avg",
                        "district": "district"}}
    r = office.client.post("/api/v1/stats/indicators", json=body, headers=office.steward.headers)
    assert r.status_code == 201, r.text
    assert r.json()["values_count"] == 2 * 4 and r.json()["source_kind"] == "dataset"
    series = office.client.get("/api/v1/stats/indicators/pm25-monthly/series?district=city,동래구").json()
    city, dongnae = series["series"]
    assert [p["period"] for p in city["points"]] == ["2025-01", "2025-02"]
    assert round(dongnae["points"][0]["value"], 3) == round((20 * 2 + 30) / 3, 3)
    bad = {**body, "slug": "bad-one", "dataset": {**body["dataset"], "value": "nope"}}
    r = office.client.post("/api/v1/stats/indicators", json=bad, headers=office.steward.headers)
    assert r.status_code == 422 and "dataset.value" in r.json()["errors"] and "'nope'" in r.text
