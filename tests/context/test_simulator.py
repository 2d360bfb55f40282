"""The simulator: population across the 16 districts, daily cycles, episodes, faults, publishing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

from cityhub.context.simulator import Scenario, SimulatedCity
from tests.context.conftest import NGSI

START = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # 00:00 KST


def test_population_and_rhythms():
    city = SimulatedCity(start=START)
    assert city.counts() == {"air": 300, "traffic": 1000, "water": 50, "camera": 1200}
    assert len({s.district for s in city.sensors}) == 16
    night = city.tick(START + timedelta(hours=3))  # 03:00 KST
    rush = city.tick(START + timedelta(hours=8, minutes=20))  # 08:20 KST

    def speeds(ents):  # noqa: ANN001, ANN202
        vals = sorted(e["averageVehicleSpeed"]["value"] for e in ents if e["type"] == "TrafficFlowObserved")
        return vals[len(vals) // 2]

    assert speeds(rush) < speeds(night) - 15
    assert sum(e["type"] == "Camera" for e in night) == 1200 and not any(e["type"] == "Camera" for e in rush)


def test_episodes_and_faults():
    city = SimulatedCity(start=START, scenario=Scenario(pm_episode_start_h=0, pm_episode_hours=4, rain_start_h=0,
                                                        rain_hours=4, fault_rate=0.2), cameras=0)
    calm = city.tick(START + timedelta(hours=12))
    peak = city.tick(START + timedelta(hours=2))

    def top(ents, typ, attr):  # noqa: ANN001, ANN202
        vals = sorted(e[attr]["value"] for e in ents if e["type"] == typ)
        return vals[int(len(vals) * 0.9)]

    assert top(peak, "AirQualityObserved", "pm25") > 75 > top(calm, "AirQualityObserved", "pm25")
    assert top(peak, "WaterLevelObserved", "waterLevel") > 4.5 > top(calm, "WaterLevelObserved", "waterLevel")
    faults = {s.fault for s in city.sensors if s.fault}
    assert faults == {"stuck", "gappy", "spiky"}
    stuck = next(s for s in city.sensors if s.fault == "stuck" and s.kind == "air")
    values = [next(e["pm25"]["value"] for e in t if e["id"] == stuck.id) for t in (calm, peak)]
    assert values[0] == values[1]


def test_simulate_command_in_process(tmp_path, monkeypatch):
    from cityhub.cli import app

    monkeypatch.setenv("CITYHUB_DATA_DIR", str(tmp_path / "data"))
    from cityhub.settings import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["simulate", "--ticks", "2", "--air", "20", "--traffic", "30",
                                          "--water", "5", "--cameras", "10"])
        assert result.exit_code == 0, result.output
        from fastapi.testclient import TestClient

        from cityhub.app import create_app

        with TestClient(create_app(get_settings())) as c:
            r = c.get(f"{NGSI}/types", params={"details": "true"})
            counts = {t["typeName"]: t["entityCount"] for t in r.json()}
            assert counts["AirQualityObserved"] == 20 and counts["Camera"] == 10
            assert counts["TrafficFlowObserved"] == 30 and counts["WaterLevelObserved"] == 5
            eid = "urn:ngsi-ld:AirQualityObserved:busan-air-0001"
            hist = c.get(f"{NGSI}/temporal/entities/{eid}", params={"attrs": "pm25"}).json()
            assert len(hist["pm25"]) == 2
    finally:
        get_settings.cache_clear()
