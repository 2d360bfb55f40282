"""SQL over the datastore through the real app, on SQLite and PostgreSQL: what works, what is refused, how.

Datasets and tables are made the way users make them: CSV uploads through the catalog's API.
"""

from __future__ import annotations

import threading
import time

import pytest

STATIONS = "name,district,riders\n서면,부산진구,120\n남포,중구,80\n해운대,해운대구,95\n연산,연제구,60\n".encode()
DISTRICTS = "district,population\n부산진구,360000\n중구,40000\n해운대구,380000\n".encode()
SECRET = b"person,benefit\nkim,100\nlee,200\n"


def _dataset(client, person, name: str, csv: bytes, access: str = "public") -> str:  # noqa: ANN001
    body = {"owner_org": person.org, "name": name, "title": name, "access_level": access}
    response = client.post("/api/v1/datasets", json=body, headers=person.headers)
    assert response.status_code == 201, response.text
    response = client.post(f"/api/v1/datasets/{name}/resources", headers=person.headers,
                           files={"upload": (f"{name}.csv", csv, "text/csv")}, data={"name": name})
    assert response.status_code == 201, response.text
    return response.json()["id"]


@pytest.fixture
def city(client, people):  # noqa: ANN001, ANN201
    people.org("transport", "교통국")
    people.org("welfare", "복지국")
    steward = people.user("steward@city.test", role="steward", org="transport")
    welfare = people.user("welfare@city.test", role="steward", org="welfare")
    citizen = people.user("citizen@city.test")
    return {
        "steward": steward, "welfare": welfare, "citizen": citizen,
        "stations": _dataset(client, steward, "stations", STATIONS),
        "districts": _dataset(client, steward, "districts", DISTRICTS),
        "secret": _dataset(client, welfare, "benefits", SECRET, access="restricted"),
    }


def sql(client, person, text: str, **extra):  # noqa: ANN001, ANN003, ANN201
    headers = person.headers if person else {}
    return client.post("/api/v1/sql", json={"sql": text, **extra}, headers=headers)


def refused(client, person, text: str) -> str:  # noqa: ANN001
    response = sql(client, person, text)
    assert response.status_code == 422, (text, response.status_code, response.text)
    body = response.json()
    assert body["errors"]["sql"] == [body["detail"]]
    return body["detail"]


def test_join_across_two_readable_tables(client, city) -> None:  # noqa: ANN001
    text = (f'SELECT s.name, s.riders, d.population FROM "{city["stations"]}" s '
            f'JOIN "{city["districts"]}" d ON d.district = s.district ORDER BY s.riders DESC')
    response = sql(client, city["citizen"], text)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [f["id"] for f in body["fields"]] == ["name", "riders", "population"]
    assert body["fields"][1]["type"] == "int"
    assert body["records"] == [
        {"name": "서면", "riders": 120, "population": 360000},
        {"name": "해운대", "riders": 95, "population": 380000},
        {"name": "남포", "riders": 80, "population": 40000},
    ]
    assert body["records_truncated"] is False
    # The same through GET, and anonymous callers read public tables too.
    response = client.get("/api/v1/sql", params={"sql": f'SELECT count(*) AS n FROM "{city["stations"]}"'})
    assert response.status_code == 200, response.text
    assert response.json()["records"] == [{"n": 4}]


def test_writes_and_engine_commands_are_refused(client, city) -> None:  # noqa: ANN001
    table = f'"{city["stations"]}"'
    sqlite = client.app.state.settings.is_sqlite
    cases = {
        "ATTACH DATABASE '/tmp/other.db' AS other": "found ATTACH",
        "PRAGMA table_info(users)": "found PRAGMA",
        f"INSERT INTO {table} (name) VALUES ('x')": "found INSERT",
        f"UPDATE {table} SET riders = 0": "found UPDATE",
        f"DELETE FROM {table}": "found DELETE",
        f"DROP TABLE {table}": "found DROP TABLE",
        "CREATE TABLE evil (a INT)": "found CREATE TABLE",
        f"SELECT 1; DELETE FROM {table}": "exactly one statement is allowed, found 2",
        "SELECT load_extension('/tmp/evil.so')": "function not allowed: load_extension",
    }
    if not sqlite:
        cases.update({
            "SELECT pg_sleep(30)": "function not allowed: pg_sleep",
            "SELECT pg_read_file('/etc/passwd')": "function not allowed: pg_read_file",
            "COPY users TO '/tmp/x'": "found COPY",
            "SET search_path = public": "found SET",
            "SELECT (NULL::users).*": "casts to users are not allowed",
        })
    for text, expected in cases.items():
        assert expected in refused(client, city["steward"], text), text
    # Nothing was written: the table still has its rows.
    response = sql(client, city["steward"], f"SELECT count(*) AS n FROM {table}")
    assert response.json()["records"] == [{"n": 4}]


