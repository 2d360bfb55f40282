"""Connector registry: built-ins by name, third parties through the `cityhub.connectors` entry point.

A plugin that fails to import is logged and left out; it never stops the platform.
"""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import entry_points

from cityhub.collect.connectors.base import Connector
from cityhub.errors import Invalid

log = logging.getLogger("cityhub.collect")

BUILT_INS = {
    "http": "cityhub.collect.connectors.http:HttpConnector",
    "kosis": "cityhub.collect.connectors.kosis:KosisConnector",
    "seoul": "cityhub.collect.connectors.seoul:SeoulConnector",
    "datagokr": "cityhub.collect.connectors.datagokr:DataGoKrConnector",
    "ckan": "cityhub.collect.connectors.ckan:CkanConnector",
    "mqtt": "cityhub.collect.connectors.mqtt:MqttConnector",
    "file": "cityhub.collect.connectors.file:FileConnector",
}
ENTRY_POINT_GROUP = "cityhub.connectors"

_cache: dict[str, type[Connector]] | None = None
_failures: dict[str, str] = {}


def _load(target: str) -> type[Connector]:
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def _discover() -> dict[str, type[Connector]]:
    found: dict[str, type[Connector]] = {}
    for name, target in BUILT_INS.items():
        try:
            found[name] = _load(target)
        except Exception as exc:  # a broken built-in is a bug, but it must not take the others down
            log.exception("connector failed to load", extra={"connector": name})
            _failures[name] = f"{type(exc).__name__}: {exc}"
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = ep.load()
            if not (isinstance(cls, type) and issubclass(cls, Connector)):
                raise TypeError(f"{ep.value} is not a Connector subclass")
            found[ep.name] = cls
        except Exception as exc:
            log.error("connector plugin failed to load", extra={"connector": ep.name, "error": str(exc)})
            _failures[ep.name] = f"{type(exc).__name__}: {exc}"
    return found


def registry(refresh: bool = False) -> dict[str, type[Connector]]:
    """Every usable connector class by name."""
    global _cache
    if _cache is None or refresh:
        _failures.clear()
        _cache = _discover()
    return dict(_cache)


def failures() -> dict[str, str]:
    """Plugins that could not be loaded, with the reason (shown to administrators)."""
    registry()
    return dict(_failures)


def get_connector_class(name: str) -> type[Connector]:
    classes = registry()
    if name not in classes:
        raise Invalid.field("connector", f"unknown connector {name!r}; known: {', '.join(sorted(classes))}")
    return classes[name]


def build_connector(name: str, config: dict) -> Connector:
    """A connector instance with its config validated; config errors become Invalid naming the field."""
    from pydantic import ValidationError

    cls = get_connector_class(name)
    try:
        return cls.from_dict(config or {})
    except ValidationError as exc:
        details: dict[str, list[str]] = {}
        for err in exc.errors():
            loc = "config." + ".".join(str(p) for p in err["loc"])
            details.setdefault(loc, []).append(err["msg"])
        raise Invalid("; ".join(f"{k}: {', '.join(v)}" for k, v in details.items()), details=details) from None
