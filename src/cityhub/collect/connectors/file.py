"""Files in a local folder or at a URL (CSV in any Korean encoding, XLSX, JSON, GeoJSON), taken when changed.

A file is only processed when its SHA-256 differs from the one recorded in the source's state, so a
folder polled every minute costs a hash per file and nothing else.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from cityhub.collect.connectors.base import Connector, ConnectorConfig, ConnectorError, FetchContext, Page, Payload
from cityhub.collect.connectors.formats import as_records, load_csv, load_json, select_path

FORMATS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".json": "json", ".geojson": "geojson", ".xlsx": "xlsx"}


class FileConfig(ConnectorConfig):
    path: str | None = Field(default=None, description="a local folder or file")
    url: str | None = Field(default=None, description="or a URL to download")
    pattern: str = Field(default="*", description="glob inside the folder, e.g. *.csv")
    format: Literal["csv", "json", "geojson", "xlsx"] | None = None
    record_path: str | None = Field(default=None, description="for JSON: dotted path to the record list")
    sheet: str | None = None

    @model_validator(mode="after")
    def _one_place(self) -> FileConfig:
        if bool(self.path) == bool(self.url):
            raise ValueError("give exactly one of path or url")
        return self


class FileConnector(Connector):
    name = "file"
    title = "File (folder or URL)"
    title_ko = "파일 (폴더 또는 URL)"
    Config = FileConfig
    config: FileConfig

    def _format(self, name: str) -> str:
        fmt = self.config.format or FORMATS.get(Path(name.split("?")[0]).suffix.lower())
        if fmt is None:
            raise ConnectorError(f"cannot tell the format of {name}; set format", code="format")
        return fmt

    def parse(self, payload: Payload) -> list[dict[str, Any]]:
        fmt = self._format(payload.request.get("name", ""))
        if fmt == "csv":
            return load_csv(payload.body)
        if fmt == "xlsx":
            return _xlsx_rows(payload.body, self.config.sheet)
        doc = load_json(payload.body)
        if fmt == "geojson" or (isinstance(doc, dict) and doc.get("type") == "FeatureCollection"):
            return [{**(f.get("properties") or {}), "geometry": f.get("geometry")}
                    for f in doc.get("features") or [] if isinstance(f, dict)]
        return as_records(select_path(doc, self.config.record_path) if self.config.record_path else doc)

    def _files(self) -> list[Path]:
        root = Path(self.config.path or "").expanduser()
        if root.is_file():
            return [root]
        if not root.is_dir():
            raise ConnectorError(f"folder {root} does not exist", code="missing")
        return sorted(p for p in root.glob(self.config.pattern) if p.is_file() and not p.name.startswith("."))

    def fetch(self, fc: FetchContext) -> Iterator[Page]:
        seen: dict[str, str] = dict(fc.state.get("hashes") or {})
        if self.config.url:
            payload = fc.get(self.config.url)
            payload.request["name"] = self.config.url
            yield from self._changed(payload, self.config.url, seen)
            return
        for path in self._files():
            fc.on_request()
            body = path.read_bytes()
            payload = Payload(body=body, request={"method": "READ", "url": str(path), "name": path.name})
            yield from self._changed(payload, path.name, seen)

    def _changed(self, payload: Payload, name: str, seen: dict[str, str]) -> Iterator[Page]:
        digest = hashlib.sha256(payload.body).hexdigest()
        if seen.get(name) == digest:
            return
        seen[name] = digest
        yield Page(payload=payload, records=self.parse(payload), state={"hashes": dict(seen)})


def _xlsx_rows(body: bytes, sheet: str | None) -> list[dict[str, Any]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(body), read_only=True, data_only=True)
    except Exception as exc:
        raise ConnectorError(f"not a readable XLSX file: {exc}", code="bad_xlsx") from None
    ws = book[sheet] if sheet else book.worksheets[0]
    rows = ws.iter_rows(values_only=True)
    header = [str(h).strip() if h is not None else f"column_{i + 1}" for i, h in enumerate(next(rows, []) or [])]
    return [dict(zip(header, row, strict=False)) for row in rows if any(v is not None for v in row)]
