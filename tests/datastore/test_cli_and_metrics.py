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


def test_dataset_import_loads_big_files_straight_into_the_database(tmp_path, monkeypatch):  # noqa: ANN001
    """The command creates the dataset and resource in one transaction; a big file's rows are loaded before
    that transaction writes (the direct loader path, not the scratch copy), and a refused file leaves
    neither a dataset nor a `_loading_` table."""
    import sqlite3

    from cityhub.cli import app
    from cityhub.datastore import store_sqlite
    from cityhub.settings import get_settings

    pytest.importorskip("adbc_driver_sqlite")
    monkeypatch.setenv("CITYHUB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CITYHUB_DATABASE_URL", raising=False)
    monkeypatch.setattr(store_sqlite, "PRELOAD_MIN_ROWS", 1)
    monkeypatch.setattr(store_sqlite, "SCRATCH_MIN_ROWS", 1)
    used: list[str] = []
    for name, label in (("start_preload", "preload"), ("_fill_scratch", "scratch")):
        real = getattr(store_sqlite, name)
        monkeypatch.setattr(store_sqlite, name, lambda *a, _real=real, _label=label, **k: (
            used.append(_label), _real(*a, **k))[1])
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        assert runner.invoke(app, ["org", "create", "busan-air", "--title", "부산대기"]).exit_code == 0
        source = tmp_path / "측정.csv"
        lines = ["측정소,측정일시,농도"] + [f"{'중구' if i % 3 else '기장군'},2024-01-01 {i % 24:02d}:00:00,{i * 0.5}"
                                        for i in range(3000)]
        source.write_bytes("\n".join(lines).encode("cp949"))
        result = runner.invoke(app, ["dataset", "import", str(source), "--org", "busan-air", "--title", "대기"])
        assert result.exit_code == 0, result.output
        assert "imported 3,000 rows" in result.output and used == ["preload"]
        people = tmp_path / "people.csv"
        people.write_bytes(("성명,연락처\n" + "".join(f"김철수{i},010-1234-{i:04d}\n" for i in range(60))).encode())
        result = runner.invoke(app, ["dataset", "import", str(people), "--org", "busan-air", "--title", "명단"])
        assert result.exit_code != 0 and "연락처" in result.output
        assert used == ["preload", "preload"]  # loaded ahead, then refused by governance: dropped
        db = sqlite3.connect(tmp_path / "data" / "cityhub.db")
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        titles = [r[0] for r in db.execute("SELECT title FROM datasets")]
        (resource_id, rows), = db.execute("SELECT resource_id, row_count FROM datastore_tables").fetchall()
        indexes = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?",
                                            (resource_id,))]
        db.close()
        assert not [t for t in tables if t.startswith("_loading_")] and titles == ["대기"] and rows == 3000
        assert indexes  # built in the import's transaction, under the resource's names
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
