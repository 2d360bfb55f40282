"""Our datasets, resources, organizations and themes as CKAN dicts, and CKAN package dicts back.

CKAN's `private: true` means restricted to the owner organization's members; `private: false`
public. Our third level, "internal" (any signed-in member of the city), shows as `private: true`
with an `access_level` extra, so a show → edit → update round trip keeps it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

from cityhub.catalog.ckan_envelope import field_error
from cityhub.catalog.ckan_params import FALSE, TRUE
from cityhub.catalog.models import THEMES
from cityhub.catalog.schemas import DatasetPublic, OrganizationSummary, ResourcePublic

TAG_NAMESPACE = uuid.UUID("5b0f6a1e-0c1d-4f43-9a57-6a1c5f0c7e21")

THEME_TITLES = {
    "transport": ("교통", "Transport"),
    "environment": ("환경", "Environment"),
    "safety": ("안전", "Safety"),
    "welfare": ("복지", "Welfare"),
    "economy": ("경제", "Economy"),
    "culture_tourism": ("문화관광", "Culture and tourism"),
    "population": ("인구", "Population"),
    "administration": ("행정", "Administration"),
}

# license_id (lower case) → (title, url, open)
LICENSES = {
    "kogl-1": ("공공누리 제1유형: 출처표시 (KOGL Type 1)", "https://www.kogl.or.kr/info/licenseType1.do", True),
    "kogl-2": ("공공누리 제2유형: 출처표시+상업적 이용금지 (KOGL Type 2)",
               "https://www.kogl.or.kr/info/licenseType2.do", False),
    "kogl-3": ("공공누리 제3유형: 출처표시+변경금지 (KOGL Type 3)",
               "https://www.kogl.or.kr/info/licenseType3.do", False),
    "kogl-4": ("공공누리 제4유형: 출처표시+상업적 이용금지+변경금지 (KOGL Type 4)",
               "https://www.kogl.or.kr/info/licenseType4.do", False),
    "cc-by": ("Creative Commons Attribution", "http://www.opendefinition.org/licenses/cc-by", True),
    "cc-by-4.0": ("Creative Commons Attribution 4.0", "https://creativecommons.org/licenses/by/4.0/", True),
    "cc-by-sa": ("Creative Commons Attribution Share-Alike", "http://www.opendefinition.org/licenses/cc-by-sa", True),
    "cc-zero": ("Creative Commons CCZero", "http://www.opendefinition.org/licenses/cc-zero", True),
    "cc0-1.0": ("Creative Commons CCZero", "https://creativecommons.org/publicdomain/zero/1.0/", True),
    "cc-nc": ("Creative Commons Non-Commercial (Any)", "http://creativecommons.org/licenses/by-nc/2.0/", False),
    "odc-by": ("Open Data Commons Attribution License", "http://www.opendefinition.org/licenses/odc-by", True),
    "odc-odbl": ("Open Data Commons Open Database License (ODbL)",
                 "http://www.opendefinition.org/licenses/odc-odbl", True),
    "odc-pddl": ("Open Data Commons Public Domain Dedication and License (PDDL)",
                 "http://www.opendefinition.org/licenses/odc-pddl", True),
    "other-open": ("Other (Open)", None, True),
    "other-closed": ("Other (Not Open)", None, False),
    "notspecified": ("License not specified", None, False),
}

# Our dataset fields that CKAN has no core key for: they travel as extras.
EXTRA_FIELDS = ("theme", "title_en", "notes_en", "update_frequency", "access_level", "synthetic", "contact_name",
                "contact_email", "spatial", "temporal_start", "temporal_end")
CORE_FIELDS = ("title", "notes", "url", "version", "author", "author_email", "maintainer", "maintainer_email",
               "license_id", "state")


def iso(value: datetime | None) -> str | None:
    """CKAN's timestamps: ISO 8601 in UTC without a timezone suffix."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat()


def tag_dict(name: str) -> dict[str, Any]:
    return {"id": str(uuid.uuid5(TAG_NAMESPACE, name)), "name": name, "display_name": name, "state": "active",
            "vocabulary_id": None}


