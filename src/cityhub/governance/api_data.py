"""HTTP door for data on its way in: personal-data findings and treatments, uploads with treatment
options, the API write path for rows, and the quarantine."""

from __future__ import annotations

import json

from fastapi import APIRouter, File, Form, Query, UploadFile

from cityhub.catalog.schemas import ResourceCreate, ResourcePublic
from cityhub.errors import Invalid
from cityhub.governance import dataset_schema, quarantine, rows, treatment
from cityhub.governance.guard import TREATMENTS_KEY
from cityhub.governance.schemas import (
    TREATMENTS,
    PersonalColumnPublic,
    PersonalReport,
    QuarantineFix,
    QuarantineList,
    ResubmitResult,
    RowsIn,
    RowsResult,
    TreatmentIn,
)
from cityhub.http import Ctx

router = APIRouter(prefix="/api/v1/governance", tags=["governance"])


@router.get("/datasets/{dataset}/personal-data", response_model=PersonalReport)
def personal_report(dataset: str, ctx: Ctx) -> PersonalReport:
    """Personal data found per column and whether the dataset may be public (its stewards)."""
    return dataset_schema.personal_report(ctx, dataset=dataset)


@router.post("/datasets/{dataset}/personal-data/treatments", response_model=PersonalColumnPublic)
def treat_column(dataset: str, body: TreatmentIn, ctx: Ctx) -> PersonalColumnPublic:
    """Mask, pseudonymise or drop a column; the stored table (and file) are rewritten."""
    return treatment.treat_column(ctx, data=body)


def parse_treatments(value: str | None) -> dict[str, str]:
    """`{"연락처": "mask"}` or `연락처:mask,성명:pseudonymise` → {column: treatment}."""
    if not value:
        return {}
    try:
        parsed = json.loads(value) if value.strip().startswith("{") else dict(
            part.rsplit(":", 1) for part in value.split(",") if part.strip())
    except ValueError:
        raise Invalid.field("personal", 'use {"column": "mask"} or column:mask,column:drop') from None
    bad = {k: v for k, v in parsed.items() if v not in TREATMENTS}
    if bad:
        raise Invalid.field("personal", f"unknown treatment for {', '.join(bad)}; use {', '.join(TREATMENTS)}")
    return {str(k).strip(): v for k, v in parsed.items()}


@router.post("/datasets/{dataset}/uploads", response_model=ResourcePublic, status_code=201)
def upload_with_treatments(
    dataset: str, ctx: Ctx, upload: UploadFile = File(...), name: str | None = Form(default=None),
    description: str | None = Form(default=None), format: str | None = Form(default=None),
    personal: str | None = Form(default=None, description='columns to treat on the way in: {"연락처": "mask"}'),
) -> ResourcePublic:
    """Upload a file whose personal-data columns are masked, pseudonymised or dropped before storing."""
    from cityhub.catalog import service as catalog

    treatments = parse_treatments(personal)
    ctx.extra[TREATMENTS_KEY] = treatments
    data = ResourceCreate(name=name, description=description, format=format)
    created = catalog.create_resource(ctx, dataset=dataset, data=data, upload=upload.file, filename=upload.filename)
    if treatments and created.datastore_active:  # the stored file must not keep the untreated values
        treatment.replace_file_with_table(ctx, resource_id=created.id)
        created = catalog.get_resource(ctx, resource_id=created.id)
    return created


@router.post("/resources/{resource_id}/rows", response_model=RowsResult)
def write_rows(resource_id: str, body: RowsIn, ctx: Ctx) -> RowsResult:
    """Append rows through the API: valid rows are stored, the rest quarantined with their rules."""
    return rows.write_rows(ctx, resource_id=resource_id, rows=body.rows)


@router.get("/datasets/{dataset}/quarantine", response_model=QuarantineList)
def list_quarantine(dataset: str, ctx: Ctx, status: str | None = "open", origin: str | None = None,
                    rule: str | None = None, limit: int = Query(100, ge=1, le=1000),
                    offset: int = Query(0, ge=0)) -> QuarantineList:
    """Rows refused on any write path, with each rule and value (its stewards)."""
    return quarantine.list_quarantine(ctx, dataset=dataset, status=status or None, origin=origin, rule=rule,
                                      limit=limit, offset=offset)


@router.post("/datasets/{dataset}/quarantine/{record_id}/resubmit", response_model=ResubmitResult)
def resubmit(dataset: str, record_id: int, body: QuarantineFix, ctx: Ctx) -> ResubmitResult:
    """Fix a quarantined row (merge corrected values) and re-submit it."""
    return quarantine.resubmit(ctx, dataset=dataset, record_id=record_id, fix=body)


@router.post("/datasets/{dataset}/quarantine/{record_id}/discard", response_model=ResubmitResult)
def discard(dataset: str, record_id: int, ctx: Ctx) -> ResubmitResult:
    """Give up on a quarantined row."""
    return quarantine.discard(ctx, dataset=dataset, record_id=record_id)
