"""Requests over the stream (tack/stream/calls.py): sending a chat message as a `call` frame."""

from __future__ import annotations

import uuid

from tests.factories import add_member, check, group_chat, owner_with_org, unique
from tests.streams import StreamClient, live_stream


async def call(stream: StreamClient, org_id: str, action: str, params: dict, call_id: str | None = None) -> dict:
    call_id = call_id or uuid.uuid4().hex
    await stream.send({"type": "call", "id": call_id, "action": action, "org_id": org_id, "params": params})
    while True:
        frame = await stream.next(skip=("ping", "event"))
        if frame["type"] == "result" and frame["id"] == call_id:
            return frame


async def test_send_a_message_over_the_stream_once_and_others_receive_it(new_client, stream_server) -> None:
    owner, org = await owner_with_org(new_client)
    reader_client, reader = await add_member(new_client, owner, org)
    group = await group_chat(owner, org, [reader["id"]])
    sender = await live_stream(stream_server, owner)
    receiver = await live_stream(stream_server, reader_client)
    params = {"conversation_id": group["id"], "message": {"client_msg_id": unique("c"), "body": "over the socket"}}

    first = await call(sender, org["id"], "chat.send", params)
    assert first["ok"] is True and first["data"]["created"] is True
    message = first["data"]["message"]
    assert message["body"] == "over the socket" and message["unread_count"] == 1 and message["seq"] == 1
    [event] = await receiver.events(1)
    assert event["kind"] == "message.created" and event["data"]["message"]["id"] == message["id"]

    # A retry (the answer was lost) gets the same message, and nobody gets it twice.
    again = await call(sender, org["id"], "chat.send", params)
    assert again["ok"] is True and again["data"]["created"] is False
    assert again["data"]["message"]["id"] == message["id"]
    await receiver.silent(0.2)
    history = check(await reader_client.get(f"/orgs/{org['id']}/conversations/{group['id']}/messages"), 200)
    assert [m["id"] for m in history["items"]] == [message["id"]]
    await sender.close()
    await receiver.close()


async def test_refusals_are_results_with_the_api_error_codes(new_client, stream_server) -> None:
    owner, org = await owner_with_org(new_client)
    outsider, other_org = await owner_with_org(new_client)
    group = await group_chat(owner, org, [])
    stranger_group = await group_chat(outsider, other_org, [])
    stream = await live_stream(stream_server, owner)
    message = {"client_msg_id": unique("c"), "body": "hi"}

    # Another organization's conversation, through my organization and through theirs.
    refused = await call(stream, org["id"], "chat.send", {"conversation_id": stranger_group["id"], "message": message})
    assert (refused["ok"], refused["status"], refused["error"]["code"]) == (False, 404, "conversation_not_found")
    refused = await call(stream, other_org["id"], "chat.send", {"conversation_id": stranger_group["id"],
                                                               "message": message})
    assert (refused["status"], refused["error"]["code"]) == (404, "org_not_found")
    # Params that do not fit, an empty message, an unknown action, a frame that is not a call.
    refused = await call(stream, org["id"], "chat.send", {"conversation_id": group["id"]})
    assert (refused["status"], refused["error"]["code"]) == (422, "validation_error")
    refused = await call(stream, org["id"], "chat.send",
                         {"conversation_id": group["id"], "message": {"client_msg_id": unique("c"), "body": "  "}})
    assert (refused["status"], refused["error"]["code"]) == (422, "empty_message")
    refused = await call(stream, org["id"], "chat.nothing", {})
    assert (refused["status"], refused["error"]["code"]) == (404, "unknown_action")
    await stream.send({"type": "call", "id": "x1", "action": "chat.send"})
    frame = await stream.next()
    assert (frame["type"], frame["id"], frame["error"]["code"]) == ("result", "x1", "invalid_call")
    # None of it wrote anything, and the connection is still good.
    history = check(await owner.get(f"/orgs/{org['id']}/conversations/{group['id']}/messages"), 200)
    assert history["items"] == []
    ok = await call(stream, org["id"], "chat.send", {"conversation_id": group["id"], "message": message})
    assert ok["ok"] is True
    await stream.close()


async def test_a_call_after_sign_out_ends_the_connection(new_client, stream_server) -> None:
    owner, org = await owner_with_org(new_client)
    group = await group_chat(owner, org, [])
    stream = await live_stream(stream_server, owner)
    check(await owner.post("/auth/sign-out"), 204)
    await stream.send({"type": "call", "id": "c1", "action": "chat.send", "org_id": org["id"],
                       "params": {"conversation_id": group["id"], "message": {"client_msg_id": "a", "body": "x"}}})
    code, frames = await stream.closed()
    assert code == 4401 and frames[-1]["code"] == "session_ended"


async def test_each_call_sees_the_callers_membership_as_it_is_now(new_client, stream_server) -> None:
    # The caller's context is reused between calls only while nothing it is made of changed.
    owner, org = await owner_with_org(new_client)
    member_client, member = await add_member(new_client, owner, org, name="Before")
    group = await group_chat(owner, org, [member["id"]])
    stream = await live_stream(stream_server, member_client)

    def send(text: str) -> dict:
        return {"conversation_id": group["id"], "message": {"client_msg_id": unique("c"), "body": text}}

    first = await call(stream, org["id"], "chat.send", send("one"))
    assert first["data"]["message"]["sender_name"] == "Before"
    check(await owner.patch(f"/orgs/{org['id']}/members/{member['id']}", json={"display_name": "After"}), 200)
    renamed = await call(stream, org["id"], "chat.send", send("two"))
    assert renamed["data"]["message"]["sender_name"] == "After"
    check(await owner.delete(f"/orgs/{org['id']}/members/{member['id']}"), 204)
    removed = await call(stream, org["id"], "chat.send", send("three"))
    assert (removed["ok"], removed["status"], removed["error"]["code"]) == (False, 404, "org_not_found")
    history = check(await owner.get(f"/orgs/{org['id']}/conversations/{group['id']}/messages"), 200)
    assert [m["body"] for m in history["items"]] == ["one", "two"]
    await stream.close()


async def test_a_call_after_sign_out_ends_the_connection_after_earlier_calls_too(new_client, stream_server) -> None:
    owner, org = await owner_with_org(new_client)
    group = await group_chat(owner, org, [])
    stream = await live_stream(stream_server, owner)
    params = {"conversation_id": group["id"], "message": {"client_msg_id": unique("c"), "body": "x"}}
    assert (await call(stream, org["id"], "chat.send", params))["ok"] is True
    check(await owner.post("/auth/sign-out"), 204)
    await stream.send({"type": "call", "id": "c2", "action": "chat.send", "org_id": org["id"],
                       "params": {"conversation_id": group["id"], "message": {"client_msg_id": "b", "body": "y"}}})
    code, frames = await stream.closed()
    assert code == 4401 and frames[-1]["code"] == "session_ended"
