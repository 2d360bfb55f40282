"""Fake Seoul Open Data Plaza (openapi.seoul.go.kr:8088), faithful to ../shared/reference/korean-sources.md.

/{KEY}/{json|xml}/{SERVICE}/{START}/{END}/[extra]: 1-based, at most 1,000 rows per request; success wraps
rows in the service object with list_total_count and RESULT INFO-000; errors and "no data" answer a
bare RESULT. Services: RealtimeCityAir (25 rows, numbers), TbBigList (`big_total` rows, for paging),
ListAirQualityByDistrictService (old or new field names), citydata (one nested record per area).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

VALID_KEY = "seoul-test-key"
SAMPLE_KEY = "sample"
DISTRICTS = ["중구", "종로구", "용산구", "은평구", "서대문구", "마포구", "광진구", "성동구", "중랑구", "동대문구",
             "성북구", "도봉구", "강북구", "노원구", "강서구", "구로구", "영등포구", "동작구", "관악구", "금천구",
             "양천구", "강남구", "서초구", "송파구", "강동구"]


@dataclass
class SeoulBehaviour:
    big_total: int = 2345
    new_layout: bool = False
    server_error_times: int = 0
    error_code: str | None = None
    requests: list[str] = field(default_factory=list)


def _air(i: int, name: str) -> dict:
    return {"MSRDT": "202105111500", "MSRRGN_NM": "도심권", "MSRSTE_NM": name, "PM10": 25.0 + i, "PM25": 9.0 + i,
            "O3": 0.048, "NO2": 0.022, "CO": 0.4, "SO2": 0.001, "IDEX_NM": "보통", "IDEX_MVL": 66.0,
            "ARPLT_MAIN": "O3"}


def _district_air(i: int, name: str, new: bool) -> dict:
    if new:
        return {"MSRMT_YMD": "20250509", "MSRSTN_NM": name, "CAI": str(50 + i), "CAI_GRD": "보통",
                "CRST_SBSTN": "PM10", "NTDX": "0.02", "OZON": "0.03", "CBMX": "0.4", "SPDX": "0.003",
                "PM": str(30 + i), "FPM": str(12 + i)}
    return {"MSRDATE": "20250509", "MSRSTENAME": name, "MAXINDEX": 50 + i, "GRADE": "보통", "POLLUTANT": "PM10",
            "NITROGEN": 0.02, "OZONE": 0.03, "CARBON": 0.4, "SULFUROUS": 0.003, "PM10": 30 + i, "PM25": 12 + i}


def _citydata(area: str) -> dict:
    return {"AREA_NM": area, "AREA_CD": f"POI{abs(hash(area)) % 1000:03d}",
            "LIVE_PPLTN_STTS": [{"AREA_CONGEST_LVL": "보통", "AREA_PPLTN_MIN": "32000", "AREA_PPLTN_MAX": "34000",
                                 "PPLTN_TIME": "2025-05-09 14:05"}],
            "ROAD_TRAFFIC_STTS": {"AVG_ROAD_DATA": {"ROAD_TRAFFIC_IDX": "서행", "ROAD_TRAFFIC_SPD": "18",
                                                    "ROAD_MSG": "도로 소통이 원활하지 않습니다.",
                                                    "ROAD_TRAFFIC_TIME": "2025-05-09 14:00"}},
            "WEATHER_STTS": [{"TEMP": "21.3", "PM10": "31"}], "PRK_STTS": []}


def _result(code: str, message: str, kind: str) -> Response:
    if kind == "xml":
        return Response(f"<RESULT><CODE>{code}</CODE><MESSAGE><![CDATA[{message}]]></MESSAGE></RESULT>",
                        media_type="text/xml;charset=UTF-8")
    return Response(orjson.dumps({"RESULT": {"CODE": code, "MESSAGE": message}}), media_type="application/json")


def _rows_xml(service: str, total: int, rows: list[dict]) -> str:
    items = "".join("<row>" + "".join(f"<{k}>{v}</{k}>" for k, v in r.items()) + "</row>" for r in rows)
    return (f"<?xml version='1.0' encoding='UTF-8'?><{service}><list_total_count>{total}</list_total_count>"
            f"<RESULT><CODE>INFO-000</CODE><MESSAGE>정상 처리되었습니다</MESSAGE></RESULT>{items}</{service}>")


def make_app(b: SeoulBehaviour) -> Starlette:
    def handle(request: Request) -> Response:
        p = request.path_params
        b.requests.append(request.url.path)
        kind, service = p["type"], p["service"]
        if kind not in ("json", "xml"):
            return _result("ERROR-301", "파일타입 값이 누락 혹은 유효하지 않습니다.", "json")
        if p["key"] not in (VALID_KEY, SAMPLE_KEY):
            return _result("INFO-100", "인증키가 유효하지 않습니다.", kind)
        if b.error_code:
            return _result(b.error_code, "요청하신 작업을 처리하지 못했습니다.", kind)
        if b.server_error_times > 0:
            b.server_error_times -= 1
            return _result("ERROR-500", "서버 오류입니다.", kind)
        try:
            start, end = int(p["start"]), int(p["end"])
        except ValueError:
            return _result("ERROR-333", "요청위치 값의 타입이 유효하지 않습니다.", kind)
        if start > end:
            return _result("ERROR-334", "요청종료위치 보다 요청시작위치가 더 큽니다.", kind)
        if end - start + 1 > 1000:
            return _result("ERROR-336", "데이터요청은 한번에 최대 1000건을 넘을 수 없습니다.", kind)
        if p["key"] == SAMPLE_KEY and end > 5:
            return _result("ERROR-335", "sample키는 5건까지만 조회할 수 있습니다.", kind)
        extra = [x for x in p.get("extra", "").split("/") if x]
        if service == "citydata":
            if not extra:
                return _result("ERROR-300", "필수 값이 누락되어 있습니다.", kind)
            body = {"CITYDATA": _citydata(extra[-1]), "RESULT": {"RESULT.CODE": "INFO-000",
                                                                  "RESULT.MESSAGE": "정상 처리되었습니다."}}
            return Response(orjson.dumps(body), media_type="application/json")
        if service == "RealtimeCityAir":
            rows = [_air(i, n) for i, n in enumerate(DISTRICTS)]
        elif service == "TbBigList":
            rows = [{"ID": str(i), "NAME": f"와이파이 {i}", "X": 126.9 + i / 1e5, "Y": 37.5}
                    for i in range(1, b.big_total + 1)]
        elif service == "ListAirQualityByDistrictService":
            rows = [_district_air(i, n, b.new_layout) for i, n in enumerate(DISTRICTS)]
        else:
            return _result("ERROR-310", "해당하는 서비스를 찾을 수 없습니다.", kind)
        chunk = rows[start - 1:end]
        if not chunk:
            return _result("INFO-200", "해당하는 데이터가 없습니다.", kind)
        if kind == "xml":
            return Response(_rows_xml(service, len(rows), chunk), media_type="text/xml;charset=UTF-8")
        body = {service: {"list_total_count": len(rows),
                          "RESULT": {"CODE": "INFO-000", "MESSAGE": "정상 처리되었습니다"}, "row": chunk}}
        return Response(orjson.dumps(body), media_type="application/json")

    return Starlette(routes=[
        Route("/{key}/{type}/{service}/{start}/{end}", handle),
        Route("/{key}/{type}/{service}/{start}/{end}/{extra:path}", handle),
    ])
