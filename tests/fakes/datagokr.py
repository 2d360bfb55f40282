"""Fake data.go.kr AirKorea getCtprvnRltmMesureDnsty, faithful to ../shared/reference/korean-sources.md.

XML unless returnType=json; envelope response/header/body with totalCount, pageNo, numOfRows; items as a
list (AirKorea), as {"item": [...]} (`items_shape="item"`), a single object for one row, "" for none;
every value a string, "-" for missing, dataTime with hour 24; gateway errors as OpenAPI_ServiceResponse
(HTTP 403 for an unregistered key). The decoded key is the registered one: a key encoded twice fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

DECODED_KEY = "Ab12+cd34/EF56gh==+"
ENCODED_KEY = quote(DECODED_KEY, safe="")
PATH = "/B552584/ArpltnInforInqireSvc/getCtprvnRltmMesureDnsty"
STATIONS = ["광복동", "초량동", "태종대", "전포동", "온천동", "명장동", "대연동", "학장동", "덕천동", "청룡동", "좌동",
            "장림동", "대저동", "녹산동", "연산동", "기장읍", "용수리", "수정동", "부곡동", "광안동", "대신동",
            "회동동", "백령도"]


@dataclass
class DataGoKrBehaviour:
    stations: int = 23
    items_shape: str = "list"  # list | item
    gateway_limit_times: int = 0
    result_code: str | None = None
    requests: list[dict] = field(default_factory=list)


def _item(i: int) -> dict:
    name = STATIONS[i % len(STATIONS)] + ("" if i < len(STATIONS) else str(i))
    return {"stationName": name, "mangName": "도시대기",
            "sidoName": "부산", "dataTime": "2025-05-09 24:00", "so2Value": "0.003", "coValue": "0.3",
            "o3Value": "0.031", "no2Value": "0.012", "pm10Value": "-" if i == 2 else str(20 + i),
            "pm25Value": str(9 + i), "khaiValue": "55", "khaiGrade": "2", "pm10Grade": "1", "pm25Grade": "1",
            "so2Flag": None, "pm10Flag": "점검및교정" if i == 2 else None}


def _gateway(code: str, auth: str, status: int) -> Response:
    xml = ("<OpenAPI_ServiceResponse><cmmMsgHeader><errMsg>SERVICE ERROR</errMsg>"
           f"<returnAuthMsg>{auth}</returnAuthMsg><returnReasonCode>{code}</returnReasonCode></cmmMsgHeader>"
           "</OpenAPI_ServiceResponse>")
    return Response(xml, status_code=status, media_type="text/xml;charset=UTF-8")


def _xml_value(value: object) -> str:
    return "" if value is None else str(value)


def _xml(code: str, msg: str, total: int, page: int, rows: int, items: list[dict]) -> str:
    body = "".join("<item>" + "".join(f"<{k}>{_xml_value(v)}</{k}>" for k, v in it.items()) + "</item>"
                   for it in items)
    return (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><response><header><resultCode>{code}</resultCode>"
            f"<resultMsg>{msg}</resultMsg></header><body><items>{body}</items><numOfRows>{rows}</numOfRows>"
            f"<pageNo>{page}</pageNo><totalCount>{total}</totalCount></body></response>")


def make_app(b: DataGoKrBehaviour) -> Starlette:
    def handle(request: Request) -> Response:
        q = request.query_params
        b.requests.append(dict(q))
        if q.get("serviceKey") != DECODED_KEY:
            return _gateway("30", "SERVICE_KEY_IS_NOT_REGISTERED_ERROR", 403)
        if b.gateway_limit_times > 0:
            b.gateway_limit_times -= 1
            return _gateway("22", "LIMITED_NUMBER_OF_SERVICE_REQUESTS_EXCEEDS_ERROR", 200)
        page, rows = int(q.get("pageNo", 1)), int(q.get("numOfRows", 10))
        every = [_item(i) for i in range(b.stations)]
        chunk = every[(page - 1) * rows: page * rows]
        code, msg = (b.result_code, "NO_DATA") if b.result_code else ("00", "NORMAL_CODE")
        if code != "00":
            chunk = []
        if q.get("returnType") != "json":
            return Response(_xml(code, msg, len(every), page, rows, chunk), media_type="text/xml;charset=UTF-8")
        if not chunk:
            items: object = ""
        elif b.items_shape == "item":
            items = {"item": chunk[0] if len(chunk) == 1 else chunk}
        else:
            items = chunk
        body = {"response": {"header": {"resultCode": code, "resultMsg": msg},
                             "body": {"totalCount": len(every), "items": items, "pageNo": page, "numOfRows": rows}}}
        return Response(orjson.dumps(body), media_type="application/json;charset=UTF-8")

    return Starlette(routes=[Route(PATH, handle)])
