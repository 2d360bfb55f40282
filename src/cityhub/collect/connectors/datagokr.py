"""data.go.kr style APIs (e.g. AirKorea): XML by default or JSON, the response/header/body envelope.

`items` comes as a list, as `{"item": [...]}`, as a single object, or as "" for none; the gateway in
front answers its own `OpenAPI_ServiceResponse` (sometimes with HTTP 403). The portal hands out an
"encoded" and a "decoded" service key: either is accepted, and sent so that it is encoded exactly once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal
from urllib.parse import unquote

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
from cityhub.collect.connectors.formats import as_records, load_json, load_xml

GATEWAY_CODES = {
    "1": "application error", "10": "invalid request parameter", "12": "no such service or it was withdrawn",
    "20": "service access denied", "22": "request limit exceeded", "30": "service key is not registered",
    "31": "service key has expired", "32": "unregistered IP address", "99": "unknown error",
}
GATEWAY_RETRYABLE = {"22"}
RESULT_RETRYABLE = {"22", "99"}
NO_DATA = {"03"}


class DataGoKrConfig(ConnectorConfig):
    url: str = Field(description="operation URL, e.g. …/ArpltnInforInqireSvc/getCtprvnRltmMesureDnsty")
    service_key: str = Field(description="the portal's encoded or decoded key; either works")
    params: dict[str, Any] = Field(default_factory=dict, description="operation parameters, e.g. sidoName")
    return_type: Literal["xml", "json"] = "json"
    type_param: str = Field(default="returnType", description="returnType (AirKorea) or _type on other APIs")
    num_of_rows: int = Field(default=100, ge=1, le=10_000)


def _service_key(key: str) -> str:
    # An "encoded" key contains %XX; sending it as is would be encoded a second time.
    return unquote(key) if "%" in key else key


class DataGoKrConnector(Connector):
    name = "datagokr"
    title = "data.go.kr (public data portal)"
    title_ko = "공공데이터포털 (data.go.kr)"
    Config = DataGoKrConfig
    config: DataGoKrConfig

    def secrets(self) -> tuple[str, ...]:
        return (self.config.service_key, _service_key(self.config.service_key))

    def _document(self, body: bytes) -> tuple[dict[str, Any], int | None]:
        """(body object, totalCount); raises for gateway errors and non-00 result codes."""
        doc = load_xml(body) if body.lstrip()[:1] == b"<" else load_json(body)
        if not isinstance(doc, dict):
            raise ConnectorError("data.go.kr answered something other than an object", code="layout_changed")
        gateway = doc.get("OpenAPI_ServiceResponse")
        if isinstance(gateway, dict):
            header = gateway.get("cmmMsgHeader") or {}
            code = str(header.get("returnReasonCode") or "99")
            auth = str(header.get("returnAuthMsg") or "")
            cls = RetryableError if code in GATEWAY_RETRYABLE else ConnectorError
            raise cls(f"data.go.kr gateway error {code}: {GATEWAY_CODES.get(code, 'unknown')} ({auth})",
                      upstream_message=f"{header.get('errMsg') or ''} {auth}".strip(), code=f"gw{code}")
        response = doc.get("response")
        if not isinstance(response, dict):
            raise ConnectorError(f"data.go.kr answer has no response envelope (keys: {sorted(doc)[:10]})",
                                 code="layout_changed")
        header = response.get("header") or {}
        code, message = str(header.get("resultCode") or ""), str(header.get("resultMsg") or "")
        if code in NO_DATA:
            return {}, 0
        if code not in ("00", "0"):
            cls = RetryableError if code in RESULT_RETRYABLE else ConnectorError
            raise cls(f"data.go.kr result {code}: {message}", upstream_message=message, code=code)
        body_obj = response.get("body") or {}
        total = body_obj.get("totalCount") if isinstance(body_obj, dict) else None
        return body_obj if isinstance(body_obj, dict) else {}, int(total) if total not in (None, "") else None

    def parse(self, payload: Payload) -> list[dict[str, Any]]:
        body, _ = self._document(payload.body)
        items = body.get("items")
        if isinstance(items, dict) and "item" in items:
            items = items["item"]
        return as_records(items)

    def _check(self, response) -> None:  # noqa: ANN001 - gateway errors may come with HTTP 403 or 200
        try:
            self._document(response.content)
        except RetryableError:
            raise
        except ConnectorError as exc:
            if response.status_code >= 400 and exc.code and exc.code.startswith("gw"):
                raise
        return

    def fetch(self, fc: FetchContext) -> Iterator[Page]:
        cfg = self.config
        page = (fc.cursor or {}).get("page", 1)
        while True:
            params = {"serviceKey": _service_key(cfg.service_key), "numOfRows": cfg.num_of_rows, "pageNo": page,
                      **cfg.params}
            if cfg.return_type == "json":
                params[cfg.type_param] = "json"
            payload = fc.get(cfg.url, params=params, check=self._check, redact=("serviceKey",))
            try:
                _, total = self._document(payload.body)
                records = self.parse(payload)
            except ConnectorError as exc:
                yield Page(payload=payload, records=[], error=exc)
                return
            more = bool(records) and total is not None and page * cfg.num_of_rows < total
            yield Page(payload=payload, records=records, cursor={"page": page + 1} if more else None)
            if not more:
                return
            page += 1