def test_system_and_other_tables_look_missing(client, city) -> None:  # noqa: ANN001
    system = ["sqlite_master", "users", "api_tokens", "pg_catalog.pg_class", "information_schema.tables",
              "datasets", "resources"]
    for name in system:
        assert refused(client, city["citizen"], f"SELECT * FROM {name}").startswith(
            f"table not found or not permitted: {name}"), name
    # Another user's restricted table gets exactly the answer a table that does not exist gets.
    missing = "00000000-0000-4000-8000-000000000000"
    restricted = refused(client, city["citizen"], f'SELECT * FROM "{city["secret"]}"')
    nowhere = refused(client, city["citizen"], f'SELECT * FROM "{missing}"')
    assert restricted.replace(city["secret"], "X") == nowhere.replace(missing, "X")
    hidden = refused(client, city["citizen"],
                     f'SELECT * FROM "{city["stations"]}" WHERE name IN (SELECT person FROM "{city["secret"]}")')
    assert hidden.startswith("table not found or not permitted")
    # Its owners read it.
    response = sql(client, city["welfare"], f'SELECT sum(benefit) AS total FROM "{city["secret"]}"')
    assert response.status_code == 200, response.text
    assert response.json()["records"] == [{"total": 300}]


def test_engine_errors_are_4xx_with_the_engines_words(client, city) -> None:  # noqa: ANN001
    message = refused(client, city["citizen"], f'SELECT no_such_column FROM "{city["stations"]}"')
    assert "no_such_column" in message
    assert "SQL syntax error" in refused(client, city["citizen"], "SELECT (")
    assert client.get("/api/v1/sql").status_code == 422  # sql is required


def test_a_query_that_never_ends_is_stopped_and_the_server_keeps_serving(client, city) -> None:  # noqa: ANN001
    client.app.state.settings.sql_timeout_seconds = 1.0
    forever = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
    answers: dict[str, object] = {}

    def run_forever() -> None:
        started = time.monotonic()
        answers["response"] = sql(client, city["citizen"], forever)
        answers["seconds"] = time.monotonic() - started

    worker = threading.Thread(target=run_forever)
    worker.start()
    time.sleep(0.2)
    # While it runs, the server answers others.
    response = sql(client, city["citizen"], f'SELECT count(*) AS n FROM "{city["stations"]}"')
    assert response.status_code == 200 and response.json()["records"] == [{"n": 4}]
    worker.join(timeout=30)
    stopped = answers["response"]
    assert stopped.status_code == 422, stopped.text
    assert stopped.json()["detail"] == "query exceeded the 1 s time limit"
    assert answers["seconds"] < 10
    assert client.get("/healthz").status_code == 200


def test_row_cap_truncates(client, city) -> None:  # noqa: ANN001
    client.app.state.settings.sql_row_cap = 3
    table = f'"{city["stations"]}"'
    body = sql(client, city["citizen"], f"SELECT name FROM {table} ORDER BY riders").json()
    assert len(body["records"]) == 3 and body["records_truncated"] is True
    body = sql(client, city["citizen"], f"SELECT name FROM {table} ORDER BY riders", limit=2).json()
    assert [r["name"] for r in body["records"]] == ["연산", "남포"] and body["records_truncated"] is True
    body = sql(client, city["citizen"], f"SELECT name FROM {table} WHERE riders > 90").json()
    assert len(body["records"]) == 2 and body["records_truncated"] is False


def test_tables_loaded_after_earlier_queries_are_seen(client, city) -> None:  # noqa: ANN001
    # Readers are kept between queries; a table made since must still be found (schema reload).
    assert sql(client, city["citizen"], f'SELECT count(*) AS n FROM "{city["stations"]}"').status_code == 200
    later = _dataset(client, city["steward"], "later", b"a,b\n1,x\n2,y\n")
    response = sql(client, city["citizen"], f'SELECT sum(a) AS total FROM "{later}"')
    assert response.status_code == 200, response.text
    assert response.json()["records"] == [{"total": 3}]
