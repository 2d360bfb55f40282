"""Collection pages (Korean and English): sources with health, the source form generated from the
connector's config schema, run history, run detail with errors and quarantined rows, and *Run now*."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from jinja2 import ChoiceLoader, FileSystemLoader
from pydantic import ValidationError

from cityhub.collect import service
from cityhub.collect.connectors import get_connector_class
from cityhub.collect.schemas import SourceCreate
from cityhub.errors import CityhubError, Invalid
from cityhub.http import Ctx
from cityhub.web.templating import mark_page, page_lang, render, templates

# Our templates extend the portal's base.html: add our folder to the portal's loader.
_HERE = Path(__file__).parent / "templates"
if not any(isinstance(x, FileSystemLoader) and str(_HERE) in x.searchpath
           for x in getattr(templates.env.loader, "loaders", [])):
    templates.env.loader = ChoiceLoader([templates.env.loader, FileSystemLoader(str(_HERE))])

router = APIRouter(dependencies=[Depends(mark_page)], include_in_schema=False)

TEXT = {
    "ko": {"title": "데이터 수집", "sources": "수집 소스", "new": "소스 추가", "name": "이름", "connector": "커넥터",
           "schedule": "일정", "health": "상태", "last_success": "마지막 성공", "failures": "연속 실패",
           "run_now": "지금 실행", "runs": "실행 기록", "started": "시작", "status": "결과", "trigger": "실행 방식",
           "requests": "요청", "received": "수신 행", "inserted": "추가", "updated": "갱신", "unchanged": "변경 없음",
           "quarantined": "격리", "bytes": "바이트", "error": "오류", "upstream": "원천 시스템 메시지",
           "quarantine": "격리된 행", "reason": "사유", "record": "원본", "dataset": "대상 데이터셋",
           "config": "커넥터 설정", "fields": "필드 매핑 (JSON)", "key": "키 필드 (쉼표로 구분)", "save": "저장",
           "none": "없음", "running": "실행 중… 자동으로 새로 고칩니다.", "no_sources": "아직 수집 소스가 없습니다.",
           "status.ok": "정상", "status.stale": "지연", "status.failing": "실패", "status.never_run": "미실행",
           "status.disabled": "중지", "run.succeeded": "성공", "run.failed": "실패", "run.running": "실행 중",
           "run.interrupted": "중단됨", "freshness": "갱신 주기", "choose": "커넥터를 고르세요",
           "broker_dropped": "브로커가 버린 메시지 (브로커 전체)", "messages_missing": "순번으로 본 누락 메시지"},
    "en": {"title": "Data collection", "sources": "Sources", "new": "Add source", "name": "Name",
           "connector": "Connector", "schedule": "Schedule", "health": "Health", "last_success": "Last success",
           "failures": "Failure streak", "run_now": "Run now", "runs": "Runs", "started": "Started",
           "status": "Status", "trigger": "Trigger", "requests": "Requests", "received": "Rows received",
           "inserted": "Inserted", "updated": "Updated", "unchanged": "Unchanged", "quarantined": "Quarantined",
           "bytes": "Bytes", "error": "Error", "upstream": "Upstream said", "quarantine": "Quarantined rows",
           "reason": "Reason", "record": "Record", "dataset": "Target dataset", "config": "Connector settings",
           "fields": "Field mapping (JSON)", "key": "Key fields (comma-separated)", "save": "Save", "none": "none",
           "running": "Running… this page refreshes itself.", "no_sources": "No sources yet.",
           "status.ok": "OK", "status.stale": "Stale", "status.failing": "Failing", "status.never_run": "Never run",
           "status.disabled": "Disabled", "run.succeeded": "Succeeded", "run.failed": "Failed",
           "run.running": "Running", "run.interrupted": "Interrupted", "freshness": "Update frequency",
           "choose": "Choose a connector", "broker_dropped": "Messages the broker dropped (broker-wide)",
           "messages_missing": "Messages missing by sequence number"},
}


def _page(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    lang = page_lang(request)
    return render(request, f"collect/{name}", status_code=status_code, c=TEXT.get(lang, TEXT["en"]), **context)


@router.get("/collect")
def sources_page(request: Request, ctx: Ctx) -> Response:
    """Every source with its health, and the latest runs."""
    sources = service.list_sources(ctx, limit=500)
    runs = service.list_runs(ctx, limit=20)
    return _page(request, "sources.html", sources=sources.items, runs=runs.items,
                 connectors=service.list_connectors(ctx))


def _form_fields(connector: str) -> list[dict[str, Any]]:
    """Inputs generated from the connector's Pydantic config schema."""
    schema = get_connector_class(connector).Config.model_json_schema()
    required = set(schema.get("required", []))
    out = []
    for key, prop in schema.get("properties", {}).items():
        kinds = {p.get("type") for p in prop.get("anyOf", [prop])}
        enum = next((p["enum"] for p in prop.get("anyOf", [prop]) if "enum" in p), None)
        kind = "select" if enum else "checkbox" if "boolean" in kinds else \
            "json" if kinds & {"array", "object"} else "number" if kinds & {"integer", "number"} else "text"
        default = prop.get("default")
        out.append({"key": key, "kind": kind, "options": enum or [], "required": key in required,
                    "help": prop.get("description", ""), "secret": service.SECRET_KEYS.search(key) is not None,
                    "default": json.dumps(default, ensure_ascii=False) if kind == "json" and default is not None
                    else default})
    return out


