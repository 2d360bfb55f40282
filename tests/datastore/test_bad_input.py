"""Bad files get a clear 4xx naming the problem; the server keeps serving; nothing stays behind."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from fastapi.testclient import TestClient

from cityhub.app import create_app
from tests.conftest import People
from tests.datastore.helpers import leftovers, make_desk


@pytest.fixture
def desk(client, people):  # noqa: ANN001, ANN201
    return make_desk(client, people)


def _refused(desk, filename: str, content: bytes, *, status: int = 422, fmt: str | None = None) -> dict:  # noqa: ANN001
    before = leftovers(desk.client)
    response = desk.upload(filename, content, fmt)
    assert response.status_code == status, response.text
    assert desk.client.get("/healthz").status_code == 200
    after = leftovers(desk.client)
    assert after == before, "a failed import left something behind"
    assert after["tables"] == [] and after["registered"] == 0 and after["tmp"] == []
    return response.json()


def test_empty_file(desk):  # noqa: ANN001
    body = _refused(desk, "empty.csv", b"")
    assert "empty" in body["detail"]


def test_whitespace_only_file(desk):  # noqa: ANN001
    body = _refused(desk, "blank.csv", b"\n\n  \n")
    assert "empty" in body["detail"]


def test_ragged_rows_name_the_line(desk):  # noqa: ANN001
    body = _refused(desk, "ragged.csv", b"a,b,c\n1,2,3\n4,5,6\n7,8\n")
    assert "line 4" in body["detail"] and "2 values" in body["detail"]


def test_mixed_encodings_name_the_line(desk):  # noqa: ANN001
    content = "이름,값\n가,1\n".encode() + "나,2\n".encode("cp949")
    body = _refused(desk, "mixed.csv", content)
    assert "line 3" in body["detail"] and "UTF-8" in body["detail"]


def test_cp949_file_with_utf8_line_names_the_line(desk):  # noqa: ANN001
    content = ("이름,값\n" + "\n".join(f"가나다{i},{i}" for i in range(200)) + "\n").encode("cp949")
    content += "라마바,9\n".encode()
    body = _refused(desk, "mixed2.csv", content)
    assert "line 202" in body["detail"]


def test_binary_garbage_is_refused(desk):  # noqa: ANN001
    _refused(desk, "noise.csv", bytes(range(256)) * 40)


def test_duplicate_column_names(desk):  # noqa: ANN001
    body = _refused(desk, "dup.csv", "구,값,구\n1,2,3\n".encode())
    assert '"구"' in body["detail"] and "duplicate" in body["detail"]


def test_duplicate_column_names_differing_in_case(desk):  # noqa: ANN001
    body = _refused(desk, "dup.csv", b"Name,name\n1,2\n")
    assert "duplicate" in body["detail"]


def test_reserved_id_column(desk):  # noqa: ANN001
    body = _refused(desk, "id.csv", b"_id,b\n1,2\n")
    assert "_id" in body["detail"]


def test_json_nested_ten_thousand_deep(desk):  # noqa: ANN001
    body = _refused(desk, "deep.json", b"[" * 10_000 + b"]" * 10_000)
    assert "deeper" in body["detail"]


def test_json_nested_past_the_configured_depth(desk):  # noqa: ANN001
    deep: object = 1
    for _ in range(100):
        deep = {"x": deep}
    body = _refused(desk, "deep.json", json.dumps([{"a": deep}]).encode())
    assert "deeper than 64" in body["detail"]


def test_json_that_is_not_records(desk):  # noqa: ANN001
    _refused(desk, "scalar.json", b"42")
    _refused(desk, "broken.json", b"[{\"a\": 1},")


def _bomb(inflated: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        chunk = b"0" * (1 << 20)
        with archive.open("xl/worksheets/sheet1.xml", "w") as member:
            for _ in range(inflated >> 20):
                member.write(chunk)
    return buffer.getvalue()


def test_xlsx_zip_bomb_over_the_size_limit(desk):  # noqa: ANN001
    desk.client.app.state.settings.xlsx_max_uncompressed_bytes = 20 * 1024 * 1024
    body = _refused(desk, "bomb.xlsx", _bomb(40 * 1024 * 1024))
    assert "zip bomb" in body["detail"]


def test_xlsx_zip_bomb_by_compression_ratio(desk):  # noqa: ANN001
    body = _refused(desk, "bomb.xlsx", _bomb(30 * 1024 * 1024))
    assert "ratio" in body["detail"]


def test_xlsx_that_is_not_a_zip(desk):  # noqa: ANN001
    body = _refused(desk, "fake.xlsx", b"a,b\n1,2\n")
    assert "XLSX" in body["detail"]


def test_upload_over_the_configured_limit(settings):  # noqa: ANN001
    small = settings.model_copy(update={"max_upload_bytes": 4096})
    with TestClient(create_app(small)) as client:
        desk = make_desk(client, People(client.app))
        body = _refused(desk, "big.csv", b"a,b\n" + b"1,2\n" * 5000, status=413)
        assert "4,096" in body["detail"]
