"""KOSIS (Statistics Korea) statisticsParameterData: period ranges, selectors, the 40,000-cell limit.

KOSIS refuses an answer over 40,000 cells with `err 31`; the connector then splits the period range in
two and asks again, down to a single period. Errors arrive with HTTP 200 as a JSON object (or XML
`<error>`) instead of the array of rows; each code becomes a run error in plain words.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from pydantic import Field

from cityhub.collect.connectors.base import (
    Connector,
    ConnectorConfig,
    ConnectorError,
    FetchContext,
    Page,
    Payload,
    RetryableError,
)
from cityhub.collect.connectors.formats import load_json, load_xml, looks_like_html

KOSIS_ERRORS = {
    "10": "KOSIS API key is missing",
    "11": "KOSIS API key is expired or invalid",
    "20": "a required parameter is missing",
    "21": "a parameter is invalid",
    "30": "no data for this request",
    "31": "too many results (over 40,000 cells)",
    "40": "KOSIS call limit reached",
    "41": "KOSIS row limit reached",
    "42": "KOSIS restricts this user",
    "50": "KOSIS server error",
}
RETRYABLE = {"40", "50"}


class KosisConfig(ConnectorConfig):
    api_key: str
    base_url: str = "https://kosis.kr/openapi/Param/statisticsParameterData.do"
    org_id: str = Field(description="orgId, e.g. 101")
    tbl_id: str = Field(description="tblId, e.g. DT_1B040A3")
    itm_id: str = Field(default="ALL", description="itmId: ALL, T20+ or several codes joined by +")
    obj_l1: str = Field(default="ALL", description="objL1 selector: ALL, 11*, 11+21+")
    obj_l2: str = ""
    obj_l3: str = ""
    obj_l4: str = ""
    obj_l5: str = ""
    obj_l6: str = ""
    obj_l7: str = ""
    obj_l8: str = ""
    prd_se: Literal["Y", "H", "Q", "M", "D", "F", "IR"] = "M"
    start_prd_de: str | None = Field(default=None, description="first period, e.g. 202501")
    end_prd_de: str | None = Field(default=None, description="last period, e.g. 202606")
    new_est_prd_cnt: int | None = Field(default=None, description="latest N periods instead of a range")
    incremental: bool = Field(default=False, description="start from the last period already collected")
    json_vd: bool = Field(default=True, description="send jsonVD=Y (without it KOSIS may leave keys unquoted)")


def periods_between(prd_se: str, start: str, end: str) -> list[str]:
    """Every period code from start to end inclusive (Y: YYYY, H: YYYYh, Q: YYYYq, M: YYYYMM, D: YYYYMMDD)."""
    from datetime import date, timedelta

    if prd_se == "D":
        first = date(int(start[:4]), int(start[4:6]), int(start[6:8]))
        last = date(int(end[:4]), int(end[4:6]), int(end[6:8]))
        return [(first + timedelta(days=i)).strftime("%Y%m%d") for i in range((last - first).days + 1)]
    per_year = {"Y": 1, "H": 2, "Q": 4, "M": 12}.get(prd_se)
    if per_year is None:
        return [start] if start == end else [start, end]  # F / IR: no arithmetic, ask as given
    width = 2 if prd_se == "M" else 1 if per_year > 1 else 0

    def index(code: str) -> int:
        return int(code[:4]) * per_year + (int(code[4:4 + width]) - 1 if width else 0)

    def code(i: int) -> str:
        year, sub = divmod(i, per_year)
        return f"{year}" + (f"{sub + 1:0{width}d}" if width else "")

    return [code(i) for i in range(index(start), index(end) + 1)]


class KosisConnector(Connector):
    name = "kosis"
    title = "KOSIS (Statistics Korea)"
    title_ko = "KOSIS 국가통계포털"
    Config = KosisConfig
    config: KosisConfig

    def secrets(self) -> tuple[str, ...]:
        return (self.config.api_key,)

    def parse(self, payload: Payload) -> list[dict[str, Any]]:
        body = payload.body.lstrip()
        if body[:1] == b"<" and not looks_like_html(body):
            doc = load_xml(body)
            if "error" in doc:
                raise _error(doc["error"] or {})
            raise ConnectorError("KOSIS answered XML without rows", code="layout_changed")
        doc = load_json(body)
        if isinstance(doc, dict):
            raise _error(doc)
        if not isinstance(doc, list):
            raise ConnectorError(f"KOSIS answered {type(doc).__name__} instead of a list of rows")
        return [row for row in doc if isinstance(row, dict)]

    def _params(self, start: str | None, end: str | None) -> dict[str, Any]:
        cfg = self.config
        params: dict[str, Any] = {"method": "getList", "apiKey": cfg.api_key, "orgId": cfg.org_id,
                                  "tblId": cfg.tbl_id, "itmId": cfg.itm_id, "prdSe": cfg.prd_se, "format": "json"}
        for level in range(1, 9):
            params[f"objL{level}"] = getattr(cfg, f"obj_l{level}")
        if cfg.json_vd:
            params["jsonVD"] = "Y"
        if start and end:
            params["startPrdDe"], params["endPrdDe"] = start, end
        elif cfg.new_est_prd_cnt:
            params["newEstPrdCnt"] = cfg.new_est_prd_cnt
        return params

    def fetch(self, fc: FetchContext) -> Iterator[Page]:
        cfg = self.config
        start = cfg.start_prd_de
        if cfg.incremental and fc.state.get("last_period"):
            start = max(start or "", fc.state["last_period"])  # re-ask the last period: KOSIS revises it
        if fc.cursor and fc.cursor.get("next_period"):
            start = fc.cursor["next_period"]
        if not (start and cfg.end_prd_de):
            yield self._page(fc, None, None, None)
            return
        pending = [periods_between(cfg.prd_se, start, cfg.end_prd_de)]
        while pending:
            chunk = pending.pop(0)
            payload = self._ask(fc, chunk[0], chunk[-1])
            try:
                records = self.parse(payload)
            except ConnectorError as exc:
                if exc.code == "31" and len(chunk) > 1:  # too many cells: halve the period range
                    half = len(chunk) // 2
                    pending[:0] = [chunk[:half], chunk[half:]]
                    continue
                if exc.code == "30":
                    records = []
                else:
                    yield Page(payload=payload, records=[], error=exc)
                    return
            nxt = pending[0][0] if pending else None
            yield Page(payload=payload, records=records, cursor={"next_period": nxt} if nxt else None,
                       state=_watermark(records, fc.state))

    def _ask(self, fc: FetchContext, start: str | None, end: str | None) -> Payload:
        def check(response) -> None:  # noqa: ANN001 - call limits and server errors come with HTTP 200
            if response.status_code == 200 and response.content[:200].lstrip()[:1] == b"{":
                try:
                    doc = load_json(response.content)
                except ConnectorError:
                    return
                code = str(doc.get("err") or doc.get("errCode") or "") if isinstance(doc, dict) else ""
                if code in RETRYABLE:
                    raise _error(doc)

        return fc.get(self.config.base_url, params=self._params(start, end), check=check,
                      redact=("apiKey", self.config.api_key))

    def _page(self, fc: FetchContext, start: str | None, end: str | None, cursor: dict | None) -> Page:
        payload = self._ask(fc, start, end)
        try:
            records = self.parse(payload)
        except ConnectorError as exc:
            if exc.code == "30":
                return Page(payload=payload, records=[])
            return Page(payload=payload, records=[], error=exc)
        return Page(payload=payload, records=records, cursor=cursor, state=_watermark(records, fc.state))


def _watermark(records: list[dict[str, Any]], state: dict[str, Any]) -> dict[str, Any] | None:
    periods = [str(r.get("PRD_DE")) for r in records if r.get("PRD_DE")]
    if not periods:
        return None
    return {"last_period": max([*periods, state.get("last_period") or ""])}


def _error(doc: dict[str, Any]) -> ConnectorError:
    code = str(doc.get("err") or doc.get("errCode") or "?")
    upstream = str(doc.get("errMsg") or doc.get("errorMessage") or "")
    meaning = KOSIS_ERRORS.get(code, "unknown KOSIS error")
    cls = RetryableError if code in RETRYABLE else ConnectorError
    return cls(f"KOSIS err {code}: {meaning}" + (f" — {upstream}" if upstream else ""), upstream_message=upstream,
               code=code)
