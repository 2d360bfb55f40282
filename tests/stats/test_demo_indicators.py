"""The demo's statistics: packaged KOSIS-shaped answers through the KOSIS parser and the pipeline, no network."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])


def _ctx(app):  # noqa: ANN001, ANN202
    from cityhub.cli import SYSTEM
    from cityhub.ctx import RequestContext

    return RequestContext(actor=SYSTEM, db=app.state.session_factory(), settings=app.state.settings,
                          bus=app.state.bus)


def test_demo_seeds_at_least_20_indicators_without_network(client, monkeypatch) -> None:  # noqa: ANN001
    import httpx

    def no_network(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("the demo must not call KOSIS")

    monkeypatch.setattr(httpx.Client, "send", no_network)
    from cityhub.stats.kosis_demo import seed_statistics

    ctx = _ctx(client.app)
    try:
        report = seed_statistics(ctx)
        assert report["sources"] == 12 and report["indicators"] == 27 and report["rows"] > 3000
        again = seed_statistics(ctx)
        assert again == {"sources": 0, "rows": 0, "indicators": 0}
    finally:
        ctx.db.close()
        monkeypatch.undo()
    listed = client.get("/api/v1/stats/indicators").json()
    assert listed["total"] == 27
    assert all(i["values_count"] > 0 for i in listed["items"])
    assert {i["period"] for i in listed["items"]} == {"Y", "Q", "M"}
    ageing = client.get("/api/v1/stats/indicators/ageing-share/districts").json()
    assert ageing["period"] == "2024" and len(ageing["districts"]) == 16
    assert ageing["total"]["district_code"] == "" and ageing["total"]["change"] > 0
    cpi = client.get("/api/v1/stats/indicators/cpi/series").json()
    assert len(cpi["series"][0]["points"]) == 60 and cpi["series"][0]["points"][0]["period"] == "2020-01"
    jobs = client.get("/api/v1/stats/indicators/employment-rate").json()
    assert jobs["last_period"] == "2024Q4" and jobs["source_status"]["status"] == "ok"
