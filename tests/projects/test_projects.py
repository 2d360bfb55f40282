"""The major-projects tracker through its HTTP API: editing by the responsible department, status from
milestones, documents, news links, internal projects kept from outsiders, and the demo's 26 projects."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cityhub.projects.service import today
from cityhub.projects.status import standing


def _project(slug: str = "north-port", **extra: object) -> dict:
    day = today()
    body = {
        "slug": slug, "title": "북항 재개발", "title_en": "North Port redevelopment", "department": "port-dept",
        "start_date": str(day - timedelta(days=400)), "end_date": str(day + timedelta(days=400)),
        "budget_krw": 4_200_000_000_000, "district": "동구",
        "milestones": [
            {"title": "설계", "planned_start": str(day - timedelta(days=400)),
             "planned_end": str(day - timedelta(days=200)), "progress": 100},
            {"title": "본공사", "planned_start": str(day - timedelta(days=199)),
             "planned_end": str(day + timedelta(days=400)), "progress": 20},
        ],
    }
    body.update(extra)
    return body


@pytest.fixture
def dept(people):  # noqa: ANN001, ANN201
    people.org("port-dept", "항만정책과")
    people.org("other-dept", "다른 부서")
    return {
        "editor": people.user("editor@port.test", role="steward", org="port-dept", capacity="editor"),
        "outsider_staff": people.user("staff@other.test", role="steward", org="other-dept", capacity="editor"),
        "citizen": people.user("citizen@city.test"),
    }


def test_department_creates_project_and_status_follows_milestones(client, dept) -> None:  # noqa: ANN001
    editor = dept["editor"]
    r = client.post("/api/v1/projects", json=_project(), headers=editor.headers)
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["district"] == "Dong-gu" and p["department"] == "port-dept" and p["can_edit"] is True
    assert p["status"] == "on_track" and len(p["milestones"]) == 2
    # the main works fall far behind plan: delayed
    main = p["milestones"][1]["id"]
    r = client.patch(f"/api/v1/projects/north-port/milestones/{main}", json={"progress": 0}, headers=editor.headers)
    assert r.status_code == 200 and r.json()["status"] in ("at_risk", "delayed")
    r = client.patch(f"/api/v1/projects/north-port/milestones/{main}", json={"progress": 100}, headers=editor.headers)
    assert r.json()["status"] == "completed" and r.json()["progress"] == 100
    assert r.json()["milestones"][1]["completed_on"] == str(today())
    listed = client.get("/api/v1/projects?status=completed").json()
    assert [i["slug"] for i in listed["items"]] == ["north-port"]


def test_only_the_responsible_department_edits(client, dept) -> None:  # noqa: ANN001
    client.post("/api/v1/projects", json=_project(), headers=dept["editor"].headers)
    for who in ("outsider_staff", "citizen"):
        r = client.patch("/api/v1/projects/north-port", json={"title": "x"}, headers=dept[who].headers)
        assert r.status_code == 403, (who, r.text)
    r = client.post("/api/v1/projects", json=_project("other"), headers=dept["outsider_staff"].headers)
    assert r.status_code == 403
    r = client.patch("/api/v1/projects/north-port", json={"title": "부산 북항"}, headers=dept["editor"].headers)
    assert r.status_code == 200 and r.json()["title"] == "부산 북항"


def test_internal_projects_are_invisible_to_citizens(client, dept) -> None:  # noqa: ANN001
    client.post("/api/v1/projects", json=_project("secret-plan", access_level="internal"),
                headers=dept["editor"].headers)
    client.post("/api/v1/projects", json=_project("open-plan"), headers=dept["editor"].headers)
    anon = client.get("/api/v1/projects").json()
    assert [i["slug"] for i in anon["items"]] == ["open-plan"] and anon["total"] == 1
    assert client.get("/api/v1/projects/secret-plan").status_code == 404
    assert client.get("/api/v1/projects/summary").json()["total"] == 1
    staff = client.get("/api/v1/projects", headers=dept["outsider_staff"].headers).json()
    assert staff["total"] == 2


def test_bad_input_names_the_field(client, dept) -> None:  # noqa: ANN001
    h = dept["editor"].headers
    bad = _project(end_date="2000-01-01")
    r = client.post("/api/v1/projects", json=bad, headers=h)
    assert r.status_code == 422 and "end_date" in r.text
    r = client.post("/api/v1/projects", json=_project(district="Atlantis"), headers=h)
    assert r.status_code == 422 and "district" in r.json()["errors"]
    r = client.post("/api/v1/projects", json=_project(category="moonbase"), headers=h)
    assert r.status_code == 422 and "category" in r.text
    assert client.get("/api/v1/projects?status=sideways").status_code == 422
    client.post("/api/v1/projects", json=_project(), headers=h)
    assert client.post("/api/v1/projects", json=_project(), headers=h).status_code == 409


def test_documents_and_news_links(client, dept, settings) -> None:  # noqa: ANN001
    h = dept["editor"].headers
    client.post("/api/v1/projects", json=_project(), headers=h)
    r = client.post("/api/v1/projects/north-port/documents", files={"upload": ("계획서.pdf", b"%PDF-1.4 plan")},
                    data={"name": "기본계획서"}, headers=h)
    assert r.status_code == 201, r.text
    doc = r.json()
    got = client.get(doc["url"])
    assert got.status_code == 200 and got.content == b"%PDF-1.4 plan"
    # the file lives outside the catalog's swept files folder
    assert (settings.data_dir / "project-files" / doc["sha256"][:2] / doc["sha256"]).exists()
    r = client.post("/api/v1/projects/north-port/documents", files={"upload": ("empty.txt", b"")}, headers=h)
    assert r.status_code == 422 and "upload" in r.text
    r = client.post("/api/v1/projects/north-port/links", json={"title": "착공식", "url": "https://news.example/1"},
                    headers=h)
    assert r.status_code == 201
    assert client.post("/api/v1/projects/north-port/links", json={"title": "x", "url": "not a url"},
                       headers=h).status_code == 422
    full = client.get("/api/v1/projects/north-port").json()
    assert [d["name"] for d in full["documents"]] == ["기본계획서"] and full["links"][0]["title"] == "착공식"
    assert client.post("/api/v1/projects/north-port/documents", files={"upload": ("a.txt", b"a")},
                       headers=dept["citizen"].headers).status_code == 403


def test_status_rules() -> None:
    from dataclasses import dataclass
    from datetime import date

    @dataclass
    class M:
        planned_start: date
        planned_end: date
        progress: int
        completed_on: date | None = None

    day = date(2026, 6, 1)
    assert standing([], day).status == "on_track"
    assert standing([M(date(2026, 1, 1), date(2026, 12, 31), 45)], day).status == "on_track"
    assert standing([M(date(2026, 1, 1), date(2026, 5, 20), 90)], day).status == "at_risk"  # 12 days over
    assert standing([M(date(2026, 1, 1), date(2026, 3, 1), 90)], day).status == "delayed"  # 92 days over
    assert standing([M(date(2026, 1, 1), date(2026, 12, 31), 10)], day).status == "delayed"  # 31 points behind
    assert standing([M(date(2026, 1, 1), date(2026, 3, 1), 100)], day).status == "completed"


def test_demo_seeds_26_projects_with_every_status(client) -> None:  # noqa: ANN001
    from cityhub.cli import system_ctx
    from cityhub.demo.organizations import seed_organizations
    from cityhub.projects.seed import seed_projects

    settings = client.app.state.settings
    with system_ctx(settings) as ctx:
        seed_organizations(ctx)
        assert seed_projects(ctx) == 26
        assert seed_projects(ctx) == 0  # idempotent
    summary = client.get("/api/v1/projects/summary").json()
    assert summary["total"] == 26
    assert all(summary["by_status"][s] >= 1 for s in ("on_track", "at_risk", "delayed", "completed")), summary
    page = client.get("/projects", headers={"Accept": "text/html", "Accept-Language": "en"})
    assert page.status_code == 200 and "North Port redevelopment phase 2" in page.text
    detail = client.get("/projects/north-port-phase2", headers={"Accept": "text/html"})
    assert detail.status_code == 200 and "gantt-bar" in detail.text and "북항 재개발 2단계" in detail.text
