"""Every rooms endpoint refuses members of other organizations, and people who may not join the room.

The table below must name every rooms route: a new endpoint without a row here fails
`test_the_table_covers_every_rooms_route` (tests/test_tenancy.py counts these rows as covered).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx
import pytest

from tack.app import API_PREFIX
from tests.factories import add_member, check, create_department, owner_with_org
from tests.tenancy import PLACEHOLDER, api_routes, call, case_id

# Who may call: ANY member of the organization; those who may JOIN the room (the class group);
# its HOSTs (the teacher); the organization's ADMINistrators.
ANY, JOIN, HOST, ADMIN = "any", "join", "host", "admin"

ROOM = "/orgs/{org_id}/rooms/{room_id}"
PARTICIPANT = ROOM + "/participants/{participant_id}"
TIMETABLE = "/orgs/{org_id}/conversations/{conversation_id}/timetable"

ENDPOINTS: list[tuple[str, str, dict | None, str]] = [
    ("GET", "/orgs/{org_id}/rooms", None, ANY),
    ("POST", "/orgs/{org_id}/rooms", {"kind": "meeting", "title": "Intruder", "conversation_id": "{conversation_id}"},
     JOIN),
    ("GET", ROOM, None, JOIN),
    ("PATCH", ROOM, {"locked": True}, HOST),
    ("GET", ROOM + "/snapshot", None, JOIN),
    ("POST", ROOM + "/start", None, HOST),
    ("POST", ROOM + "/end", None, HOST),
    ("POST", ROOM + "/join", {}, JOIN),
    ("POST", ROOM + "/leave", None, ANY),
    ("POST", ROOM + "/hand", {"raised": True}, JOIN),
    ("GET", ROOM + "/participants", None, JOIN),
    ("PATCH", PARTICIPANT, {"muted": True}, HOST),
    ("DELETE", PARTICIPANT, None, HOST),
    ("POST", ROOM + "/mute-all", None, HOST),
    ("POST", ROOM + "/media/verify", {"token": "{media_token}"}, JOIN),
    ("POST", ROOM + "/media", {}, JOIN),
    ("GET", ROOM + "/attendance", None, HOST),
    ("GET", ROOM + "/attendance.csv", None, HOST),
    ("GET", TIMETABLE, None, JOIN),
    ("POST", TIMETABLE, {"subject": "Intruder", "teacher_member_id": "{teacher_id}", "weekday": 3,
                         "starts_at": "09:00", "ends_at": "09:45"}, HOST),
    ("DELETE", "/orgs/{org_id}/lessons/{lesson_id}", None, HOST),
    ("GET", "/orgs/{org_id}/room-load", None, ADMIN),
]


@dataclass
class World:
    """A school with a class (its teacher running an open class room, a student in it), a student of
    another class, and an outsider who owns another school."""

    ids: dict[str, str]
    admin: httpx.AsyncClient
    teacher: httpx.AsyncClient
    student: httpx.AsyncClient
    stranger: httpx.AsyncClient
    outsider: httpx.AsyncClient
    outsider_org_id: str

    async def snapshot(self) -> dict:
        room = ROOM.format(**self.ids)
        return {
            "room": check(await self.teacher.get(room), 200),
            "participants": check(await self.teacher.get(room + "/participants"), 200),
            "timetable": check(await self.teacher.get(TIMETABLE.format(**self.ids)), 200),
        }


@pytest.fixture
async def world(new_client) -> World:  # type: ignore[no-untyped-def]
    admin, org = await owner_with_org(new_client, kind="school")
    klass = await create_department(admin, org, kind="class")
    other_class = await create_department(admin, org, kind="class")
    teacher, teacher_row = await add_member(new_client, admin, org, roles=["teacher"], department_ids=[klass["id"]])
    student, _ = await add_member(new_client, admin, org, roles=["student"], department_ids=[klass["id"]])
    stranger, _ = await add_member(new_client, admin, org, roles=["student"], department_ids=[other_class["id"]])
    group = check(await teacher.post(f"/orgs/{org['id']}/conversations",
                                     json={"kind": "class", "department_id": klass["id"]}), 201)
    room = check(await teacher.post(f"/orgs/{org['id']}/rooms",
                                    json={"kind": "class", "conversation_id": group["id"]}), 201)
    teacher_ticket = check(await teacher.post(f"/orgs/{org['id']}/rooms/{room['id']}/join", json={}), 200)
    student_ticket = check(await student.post(f"/orgs/{org['id']}/rooms/{room['id']}/join", json={}), 200)
    lesson = check(await teacher.post(f"/orgs/{org['id']}/conversations/{group['id']}/timetable", json={
        "subject": "Maths", "teacher_member_id": teacher_row["id"], "weekday": 1, "starts_at": "08:00",
        "ends_at": "08:45"}), 201)
    outsider, outsider_org = await owner_with_org(new_client, kind="school")
    ids = {
        "org_id": org["id"], "room_id": room["id"], "conversation_id": group["id"],
        "participant_id": student_ticket["participant"]["id"], "teacher_id": teacher_row["id"],
        "lesson_id": lesson["id"], "media_token": teacher_ticket["media"]["token"],
    }
    return World(ids=ids, admin=admin, teacher=teacher, student=student, stranger=stranger, outsider=outsider,
                 outsider_org_id=outsider_org["id"])


@pytest.mark.parametrize(("method", "path", "body", "who"), ENDPOINTS, ids=[case_id(r) for r in ENDPOINTS])
async def test_other_organizations_and_outsiders_are_refused(world: World, method, path, body, who):
    before = await world.snapshot()

    response = await call(world.outsider, method, path, body, world.ids)
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "org_not_found"

    if PLACEHOLDER.search(path) or PLACEHOLDER.search(json.dumps(body)):
        response = await call(world.outsider, method, path, body, {**world.ids, "org_id": world.outsider_org_id})
        if not (who == ANY and response.status_code < 300):
            assert response.status_code in (403, 404, 422), response.text
            assert response.json()["error"]["code"] != "org_not_found"

    if who == ADMIN:
        for non_admin in (world.teacher, world.student, world.stranger):
            response = await call(non_admin, method, path, body, world.ids)
            assert response.status_code == 403 and response.json()["error"]["code"] == "admin_required"
    elif who != ANY:
        # A student of another class does not learn the room exists.
        response = await call(world.stranger, method, path, body, world.ids)
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] in {"not_found", "conversation_not_found", "lesson_not_found"}
    if who == HOST:
        # The class's own students may not run it.
        response = await call(world.student, method, path, body, world.ids)
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] in {"host_required", "teacher_required"}

    assert await world.snapshot() == before

    if who == ANY:
        response = await call(world.stranger, method, path, body, world.ids)
        assert response.status_code < 300, response.text
    response = await call(world.admin if who == ADMIN else world.teacher, method, path, body, world.ids)
    assert response.status_code < 300, response.text


async def test_signed_out_callers_are_refused_everywhere(world: World, new_client):
    anonymous = new_client()
    for method, path, body, _ in ENDPOINTS:
        response = await call(anonymous, method, path, body, world.ids)
        assert response.status_code == 401, f"{method} {path}: {response.text}"


TESTED = {(method, path.split("?")[0]) for method, path, _, _ in ENDPOINTS}


def test_the_table_covers_every_rooms_route(app):
    from tack.media.routes import router as media_router
    from tack.rooms.routes import router

    # Guest routes (/guest/...) belong to no organization: tests/test_rooms.py covers them. A room's
    # media session (tack/media/) is a rooms route for this table.
    paths = {route.path for r in (router, media_router) for route in r.routes if route.path.startswith("/orgs/")}
    declared = {
        (method, path.removeprefix(API_PREFIX))
        for path, route in api_routes(app)
        if path.removeprefix(API_PREFIX) in paths
        for method in route.methods
    }
    assert declared == TESTED, f"untested: {sorted(declared - TESTED)}; stale: {sorted(TESTED - declared)}"
