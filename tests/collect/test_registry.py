"""Connector registry: built-ins by name, plugins by entry point, a failing plugin logged and left out."""

from __future__ import annotations

import logging
from importlib.metadata import EntryPoint

from cityhub.collect import connectors
from cityhub.collect.connectors.base import Connector, ConnectorConfig


class EchoConfig(ConnectorConfig):
    text: str


class EchoConnector(Connector):
    name = "echo"
    Config = EchoConfig


def test_builtins_plugins_and_a_broken_plugin(monkeypatch, caplog) -> None:
    good = EntryPoint("echo", "tests.collect.test_registry:EchoConnector", connectors.ENTRY_POINT_GROUP)
    broken = EntryPoint("broken", "tests.collect.no_such_module:Nope", connectors.ENTRY_POINT_GROUP)
    monkeypatch.setattr(connectors, "entry_points", lambda group: [good, broken])
    with caplog.at_level(logging.ERROR, logger="cityhub.collect"):
        found = connectors.registry(refresh=True)
    try:
        assert {"http", "kosis", "seoul", "datagokr", "ckan", "mqtt", "file", "echo"} <= set(found)
        assert "broken" not in found and "broken" in connectors.failures()
        assert any("plugin failed to load" in r.getMessage() for r in caplog.records)
        assert connectors.build_connector("echo", {"text": "hi"}).config.text == "hi"
    finally:
        monkeypatch.undo()
        connectors.registry(refresh=True)
