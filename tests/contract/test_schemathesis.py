"""The API keeps the promises of its OpenAPI document, under generated and hostile input.

Schemathesis reads /api/v1/openapi.json from a running server and sends every operation valid and
invalid requests (NUL bytes, huge numbers, odd unicode, missing and extra fields, boundary values).
Every answer must be a documented status with a documented content type, headers and body, and
never a 500.

The requests carry a personal API token of the demo administrator, and ids in paths and bodies are
drawn mostly from the demo organizations, so the organization endpoints get past the tenancy check
and exercise their real rules instead of answering 404 to random ids.

Schemathesis runs through its command line, its stable interface: its pytest plugin's lazy
`from_fixture` loader breaks on pytest 9.2's node ids. A failure shows the full report, with a curl
command reproducing each problem.

It runs against a server of its own: the fuzzer renames, moves and removes demo people, and the
shared `live_server` must keep the demo intact for the browser tests.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from tack.core.config import Settings
from tack.demo.seed import COMPANY_NAME, DEMO_ADMIN_LOGIN, DEMO_ADMIN_PASSWORD, SCHOOL_NAME
from tack.orgs.models import Department, MemberRole, Membership, Organization
from tack.rooms.models import Lesson
from tests.conftest import _run_in_thread
from tests.live import LiveServer, run_live_server

pytestmark = pytest.mark.contract

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)
MAX_EXAMPLES = 25
SEED = 20260901
# Share of generated values taken from the demo data; the rest stay random, which tests the 404
# and validation paths.
REAL_ID_PROBABILITY = 0.8
# Which demo values feed which parameters. A name an operation does not have is simply unused.
DEMO_PARAMETERS = {
    "path.org_id": "org_ids",
    "path.department_id": "department_ids",
    "path.member_id": "member_ids",
    "path.parent_member_id": "parent_ids",
    "path.invitation_id": "invitation_ids",
    "path.code": "invitation_codes",
    "query.department_id": "department_ids",
    "query.q": "searches",
    "body.parent_id": "department_ids",
    "body.department_id": "department_ids",
    "body.department_ids[*]": "department_ids",
    "body.manager_id": "member_ids",
    "body.parent_member_id": "parent_ids",
    "body.invitation_code": "invitation_codes",
    "path.conversation_id": "conversation_ids",
    "path.message_id": "message_ids",
    "path.ding_id": "ding_ids",
    "path.upload_id": "upload_ids",
    "query.conversation_id": "conversation_ids",
    "body.member_id": "member_ids",
    "body.member_ids[*]": "member_ids",
    "body.recipient_ids[*]": "member_ids",
    "body.mentions[*]": "member_ids",
    "body.reply_to_id": "message_ids",
    "body.upload_id": "upload_ids",
    "path.room_id": "room_ids",
    "path.participant_id": "participant_ids",
    "path.lesson_id": "lesson_ids",
    "body.teacher_member_id": "member_ids",
    "body.invitee_ids[*]": "member_ids",
}
# What people type into the contacts search: characters, pinyin, initials, staff and student ids.
SEARCHES = ["张", "王", "zhang", "li", "zs", "wxy", "S101", "T00", "XH00", "1", "演示"]
EXCLUDED_PATHS = (
    # Revoking a token could revoke the one this run signs with: schemathesis reuses ids it saw in
    # GET /me/tokens. tests/test_identity.py covers revocation.
    "/api/v1/me/tokens/{token_id}",
)


@pytest.fixture(scope="module")
def contract_server() -> Iterator[LiveServer]:
    with run_live_server() as server:
        yield server


def _personal_token(client: httpx.Client) -> str:
    signed_in = client.post("/auth/sign-in", json={"login": DEMO_ADMIN_LOGIN, "password": DEMO_ADMIN_PASSWORD})
    assert signed_in.status_code == 200, signed_in.text
    csrf = signed_in.json()["csrf_token"]
    made = client.post("/me/tokens", json={"name": "contract test"}, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201, made.text
    client.cookies.clear()
    return made.json()["token"]


def _demo_ids(database_url: str) -> dict[str, list[str]]:
    """The school's ids (its departments, a spread of its people) and the company's id.

    Ids of one organization only, so a drawn department or member belongs to the drawn
    organization most of the time; the company is drawn now and then for its own listings.
    """
    url = Settings(database_url=database_url).database_url

    async def read() -> dict[str, list[str]]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                orgs = {
                    name: org_id
                    for org_id, name in await conn.execute(select(Organization.id, Organization.name))
                }
                school = orgs[SCHOOL_NAME]
                departments = (
                    await conn.execute(select(Department.id).where(Department.org_id == school).order_by(Department.id))
                ).scalars()
                people = await conn.execute(
                    select(Membership.id, MemberRole.role)
                    .join(MemberRole, (MemberRole.org_id == Membership.org_id) & (MemberRole.member_id == Membership.id))
                    .where(Membership.org_id == school)
                    .order_by(Membership.id)
                )
                by_role: dict[str, list[str]] = {}
                for member_id, role in people:
                    by_role.setdefault(role, []).append(member_id)
                lessons = (
                    await conn.execute(select(Lesson.id, Lesson.conversation_id).where(Lesson.org_id == school)
                                       .order_by(Lesson.id).limit(12))
                ).all()
        finally:
            await engine.dispose()
        members = by_role["owner"] + by_role["teacher"][::4] + by_role["student"][::40] + by_role["parent"][::40]
        return {
            "org_ids": [school, school, school, orgs[COMPANY_NAME]],
            "department_ids": list(departments),
            "member_ids": members,
            "parent_ids": by_role["parent"][::30],
            "lesson_ids": [lesson_id for lesson_id, _ in lessons],
            "class_group_ids": sorted({conversation_id for _, conversation_id in lessons})[:2],
        }

    found: dict[str, list[str]] = {}
    _run_in_thread(lambda: found.update(asyncio.run(read())))
    return found


def _invitations(client: httpx.Client, token: str, org_id: str, department_id: str) -> dict[str, list[str]]:
    """Two invitations of the school, so previews, accepting and sign-up with a code run for real."""
    made = [
        client.post(
            f"/orgs/{org_id}/invitations", json=body, headers={"Authorization": f"Bearer {token}"}
        )
        for body in ({"role": "parent", "department_id": department_id}, {"role": "teacher", "max_uses": 3})
    ]
    for response in made:
        assert response.status_code == 201, response.text
    return {
        "invitation_ids": [r.json()["id"] for r in made],
        "invitation_codes": [r.json()["code"] for r in made],
    }


def _chat(client: httpx.Client, token: str, org_id: str, member_ids: list[str]) -> dict[str, list[str]]:
    """A group of the school with messages, a DING and a file, so the chat endpoints run for real."""
    headers = {"Authorization": f"Bearer {token}"}

    def made(response: httpx.Response) -> dict:
        assert response.status_code == 201, response.text
        return response.json()

    group = made(client.post(f"/orgs/{org_id}/conversations", headers=headers,
                             json={"kind": "group", "name": "合同测试", "member_ids": member_ids[:6]}))
    others = [m for m in member_ids[:6] if m != group["owner_id"]]
    base = f"/orgs/{org_id}/conversations/{group['id']}"
    messages = [
        made(client.post(f"{base}/messages", headers=headers, json={"client_msg_id": f"contract-{n}", "body": text}))
        for n, text in enumerate(["hello 你好", "second message"])
    ]
    ding = made(client.post(f"{base}/dings", headers=headers, json={
        "client_msg_id": "contract-ding", "body": "urgent", "recipient_ids": others[:2]}))["ding"]
    upload = made(client.post(f"/orgs/{org_id}/uploads", headers=headers, params={"name": "notes.txt"},
                              content=b"contract test file"))
    made(client.post(f"{base}/messages", headers=headers, json={
        "client_msg_id": "contract-file", "kind": "file", "upload_id": upload["id"]}))
    # A meeting in the group with its host in it, so the rooms endpoints run for real too.
    room = made(client.post(f"/orgs/{org_id}/rooms", headers=headers, json={
        "kind": "meeting", "title": "合同测试会议", "conversation_id": group["id"]}))
    joined = client.post(f"/orgs/{org_id}/rooms/{room['id']}/join", headers=headers, json={})
    assert joined.status_code == 200, joined.text
    return {
        "room_ids": [room["id"]],
        "participant_ids": [joined.json()["participant"]["id"]],
        "conversation_ids": [group["id"]],
        "message_ids": [m["id"] for m in messages] + [ding["id"]],
        "ding_ids": [ding["id"]],
        "upload_ids": [upload["id"]],
    }


def _toml_config(token: str, dictionaries: dict[str, list[str]]) -> str:
    # JSON strings and arrays are valid TOML values, which saves a TOML writer dependency.
    lines = [
        f"seed = {SEED}",
        f"headers = {{ Authorization = {json.dumps('Bearer ' + token)} }}",
        "[generation]",
        'database = "none"',
        "[parameters]",
    ]
    lines += [
        f"{json.dumps(key)} = {{ dictionary = {json.dumps(name)}, probability = {REAL_ID_PROBABILITY} }}"
        for key, name in DEMO_PARAMETERS.items()
    ]
    for name, values in dictionaries.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values, ensure_ascii=False)}"]
    return "\n".join(lines) + "\n"


def test_api_keeps_its_contract(contract_server: LiveServer, tmp_path: Path) -> None:
    ids = _demo_ids(contract_server.database_url)
    with httpx.Client(base_url=contract_server.api_url) as client:
        token = _personal_token(client)
        ids |= _invitations(client, token, ids["org_ids"][0], ids["department_ids"][-1])
        ids |= _chat(client, token, ids["org_ids"][0], ids["member_ids"])
    # Timetables live in class groups: drawn with the chat group for conversation ids.
    ids["conversation_ids"] += ids.pop("class_group_ids")
    config = tmp_path / "schemathesis.toml"
    config.write_text(_toml_config(token, ids | {"searches": SEARCHES}), encoding="utf-8")
    command = [
        sys.executable, "-m", "schemathesis.cli",
        "--config-file", str(config),
        "--no-color",
        "run", f"{contract_server.api_url}/openapi.json",
        "--url", contract_server.url,
        "--checks", ",".join(CHECKS),
        "--max-examples", str(MAX_EXAMPLES),
        "--seed", str(SEED),
        "--suppress-health-check", "all",
        "--request-timeout", "30",
        # One worker: Hypothesis raises and restores the interpreter-wide recursion limit around each
        # example, and on Python 3.11 a second thread parsing source at that moment fails with
        # "AST constructor recursion depth mismatch", an error of the tool, not of Tack.
        "--workers", "1",
        "--report", "junit",
        "--report-dir", str(tmp_path / "report"),
    ]
    for path in EXCLUDED_PATHS:
        command += ["--exclude-path", path]
    started = time.monotonic()
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)
    report = done.stdout + done.stderr
    took = time.monotonic() - started
    assert done.returncode == 0, (
        f"schemathesis found problems (exit {done.returncode}, {took:.0f}s):\n{report}\n"
        f"--- server log (end) ---\n{contract_server.log()}"
    )
    print(f"schemathesis passed in {took:.0f}s\n{report[-3000:]}")  # shown with pytest -s
