"""Small helpers the datastore tests share: a steward with a dataset, uploads over HTTP, leftovers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa


@dataclass
class Desk:
    """A steward of an organization with one dataset to upload into."""

    client: Any
    headers: dict[str, str]
    dataset: str

    def upload(self, filename: str, content: bytes, fmt: str | None = None):  # noqa: ANN201
        data = {"format": fmt} if fmt else {}
        return self.client.post(f"/api/v1/datasets/{self.dataset}/resources", headers=self.headers,
                                files={"upload": (filename, content)}, data=data)

    def load(self, filename: str, content: bytes, fmt: str | None = None) -> str:
        response = self.upload(filename, content, fmt)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def rows(self, resource_id: str, **params: Any) -> dict[str, Any]:
        response = self.client.get(f"/api/v1/datastore/{resource_id}", params=params, headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json()


def make_desk(client, people, access_level: str = "public") -> Desk:  # noqa: ANN001
    org_name = "org-" + uuid.uuid4().hex[:6]
    people.org(org_name, "부산광역시 " + org_name)
    steward = people.user(f"steward-{uuid.uuid4().hex[:6]}@city.test", role="steward", org=org_name)
    name = "ds-" + uuid.uuid4().hex[:8]
    response = client.post("/api/v1/datasets", headers=steward.headers,
                           json={"name": name, "title": "시험 데이터", "owner_org": org_name,
                                 "access_level": access_level})
    assert response.status_code == 201, response.text
    return Desk(client=client, headers=steward.headers, dataset=name)


def leftovers(client) -> dict[str, Any]:  # noqa: ANN001
    """What an import could leave behind: datastore tables, resource rows, stored files."""
    engine = client.app.state.engine
    names = set(sa.inspect(engine).get_table_names())
    known = {"datastore_tables"}
    with engine.connect() as conn:
        resources = conn.execute(sa.text("SELECT count(*) FROM resources")).scalar_one()
        registered = conn.execute(sa.text("SELECT count(*) FROM datastore_tables")).scalar_one()
    # governance's version tables (deltas, retired generations) stay for versions; retention prunes them
    uuid_like = {n for n in names if len(n) >= 36 and n.count("-") >= 4 and n not in known
                 and not n.startswith("_gov_")}
    loading = sorted(n for n in names if n.startswith("_loading_"))  # big loads not yet adopted
    files_dir = client.app.state.settings.files_dir
    stored = [p for p in files_dir.rglob("*") if p.is_file()] if files_dir.exists() else []
    tmp_dir = client.app.state.settings.data_dir / "tmp"
    temps = [p for p in tmp_dir.iterdir()] if tmp_dir.exists() else []
    return {"tables": sorted(uuid_like), "loading": loading, "resources": resources, "registered": registered,
            "files": stored, "tmp": temps}