@router.get("/collect/new")
def new_source_form(request: Request, ctx: Ctx, connector: str | None = None) -> Response:
    """The source form; its connector settings come from the connector's config schema."""
    connectors = service.list_connectors(ctx)
    fields = _form_fields(connector) if connector else []
    return _page(request, "source_form.html", connectors=connectors, connector=connector, form_fields=fields,
                 values={}, errors={})


def _config_from_form(connector: str, form: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for field in _form_fields(connector):
        raw = form.get(f"config.{field['key']}")
        if field["kind"] == "checkbox":
            config[field["key"]] = raw == "on"
        elif raw in (None, ""):
            continue
        elif field["kind"] == "json":
            try:
                config[field["key"]] = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise Invalid.field(f"config.{field['key']}", f"not valid JSON: {exc}") from None
        elif field["kind"] == "number":
            config[field["key"]] = float(raw) if "." in raw else int(raw)
        else:
            config[field["key"]] = raw
    return config


@router.post("/collect/new")
async def create_source_form(request: Request, ctx: Ctx) -> Response:
    """Create the source from the form; errors come back on the form next to their field."""
    form = dict(await request.form())
    connector = str(form.get("connector") or "")
    errors: dict[str, list[str]] = {}
    try:
        fields_json = json.loads(form.get("fields") or "[]")
        data = SourceCreate(name=form.get("name", ""), title=form.get("title", ""), connector=connector,
                            dataset=form.get("dataset", ""), config=_config_from_form(connector, form),
                            fields=fields_json, key=[k.strip() for k in str(form.get("key", "")).split(",")
                                                     if k.strip()],
                            schedule_kind=form.get("schedule_kind") or "none",
                            schedule_expr=form.get("schedule_expr") or None,
                            update_frequency=form.get("update_frequency") or None)
        created = service.create_source(ctx, data=data)
        return RedirectResponse(f"/collect/sources/{created.name}", status_code=303)
    except json.JSONDecodeError as exc:
        errors = {"fields": [f"not valid JSON: {exc}"]}
    except ValidationError as exc:
        for err in exc.errors():
            errors.setdefault(".".join(map(str, err["loc"])) or "form", []).append(err["msg"])
    except Invalid as exc:
        errors = {k: list(v) for k, v in (exc.details or {"form": [exc.message]}).items()}
    except CityhubError as exc:
        errors = {"form": [exc.message]}
    ctx.db.rollback()
    return _page(request, "source_form.html", status_code=422, connectors=service.list_connectors(ctx),
                 connector=connector, form_fields=_form_fields(connector) if connector else [], values=form,
                 errors=errors)


@router.get("/collect/sources/{name}")
def source_page(name: str, request: Request, ctx: Ctx) -> Response:
    """A source: health, settings, run history, Run now."""
    source = service.get_source(ctx, id_or_name=name)
    runs = service.list_runs(ctx, id_or_name=name, limit=50)
    return _page(request, "source.html", source=source, runs=runs.items)


@router.post("/collect/sources/{name}/run")
def run_now(name: str, ctx: Ctx) -> Response:
    """Start a run in the background and watch it on its page."""
    from cityhub.collect.api import _run_in_background

    run_id = service.start_source_run(ctx, id_or_name=name, trigger="manual")
    ctx.db.commit()
    _run_in_background(ctx, run_id)
    return RedirectResponse(f"/collect/runs/{run_id}", status_code=303)


@router.get("/collect/runs/{run_id}")
def run_page(run_id: str, request: Request, ctx: Ctx) -> Response:
    """A run: counters, the error with the upstream's words, quarantined rows."""
    run = service.get_run(ctx, run_id=run_id)
    quarantine = service.list_quarantine(ctx, run_id=run_id, limit=200)
    return _page(request, "run.html", run=run, quarantine=quarantine)
