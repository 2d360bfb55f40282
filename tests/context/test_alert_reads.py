"""A calm reading needs only an alert still active: a cleared one stays as it is until a line is crossed again."""

from __future__ import annotations

from tests.context.conftest import NGSI, air

AID = "urn:ngsi-ld:Alert:pm25:AirQualityObserved:busan-0001"


def _upsert(client, headers, *entities: dict) -> None:  # noqa: ANN001
    r = client.post(f"{NGSI}/entityOperations/upsert", json=list(entities), headers=headers)
    assert r.status_code in (201, 204), r.text


def _alert(client) -> dict:  # noqa: ANN001
    r = client.get(f"{NGSI}/entities/{AID}", params={"options": "keyValues"})
    assert r.status_code == 200, r.text
    return r.json()


def test_cleared_alert_stays_until_a_line_is_crossed_again(client, writer):
    c, h = client, writer.headers
    raised: list[dict] = []
    cleared: list[dict] = []
    c.app.state.bus.subscribe("alert.raised", lambda t, p: raised.append(p) if p["rule"] == "pm25" else None)
    c.app.state.bus.subscribe("alert.cleared", lambda t, p: cleared.append(p) if p["rule"] == "pm25" else None)
    _upsert(c, h, air(1, pm25=40))  # bad: raised
    _upsert(c, h, air(1, pm25=20))  # calm, alert active: cleared
    first = _alert(c)
    assert first["status"] == "cleared" and len(cleared) == 1
    _upsert(c, h, air(1, pm25=22), air(2, pm25=25))  # calm, alert cleared: nothing to do
    assert _alert(c) == first and len(cleared) == 1 and len(raised) == 1
    _upsert(c, h, air(1, pm25=50))  # a line crossed: the cleared alert is raised again
    again = _alert(c)
    assert again["status"] == "active" and again["severity"] == "high" and again["value"] == 50
    assert [p["severity"] for p in raised] == ["high", "high"]
    _upsert(c, h, air(1, pm25=34))  # below every line but within the hysteresis: still active
    assert _alert(c)["status"] == "active" and len(cleared) == 1
    _upsert(c, h, air(1, pm25=10))
    assert _alert(c)["status"] == "cleared" and len(cleared) == 2
