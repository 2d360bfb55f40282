"""Decoding upstream bodies: JSON (tolerant of unquoted keys), XML to plain dicts, CSV in any Korean encoding.

Every failure names what arrived instead (an HTML error page, a truncated body), so a run error says
more than "parse error".
"""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from typing import Any

import orjson

from cityhub.collect.connectors.base import ConnectorError

_UNQUOTED_KEY = re.compile(r'([{,]\s*)([A-Za-z_][A-Za-z0-9_]*)\s*:')
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.I | re.S)


def looks_like_html(body: bytes) -> bool:
    head = body[:512].lstrip().lower()
    return head.startswith(b"<!doctype html") or b"<html" in head


def _html_error(body: bytes, expected: str) -> ConnectorError:
    match = _TITLE.search(body[:4096])
    title = match.group(1).decode("utf-8", "replace").strip() if match else body[:120].decode("utf-8", "replace")
    return ConnectorError(f"upstream returned an HTML page instead of {expected}: {title}",
                          upstream_message=title, code="html")


def text_of(body: bytes) -> str:
    """Bytes to text: UTF-8 (with or without BOM), else CP949/EUC-KR, else a detected encoding."""
    if body.startswith(b"\xef\xbb\xbf"):
        return body[3:].decode("utf-8")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return body.decode("cp949")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        best = from_bytes(body).best()
        if best is None:
            raise ConnectorError("body is in an unknown text encoding", code="encoding") from None
        return str(best)


def load_json(body: bytes) -> Any:
    """Parse JSON; tolerate unquoted keys (`{ORG_ID:"101"}`) as some KOSIS answers have them."""
    if looks_like_html(body):
        raise _html_error(body, "JSON")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        first_error = exc
    text = text_of(body)
    if _UNQUOTED_KEY.search(text[:2000]):
        try:
            return orjson.loads(_UNQUOTED_KEY.sub(r'\1"\2":', text))
        except orjson.JSONDecodeError:
            pass
    if not body.strip():
        raise ConnectorError("upstream returned an empty body where JSON was expected", code="empty")
    raise ConnectorError(f"upstream body is not valid JSON (truncated or corrupt, {len(body)} bytes): {first_error}",
                         upstream_message=body[-200:].decode("utf-8", "replace"), code="bad_json")


def _element_to_obj(elem: ET.Element) -> Any:
    children = list(elem)
    if not children:
        return (elem.text or "").strip() if elem.text and elem.text.strip() else (None if not elem.attrib else {})
    obj: dict[str, Any] = {}
    for child in children:
        value = _element_to_obj(child)
        if child.tag in obj:
            if not isinstance(obj[child.tag], list):  # element values are never lists themselves
                obj[child.tag] = [obj[child.tag]]
            obj[child.tag].append(value)
        else:
            obj[child.tag] = value
    return obj


def load_xml(body: bytes) -> dict[str, Any]:
    """XML to {root_tag: {...}}: repeated tags become lists, leaves become strings."""
    if looks_like_html(body):
        raise _html_error(body, "XML")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise ConnectorError(f"upstream body is not valid XML (truncated or corrupt): {exc}",
                             upstream_message=body[-200:].decode("utf-8", "replace"), code="bad_xml") from None
    return {root.tag: _element_to_obj(root)}


def load_csv(body: bytes, delimiter: str | None = None) -> list[dict[str, Any]]:
    """CSV rows as dicts keyed by the header; encoding detected (UTF-8, BOM, CP949/EUC-KR)."""
    if looks_like_html(body):
        raise _html_error(body, "CSV")
    text = text_of(body)
    if delimiter is None:
        first = text.split("\n", 1)[0]
        delimiter = "\t" if first.count("\t") > first.count(",") else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    return [dict(row) for row in reader]


def select_path(doc: Any, path: str | None) -> Any:
    """Follow a dotted path into a decoded document; None when a step is missing."""
    if not path:
        return doc
    current = doc
    for step in path.split("."):
        if isinstance(current, dict):
            current = current.get(step)
        elif isinstance(current, list) and step.isdigit() and int(step) < len(current):
            current = current[int(step)]
        else:
            return None
    return current


def as_records(value: Any) -> list[dict[str, Any]]:
    """A list of records from what APIs put there: a list, a single object, or "" / None for none."""
    if value is None or value == "" or value == {}:
        return []
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    if isinstance(value, dict):
        return [value]
    raise ConnectorError(f"expected records, found {type(value).__name__}", code="layout_changed")


def decode(body: bytes, fmt: str | None, content_type: str | None = None) -> Any:
    """Decode by declared format, else by content type, else by the first byte."""
    kind = (fmt or "").lower()
    if looks_like_html(body):
        raise _html_error(body, kind.upper() if kind else "JSON, XML or CSV")
    if not kind:
        ct = (content_type or "").lower()
        kind = "json" if "json" in ct else "xml" if "xml" in ct else "csv" if "csv" in ct else ""
    if not kind:
        head = body.lstrip()[:1]
        kind = "json" if head in (b"{", b"[") else "xml" if head == b"<" else "csv"
    if kind == "json":
        return load_json(body)
    if kind == "xml":
        return load_xml(body)
    if kind == "csv":
        return load_csv(body)
    raise ConnectorError(f"unknown format {fmt!r}")
