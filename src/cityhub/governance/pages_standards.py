"""Steward pages (Korean and English) for the standards: add and edit standard terms, code lists and a
dataset's schema (fields with types, constraints, units, terms and code lists, plus cross-field rules).

Plain HTML forms posting to the same services as the API. A refused form comes back filled in, with
the reason beside it (422), so nothing the steward typed is lost.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from cityhub.auth import policy
from cityhub.catalog import service as catalog
from cityhub.errors import Conflict, Invalid, NotFound
from cityhub.governance import dataset_schema, standards
from cityhub.governance.schemas import FIELD_TYPES, CodeListIn, DatasetSchemaIn, StandardTermIn
from cityhub.http import Ctx
from cityhub.web.templating import mark_page, page_lang, render

router = APIRouter(dependencies=[Depends(mark_page)], include_in_schema=False)
DATA_TYPES = ("VARCHAR", "CHAR", "NUMERIC", "DATE", "DATETIME", "BOOLEAN", "TEXT")
BLANK_FIELDS = 3  # empty rows under a schema's fields, for new ones

TEXT = {
    "ko": {"terms": "표준용어 사전", "new_term": "표준용어 추가", "edit_term": "표준용어 수정", "save": "저장",
           "term_ko": "한글명", "term_en": "영문명", "abbr": "영문약어", "domain": "도메인", "type": "데이터 타입",
           "length": "길이", "scale": "소수점", "format": "형식", "description": "설명", "personal": "개인정보 용어",
           "edit": "수정", "code_lists": "코드 목록", "new_code_list": "코드 목록 추가", "name": "이름(영문 식별자)",
           "title": "제목", "title_en": "영문 제목", "codes": "코드 (한 줄에 하나: 코드,한글명,영문명)",
           "count": "코드 수", "schema": "스키마 편집", "field": "필드명", "field_type": "타입",
           "required": "필수", "unique": "유일", "minimum": "최솟값", "maximum": "최댓값", "pattern": "패턴",
           "enum": "허용값 (쉼표로 구분)", "unit": "단위", "term": "표준용어", "code_list": "코드 목록",
           "rules": "교차 검증 규칙 (JSON 배열)", "error": "저장하지 못했습니다", "saved": "저장했습니다",
           "fields_help": "필드명을 비우면 그 행은 삭제됩니다.", "primary_key": "기본키 (쉼표로 구분)",
           "steward_only": "표준 관리 권한이 있는 데이터 관리자만 수정할 수 있습니다."},
    "en": {"terms": "Standard terms", "new_term": "Add a standard term", "edit_term": "Edit a standard term",
           "save": "Save", "term_ko": "Korean name", "term_en": "English name", "abbr": "Abbreviation",
           "domain": "Domain", "type": "Data type", "length": "Length", "scale": "Scale", "format": "Format",
           "description": "Description", "personal": "Names personal data", "edit": "Edit",
           "code_lists": "Code lists", "new_code_list": "Add a code list", "name": "Name (identifier)",
           "title": "Title", "title_en": "English title",
           "codes": "Codes (one per line: code,Korean label,English label)",
           "count": "Codes", "schema": "Edit the schema", "field": "Field", "field_type": "Type",
           "required": "Required", "unique": "Unique", "minimum": "Minimum", "maximum": "Maximum",
           "pattern": "Pattern", "enum": "Allowed values (comma-separated)", "unit": "Unit", "term": "Standard term",
           "code_list": "Code list", "rules": "Cross-field rules (JSON array)", "error": "Not saved",
           "saved": "Saved", "fields_help": "A row whose field name is empty is removed.",
           "primary_key": "Primary key (comma-separated)",
           "steward_only": "Only stewards who manage the standards may edit."},
}


def _page(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    return render(request, f"governance/{name}", status_code=status_code,
                  c=TEXT.get(page_lang(request), TEXT["en"]), **context)


def _problems(exc: Exception) -> list[str]:
    """Readable reasons for a refused form (service errors and Pydantic's)."""
    if isinstance(exc, ValidationError):
        return [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
    details = getattr(exc, "details", None) or {}
    if details:
        return [f"{field}: {'; '.join(map(str, msgs))}" for field, msgs in details.items()]
    return [str(getattr(exc, "message", exc))]


# --- terms -------------------------------------------------------------------------------------------


def _term_form(form: Any) -> dict[str, Any]:
    values = {k: (form.get(k) or "").strip() for k in ("name_ko", "name_en", "abbr", "domain", "data_type",
                                                          "length", "scale", "format", "description")}
    values["personal"] = form.get("personal") == "true"
    return values


def _term_in(values: dict[str, Any]) -> StandardTermIn:
    data = {k: (v if v != "" else None) for k, v in values.items()}
    data["abbr"] = (data.get("abbr") or "").upper()
    return StandardTermIn.model_validate(data)


@router.get("/governance/terms/new")
def term_new(request: Request, ctx: Ctx) -> Response:
    """The form for a new standard term (stewards)."""
    policy.require(ctx, "standards.manage")
    return _page(request, "term_edit.html", term={"data_type": "VARCHAR"}, term_id=None, types=DATA_TYPES)


@router.get("/governance/terms/{term_id}/edit")
def term_edit(request: Request, ctx: Ctx, term_id: int) -> Response:
    """The form for one standard term (stewards)."""
    policy.require(ctx, "standards.manage")
    items, _ = standards.list_terms(ctx, limit=100_000)
    term = next((t for t in items if t.id == term_id), None)
    if term is None:
        raise NotFound(f"term {term_id} not found")
    return _page(request, "term_edit.html", term=term.model_dump(), term_id=term_id, types=DATA_TYPES)


@router.post("/governance/terms/new")
@router.post("/governance/terms/{term_id}/edit")
async def term_save(request: Request, ctx: Ctx, term_id: int | None = None) -> Response:
    """Save a term; back to the dictionary filtered on it, or the form with the reasons."""
    policy.require(ctx, "standards.manage")
    values = _term_form(await request.form())
    try:
        data = _term_in(values)
        if term_id is None:
            standards.create_term(ctx, data=data)
        else:
            standards.update_term(ctx, term_id=term_id, data=data)
    except (Invalid, Conflict, ValidationError) as exc:
        return _page(request, "term_edit.html", status_code=422, term=values, term_id=term_id, types=DATA_TYPES,
                     problems=_problems(exc))
    return RedirectResponse(f"/governance/terms?q={data.abbr}", status_code=303)


# --- code lists --------------------------------------------------------------------------------------


@router.get("/governance/code-lists")
def code_lists(request: Request, ctx: Ctx) -> Response:
    """Every code list, with edit links for stewards."""
    return _page(request, "code_lists.html", lists=standards.list_code_lists(ctx),
                 steward=policy.can(ctx, "standards.manage"))


def _codes_text(codes: list[Any]) -> str:
    return "\n".join(",".join(x for x in (c["code"], c["label"], c.get("label_en") or "") if x is not None).rstrip(",")
                     for c in codes)


def _parse_codes(text: str) -> list[dict[str, Any]]:
    out = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 2 or not parts[0]:
            raise Invalid.field(f"codes line {n}", "write code,Korean label[,English label]")
        out.append({"code": parts[0], "label": parts[1], "label_en": parts[2] if len(parts) > 2 and parts[2] else None})
    return out


@router.get("/governance/code-lists/new")
@router.get("/governance/code-lists/{name}/edit")
def code_list_edit(request: Request, ctx: Ctx, name: str | None = None) -> Response:
    """The form for a code list (stewards)."""
    policy.require(ctx, "standards.manage")
    values = {"name": "", "title": "", "title_en": "", "codes": ""}
    if name:
        found = standards.get_code_list(ctx, name=name)
        values = {"name": name, "title": found.title, "title_en": found.title_en or "",
                  "codes": _codes_text([c.model_dump() for c in found.codes])}
    return _page(request, "code_list_edit.html", values=values, existing=bool(name))


@router.post("/governance/code-lists/new")
@router.post("/governance/code-lists/{name}/edit")
async def code_list_save(request: Request, ctx: Ctx, name: str | None = None) -> Response:
    """Create or replace a code list; back to the lists, or the form with the reasons."""
    policy.require(ctx, "standards.manage")
    form = await request.form()
    values = {k: str(form.get(k) or "").strip() for k in ("name", "title", "title_en", "codes")}
    target = name or values["name"]
    try:
        if not target or not target.replace("-", "").replace("_", "").isalnum():
            raise Invalid.field("name", "letters, digits, - and _ only")
        data = CodeListIn.model_validate({"title": values["title"], "title_en": values["title_en"] or None,
                                          "codes": _parse_codes(values["codes"])})
        standards.put_code_list(ctx, name=target, data=data)
    except (Invalid, ValidationError) as exc:
        return _page(request, "code_list_edit.html", status_code=422, values={**values, "name": target},
                     existing=bool(name), problems=_problems(exc))
    return RedirectResponse("/governance/code-lists", status_code=303)


# --- dataset schemas ---------------------------------------------------------------------------------


def _field_rows(schema: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for f in schema.get("fields", []):
        c = f.get("constraints") or {}
        rows.append({"name": f["name"], "type": f.get("type", "string"), "required": bool(c.get("required")),
                     "unique": bool(c.get("unique")), "minimum": c.get("minimum", ""), "maximum": c.get("maximum", ""),
                     "pattern": c.get("pattern", ""), "enum": ", ".join(map(str, c.get("enum") or [])),
                     "unit": f.get("unit") or "", "term": f.get("term") or "", "codeList": f.get("codeList") or ""})
    return rows


def _number(text: str) -> float | int | str:
    try:
        value = float(text)
    except ValueError:
        return text  # dates and times are limits too; the schema model checks the rest
    return int(value) if value.is_integer() else value


def _schema_from_form(form: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(rows as typed, for re-showing) and the Table Schema they make."""
    rows, fields = [], []
    for i in range(int(form.get("rows") or 0)):
        g = lambda key, i=i: str(form.get(f"f{i}-{key}") or "").strip()  # noqa: E731
        row = {"name": g("name"), "type": g("type") or "string", "required": g("required") == "true",
               "unique": g("unique") == "true", "minimum": g("minimum"), "maximum": g("maximum"),
               "pattern": g("pattern"), "enum": g("enum"), "unit": g("unit"), "term": g("term"),
               "codeList": g("codeList")}
        rows.append(row)
        if not row["name"]:
            continue
        constraints: dict[str, Any] = {}
        for key in ("required", "unique"):
            if row[key]:
                constraints[key] = True
        for key in ("minimum", "maximum"):
            if row[key] != "":
                constraints[key] = _number(row[key])
        if row["pattern"]:
            constraints["pattern"] = row["pattern"]
        if row["enum"]:
            constraints["enum"] = [v.strip() for v in row["enum"].split(",") if v.strip()]
        field = {"name": row["name"], "type": row["type"], "constraints": constraints}
        field.update({k: row[k] for k in ("unit", "term", "codeList") if row[k]})
        fields.append(field)
    schema: dict[str, Any] = {"fields": fields}
    key = [k.strip() for k in str(form.get("primaryKey") or "").split(",") if k.strip()]
    if key:
        schema["primaryKey"] = key
    return rows, schema


def _schema_page(request: Request, ctx: Ctx, name: str, rows: list[dict[str, Any]], rules: str, primary_key: str,
                 status_code: int = 200, problems: list[str] | None = None) -> Response:
    ds = catalog.get_dataset(ctx, id_or_name=name)
    rows = rows + [{"name": "", "type": "string"} for _ in range(BLANK_FIELDS)]
    return _page(request, "schema_edit.html", status_code=status_code, ds=ds, rows=rows, rules=rules,
                 primary_key=primary_key, types=FIELD_TYPES, problems=problems or [],
                 code_lists=[c.name for c in standards.list_code_lists(ctx)])


@router.get("/governance/dataset/{name}/schema")
def schema_edit(request: Request, ctx: Ctx, name: str) -> Response:
    """A dataset's schema as a form: one row per field, cross-field rules as JSON (its stewards)."""
    policy.require(ctx, "dataset.govern", catalog.get_dataset_ref(ctx, id_or_name=name))
    current = dataset_schema.get_schema(ctx, dataset=name)
    key = current.table_schema.get("primaryKey") or []
    return _schema_page(request, ctx, name, _field_rows(current.table_schema),
                        json.dumps(current.rules, ensure_ascii=False, indent=1),
                        ", ".join([key] if isinstance(key, str) else key))


@router.post("/governance/dataset/{name}/schema")
async def schema_save(request: Request, ctx: Ctx, name: str) -> Response:
    """Save the schema; back to the dataset's governance page, or the form with the reasons."""
    policy.require(ctx, "dataset.govern", catalog.get_dataset_ref(ctx, id_or_name=name))
    form = await request.form()
    rows, schema = _schema_from_form(form)
    rules_text = str(form.get("rules") or "").strip() or "[]"
    try:
        try:
            rules = json.loads(rules_text)
        except ValueError as exc:
            raise Invalid.field("rules", f"not JSON: {exc}") from None
        if not isinstance(rules, list):
            raise Invalid.field("rules", "a JSON array of rule descriptors")
        data = DatasetSchemaIn.model_validate({"schema": schema, "rules": rules})
        dataset_schema.put_schema(ctx, dataset=name, data=data)
    except (Invalid, ValidationError) as exc:
        return _schema_page(request, ctx, name, rows, rules_text, str(form.get("primaryKey") or ""),
                            status_code=422, problems=_problems(exc))
    return RedirectResponse(f"/governance/dataset/{name}", status_code=303)
