"""HTTP door for standards: terms, code lists, field→term matching, dataset schemas."""

from __future__ import annotations

from fastapi import APIRouter, Query
from pydantic import BaseModel

from cityhub.governance import dataset_schema, standards
from cityhub.governance.schemas import (
    CodeListIn,
    CodeListPublic,
    DatasetSchemaIn,
    DatasetSchemaPublic,
    FieldTermMatch,
    StandardTermIn,
    StandardTermPublic,
    TermList,
)
from cityhub.http import Ctx

router = APIRouter(prefix="/api/v1/governance", tags=["governance"])


@router.get("/terms", response_model=TermList)
def list_terms(ctx: Ctx, q: str | None = None, limit: int = Query(500, ge=1, le=5000),
               offset: int = Query(0, ge=0)) -> TermList:
    """The city's standard terms (공통표준용어 style): Korean and English names, abbreviation, domain."""
    items, total = standards.list_terms(ctx, q=q, limit=limit, offset=offset)
    return TermList(items=items, total=total)


@router.post("/terms", response_model=StandardTermPublic, status_code=201)
def create_term(body: StandardTermIn, ctx: Ctx) -> StandardTermPublic:
    """Add a term (stewards)."""
    return standards.create_term(ctx, data=body)


@router.put("/terms/{term_id}", response_model=StandardTermPublic)
def update_term(term_id: int, body: StandardTermIn, ctx: Ctx) -> StandardTermPublic:
    """Change a term (stewards)."""
    return standards.update_term(ctx, term_id=term_id, data=body)


@router.delete("/terms/{term_id}", status_code=204)
def delete_term(term_id: int, ctx: Ctx) -> None:
    """Remove a term (stewards)."""
    standards.delete_term(ctx, term_id=term_id)


class MatchIn(BaseModel):
    fields: list[str]


@router.post("/terms/match", response_model=list[FieldTermMatch])
def match_terms(body: MatchIn, ctx: Ctx) -> list[FieldTermMatch]:
    """Map field names to standard terms; non-standard names get a warning and the nearest terms."""
    return standards.match_fields(ctx, body.fields)


@router.get("/code-lists", response_model=list[CodeListPublic])
def list_code_lists(ctx: Ctx) -> list[CodeListPublic]:
    """Every code list (e.g. busan-district)."""
    return standards.list_code_lists(ctx)


@router.get("/code-lists/{name}", response_model=CodeListPublic)
def get_code_list(name: str, ctx: Ctx) -> CodeListPublic:
    """One code list."""
    return standards.get_code_list(ctx, name=name)


@router.put("/code-lists/{name}", response_model=CodeListPublic)
def put_code_list(name: str, body: CodeListIn, ctx: Ctx) -> CodeListPublic:
    """Create or replace a code list (stewards)."""
    return standards.put_code_list(ctx, name=name, data=body)


@router.get("/datasets/{dataset}/schema", response_model=DatasetSchemaPublic, response_model_by_alias=True)
def get_schema(dataset: str, ctx: Ctx) -> DatasetSchemaPublic:
    """A dataset's Table Schema, rules and field→term mapping."""
    return dataset_schema.get_schema(ctx, dataset=dataset)


@router.put("/datasets/{dataset}/schema", response_model=DatasetSchemaPublic, response_model_by_alias=True)
def put_schema(dataset: str, body: DatasetSchemaIn, ctx: Ctx) -> DatasetSchemaPublic:
    """Set a dataset's Table Schema and rules (its stewards)."""
    return dataset_schema.put_schema(ctx, dataset=dataset, data=body)
