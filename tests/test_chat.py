"""Chat over the real API: conversations, messages, read receipts, reactions, DINGs, search, uploads."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import event, func, insert, select, update

from tack.chat import service as chat_service
from tack.chat.models import Ding, Message
from tack.core.db import get_database, utcnow
from tack.core.ids import new_id
from tack.identity.models import Account
from tack.models import metadata
from tack.orgs.models import Membership
from tests.factories import (
    add_member,
    check,
    create_department,
    direct_chat,
    group_chat,
    owner_with_org,
    send_text,
    unique,
)


@pytest.fixture
def emitted(monkeypatch):  # type: ignore[no-untyped-def]
    """(channel, kind, data) of every event the chat service appends, in order."""
    recorded: list[tuple[str, str, dict]] = []
    original = chat_service.emit

    async def spy(db, *, org_id, channel, kind, data):  # type: ignore[no-untyped-def]
        recorded.append((channel, kind, data))
        return await original(db, org_id=org_id, channel=channel, kind=kind, data=data)

    original_many = chat_service.emit_many

    async def spy_many(db, *, org_id, events):  # type: ignore[no-untyped-def]
        recorded.extend((new.channel, new.kind, new.data) for new in events)
        return await original_many(db, org_id=org_id, events=events)

    monkeypatch.setattr(chat_service, "emit", spy)
    monkeypatch.setattr(chat_service, "emit_many", spy_many)
    return recorded


def kinds(events: list[tuple[str, str, dict]]) -> list[str]:
    return [kind for _, kind, _ in events]


def conv_url(org: dict, conversation: dict, tail: str = "") -> str:
    return f"/orgs/{org['id']}/conversations/{conversation['id']}{tail}"


async def run_sql(statement) -> None:  # type: ignore[no-untyped-def]
    async with get_database().session() as db:
        await db.execute(statement)
        await db.commit()


async def team(new_client, size: int = 2):  # type: ignore[no-untyped-def]
    """An owner and `size` members of a new company: (org, owner client, [(client, member)])."""
    owner, org = await owner_with_org(new_client)
    people = [await add_member(new_client, owner, org) for _ in range(size)]
    return org, owner, people


# ---- conversations ------------------------------------------------------------------------------


async def test_one_to_one_is_unique_per_pair(new_client, emitted):
    org, owner, [(alice, alice_row), (bob, bob_row)] = await team(new_client)
    first = await direct_chat(alice, org, bob_row["id"])
    assert first["kind"] == "direct" and first["peer_id"] == bob_row["id"]
    assert first["name"] == bob_row["display_name"] and first["member_count"] == 2
    response = await bob.post(f"/orgs/{org['id']}/conversations", json={"kind": "direct", "member_id": alice_row["id"]})
    assert response.status_code == 200, response.text
    assert response.json()["id"] == first["id"] and response.json()["name"] == alice_row["display_name"]
    response = await alice.post(f"/orgs/{org['id']}/conversations", json={"kind": "direct", "member_id": alice_row["id"]})
    assert response.status_code == 422 and response.json()["error"]["code"] == "cannot_message_self"
    joined = [(c, d) for c, k, d in emitted if k == "conversation.joined"]
    assert sorted(c for c, _ in joined) == sorted(f"member:{m['id']}" for m in (alice_row, bob_row))
    assert all(d["join_channel"] == f"conv:{first['id']}" for _, d in joined)
    # A direct conversation has nothing to manage.
    response = await alice.patch(conv_url(org, first), json={"name": "x"})
    assert response.status_code == 409 and response.json()["error"]["code"] == "not_a_group"


async def test_group_roles_members_and_leaving(new_client):
    org, owner, people = await team(new_client, 3)
    (alice, alice_row), (bob, bob_row), (carol, carol_row) = people
    group = await group_chat(owner, org, [alice_row["id"]], name="Launch")
    assert group["my_role"] == "owner" and group["member_count"] == 2

    # Plain members cannot manage; the owner makes Alice an admin, who then can.
    response = await alice.post(conv_url(org, group, "/members"), json={"member_ids": [bob_row["id"]]})
    assert response.status_code == 403 and response.json()["error"]["code"] == "group_admin_required"
    detail = check(await owner.patch(conv_url(org, group, f"/members/{alice_row['id']}"), json={"role": "admin"}), 200)
    assert detail["admin_ids"] == [alice_row["id"]]
    added = check(await alice.post(conv_url(org, group, "/members"),
                                   json={"member_ids": [bob_row["id"], carol_row["id"], bob_row["id"]]}), 200)
    assert sorted(added["added"]) == sorted([bob_row["id"], carol_row["id"]]) and added["member_count"] == 4
    again = check(await alice.post(conv_url(org, group, "/members"), json={"member_ids": [bob_row["id"]]}), 200)
    assert again["added"] == [] and again["member_count"] == 4

    updated = check(await alice.patch(conv_url(org, group), json={"name": "Launch 2", "announcement": "Ship it"}), 200)
    assert updated["name"] == "Launch 2" and updated["announcement"] == "Ship it"
    response = await bob.patch(conv_url(org, group), json={"name": "Mine"})
    assert response.status_code == 403

    # An admin cannot remove another admin or the owner; members may leave; the owner hands over first.
    check(await owner.patch(conv_url(org, group, f"/members/{bob_row['id']}"), json={"role": "admin"}), 200)
    response = await alice.delete(conv_url(org, group, f"/members/{bob_row['id']}"))
    assert response.status_code == 403 and response.json()["error"]["code"] == "owner_required"
    response = await carol.delete(conv_url(org, group, f"/members/{bob_row['id']}"))
    assert response.status_code == 403
    check(await carol.delete(conv_url(org, group, f"/members/{carol_row['id']}")), 204)
    response = await carol.get(conv_url(org, group))
    assert response.status_code == 404 and response.json()["error"]["code"] == "conversation_not_found"
    owner_id = group["owner_id"]
    response = await owner.delete(conv_url(org, group, f"/members/{owner_id}"))
    assert response.status_code == 409 and response.json()["error"]["code"] == "owner_cannot_leave"
    handed = check(await owner.patch(conv_url(org, group, f"/members/{alice_row['id']}"), json={"role": "owner"}), 200)
    assert handed["owner_id"] == alice_row["id"] and handed["my_role"] == "admin"
    check(await owner.delete(conv_url(org, group, f"/members/{owner_id}")), 204)

    members = check(await alice.get(conv_url(org, group, "/members")), 200)
    assert {m["member_id"]: m["role"] for m in members["items"]} == {alice_row["id"]: "owner", bob_row["id"]: "admin"}

    # Unknown people are refused as a whole.
    response = await alice.post(conv_url(org, group, "/members"), json={"member_ids": [new_id()]})
    assert response.status_code == 422 and response.json()["error"]["code"] == "member_not_found"

    # When the owner leaves the organization, an admin takes the group over.
    check(await owner.delete(f"/orgs/{org['id']}/members/{alice_row['id']}"), 204)
    taken = check(await bob.get(conv_url(org, group)), 200)
    assert taken["owner_id"] == bob_row["id"] and taken["my_role"] == "owner" and taken["member_count"] == 1


async def test_conversation_list_pages_by_activity_with_unread_and_preview(new_client):
    org, owner, [(alice, alice_row), (bob, bob_row)] = await team(new_client)
    with_alice = await direct_chat(owner, org, alice_row["id"])
    with_bob = await direct_chat(owner, org, bob_row["id"])
    group = await group_chat(owner, org, [alice_row["id"], bob_row["id"]])
    await send_text(alice, org, with_alice, "first")
    await send_text(alice, org, with_alice, "second " + "x" * 200)
    await send_text(bob, org, group, "group hello")

    page = check(await owner.get(f"/orgs/{org['id']}/conversations", params={"limit": 2}), 200)
    assert [c["id"] for c in page["items"]] == [group["id"], with_alice["id"]]
    assert page["items"][0]["unread_count"] == 1 and page["items"][1]["unread_count"] == 2
    preview = page["items"][1]["last_message"]
    assert preview["sender_name"] == alice_row["display_name"] and preview["text"].startswith("second ")
    assert len(preview["text"]) <= 81
    rest = check(await owner.get(f"/orgs/{org['id']}/conversations",
                                 params={"limit": 2, "cursor": page["next_cursor"]}), 200)
    assert [c["id"] for c in rest["items"]] == [with_bob["id"]] and rest["next_cursor"] is None
    assert rest["items"][0]["last_message"] is None

    response = await owner.get(f"/orgs/{org['id']}/conversations", params={"cursor": "bm90IGpzb24"})
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_cursor"


# ---- messages -----------------------------------------------------------------------------------


async def test_sends_are_idempotent(new_client, emitted):
    org, owner, [(alice, alice_row), _] = await team(new_client)
    chat = await direct_chat(owner, org, alice_row["id"])
    body = {"client_msg_id": "retry-1", "body": "hello"}
    first = check(await owner.post(conv_url(org, chat, "/messages"), json=body), 201)
    # What the event tells the others is what they read over REST afterwards.
    [(channel, kind, data)] = [e for e in emitted if e[1] == "message.created"]
    assert channel == f"conv:{chat['id']}"
    assert data["message"] == check(await alice.get(conv_url(org, chat, f"/messages/{first['id']}")), 200)
    emitted.clear()
    retry = check(await owner.post(conv_url(org, chat, "/messages"), json=body), 200)
    assert retry["id"] == first["id"] and retry["seq"] == first["seq"] == 1
    assert emitted == []
    # The id is the sender's: someone else may use the same one.
    other = check(await alice.post(conv_url(org, chat, "/messages"), json=body), 201)
    assert other["id"] != first["id"] and other["seq"] == 2
    history = check(await owner.get(conv_url(org, chat, "/messages")), 200)
    assert [m["seq"] for m in history["items"]] == [1, 2]


async def test_concurrent_sends_are_numbered_in_order_and_retries_meet(new_client):
    org, owner, [(alice, alice_row), (bob, _)] = await team(new_client)
    group = await group_chat(owner, org, [alice_row["id"]])
    url = conv_url(org, group, "/messages")
    senders = [owner, alice] * 6
    sent = await asyncio.gather(*(c.post(url, json={"client_msg_id": unique("c"), "body": f"n{i}"})
                                  for i, c in enumerate(senders)))
    assert all(r.status_code == 201 for r in sent), [r.text for r in sent if r.status_code != 201]
    assert sorted(r.json()["seq"] for r in sent) == list(range(1, 13))
    # Blind retries of one send racing each other make one message.
    body = {"client_msg_id": "raced", "body": "once"}
    raced = await asyncio.gather(*(owner.post(url, json=body) for _ in range(5)))
    assert sorted(r.status_code for r in raced) == [200, 200, 200, 200, 201], [r.text for r in raced]
    assert len({r.json()["id"] for r in raced}) == 1
    assert check(await owner.get(conv_url(org, group)), 200)["last_seq"] == 13


async def test_message_content_rules(new_client, emitted):
    org, owner, [(alice, alice_row), (bob, bob_row)] = await team(new_client)
    group = await group_chat(owner, org, [alice_row["id"]])

    sent = await send_text(alice, org, group, "hi @owner", mentions=[group["owner_id"]])
    assert sent["mentions"] == [group["owner_id"]] and sent["sender_name"] == alice_row["display_name"]
    created = [d for c, k, d in emitted if k == "message.created"]
    assert created[-1]["message"]["id"] == sent["id"]
    assert emitted[-1][0] == f"conv:{group['id']}"

    url = conv_url(org, group, "/messages")
    cases = [
        ({"body": "x", "mentions": [bob_row["id"]]}, 422, "mention_not_member"),
        ({"body": "all", "mention_all": True}, 403, "mention_all_forbidden"),
        ({"body": "   "}, 422, "empty_message"),
        ({"kind": "text", "body": "x", "link": {"url": "https://a.example", "title": "t"}}, 422, "attachment_mismatch"),
        ({"kind": "link", "link": {"url": "javascript:alert(1)", "title": "t"}}, 422, "validation_error"),
        ({"kind": "image", "upload_id": new_id()}, 404, "upload_not_found"),
        ({"body": "re", "reply_to_id": new_id()}, 404, "reply_not_found"),
        ({"body": "x", "unknown": 1}, 422, "validation_error"),
        ({"body": "nul \x00"}, 422, "validation_error"),
    ]
    for fields, status, code in cases:
        response = await alice.post(url, json={"client_msg_id": unique("c"), **fields})
        assert response.status_code == status, (fields, response.text)
        assert response.json()["error"]["code"] == code, fields

    everyone = await send_text(owner, org, group, "all hands", mention_all=True)
    assert everyone["mention_all"] is True
    markdown = check(await alice.post(url, json={"client_msg_id": unique("c"), "kind": "markdown",
                                                 "body": "**bold** <script>x</script>"}), 201)
    assert markdown["kind"] == "markdown" and markdown["body"] == "**bold** <script>x</script>"
    card = {"url": "https://example.com/a?b=c", "title": "Example", "description": "An example page"}
    link = check(await alice.post(url, json={"client_msg_id": unique("c"), "kind": "link", "link": card}), 201)
    assert link["link"] == {**card, "image_url": None}
    reply = await send_text(owner, org, group, "quoting", reply_to_id=markdown["id"])
    assert reply["reply_to"]["id"] == markdown["id"] and reply["reply_to"]["snippet"].startswith("**bold**")
    assert reply["reply_to"]["sender_name"] == alice_row["display_name"]


async def test_images_and_files(new_client):
    org, owner, [(alice, alice_row), (bob, bob_row)] = await team(new_client)
    group = await group_chat(owner, org, [alice_row["id"]])
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    upload = check(await owner.post(f"/orgs/{org['id']}/uploads", params={"name": "photo 照片.png"}, content=png,
                                    headers={"Content-Type": "image/png"}), 201)
    assert upload["size"] == len(png) and upload["content_type"] == "image/png"
    page = check(await owner.post(f"/orgs/{org['id']}/uploads", params={"name": "page.html"}, content=b"<script>",
                                  headers={"Content-Type": "text/html"}), 201)

    # Not yet shared: only the uploader may fetch it.
    assert (await alice.get(upload["url"].removeprefix("/api/v1"))).status_code == 404
    image = check(await owner.post(conv_url(org, group, "/messages"),
                                   json={"client_msg_id": unique("c"), "kind": "image", "upload_id": upload["id"]}), 201)
    assert image["file"]["name"] == "photo 照片.png" and image["body"] is None
    response = await alice.post(conv_url(org, group, "/messages"),
                                json={"client_msg_id": unique("c"), "kind": "image", "upload_id": upload["id"]})
    assert response.status_code == 404  # someone else's upload
    response = await owner.post(conv_url(org, group, "/messages"),
                                json={"client_msg_id": unique("c"), "kind": "image", "upload_id": page["id"]})
    assert response.status_code == 422 and response.json()["error"]["code"] == "not_an_image"
    file = check(await owner.post(conv_url(org, group, "/messages"), json={
        "client_msg_id": unique("c"), "kind": "file", "upload_id": page["id"], "body": "the page"}), 201)

    fetched = await alice.get(image["file"]["url"].removeprefix("/api/v1"))
    assert fetched.status_code == 200 and fetched.content == png
    assert fetched.headers["content-type"] == "image/png" and fetched.headers["content-disposition"].startswith("inline")
    html = await alice.get(file["file"]["url"].removeprefix("/api/v1"))
    assert html.status_code == 200 and html.headers["content-type"] == "application/octet-stream"
    assert html.headers["content-disposition"].startswith("attachment")
    # Bob is in the organization but not in the group.
    assert (await bob.get(image["file"]["url"].removeprefix("/api/v1"))).status_code == 404

    # Recalling the message withdraws the file from the conversation.
    check(await owner.post(conv_url(org, group, f"/messages/{image['id']}/recall")), 200)
    assert (await alice.get(image["file"]["url"].removeprefix("/api/v1"))).status_code == 404


async def test_uploads_have_a_size_limit(new_client, monkeypatch):
    org, owner, _ = await team(new_client, 0)
    from tack.core.config import get_settings

    monkeypatch.setattr(get_settings(), "upload_max_bytes", 10)
    response = await owner.post(f"/orgs/{org['id']}/uploads", params={"name": "big.bin"}, content=b"x" * 11)
    assert response.status_code == 413 and response.json()["error"]["code"] == "file_too_large"

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(3):
            yield b"xxxxx"

    response = await owner.post(f"/orgs/{org['id']}/uploads", params={"name": "big.bin"}, content=chunks())
    assert response.status_code == 413 and response.json()["error"]["code"] == "file_too_large"


async def test_edit_and_recall_rules(new_client, emitted):
    org, owner, [(alice, alice_row), (bob, bob_row)] = await team(new_client)
    group = await group_chat(owner, org, [alice_row["id"], bob_row["id"]])
    mine = await send_text(alice, org, group, "tpyo")
    url = conv_url(org, group, f"/messages/{mine['id']}")

    response = await bob.patch(url, json={"body": "hijack"})
    assert response.status_code == 403 and response.json()["error"]["code"] == "not_sender"
    edited = check(await alice.patch(url, json={"body": "typo"}), 200)
    assert edited["body"] == "typo" and edited["edited_at"] is not None
    assert kinds(emitted)[-1] == "message.edited"

    # A plain member cannot recall someone else's message; the sender can; a recall leaves a marker.
    response = await bob.post(url + "/recall")
    assert response.status_code == 403 and response.json()["error"]["code"] == "not_sender"
    check(await bob.post(url + "/reactions", json={"emoji": "👍"}), 200)
    recalled = check(await alice.post(url + "/recall"), 200)
    assert recalled["body"] is None and recalled["recalled_at"] and recalled["recalled_by"] == alice_row["id"]
    assert recalled["reactions"] == []
    assert kinds(emitted)[-1] == "message.recalled"
    emitted.clear()
    assert check(await alice.post(url + "/recall"), 200)["recalled_at"] == recalled["recalled_at"]
    assert emitted == []
    response = await alice.patch(url, json={"body": "back"})
    assert response.status_code == 409 and response.json()["error"]["code"] == "message_recalled"
    listed = check(await bob.get(conv_url(org, group, "/messages")), 200)["items"]
    assert listed[-1]["id"] == mine["id"] and listed[-1]["body"] is None

    # After 24 hours the sender can neither edit nor recall; the group's owner still can recall.
    old = await send_text(alice, org, group, "old news")
    await run_sql(update(Message).where(Message.id == old["id"]).values(created_at=utcnow() - timedelta(hours=25)))
    old_url = conv_url(org, group, f"/messages/{old['id']}")
    response = await alice.patch(old_url, json={"body": "new news"})
    assert response.status_code == 409 and response.json()["error"]["code"] == "edit_window_passed"
    response = await alice.post(old_url + "/recall")
    assert response.status_code == 409 and response.json()["error"]["code"] == "recall_window_passed"
    by_owner = check(await owner.post(old_url + "/recall"), 200)
    assert by_owner["recalled_by"] == group["owner_id"]

    # In a one-to-one conversation nobody manages: only the sender recalls.
    chat = await direct_chat(alice, org, bob_row["id"])
    theirs = await send_text(bob, org, chat, "mine")
    response = await alice.post(conv_url(org, chat, f"/messages/{theirs['id']}/recall"))
    assert response.status_code == 403


async def test_reactions_toggle(new_client, emitted):
    org, owner, [(alice, alice_row), _] = await team(new_client)
    chat = await direct_chat(owner, org, alice_row["id"])
    message = await send_text(owner, org, chat, "react to me")
    url = conv_url(org, chat, f"/messages/{message['id']}/reactions")
    added = check(await alice.post(url, json={"emoji": "👍"}), 200)
    assert added["added"] is True
    assert added["reactions"] == [{"emoji": "👍", "count": 1, "member_ids": [alice_row["id"]], "me": True}]
    check(await owner.post(url, json={"emoji": "👍"}), 200)
    check(await owner.post(url, json={"emoji": ":tada:"}), 200)
    seen = check(await alice.get(conv_url(org, chat, f"/messages/{message['id']}")), 200)
    assert {r["emoji"]: (r["count"], r["me"]) for r in seen["reactions"]} == {"👍": (2, True), ":tada:": (1, False)}
    removed = check(await alice.post(url, json={"emoji": "👍"}), 200)
    assert removed["added"] is False and removed["reactions"][0]["count"] == 1
    assert kinds(emitted)[-4:] == ["reaction.changed"] * 4 and emitted[-1][2]["added"] is False
    for bad in ("", "two words", "x" * 33):
        response = await alice.post(url, json={"emoji": bad})
        assert response.status_code == 422, bad


async def test_history_pages_by_sequence(new_client):
    org, owner, [(alice, alice_row), _] = await team(new_client)
    chat = await direct_chat(owner, org, alice_row["id"])
    for n in range(7):
        await send_text(owner if n % 2 else alice, org, chat, f"m{n}")
    url = conv_url(org, chat, "/messages")
    latest = check(await owner.get(url, params={"limit": 3}), 200)
    assert [m["body"] for m in latest["items"]] == ["m4", "m5", "m6"] and latest["has_more"]
    older = check(await owner.get(url, params={"limit": 3, "before": latest["items"][0]["seq"]}), 200)
    assert [m["body"] for m in older["items"]] == ["m1", "m2", "m3"] and older["has_more"]
    oldest = check(await owner.get(url, params={"limit": 3, "before": older["items"][0]["seq"]}), 200)
    assert [m["body"] for m in oldest["items"]] == ["m0"] and not oldest["has_more"]
    newer = check(await owner.get(url, params={"limit": 4, "after": 2}), 200)
    assert [m["body"] for m in newer["items"]] == ["m2", "m3", "m4", "m5"] and newer["has_more"]
    response = await owner.get(url, params={"before": 3, "after": 1})
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_paging"


# ---- read receipts ------------------------------------------------------------------------------


async def test_read_watermarks_counts_and_receipts(new_client, emitted):
    org, owner, [(alice, alice_row), (bob, bob_row)] = await team(new_client)
    group = await group_chat(owner, org, [alice_row["id"], bob_row["id"]])
    sent = [await send_text(owner, org, group, f"n{n}") for n in range(3)]
    assert sent[0]["read_count"] == 0 and sent[0]["unread_count"] == 2

    assert check(await alice.get(conv_url(org, group)), 200)["unread_count"] == 3
    state = check(await alice.post(conv_url(org, group, "/read"), json={"seq": 2}), 200)
    assert state == {"conversation_id": group["id"], "read_seq": 2, "unread_count": 1}
    assert emitted[-1] == (f"conv:{group['id']}", "read.updated",
                           {"conversation_id": group["id"], "member_id": alice_row["id"], "read_seq": 2})
    # Never backwards, never past the end, and no event when nothing moved.
    emitted.clear()
    assert check(await alice.post(conv_url(org, group, "/read"), json={"seq": 1}), 200)["read_seq"] == 2
    assert emitted == []
    assert check(await bob.post(conv_url(org, group, "/read"), json={"seq": 10**6}), 200)["read_seq"] == 3

    receipts = check(await owner.get(conv_url(org, group, f"/messages/{sent[2]['id']}/receipts")), 200)
    assert receipts["read_count"] == 1 and receipts["unread_count"] == 1
    assert [p["member_id"] for p in receipts["read"]] == [bob_row["id"]]
    assert [p["member_id"] for p in receipts["unread"]] == [alice_row["id"]]
    first = check(await owner.get(conv_url(org, group, f"/messages/{sent[1]['id']}/receipts")), 200)
    assert first["read_count"] == 2 and first["unread"] == []
    history = check(await owner.get(conv_url(org, group, "/messages")), 200)["items"]
    assert [(m["read_count"], m["unread_count"]) for m in history] == [(2, 0), (2, 0), (1, 1)]
    # Only the sender sees who read; others see no counts.
    response = await alice.get(conv_url(org, group, f"/messages/{sent[2]['id']}/receipts"))
    assert response.status_code == 403 and response.json()["error"]["code"] == "not_sender"
    assert all(m["read_count"] is None for m in check(await alice.get(conv_url(org, group, "/messages")), 200)["items"])

    # My own messages never count as unread, and sending moves my read position.
    await send_text(alice, org, group, "reply")
    mine = check(await alice.get(conv_url(org, group)), 200)
    assert mine["unread_count"] == 0 and mine["read_seq"] == 4
    # People who join later do not count for earlier messages.
    carol, carol_row = await add_member(new_client, owner, org)
    check(await owner.post(conv_url(org, group, "/members"), json={"member_ids": [carol_row["id"]]}), 200)
    assert check(await carol.get(conv_url(org, group)), 200)["unread_count"] == 0
    again = check(await owner.get(conv_url(org, group, f"/messages/{sent[2]['id']}/receipts")), 200)
    assert again["read_count"] + again["unread_count"] == 2


async def test_in_large_groups_reads_go_only_to_the_reader_and_the_senders_read(new_client, emitted, monkeypatch):
    # A group counts as large above READ_BROADCAST_MEMBERS; four people are enough to see the rule.
    monkeypatch.setattr(chat_service, "READ_BROADCAST_MEMBERS", 3)
    org, owner, [(alice, alice_row), (bob, bob_row), (carol, carol_row)] = await team(new_client, 3)
    group = await group_chat(owner, org, [alice_row["id"], bob_row["id"], carol_row["id"]])
    await send_text(alice, org, group, "from alice")
    await send_text(bob, org, group, "from bob")
    emitted.clear()
    check(await carol.post(conv_url(org, group, "/read"), json={"seq": 2}), 200)
    data = {"conversation_id": group["id"], "member_id": carol_row["id"], "read_seq": 2}
    assert sorted(emitted) == sorted(
        [(f"member:{carol_row['id']}", "read.updated", data), (f"member:{alice_row['id']}", "read.updated", data),
         (f"member:{bob_row['id']}", "read.updated", data)]
    )
    # The owner sent nothing in that range and hears nothing; receipts are as true as ever.
    receipts = check(await alice.get(conv_url(org, group, "/messages")), 200)["items"]
    first = next(m for m in receipts if m["body"] == "from alice")
    assert first["read_count"] == 2  # bob (by sending after it) and carol


async def test_sending_to_3000_members_writes_constant_rows(new_client, emitted):
    owner, org = await owner_with_org(new_client)
    now = utcnow()
    accounts, members = [], []
    for n in range(2999):
        account_id, member_id = new_id(), new_id()
        accounts.append({"id": account_id, "name": f"P{n}", "email": f"{account_id}@example.com",
                         "password_hash": "x", "is_active": True, "created_at": now})
        members.append({"org_id": org["id"], "id": member_id, "account_id": account_id, "display_name": f"P{n}",
                        "status": "active", "search_text": f"p{n}", "sort_name": f"p{n:05d}", "joined_at": now})
    async with get_database().session() as db:
        await db.execute(insert(Account), accounts)
        await db.execute(insert(Membership), members)
        await db.commit()

    engine = get_database().engine.sync_engine
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        group = await group_chat(owner, org, [m["id"] for m in members], name="Everyone")
        creating = [s for s in statements if "conversation_members" in s and s.lstrip().upper().startswith("INSERT")]
        assert group["member_count"] == 3000 and len(creating) <= 2, creating
        await send_text(owner, org, group, "warm-up")
        before = await _row_counts()
        statements.clear()
        emitted.clear()
        message = await send_text(owner, org, group, "hello everyone")
        sent_statements = list(statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    after = await _row_counts()
    grown = {table: after[table] - before[table] for table in after if after[table] != before[table]}
    assert grown.pop("messages") == 1
    assert sum(grown.values()) <= 1, grown  # the event row, where the event log is a table
    assert kinds(emitted) == ["message.created"]
    assert message["unread_count"] == 2999
    # Authentication and the organization check included: a handful, never one per member.
    assert len(sent_statements) <= 16, sent_statements
    listed = check(await owner.get(f"/orgs/{org['id']}/conversations"), 200)["items"][0]
    assert listed["member_count"] == 3000 and listed["last_message"]["id"] == message["id"]


async def _row_counts() -> dict[str, int]:
    async with get_database().session() as db:
        return {
            name: (await db.execute(select(func.count()).select_from(table))).scalar_one()
            for name, table in metadata.tables.items()
        }


# ---- DING ---------------------------------------------------------------------------------------


async def test_ding_inbox_acknowledgement_and_reminders(new_client, emitted):
    org, owner, [(alice, alice_row), (bob, bob_row)] = await team(new_client)
    group = await group_chat(owner, org, [alice_row["id"], bob_row["id"]])
    body = {"client_msg_id": "ding-1", "body": "Meeting now!", "remind_after_minutes": 5, "max_reminders": 2,
            "recipient_ids": [alice_row["id"], bob_row["id"], group["owner_id"]]}
    sent = check(await owner.post(conv_url(org, group, "/dings"), json=body), 201)
    ding = sent["ding"]
    assert ding["recipient_count"] == 2 and ding["acknowledged_count"] == 0 and sent["message"]["is_ding"]
    assert sorted(c for c, k, _ in emitted if k == "ding.created") == sorted(
        f"member:{m['id']}" for m in (alice_row, bob_row))
    emitted.clear()
    assert check(await owner.post(conv_url(org, group, "/dings"), json=body), 200)["ding"]["id"] == ding["id"]
    assert emitted == []

    older = check(await owner.post(conv_url(org, group, "/dings"), json={
        "client_msg_id": "ding-0", "body": "Earlier", "recipient_ids": [alice_row["id"]]}), 201)["ding"]
    check(await alice.post(f"/orgs/{org['id']}/dings/{older['id']}/ack"), 200)
    newer = check(await owner.post(conv_url(org, group, "/dings"), json={
        "client_msg_id": "ding-2", "body": "Later", "recipient_ids": [alice_row["id"]]}), 201)["ding"]
    inbox = check(await alice.get(f"/orgs/{org['id']}/dings"), 200)
    # Unacknowledged first (newest first among them), then the acknowledged.
    assert [d["id"] for d in inbox] == [newer["id"], ding["id"], older["id"]]
    assert inbox[2]["acknowledged_at"] is not None and inbox[0]["acknowledged_at"] is None
    assert [d["id"] for d in check(await owner.get(f"/orgs/{org['id']}/dings", params={"box": "sent"}), 200)] == [
        newer["id"], older["id"], ding["id"]]

    acked = check(await alice.post(f"/orgs/{org['id']}/dings/{ding['id']}/ack"), 200)
    assert acked["acknowledged_count"] == 1 and acked["acknowledged_at"] is not None
    assert {c for c, k, _ in emitted if k == "ding.acknowledged"} == {
        f"member:{alice_row['id']}", f"member:{group['owner_id']}"}
    seen = check(await owner.get(f"/orgs/{org['id']}/dings/{ding['id']}"), 200)
    assert [(r["member_id"], r["acknowledged_at"] is not None) for r in seen["recipients"]] == [
        (bob_row["id"], False), (alice_row["id"], True)]
    response = await owner.post(f"/orgs/{org['id']}/dings/{ding['id']}/ack")
    assert response.status_code == 403 and response.json()["error"]["code"] == "not_a_recipient"
    carol, _ = await add_member(new_client, owner, org)
    response = await carol.get(f"/orgs/{org['id']}/dings/{ding['id']}")
    assert response.status_code == 404 and response.json()["error"]["code"] == "ding_not_found"

    # Due reminders go to whoever has not acknowledged, at most max_reminders times.
    async def remind(minutes: int) -> int:
        async with get_database().session() as db:
            count = await chat_service.send_due_reminders(db, now=utcnow() + timedelta(minutes=minutes))
            await db.commit()
            return count

    emitted.clear()
    assert await remind(1) == 0
    assert await remind(6) >= 1
    reminded = [(c, d["ding_id"]) for c, k, d in emitted if k == "ding.reminded" and d["ding_id"] == ding["id"]]
    assert reminded == [(f"member:{bob_row['id']}", ding["id"])]
    assert await remind(6) == 0  # claimed: not due again until another interval has passed
    await remind(12)
    await remind(100)
    assert len([1 for _, k, d in emitted if k == "ding.reminded" and d["ding_id"] == ding["id"]]) == 2
    async with get_database().session() as db:
        assert (await db.execute(select(Ding.next_remind_at).where(Ding.id == ding["id"]))).scalar_one() is None


# ---- search and privacy -------------------------------------------------------------------------


async def test_search_finds_only_my_conversations(new_client):
    org, owner, [(alice, alice_row), (bob, bob_row)] = await team(new_client)
    ours = await direct_chat(owner, org, alice_row["id"])
    theirs = await direct_chat(alice, org, bob_row["id"])
    await send_text(owner, org, ours, "The quarterly report is ready")
    await send_text(alice, org, theirs, "secret quarterly numbers")
    await send_text(owner, org, ours, "季度报告已经准备好了")
    await send_text(alice, org, theirs, "季度秘密")
    recalled = await send_text(owner, org, ours, "quarterly draft")
    check(await owner.post(conv_url(org, ours, f"/messages/{recalled['id']}/recall")), 200)

    async def found(client: httpx.AsyncClient, q: str, **params: str) -> list[str]:
        page = check(await client.get(f"/orgs/{org['id']}/messages/search", params={"q": q, **params}), 200)
        return [hit["message"]["body"] for hit in page["items"]]

    assert await found(owner, "quarterly") == ["The quarterly report is ready"]
    assert await found(owner, "QUARTERLY report") == ["The quarterly report is ready"]
    assert sorted(await found(alice, "quarterly")) == ["The quarterly report is ready", "secret quarterly numbers"]
    assert await found(bob, "quarterly") == ["secret quarterly numbers"]
    assert await found(owner, "季度") == ["季度报告已经准备好了"]
    assert await found(owner, "报告") == ["季度报告已经准备好了"]
    assert await found(owner, "secret") == []
    assert await found(alice, "quarterly", conversation_id=theirs["id"]) == ["secret quarterly numbers"]
    response = await owner.get(f"/orgs/{org['id']}/messages/search", params={"q": "x", "conversation_id": theirs["id"]})
    assert response.status_code == 404
    # Query syntax of the engines is not exposed: operators are words like any other.
    for q in ('"', "NEAR(a b)", "a OR b*", "-x", "%_", "'; drop"):
        check(await owner.get(f"/orgs/{org['id']}/messages/search", params={"q": q}), 200)
    page = check(await alice.get(f"/orgs/{org['id']}/messages/search", params={"q": "quarterly", "limit": 1}), 200)
    assert len(page["items"]) == 1 and page["items"][0]["conversation_name"]
    rest = check(await alice.get(f"/orgs/{org['id']}/messages/search",
                                 params={"q": "quarterly", "limit": 1, "cursor": page["next_cursor"]}), 200)
    assert len(rest["items"]) == 1 and rest["items"][0]["message"]["id"] != page["items"][0]["message"]["id"]


async def test_people_outside_a_conversation_cannot_read_it(new_client):
    org, owner, [(alice, alice_row), (bob, bob_row)] = await team(new_client)
    chat = await direct_chat(owner, org, alice_row["id"])
    message = await send_text(owner, org, chat, "private")
    for path in ("", "/messages", "/members", f"/messages/{message['id']}", f"/messages/{message['id']}/receipts"):
        response = await bob.get(conv_url(org, chat, path))
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "conversation_not_found"
    writes = [
        ("/messages", {"client_msg_id": "x", "body": "let me in"}),
        ("/read", {"seq": 1}),
        (f"/messages/{message['id']}/reactions", {"emoji": "👀"}),
        (f"/messages/{message['id']}/recall", None),
        ("/dings", {"client_msg_id": "y", "body": "hey", "recipient_ids": [alice_row["id"]]}),
    ]
    for path, body in writes:
        response = await bob.post(conv_url(org, chat, path), json=body)
        assert response.status_code == 404, path
    listed = check(await bob.get(f"/orgs/{org['id']}/conversations"), 200)
    assert listed["items"] == []


# ---- department and class groups ----------------------------------------------------------------


async def test_department_group_follows_the_department(new_client, emitted):
    owner, org = await owner_with_org(new_client)
    sales = await create_department(owner, org, name="Sales")
    support = await create_department(owner, org)
    seller, seller_row = await add_member(new_client, owner, org, department_ids=[sales["id"]])
    other, other_row = await add_member(new_client, owner, org, department_ids=[support["id"]])
    response = await seller.post(f"/orgs/{org['id']}/conversations", json={"kind": "department",
                                                                          "department_id": sales["id"]})
    assert response.status_code == 403 and response.json()["error"]["code"] == "admin_required"
    group = check(await owner.post(f"/orgs/{org['id']}/conversations",
                                   json={"kind": "department", "department_id": sales["id"]}), 201)
    assert group["name"] == "Sales" and group["member_count"] == 2 and group["kind"] == "department"
    again = await owner.post(f"/orgs/{org['id']}/conversations", json={"kind": "department", "department_id": sales["id"]})
    assert again.status_code == 200 and again.json()["id"] == group["id"]
    check(await seller.get(conv_url(org, group)), 200)
    assert (await other.get(conv_url(org, group))).status_code == 404

    # Moving into the department joins the group; moving out leaves it; so does leaving the organization.
    emitted.clear()
    check(await owner.patch(f"/orgs/{org['id']}/members/{other_row['id']}", json={"department_ids": [sales["id"]]}), 200)
    assert check(await other.get(conv_url(org, group)), 200)["member_count"] == 3
    assert (f"member:{other_row['id']}", "conversation.joined") in [(c, k) for c, k, _ in emitted]
    check(await owner.patch(f"/orgs/{org['id']}/members/{seller_row['id']}", json={"department_ids": [support["id"]]}), 200)
    assert (await seller.get(conv_url(org, group))).status_code == 404
    assert ("conversation.left", {"leave_channel": f"conv:{group['id']}", "conversation_id": group["id"]}) in [
        (k, d) for _, k, d in emitted]
    newcomer, newcomer_row = await add_member(new_client, owner, org, department_ids=[sales["id"]])
    check(await newcomer.get(conv_url(org, group)), 200)
    check(await owner.delete(f"/orgs/{org['id']}/members/{newcomer_row['id']}"), 204)
    members = check(await owner.get(conv_url(org, group, "/members")), 200)["items"]
    assert sorted(m["member_id"] for m in members) == sorted([group["owner_id"], other_row["id"]])
    assert [m["source"] for m in members if m["member_id"] == other_row["id"]] == ["department"]

    # Sub-departments belong to it too, and moving one away takes its people along.
    east = await create_department(owner, org, parent_id=sales["id"], name="Sales East")
    easterner, easterner_row = await add_member(new_client, owner, org, department_ids=[east["id"]])
    check(await easterner.get(conv_url(org, group)), 200)
    check(await owner.patch(f"/orgs/{org['id']}/departments/{east['id']}", json={"parent_id": support["id"]}), 200)
    assert (await easterner.get(conv_url(org, group))).status_code == 404
    check(await owner.patch(f"/orgs/{org['id']}/departments/{east['id']}", json={"parent_id": sales["id"]}), 200)
    check(await easterner.get(conv_url(org, group)), 200)
    whole = check(await owner.post(f"/orgs/{org['id']}/conversations",
                                   json={"kind": "department", "department_id": org["root_department_id"]}), 201)
    assert whole["member_count"] == 4  # everyone: the owner, other, seller and the easterner

    # Its membership is not edited by hand.
    response = await owner.post(conv_url(org, group, "/members"), json={"member_ids": [seller_row["id"]]})
    assert response.status_code == 409 and response.json()["error"]["code"] == "membership_follows_department"
    response = await other.delete(conv_url(org, group, f"/members/{other_row['id']}"))
    assert response.status_code == 409


async def test_class_group_has_teachers_students_and_parents(new_client):
    owner, org = await owner_with_org(new_client, kind="school")
    klass = await create_department(owner, org, kind="class", name="一年级一班")
    teacher, _ = await add_member(new_client, owner, org, roles=["teacher"], department_ids=[klass["id"]])
    student, student_row = await add_member(new_client, owner, org, roles=["student"], department_ids=[klass["id"]])
    parent, parent_row = await add_member(new_client, owner, org, roles=["parent"])
    check(await owner.post(f"/orgs/{org['id']}/members/{student_row['id']}/guardians",
                           json={"parent_member_id": parent_row["id"]}), 201)
    response = await student.post(f"/orgs/{org['id']}/conversations", json={"kind": "class", "department_id": klass["id"]})
    assert response.status_code == 403
    group = check(await teacher.post(f"/orgs/{org['id']}/conversations",
                                     json={"kind": "class", "department_id": klass["id"]}), 201)
    assert group["kind"] == "class" and group["member_count"] == 3 and group["name"] == "一年级一班"
    check(await parent.get(conv_url(org, group)), 200)
    await send_text(parent, org, group, "Hello teacher")

    # A parent follows their child: a new student's parent joins, an unlinked parent leaves.
    second_parent, second_parent_row = await add_member(new_client, owner, org, roles=["parent"])
    check(await owner.post(f"/orgs/{org['id']}/members/{student_row['id']}/guardians",
                           json={"parent_member_id": second_parent_row["id"]}), 201)
    check(await second_parent.get(conv_url(org, group)), 200)
    check(await owner.delete(f"/orgs/{org['id']}/members/{student_row['id']}/guardians/{parent_row['id']}"), 204)
    assert (await parent.get(conv_url(org, group))).status_code == 404
    # The student moves out of the class: they and their remaining parent leave.
    other_class = await create_department(owner, org, kind="class")
    check(await owner.patch(f"/orgs/{org['id']}/members/{student_row['id']}",
                            json={"department_ids": [other_class["id"]]}), 200)
    assert (await student.get(conv_url(org, group))).status_code == 404
    assert (await second_parent.get(conv_url(org, group))).status_code == 404

    company_owner, company = await owner_with_org(new_client)
    dept = await create_department(company_owner, company)
    response = await company_owner.post(f"/orgs/{company['id']}/conversations",
                                        json={"kind": "class", "department_id": dept["id"]})
    assert response.status_code == 422 and response.json()["error"]["code"] == "not_a_class"


async def test_invalid_input_is_refused_with_stable_codes(new_client):
    org, owner, [(alice, alice_row), _] = await team(new_client)
    url = f"/orgs/{org['id']}/conversations"
    cases = [
        ({"kind": "nonsense"}, 422),
        ({"kind": "group", "name": ""}, 422),
        ({"kind": "group", "name": "x", "member_ids": ["not-an-id"]}, 422),
        ({"kind": "group", "name": "x", "member_ids": [new_id()]}, 422),
        ({"kind": "direct", "member_id": new_id()}, 404),
        ({"kind": "department", "department_id": new_id()}, 404),
    ]
    for body, status in cases:
        response = await owner.post(url, json=body)
        assert response.status_code == status, (body, response.text)
        assert response.json()["error"]["code"]
    chat = await direct_chat(owner, org, alice_row["id"])
    for body in ({"client_msg_id": "", "body": "x"}, {"client_msg_id": "a b", "body": "x"},
                 {"client_msg_id": "x" * 65, "body": "x"}, {"body": "x"}, {"client_msg_id": "a", "body": "x" * 10_001}):
        response = await owner.post(conv_url(org, chat, "/messages"), json=body)
        assert response.status_code == 422, body
    for params in ({"before": -1}, {"limit": 0}, {"limit": 1000}):
        response = await owner.get(conv_url(org, chat, "/messages"), params=params)
        assert response.status_code == 422, params
    response = await owner.post(conv_url(org, chat, "/read"), json={"seq": -1})
    assert response.status_code == 422
    response = await owner.get(f"/orgs/{org['id']}/conversations/{new_id()}")
    assert response.status_code == 404 and response.json()["error"]["code"] == "conversation_not_found"
    response = await owner.post(f"/orgs/{org['id']}/uploads", params={"name": "../etc/passwd"}, content=b"x")
    assert response.status_code == 422
    response = await owner.post(conv_url(org, chat, "/dings"), json={
        "client_msg_id": "d", "body": "x", "recipient_ids": [org["member_id"]]})
    assert response.status_code == 422 and response.json()["error"]["code"] == "no_recipients"
    response = await owner.post(conv_url(org, chat, "/dings"), json={
        "client_msg_id": "d", "body": "x", "recipient_ids": [new_id()]})
    assert response.status_code == 422 and response.json()["error"]["code"] == "recipient_not_member"