def group_dict(theme: str, package_count: int | None = None) -> dict[str, Any]:
    """A theme as a CKAN group (CKAN groups are the portal's themes here)."""
    ko, en = THEME_TITLES.get(theme, (theme, theme))
    out: dict[str, Any] = {
        "id": theme, "name": theme, "title": ko, "display_name": ko, "title_en": en,
        "description": f"{ko} ({en})", "image_url": "", "image_display_url": "", "type": "group",
        "state": "active", "is_organization": False, "approval_status": "approved",
    }
    if package_count is not None:
        out["package_count"] = package_count
    return out


def org_dict(org: Any, package_count: int | None = None) -> dict[str, Any]:
    """An organization (OrganizationSummary or OrganizationPublic) as CKAN shows it."""
    out: dict[str, Any] = {
        "id": org.id, "name": org.name, "title": org.title, "display_name": org.title,
        "title_en": getattr(org, "title_en", None), "description": org.description or "",
        "image_url": org.image_url or "", "image_display_url": org.image_url or "",
        "type": "organization", "is_organization": True, "state": "active", "approval_status": "approved",
        "kind": getattr(org, "kind", None),
    }
    created = getattr(org, "created_at", None)
    if created is not None:
        out["created"] = iso(created)
    if package_count is not None:
        out["package_count"] = package_count
    return out


def resource_dict(res: ResourcePublic) -> dict[str, Any]:
    return {
        "id": res.id, "package_id": res.dataset_id, "url": res.url or res.download_url or "",
        "name": res.name, "description": res.description or "", "format": res.format or "",
        "mimetype": res.mimetype, "mimetype_inner": None, "hash": res.sha256 or "", "size": res.size,
        "position": res.position, "resource_type": None, "url_type": res.url_type,
        "created": iso(res.created_at), "last_modified": iso(res.modified_at),
        "metadata_modified": iso(res.modified_at), "state": res.state,
        "datastore_active": res.datastore_active, "cache_url": None, "cache_last_updated": None,
    }


def _extra_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return orjson.dumps(value).decode()


def dataset_dict(ds: DatasetPublic) -> dict[str, Any]:
    """A dataset exactly as CKAN's package_show returns it (with our extra fields as extras)."""
    org: OrganizationSummary | None = ds.organization
    license_title, license_url, is_open = LICENSES.get((ds.license_id or "").lower(), (ds.license_id, None, False))
    extras = {key: _extra_value(value) for key, value in (ds.extras or {}).items() if value is not None}
    for key in EXTRA_FIELDS:
        value = getattr(ds, key)
        if value is not None:
            extras[key] = _extra_value(value)
    resources = [resource_dict(r) for r in ds.resources]
    return {
        "id": ds.id, "name": ds.name, "title": ds.title, "notes": ds.notes, "url": ds.url, "version": ds.version,
        "type": "dataset", "state": ds.state, "private": ds.access_level != "public",
        "author": ds.author, "author_email": ds.author_email, "maintainer": ds.maintainer,
        "maintainer_email": ds.maintainer_email, "license_id": ds.license_id,
        "license_title": license_title if ds.license_id else None, "license_url": license_url, "isopen": is_open,
        "owner_org": org.id if org else None, "organization": org_dict(org) if org else None,
        "groups": [group_dict(ds.theme)] if ds.theme else [],
        "tags": [tag_dict(k) for k in ds.keywords],
        "extras": [{"key": k, "value": extras[k]} for k in sorted(extras)],
        "resources": resources, "num_resources": len(resources), "num_tags": len(ds.keywords),
        "metadata_created": iso(ds.created_at), "metadata_modified": iso(ds.modified_at),
        "creator_user_id": ds.creator_user_id, "relationships_as_object": [], "relationships_as_subject": [],
    }


# --- CKAN package dict → our fields ---------------------------------------------------------------


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _tags(data: dict[str, Any]) -> list[str] | None:
    if "tags" in data:
        tags = data["tags"]
        if isinstance(tags, str):
            try:
                tags = orjson.loads(tags)
            except orjson.JSONDecodeError:
                tags = [t for t in tags.split(",")]
        if tags is None:
            return []
        if not isinstance(tags, list):
            raise field_error("tags", "Must be a list of {\"name\": …}")
        names = []
        for tag in tags:
            name = tag.get("name") if isinstance(tag, dict) else tag
            if not isinstance(name, str) or not name.strip():
                raise field_error("tags", "Each tag needs a name")
            names.append(name.strip())
        return names
    if "tag_string" in data:
        return [t.strip() for t in str(data["tag_string"] or "").split(",") if t.strip()]
    return None


