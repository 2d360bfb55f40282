"""Fake KOSIS statisticsParameterData.do, faithful to ../shared/reference/korean-sources.md.

- success: a JSON array of rows with string DT ("-" and "x" for suppressed cells), PRD_DE by prdSe;
- errors with HTTP 200 as `{"err": "..", "errMsg": ".."}` (XML `<error>` when format=xml);
- more than 40,000 cells → err 31; `call_limit` answers err 40 that many times; key "expired" → err 11;
- without jsonVD=Y the keys come unquoted (`{ORG_ID:"101"}`), as clients have reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cityhub.collect.connectors.kosis import periods_between

VALID_KEY = "kosis-test-key"
MAX_CELLS = 40_000
MESSAGES = {"10": "인증KEY가 없습니다.", "11": "인증KEY의 기간이 만료되었습니다.",
            "20": "필수요청변수값이 누락되었습니다.", "21": "요청변수값이 잘못되었습니다.",
            "30": "데이터가 존재하지 않습니다.", "31": "조회결과가 너무 많습니다.",
            "40": "호출가능건수를 초과하였습니다.", "50": "서버오류입니다."}


@dataclass
class KosisBehaviour:
    districts: int = 17
    items: tuple[str, ...] = ("T20", "T21", "T22")
    call_limit: int = 0  # answer err 40 this many times
    fail_with: str | None = None  # always answer this err code
    requests: list[dict] = field(default_factory=list)
    value_bump: int = 0


def _rows(b: KosisBehaviour, periods: list[str], prd_se: str, items: list[str]) -> list[dict]:
    rows = []
    for prd in periods:
        for d in range(b.districts):
            for itm in items:
                dt = "-" if (d == 3 and itm == "T22") else "x" if (d == 4 and itm == "T22") else \
                    str(1_000_000 + d * 1000 + int(prd[-2:]) * 7 + items.index(itm) + b.value_bump)
                rows.append({"ORG_ID": "101", "TBL_ID": "DT_1B040A3", "TBL_NM": "행정구역(시군구)별 성별 인구수",
                             "C1": f"{11 + d:02d}", "C1_NM": f"구{d}", "C1_NM_ENG": f"District {d}",
                             "C1_OBJ_NM": "행정구역(시군구)별", "ITM_ID": itm, "ITM_NM": "총인구수",
                             "ITM_NM_ENG": "Koreans (Total)", "UNIT_NM": "명", "UNIT_NM_ENG": "Person",
                             "PRD_SE": "A" if prd_se == "Y" else prd_se, "PRD_DE": prd, "DT": dt,
                             "LST_CHN_DE": "2026-07-02"})
    return rows


def _error(code: str, fmt: str) -> Response:
    if fmt == "xml":
        return Response(f"<error><err>{code}</err><errMsg>{MESSAGES.get(code, '')}</errMsg></error>",
                        media_type="text/xml;charset=UTF-8")
    return Response(orjson.dumps({"err": code, "errMsg": MESSAGES.get(code, "")}),
                    media_type="application/json;charset=UTF-8")


def make_app(b: KosisBehaviour) -> Starlette:
    def data(request: Request) -> Response:
        q = request.query_params
        b.requests.append(dict(q))
        fmt = q.get("format", "json")
        if not q.get("apiKey"):
            return _error("10", fmt)
        if q["apiKey"] != VALID_KEY:
            return _error("11", fmt)
        if b.fail_with:
            return _error(b.fail_with, fmt)
        if b.call_limit > 0:
            b.call_limit -= 1
            return _error("40", fmt)
        missing = [p for p in ("method", "orgId", "tblId", "itmId", "objL1", "prdSe") if not q.get(p)]
        if missing or q.get("method") != "getList":
            return _error("20", fmt)
        prd_se = q["prdSe"]
        if q.get("startPrdDe") and q.get("endPrdDe"):
            try:
                periods = periods_between(prd_se, q["startPrdDe"], q["endPrdDe"])
            except ValueError:
                return _error("21", fmt)
        else:
            periods = ["202606"][: int(q.get("newEstPrdCnt") or 1)]
        items = list(b.items) if q["itmId"] in ("ALL", "ALL+") else [i for i in q["itmId"].split("+") if i]
        if len(periods) * b.districts * len(items) > MAX_CELLS:
            return _error("31", fmt)
        rows = _rows(b, periods, prd_se, items)
        if not rows:
            return _error("30", fmt)
        body = orjson.dumps(rows)
        if q.get("jsonVD") != "Y":  # the reported quirk: unquoted keys
            import re

            body = re.sub(rb'"([A-Z][A-Z0-9_]*)":', rb"\1:", body)
        return Response(body, media_type="application/json;charset=UTF-8")

    return Starlette(routes=[Route("/openapi/Param/statisticsParameterData.do", data)])
