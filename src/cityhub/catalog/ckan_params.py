"""Action parameters as CKAN clients send them: JSON values by POST, strings by GET or multipart.

By GET `rows=10` arrives as "10", a list as a JSON string or repeated keys, a boolean as "true" or
"True"; these helpers accept every form and name the field when a value makes no sense.
"""

from __future__ import annotations

from typing import Any

import orjson

from cityhub.catalog.ckan_envelope import field_error

TRUE = {"true", "1", "yes", "on", "t", "y"}
FALSE = {"false", "0", "no", "off", "f", "n", ""}


def as_int(data: dict[str, Any], key: str, default: int | None, *, minimum: int = 0,
           maximum: int | None = None, clamp: bool = True) -> int | None:
    """An integer parameter; over `maximum` it is clamped (CKAN's rows_max) unless `clamp` is False."""
    value = data.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise field_error(key, "Invalid integer")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise field_error(key, "Invalid integer") from None
    if number < minimum:
        raise field_error(key, "Must be a natural number" if minimum == 0 else f"Must be at least {minimum}")
    if maximum is not None and number > maximum:
        if not clamp:
            raise field_error(key, f"Must be at most {maximum}")
        number = maximum
    return number


def as_bool(data: dict[str, Any], key: str, default: bool) -> bool:
    value = data.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise field_error(key, "Value must be one of: true; false")


def as_json(data: dict[str, Any], key: str, default: Any = None) -> Any:
    """A value that may be sent as JSON text (GET and multipart) or as JSON itself (POST body)."""
    value = data.get(key)
    if value is None:
        return default
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in ("[", "{", '"') or text in ("true", "false", "null"):
            try:
                return orjson.loads(text)
            except orjson.JSONDecodeError:
                raise field_error(key, "Could not parse as valid JSON") from None
    return value


def as_list(data: dict[str, Any], key: str, default: list[Any] | None = None, *, split: bool = True) -> list[Any]:
    """A list: JSON, a repeated GET key, or a comma separated string."""
    value = as_json(data, key)
    if value is None:
        return list(default or [])
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()] if split else [value]
    raise field_error(key, "Must be a list")


def as_dict(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = as_json(data, key)
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise field_error(key, "Must be a JSON object")
    return value


def as_str(data: dict[str, Any], key: str, default: str | None = None) -> str | None:
    value = data.get(key)
    if value is None:
        return default
    if isinstance(value, list):
        raise field_error(key, "Must be a string, not a list")
    return str(value)


def require_str(data: dict[str, Any], *keys: str) -> str:
    """The first of `keys` present (e.g. `id` or `name`); CKAN's "Missing value" otherwise."""
    for key in keys:
        value = data.get(key)
        if value not in (None, ""):
            if not isinstance(value, str | int):
                raise field_error(key, "Must be a string")
            return str(value)
    raise field_error(keys[0], "Missing value")