def _extras(data: dict[str, Any]) -> dict[str, Any] | None:
    extras = data.get("extras")
    if extras is None:
        return None
    if isinstance(extras, str):
        try:
            extras = orjson.loads(extras)
        except orjson.JSONDecodeError:
            raise field_error("extras", "Could not parse as valid JSON") from None
    if isinstance(extras, dict):
        return dict(extras)
    if not isinstance(extras, list):
        raise field_error("extras", "Must be a list of {\"key\": …, \"value\": …}")
    out: dict[str, Any] = {}
    for item in extras:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise field_error("extras", "Each extra needs a key and a value")
        if item.get("deleted"):
            continue
        if item["key"] in CORE_FIELDS or item["key"] in ("name", "id", "owner_org", "private", "tags", "groups"):
            raise field_error("extras", f"There is a schema field with the same name: {item['key']}")
        out[item["key"]] = item.get("value")
    return out


def _theme(data: dict[str, Any]) -> str | None | bool:
    """The theme from `groups` ([{name}] or [{id}]); False when groups were not given."""
    if "groups" not in data:
        return False
    groups = data["groups"]
    if isinstance(groups, str):
        try:
            groups = orjson.loads(groups)
        except orjson.JSONDecodeError:
            groups = [{"name": groups}]
    if not groups:
        return None
    if not isinstance(groups, list):
        raise field_error("groups", "Must be a list of {\"name\": …}")
    names = [(g.get("name") or g.get("id")) if isinstance(g, dict) else g for g in groups]
    unknown = [n for n in names if n not in THEMES]
    if unknown:
        raise field_error("groups", f"Group {unknown[0]!r} not found; groups are the themes {', '.join(THEMES)}")
    if len(set(names)) > 1:
        raise field_error("groups", "A dataset belongs to one theme (group)")
    return names[0]


def _bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise field_error(field, "Value must be one of: true; false")


def _access_level(data: dict[str, Any], extra_level: str | None) -> str | None:
    """`private` decides; an `access_level` extra refines private to internal. None: keep as is."""
    if "private" in data and data["private"] is not None:
        if not _bool(data["private"], "private"):
            return "public"
        return "internal" if extra_level == "internal" else "restricted"
    return extra_level


def package_fields(data: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """The fields a CKAN package dict sets, in DatasetCreate/DatasetUpdate terms.

    Only keys present in `data` appear in the result, so package_patch changes just those."""
    out: dict[str, Any] = {}
    for key in CORE_FIELDS:
        if key in data:
            out[key] = _blank_to_none(data[key])
    if creating:
        out["name"] = data.get("name")
        if not out.get("title"):
            out["title"] = data.get("name")
    if "owner_org" in data or creating:
        out["owner_org"] = _blank_to_none(data.get("owner_org"))
    tags = _tags(data)
    if tags is not None:
        out["keywords"] = tags
    extras = _extras(data)
    extra_level = None
    if extras is not None:
        for key in EXTRA_FIELDS:
            if key in extras:
                value = _blank_to_none(extras.pop(key))
                if key == "access_level":
                    extra_level = value
                elif key == "synthetic":
                    out[key] = _bool(value, "synthetic") if value is not None else None
                else:
                    out[key] = value
        out["extras"] = extras
    theme = _theme(data)
    # Empty groups do not undo a theme given as an extra in the same dict.
    if theme is not False and (theme is not None or "theme" not in out):
        out["theme"] = theme
    level = _access_level(data, extra_level)
    if level is not None:
        out["access_level"] = level
    elif creating:
        out["access_level"] = "public"
    return {k: v for k, v in out.items() if v is not None or not creating}


def resource_fields(data: dict[str, Any]) -> dict[str, Any]:
    """ResourceCreate/ResourceUpdate fields from a CKAN resource dict (unknown keys are ignored)."""
    out = {}
    for key in ("name", "description", "format", "url", "mimetype"):
        if key in data:
            value = data[key]
            if value is not None and not isinstance(value, str):
                raise field_error(key, "Must be a string")
            out[key] = _blank_to_none(value)
    return out
