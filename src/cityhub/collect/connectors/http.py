"""Generic REST: JSON, XML or CSV bodies; paging by page number, offset, cursor or Link header."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from pydantic import Field

from cityhub.collect.connectors.base import Connector, ConnectorConfig, FetchContext, Page, Payload
from cityhub.collect.connectors.formats import as_records, decode, select_path


class HttpConfig(ConnectorConfig):
    url: str = Field(description="endpoint URL")
    format: Literal["json", "xml", "csv"] | None = Field(default=None, description="default: by content type")
    record_path: str | None = Field(default=None, description="dotted path to the record list, e.g. data.items")
    params: dict[str, Any] = Field(default_factory=dict, description="fixed query parameters")
    headers: dict[str, str] = Field(default_factory=dict)
    api_key: str | None = Field(default=None, description="sent as key_name in the query or a header")
    key_in: Literal["query", "header"] = "query"
    key_name: str = "api_key"
    paging: Literal["none", "page", "offset", "cursor", "link"] = "none"
    page_param: str = "page"
    start_page: int = 1
    size_param: str | None = "size"
    page_size: int = Field(default=100, ge=1, le=100_000)
    offset_param: str = "offset"
    cursor_param: str = "cursor"
    cursor_path: str | None = Field(default=None, description="path of the next cursor in the body")
    total_path: str | None = Field(default=None, description="path of the total record count, when given")
    max_pages: int | None = Field(default=None, ge=1)


class HttpConnector(Connector):
    name = "http"
    title = "HTTP / REST API"
    title_ko = "HTTP / REST API"
    Config = HttpConfig
    config: HttpConfig

    def secrets(self) -> tuple[str, ...]:
        return (self.config.api_key,) if self.config.api_key else ()

    def parse(self, payload: Payload) -> list[dict[str, Any]]:
        doc = decode(payload.body, self.config.format, payload.content_type)
        return as_records(select_path(doc, self.config.record_path) if self.config.record_path else doc)

    def _request_args(self) -> tuple[dict[str, Any], dict[str, str], tuple[str, ...]]:
        cfg = self.config
        params, headers = dict(cfg.params), dict(cfg.headers)
        redact: tuple[str, ...] = ()
        if cfg.api_key:
            if cfg.key_in == "query":
                params[cfg.key_name] = cfg.api_key
                redact = (cfg.key_name,)
            else:
                headers[cfg.key_name] = cfg.api_key
        return params, headers, redact

    def fetch(self, fc: FetchContext) -> Iterator[Page]:
        cfg = self.config
        base_params, headers, redact = self._request_args()
        cursor = dict(fc.cursor or {})
        url = cursor.get("url") or cfg.url
        position = cursor.get("position", cfg.start_page if cfg.paging == "page" else 0)
        token = cursor.get("cursor")
        pages = 0
        while True:
            params = dict(base_params)
            if cfg.paging in ("page", "offset") and cfg.size_param:
                params[cfg.size_param] = cfg.page_size
            if cfg.paging == "page":
                params[cfg.page_param] = position
            elif cfg.paging == "offset":
                params[cfg.offset_param] = position
            elif cfg.paging == "cursor" and token:
                params[cfg.cursor_param] = token
            if cfg.paging == "link" and cursor.get("url"):
                params = {k: v for k, v in params.items() if k in (redact or ())}  # the link carries the rest
            payload = fc.get(url, params=params or None, headers=headers, redact=redact + self.secrets())
            doc = decode(payload.body, cfg.format, payload.content_type)
            records = as_records(select_path(doc, cfg.record_path) if cfg.record_path else doc)
            pages += 1
            next_cursor, done = self._advance(cfg, doc, records, position, token, payload)
            yield Page(payload=payload, records=records, cursor=None if done else next_cursor)
            if done or (cfg.max_pages and pages >= cfg.max_pages):
                return
            url = next_cursor.get("url") or cfg.url
            position = next_cursor.get("position", position)
            token = next_cursor.get("cursor")

    def _advance(self, cfg: HttpConfig, doc: Any, records: list, position: int, token: str | None,
                 payload: Payload) -> tuple[dict[str, Any], bool]:
        if cfg.paging == "none" or not records:
            return {}, True
        total = select_path(doc, cfg.total_path) if cfg.total_path and isinstance(doc, dict) else None
        if cfg.paging == "page":
            seen = (position - cfg.start_page + 1) * cfg.page_size
            done = len(records) < cfg.page_size or (total is not None and seen >= int(total))
            return {"position": position + 1}, done
        if cfg.paging == "offset":
            nxt = position + len(records)
            done = len(records) < cfg.page_size or (total is not None and nxt >= int(total))
            return {"position": nxt}, done
        if cfg.paging == "cursor":
            nxt_token = select_path(doc, cfg.cursor_path) if cfg.cursor_path and isinstance(doc, dict) else None
            return {"cursor": nxt_token}, not nxt_token
        link = payload.links.get("next")
        return {"url": link}, not link
