"""Runs inside .venv-peers with the real FIWARE `ngsildclient` against a live cityhub.

Usage: python ngsildclient_script.py PORT TOKEN N  → prints one JSON line of observations.
"""

import json
import sys

from ngsildclient import Client, Entity
from requests.auth import AuthBase


class Bearer(AuthBase):
    def __init__(self, token):
        self.token = token

    def __call__(self, r):
        r.headers["Authorization"] = f"Bearer {self.token}"
        return r


def main():
    port, token, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    out = {}
    with Client(hostname="127.0.0.1", port=port, custom_auth=Bearer(token), verbose=False) as client:
        entities = []
        for i in range(n):
            e = Entity("AirQualityObserved", f"busan-peer-{i:05d}")
            e.prop("pm25", 10 + i % 100, unitcode="GQ", observedat="2026-11-22T09:00:00Z")
            e.prop("pm10", 20 + i % 150, unitcode="GQ")
            e.prop("airQualityLevel", "moderate")
            e.loc(35.10 + (i % 100) * 0.002, 128.95 + (i // 100) * 0.005)
            entities.append(e)
        result = client.upsert(entities)
        out["upsert_ok"] = result.n_ok if hasattr(result, "n_ok") else bool(result)
        out["upsert_errors"] = result.n_err if hasattr(result, "n_err") else 0
        out["count"] = client.count(type="AirQualityObserved")
        out["count_q"] = client.count(type="AirQualityObserved", q="pm25>100")
        got = client.get("urn:ngsi-ld:AirQualityObserved:busan-peer-00007")
        out["get_pm25"] = got["pm25"]["value"]
        out["get_unit"] = got["pm25"]["unitCode"]
        out["exists"] = client.exists("urn:ngsi-ld:AirQualityObserved:busan-peer-00007")
        found = client.query(type="AirQualityObserved", q="pm25>=105;pm10<120")
        out["query_ids"] = sorted(e.id for e in found)
        single = Entity("AirQualityObserved", "busan-peer-single")
        single.prop("pm25", 5)
        out["create"] = bool(client.create(single))
        out["delete"] = bool(client.delete(single))
        out["exists_after_delete"] = client.exists("urn:ngsi-ld:AirQualityObserved:busan-peer-single")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
