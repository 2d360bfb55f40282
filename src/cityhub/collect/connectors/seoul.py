"""Seoul Open Data Plaza (열린데이터광장): /{KEY}/{json|xml}/{SERVICE}/{START}/{END}/[extra path].

Pages of at most 1,000 rows until `list_total_count`. Errors and "no data" drop the service wrapper
and answer a bare RESULT with an INFO-/ERROR- code. Real-time city data (`citydata`) answers one nested
record per area: list the areas and map nested fields by path.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal
from urllib.parse import quote

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

SEOUL_CODES = {
    "INFO-100": "invalid Seoul API key", "INFO-200": "no data", "INFO-300": "the key is restricted",
    "ERROR-300": "a required value is missing", "ERROR-301": "bad file type (json/xml)",
    "ERROR-310": "no such service", "ERROR-331": "bad start index", "ERROR-332": "bad end index",
    "ERROR-333": "index is not an integer", "ERROR-334": "start index is after end index",
    "ERROR-335": "a sample key returns at most 5 rows", "ERROR-336": "at most 1,000 rows per request",
    "ERROR-337": "daily call limit reached", "ERROR-500": "Seoul server error",
    "ERROR-600": "Seoul database connection error", "ERROR-601": "Seoul SQL error",
}
RETRYABLE = {"ERROR-500", "ERROR-600"}


class SeoulConfig(ConnectorConfig):
    api_key: str
    service: str = Field(description="service name, e.g. RealtimeCityAir or citydata")
    base_url: str = "http://openapi.seoul.go.kr:8088"
    type: Literal["json", "xml"] = "json"
    page_size: int = Field(default=1000, ge=1, le=1000)
    extra_path: list[str] = Field(default_factory=list, description="path parameters after START/END")
    areas: list[str] = Field(default_factory=list, description="citydata: one request per area name")
    record_key: str | None = Field(default=None, description="nested record key (citydata: CITYDATA)")


class SeoulConnector(Connector):
    name = "seoul"
    title = "Seoul Open Data Plaza"
    title_ko = "서울 열린데이터광장"
    Config = SeoulConfig
    config: SeoulConfig

    def secrets(self) -> tuple[str, ...]:
        return (self.config.api_key,)

    def _document(self, payload: Payload) -> tuple[dict[str, Any], int | None]:
        """(service object, list_total_count); raises for error codes, {} for no data."""
        cfg = self.config
        doc = load_xml(payload.body) if payload.body.lstrip()[:1] == b"<" else load_json(payload.body)
        if not isinstance(doc, dict):
            raise ConnectorError("Seoul answered something other than an object", code="layout_changed")
        body = doc.get(cfg.service)
        result = (body or {}).get("RESULT") if isinstance(body, dict) else None
        result = result or doc.get("RESULT") or {}
        code = str(result.get("CODE") or result.get("RESULT.CODE") or "INFO-000")
        message = str(result.get("MESSAGE") or result.get("RESULT.MESSAGE") or "")
        if code == "INFO-200":
            return {}, 0
        if code != "INFO-000":
            cls = RetryableError if code in RETRYABLE else ConnectorError
            raise cls(f"Seoul {code}: {SEOUL_CODES.get(code, 'unknown code')}" + (f" — {message}" if message else ""),
                      upstream_message=message, code=code)
        if cfg.record_key:
            return doc, None
        if not isinstance(body, dict):
            raise ConnectorError(f"Seoul answer has no {cfg.service} object", code="layout_changed")
        total = body.get("list_total_count")
        return body, int(total) if total not in (None, "") else None

    def _check(self, response) -> None:  # noqa: ANN001 - server errors come inside HTTP 200 answers
        try:
            self._document(Payload(body=response.content))
        except RetryableError:
            raise
        except ConnectorError:
            return

    def parse(self, payload: Payload) -> list[dict[str, Any]]:
        doc, _ = self._document(payload)
        if self.config.record_key:
            return as_records(doc.get(self.config.record_key))
        return as_records(doc.get("row"))

    def _url(self, start: int, end: int, extra: list[str]) -> str:
        cfg = self.config
        parts = [cfg.api_key, cfg.type, cfg.service, str(start), str(end), *extra]
        return cfg.base_url.rstrip("/") + "/" + "/".join(quote(p, safe="") for p in parts)

    def fetch(self, fc: FetchContext) -> Iterator[Page]:
        cfg = self.config
        targets = [[*cfg.extra_path, area] for area in cfg.areas] if cfg.areas else [list(cfg.extra_path)]
        cursor = fc.cursor or {}
        first_target, start = cursor.get("target", 0), cursor.get("start", 1)
        for index in range(first_target, len(targets)):
            extra = targets[index]
            while True:
                end = start + cfg.page_size - 1
                payload = fc.get(self._url(start, end, extra), redact=(cfg.api_key,), check=self._check)
                try:
                    body, total = self._document(payload)
                except ConnectorError as exc:
                    yield Page(payload=payload, records=[], error=exc)
                    return
                records = self.parse(payload) if body else []
                more = bool(records) and total is not None and end < total
                nxt = {"target": index, "start": end + 1} if more else \
                    ({"target": index + 1, "start": 1} if index + 1 < len(targets) else None)
                yield Page(payload=payload, records=records, cursor=nxt)
                if not more:
                    break
                start = end + 1
            start = 1
