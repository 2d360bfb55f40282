"""`cityhub dataset import` and the datastore's Prometheus figures."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tests.datastore.helpers import make_desk


def test_dataset_import_command(tmp_path, monkeypatch):  # noqa: ANN001
    from cityhub.cli import app
    from cityhub.settings import get_settings

    monkeypatch.setenv("CITYHUB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CITYHUB_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        assert runner.invoke(app, ["org", "create", "busan-tr", "--title", "부산교통"]).exit_code == 0
        source = tmp_path / "노선.csv"
        source.write_bytes("노선,정류소수\n1001,45\n1002,38\n".encode("cp949"))
        result = runner.invoke(app, ["dataset", "import", str(source), "--org", "busan-tr", "--title", "버스 노선"])
        assert result.exit_code == 0, result.output
        assert "imported 2 rows" in result.output
        bad = tmp_path / "bad.csv"
        bad.write_bytes(b"a,b\n1\n")
        result = runner.invoke(app, ["dataset", "import", str(bad), "--org", "busan-tr", "--title", "bad"])
        assert result.exit_code == 2 and "line 2" in result.output
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_import_metrics(client, people):  # noqa: ANN001
    desk = make_desk(client, people)
    desk.load("m.csv", b"a\n1\n2\n3\n")
    desk.upload("bad.csv", b"a,b\n1\n")
    text = client.get("/metrics").text
    assert 'cityhub_imports_total{outcome="ok"}' in text
    assert 'cityhub_imports_total{outcome="invalid"}' in text
    assert "cityhub_import_rows_total" in text and "cityhub_datastore_rows" in text
