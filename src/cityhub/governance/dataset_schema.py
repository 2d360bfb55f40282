"""A dataset's schema (Frictionless Table Schema + rule descriptors) and its personal-data report."""

from __future__ import annotations

from sqlalchemy import select

from cityhub.auth import policy
from cityhub.ctx import RequestContext
from cityhub.db import utcnow
from cityhub.governance import entity_rules, privacy, standards
from cityhub.governance.models import DatasetSchema, PersonalColumn
from cityhub.governance.ruleset import compile_rules
from cityhub.governance.schemas import DatasetSchemaIn, DatasetSchemaPublic, PersonalColumnPublic, PersonalReport

policy.declare("dataset.govern")


def _dataset(ctx: RequestContext, dataset: str, action: str = "dataset.read"):  # noqa: ANN202
    from cityhub.catalog import service as catalog

    return catalog.get_dataset_ref(ctx, id_or_name=dataset, action=action)


def get_schema(ctx: RequestContext, *, dataset: str) -> DatasetSchemaPublic:
    """A dataset's Table Schema and rules, with each field mapped to a standard term (warnings for
    non-standard names). Anyone who may read the dataset may read its schema."""
    ref = _dataset(ctx, dataset)
    found = ctx.db.get(DatasetSchema, ref.id)
    schema = found.table_schema if found else {"fields": []}
    names = [f["name"] for f in schema.get("fields", [])]
    return DatasetSchemaPublic(dataset_id=ref.id, table_schema=schema, rules=found.rules if found else [],
                               terms=standards.match_fields(ctx, names),
                               updated_at=found.updated_at if found else None)


def put_schema(ctx: RequestContext, *, dataset: str, data: DatasetSchemaIn) -> DatasetSchemaPublic:
    """Set a dataset's schema and rules (its stewards); rules are compiled first so a bad descriptor or
    an unknown code list is refused with the reason."""
    ref = _dataset(ctx, dataset, "dataset.govern")
    schema = data.table_schema.model_dump(exclude_none=True, by_alias=True)
    for f in schema["fields"]:
        if not f.get("constraints"):
            f.pop("constraints", None)
        if f.get("codeList") and not standards.codes_of(ctx.db, f["codeList"]):
            from cityhub.errors import Invalid

            raise Invalid.field(f"schema.fields.{f['name']}.codeList", f"no code list named {f['codeList']!r}")
    compile_rules(ctx.db, schema, data.rules)
    found = ctx.db.get(DatasetSchema, ref.id) or DatasetSchema(dataset_id=ref.id)
    found.table_schema, found.rules = schema, list(data.rules)
    found.updated_by, found.updated_at = ctx.actor.user_id, utcnow()
    ctx.db.add(found)
    ctx.db.flush()
    entity_rules.forget()  # an entity type's schema is its live dataset's: the write path re-reads it
    ctx.publish("dataset.schema_changed", {"id": ref.id})
    return get_schema(ctx, dataset=ref.id)


def personal_report(ctx: RequestContext, *, dataset: str) -> PersonalReport:
    """Personal data found in a dataset's resources, per column, and whether it may be public."""
    ref = _dataset(ctx, dataset, "dataset.govern")
    rows = list(ctx.db.scalars(select(PersonalColumn).where(PersonalColumn.dataset_id == ref.id)
                               .order_by(PersonalColumn.resource_id, PersonalColumn.column_name)))
    untreated = [c.column_name for c in privacy.untreated_columns(ctx.db, ref.id)]
    return PersonalReport(dataset_id=ref.id, columns=[PersonalColumnPublic.model_validate(r) for r in rows],
                          may_be_public=not untreated, untreated=untreated)
