"""The vulnerable-person registry (restricted personal data): the protection service registers a wearable
and guardians, lists without names, swaps the device, replaces guardians and removes a person; every
read and change is audited without the values; nobody else reads it; bad input names the field."""

from __future__ import annotations

from sqlalchemy import select

from tests.ops.conftest import SEOMYEON
from tests.ops.receivers import Webhook

API = "/api/v1/ops"


def audit(world, action: str) -> list:  # noqa: ANN001
    from cityhub.governance.models import AuditEntry

    with world.client.app.state.session_factory() as db:
        return list(db.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_protection_service_manages_wearables_and_guardians(world):
    c = world.client
    pro = world.headers("protection")
    r = c.post(f"{API}/persons", headers=pro, json={
        "device_id": "WEAR-0100", "kind": "child", "name": "김하늘", "birth_year": 2018,
        "guardians": [{"name": "김보호", "relation": "어머니", "phone": "010-1111-2222"}]})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    other = c.post(f"{API}/persons", headers=pro, json={"device_id": "WEAR-0200", "kind": "elderly", "name": "이순"})
    assert other.status_code == 201
    bad = c.post(f"{API}/persons", headers=pro, json={"device_id": "W1", "kind": "adult", "name": "x"})
    assert bad.status_code == 422 and "kind" in bad.text and "device_id" in bad.text
    listed = c.get(f"{API}/persons", headers=pro).json()
    assert listed["total"] == 2 and "김하늘" not in str(listed)  # the list carries no names or contacts
    assert {p["device_id"] for p in listed["items"]} == {"WEAR-0100", "WEAR-0200"}
    # a new wearable and a second guardian; a device already registered to someone else is refused
    taken = c.patch(f"{API}/persons/{pid}", headers=pro, json={"device_id": "WEAR-0200"})
    assert taken.status_code == 409 and "device_id" in taken.text
    with Webhook() as guardian_app:
        up = c.patch(f"{API}/persons/{pid}", headers=pro, json={"device_id": "WEAR-0101", "guardians": [
            {"name": "김보호", "relation": "어머니", "phone": "010-1111-2222"},
            {"name": "김아빠", "relation": "아버지", "notify_url": guardian_app.url}]})
        assert up.status_code == 200, up.text
        assert up.json()["device_id"] == "WEAR-0101" and len(up.json()["guardians"]) == 2
        old = c.post(f"{API}/linked/sos", headers=pro, json={"device_id": "WEAR-0100", "location": SEOMYEON})
        assert old.status_code == 404
        sos = c.post(f"{API}/linked/sos", headers=pro, json={"device_id": "WEAR-0101", "location": SEOMYEON})
        assert sos.status_code == 201 and sos.json()["guardians_notified"] == 2
        assert guardian_app.wait_for(1)[0]["person"]["name"] == "김하늘"
    # the audit trail records who read and changed what — not the values
    assert audit(world, "person.list") and audit(world, "person.update")
    assert "010-1111-2222" not in str([a.detail for a in audit(world, "person.update")])
    # nobody but the protection service: not the operator, not 112, not a citizen
    citizen = world.people.user("jung@citizen.test")
    for headers in (world.operator.headers, world.headers("police-112"), citizen.headers):
        assert c.get(f"{API}/persons", headers=headers).status_code == 403
        assert c.patch(f"{API}/persons/{pid}", headers=headers, json={"description": "x"}).status_code == 403
        assert c.delete(f"{API}/persons/{pid}", headers=headers).status_code == 403
    # consent withdrawn: removed, and the wearable is no longer recognised
    assert c.delete(f"{API}/persons/{pid}", headers=pro).status_code == 204
    assert c.get(f"{API}/persons/{pid}", headers=pro).status_code == 404
    assert c.post(f"{API}/linked/sos", headers=pro,
                  json={"device_id": "WEAR-0101", "location": SEOMYEON}).status_code == 404
    assert audit(world, "person.delete")
