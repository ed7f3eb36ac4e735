"""The real-time stream over real WebSockets: ready, live delivery, resume, resync, filtering by
channel and organization, authentication, slow consumers, membership and session changes."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from datetime import timedelta

import pytest

from tack.core.broker import publish_ephemeral
from tack.core.db import get_database
from tack.core.events import member_channel, prune_events
from tests.factories import add_member, check, owner_with_org
from tests.streams import StreamServer, connect, emit_now, live_stream, positions


async def test_ready_then_live_events(new_client, stream_server: StreamServer) -> None:
    client, org = await owner_with_org(new_client)
    before = await emit_now(org["id"], count=2)
    stream = await connect(stream_server, client)
    ready = await stream.hello()
    mine = ready["orgs"][org["id"]]
    assert mine["position"] == before[-1]
    assert mine["member_id"] == org["member_id"]
    assert len(mine["epoch"]) == 16
    assert ready["ping_interval"] == stream_server.hub.config.ping_seconds
    assert await stream.until_live() == []  # no cursor: nothing is replayed
    [position] = await emit_now(org["id"], "org", "thing.happened", {"text": "你好"})
    [event] = await stream.events(1)
    assert event == {
        "type": "event", "org_id": org["id"], "position": position, "channel": "org",
        "kind": "thing.happened", "data": {"text": "你好", "n": 0}, "at": event["at"],
    }
    assert event["at"].endswith("Z")
    await stream.close()


async def test_resume_gets_every_missed_event_once_in_order(new_client, stream_server: StreamServer) -> None:
    client, org = await owner_with_org(new_client)
    _, other = await add_member(new_client, client, org)
    me = org["member_id"]
    stream = await connect(stream_server, client)
    ready = await stream.hello()
    await stream.until_live()
    cursor = ready["orgs"][org["id"]]
    first = await emit_now(org["id"], count=3)
    got = await stream.events(3)
    assert positions(got) == first
    await stream.close()

    # Away: events for everyone, for me, and for someone else.
    missed = await emit_now(org["id"], count=4)
    missed += await emit_now(org["id"], member_channel(me), count=2)
    await emit_now(org["id"], member_channel(other["id"]), count=2)
    missed += await emit_now(org["id"], count=1)

    stream = await connect(stream_server, client)
    cursor = {"position": got[-1]["position"], "epoch": cursor["epoch"]}
    ready = await stream.hello({org["id"]: cursor})
    assert ready["orgs"][org["id"]]["position"] == cursor["position"]

    # Events keep coming while the replay runs: the replay and the live feed must join up exactly.
    async def more() -> list[int]:
        found = []
        for _ in range(10):
            found += await emit_now(org["id"])
            await asyncio.sleep(0.002)
        return found

    later_task = asyncio.create_task(more())
    replayed = await stream.until_live()
    later = await later_task
    assert [f["type"] for f in replayed] == ["event"] * len(replayed)
    got = replayed + await stream.events(len(missed) + len(later) - len(replayed))
    assert positions(got) == missed + later
    await stream.silent(0.2)
    await stream.close()


async def test_a_second_device_of_the_same_member_gets_the_same_events(new_client, stream_server) -> None:
    client, org = await owner_with_org(new_client)
    phone, laptop = await connect(stream_server, client), await connect(stream_server, client)
    for device in (phone, laptop):
        await device.hello()
        await device.until_live()
    sent = await emit_now(org["id"], member_channel(org["member_id"]), count=3)
    assert positions(await phone.events(3)) == sent
    assert positions(await laptop.events(3)) == sent


async def test_outside_a_channel_nothing_arrives_and_joins_and_leaves_apply(new_client, stream_server) -> None:
    admin, org = await owner_with_org(new_client)
    alice_client, alice = await add_member(new_client, admin, org)
    bob_client, bob = await add_member(new_client, admin, org)
    alice_stream, bob_stream = await connect(stream_server, alice_client), await connect(stream_server, bob_client)
    for stream in (alice_stream, bob_stream):
        await stream.hello()
        await stream.until_live()

    await emit_now(org["id"], "room:r1", data={"text": "before anyone joined"})
    [for_bob] = await emit_now(org["id"], member_channel(bob["id"]), data={"private": True})
    [joined] = await emit_now(org["id"], member_channel(alice["id"]), "room.joined", {"join_channel": "room:r1"})
    [inside] = await emit_now(org["id"], "room:r1", data={"text": "for the room"})
    [left] = await emit_now(org["id"], member_channel(alice["id"]), "room.left", {"leave_channel": "room:r1"})
    await emit_now(org["id"], "room:r1", data={"text": "after alice left"})
    [everyone] = await emit_now(org["id"], "org")

    assert positions(await alice_stream.events(4)) == [joined, inside, left, everyone]
    assert positions(await bob_stream.events(2)) == [for_bob, everyone]
    await alice_stream.silent(0.2)
    await bob_stream.silent(0.1)


async def test_resume_replays_channel_membership_as_it_was(new_client, stream_server) -> None:
    admin, org = await owner_with_org(new_client)
    alice_client, alice = await add_member(new_client, admin, org)
    stream = await connect(stream_server, alice_client)
    ready = await stream.hello()
    await stream.until_live()
    await stream.close()
    start = ready["orgs"][org["id"]]

    await emit_now(org["id"], "room:r2", data={"text": "before she joined"})
    [joined] = await emit_now(org["id"], member_channel(alice["id"]), "room.joined", {"join_channel": "room:r2"})
    [inside] = await emit_now(org["id"], "room:r2", data={"text": "while she was in"})
    [left] = await emit_now(org["id"], member_channel(alice["id"]), "room.left", {"leave_channel": "room:r2"})
    await emit_now(org["id"], "room:r2", data={"text": "after she left"})
    [joined_again] = await emit_now(org["id"], member_channel(alice["id"]), "room.joined", {"join_channel": "room:r2"})

    stream = await connect(stream_server, alice_client)
    await stream.hello({org["id"]: start})
    replayed = await stream.until_live()
    assert positions(replayed) == [joined, inside, left, joined_again]
    # And she is in the room again now.
    [now] = await emit_now(org["id"], "room:r2")
    assert positions(await stream.events(1)) == [now]


async def test_members_of_another_organization_receive_nothing(new_client, stream_server) -> None:
    _, org = await owner_with_org(new_client)
    stranger, other_org = await owner_with_org(new_client)
    stream = await connect(stream_server, stranger)
    ready = await stream.hello({org["id"]: {"position": 0}})
    assert set(ready["orgs"]) == {other_org["id"]}  # the cursor of an org they are not in is ignored
    await stream.until_live()
    await emit_now(org["id"], "org", count=3)
    await emit_now(org["id"], member_channel(other_org["member_id"]))  # even a member id of theirs
    await stream.silent(0.3)


async def test_rolled_back_events_are_never_delivered(new_client, stream_server) -> None:
    client, org = await owner_with_org(new_client)
    stream = await live_stream(stream_server, client)
    [kept] = await emit_now(org["id"])
    rolled_back = await emit_now(org["id"], count=2, fail=True)
    [next_one] = await emit_now(org["id"], data={"after": "rollback"})
    assert rolled_back == [kept + 1, kept + 2]
    assert next_one == kept + 1  # positions stay dense: the rolled-back ones are handed out again
    got = await stream.events(2)
    assert positions(got) == [kept, next_one]
    assert got[1]["data"] == {"after": "rollback", "n": 0}


async def test_a_gap_too_large_is_answered_with_resync(new_client, stream_server) -> None:
    client, org = await owner_with_org(new_client)
    stream = await connect(stream_server, client)
    ready = await stream.hello()
    await stream.until_live()
    await stream.close()
    cursor = ready["orgs"][org["id"]]
    limit = stream_server.hub.config.max_replay
    sent = await emit_now(org["id"], count=limit + 1)

    stream = await connect(stream_server, client)
    ready = await stream.hello({org["id"]: cursor})
    frames = await stream.until_live()
    assert frames == [{
        "type": "resync", "org_id": org["id"], "reason": "too_far_behind", "epoch": cursor["epoch"],
        "position": sent[-1],
    }]
    assert ready["orgs"][org["id"]]["position"] == sent[-1]
    [after] = await emit_now(org["id"])
    assert positions(await stream.events(1)) == [after]

    # Exactly the limit still replays.
    await stream.close()
    more = await emit_now(org["id"], count=limit)
    stream = await connect(stream_server, client)
    await stream.hello({org["id"]: {"position": after, "epoch": cursor["epoch"]}})
    assert positions(await stream.until_live()) == more


async def test_another_epoch_or_a_cursor_ahead_is_answered_with_resync(new_client, stream_server) -> None:
    client, org = await owner_with_org(new_client)
    [last] = await emit_now(org["id"])
    stream = await connect(stream_server, client)
    await stream.hello({org["id"]: {"position": last - 1, "epoch": "0123456789abcdef"}})
    [resync] = await stream.until_live()
    assert resync["type"] == "resync" and resync["reason"] == "epoch_changed"
    assert resync["position"] == last and resync["epoch"] != "0123456789abcdef"
    await stream.close()

    stream = await connect(stream_server, client)
    await stream.hello({org["id"]: {"position": last + 5, "epoch": resync["epoch"]}})
    [resync] = await stream.until_live()
    assert resync["reason"] == "cursor_ahead" and resync["position"] == last


async def test_a_cursor_older_than_retention_is_answered_with_resync(new_client, stream_server) -> None:
    client, org = await owner_with_org(new_client)
    stream = await connect(stream_server, client)
    ready = await stream.hello()
    await stream.until_live()
    await stream.close()
    cursor = ready["orgs"][org["id"]]
    sent = await emit_now(org["id"], count=5)
    assert await prune_events(get_database(), older_than=timedelta(0), org_ids=[org["id"]]) >= 5

    stream = await connect(stream_server, client)
    await stream.hello({org["id"]: cursor})
    [resync] = await stream.until_live()
    assert resync["reason"] == "expired" and resync["position"] == sent[-1]
    # A cursor at the pruned end is still good.
    await stream.close()
    stream = await connect(stream_server, client)
    await stream.hello({org["id"]: {"position": sent[-1], "epoch": cursor["epoch"]}})
    assert await stream.until_live() == []


async def test_a_slow_consumer_is_dropped_with_4008_and_others_keep_up(new_client, stream_server, stream_config) -> None:
    client, org = await owner_with_org(new_client)
    stream_config(send_queue=8, max_replay=500)
    # A client that stops reading: a small receive buffer, and the library reads ahead one frame.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", int(stream_server.origin.rsplit(":", 1)[1])))
    slow = await connect(stream_server, client, sock=sock, max_queue=1)
    ready = await slow.hello()
    await slow.until_live()
    stream_config(send_queue=2000)
    fast = await live_stream(stream_server, client)

    big = {"blob": "x" * 60_000}
    sent: list[int] = []
    for _ in range(12):
        sent += await emit_now(org["id"], data=big, count=10)
        got = await fast.events(10, within=5)  # the fast one is never held up
        assert positions(got) == sent[-10:]
    code, frames = await slow.closed(within=20)
    assert code == 4008
    assert frames[-1] == {"type": "error", "code": "too_slow", "message": frames[-1]["message"]}
    received = [f["position"] for f in slow.frames + frames if f.get("type") == "event"]
    assert received == sent[: len(received)] and len(received) < len(sent)

    # It resumes from where it got to and gets the rest, exactly.
    again = await connect(stream_server, client)
    last = received[-1] if received else ready["orgs"][org["id"]]["position"]
    await again.hello({org["id"]: {"position": last, "epoch": ready["orgs"][org["id"]]["epoch"]}})
    rest = await again.until_live(within=10)
    assert positions(rest) == sent[len(received):]


async def test_signals_are_delivered_live_and_never_replayed(new_client, stream_server) -> None:
    client, org = await owner_with_org(new_client)
    stream = await connect(stream_server, client)
    ready = await stream.hello()
    await stream.until_live()
    await publish_ephemeral(org["id"], "org", "typing", {"member_id": org["member_id"]})
    signal = await stream.next()
    assert signal["type"] == "signal" and signal["kind"] == "typing" and signal["channel"] == "org"
    assert "position" not in signal
    await publish_ephemeral(org["id"], "room:nobody-is-in", "typing", {})
    await stream.silent(0.2)
    await stream.close()
    stream = await connect(stream_server, client)
    await stream.hello({org["id"]: ready["orgs"][org["id"]]})
    assert await stream.until_live() == []


async def test_heartbeats(new_client, stream_server) -> None:
    client, org = await owner_with_org(new_client)
    stream = await connect(stream_server, client)
    ready = await stream.hello()
    await stream.until_live()
    await stream.send({"type": "ping"})
    assert await stream.next() == {"type": "pong"}
    # A server ping carries the positions a client may resume from, so idle cursors move on.
    await emit_now(org["id"], member_channel("0" * 26))  # for someone else
    await stream_server.hub.heartbeat()
    ping = await stream.next(skip=())
    assert ping["type"] == "ping"
    assert ping["positions"][org["id"]] == ready["orgs"][org["id"]]["position"] + 1


async def test_a_client_silent_too_long_is_dropped(new_client, stream_server, stream_config) -> None:
    client, _ = await owner_with_org(new_client)
    stream = await live_stream(stream_server, client)
    stream_config(ping_seconds=-3)  # every client now counts as silent for too long
    await stream_server.hub.heartbeat()
    code, frames = await stream.closed()
    assert code == 4408 and frames[-1]["code"] == "heartbeat_timeout"


async def test_a_late_heartbeat_round_judges_nobody_silent(new_client, stream_server, stream_config) -> None:
    """A round that runs late means the server's loop was held: the clients' answers may be unread."""
    client, _ = await owner_with_org(new_client)
    stream = await live_stream(stream_server, client)
    stream_config(ping_seconds=-3)  # every client counts as silent for too long...
    hub = stream_server.hub
    hub._last_heartbeat = time.monotonic() - 60  # ...but this round comes a minute late
    await hub.heartbeat()
    ping = await stream.next(skip=())
    assert ping["type"] == "ping"  # pinged, not dropped
    await stream.send({"type": "ping"})
    assert await stream.next() == {"type": "pong"}
    await hub.heartbeat()  # on time: judged
    code, frames = await stream.closed()
    assert code == 4408 and frames[-1]["code"] == "heartbeat_timeout"


async def test_the_first_frame_must_be_a_hello(new_client, stream_server) -> None:
    client, _ = await owner_with_org(new_client)
    stream = await connect(stream_server, client)
    await stream.ws.send("good morning")
    code, frames = await stream.closed()
    assert code == 4400 and frames == [{"type": "error", "code": "protocol_error", "message": frames[0]["message"]}]


async def test_cookie_auth_from_a_foreign_origin_is_refused(new_client, stream_server) -> None:
    client, _ = await owner_with_org(new_client)
    for origin in ("http://evil.example", "null", "http://127.0.0.1:1"):
        stream = await connect(stream_server, client, origin=origin)
        code, frames = await stream.closed()
        assert code == 4403, origin
        assert frames == [{"type": "error", "code": "origin_not_allowed", "message": frames[0]["message"]}]
    # No Origin at all: not a browser, so no hijacking risk.
    stream = await connect(stream_server, client, origin=None)
    assert (await stream.hello())["type"] == "ready"


async def test_without_credentials_or_with_a_bad_token_the_stream_is_refused(new_client, stream_server) -> None:
    stream = await connect(stream_server)
    code, frames = await stream.closed()
    assert code == 4401 and frames[0]["code"] == "not_authenticated"
    stream = await connect(stream_server, token="tack_pat_nonsense")
    code, frames = await stream.closed()
    assert code == 4401 and frames[0]["code"] == "invalid_token"


async def test_bearer_tokens_in_the_header_or_the_query(new_client, stream_server) -> None:
    client, org = await owner_with_org(new_client)
    token = check(await client.post("/me/tokens", json={"name": "stream"}), 201)["token"]
    header = await connect(stream_server, token=token, origin="http://elsewhere.example")
    query = await connect(stream_server, query_token=token, origin="http://elsewhere.example")
    for stream in (header, query):
        assert org["id"] in (await stream.hello())["orgs"]
        await stream.until_live()
    [position] = await emit_now(org["id"])
    for stream in (header, query):
        assert positions(await stream.events(1)) == [position]


async def test_a_removed_member_stops_receiving(new_client, stream_server) -> None:
    admin, org = await owner_with_org(new_client)
    member_client, member = await add_member(new_client, admin, org)
    stream = await live_stream(stream_server, member_client)
    check(await admin.delete(f"/orgs/{org['id']}/members/{member['id']}"), 204)
    removed = await stream.next()
    assert removed["type"] == "event" and removed["kind"] == "member.removed"
    assert await stream.next() == {"type": "left", "org_id": org["id"], "reason": "membership_removed"}
    await emit_now(org["id"], "org")
    await stream.silent(0.3)
    # Reconnecting does not bring it back.
    stream = await connect(stream_server, member_client)
    assert org["id"] not in (await stream.hello())["orgs"]


async def test_removed_and_added_back_while_away_resumes_as_a_member(new_client, stream_server) -> None:
    admin, org = await owner_with_org(new_client)
    member_client, member = await add_member(new_client, admin, org)
    stream = await connect(stream_server, member_client)
    cursor = (await stream.hello())["orgs"][org["id"]]
    await stream.until_live()
    await stream.close()
    check(await admin.delete(f"/orgs/{org['id']}/members/{member['id']}"), 204)
    [while_out] = await emit_now(org["id"])
    body = {"display_name": member["display_name"], "email": member["email"], "roles": ["member"]}
    check(await admin.post(f"/orgs/{org['id']}/members", json=body), 201)
    [back] = await emit_now(org["id"])

    stream = await connect(stream_server, member_client)
    await stream.hello({org["id"]: cursor})
    replayed = await stream.until_live()
    # The removal and the return are part of their history; what happened in between is not theirs.
    assert [f["kind"] for f in replayed] == ["member.removed", "member.returned", "test.event"]
    assert positions(replayed)[2] == back and while_out not in positions(replayed)
    [now] = await emit_now(org["id"])
    assert positions(await stream.events(1)) == [now]


async def test_a_revoked_session_ends_the_connection(new_client, stream_server) -> None:
    client, org = await owner_with_org(new_client)
    stream = await live_stream(stream_server, client)
    cookie = client.cookies.get("tack_session")
    check(await client.post("/auth/sign-out"), 204)
    await stream_server.hub.recheck()
    code, frames = await stream.closed()
    assert code == 4401 and frames[-1]["code"] == "session_ended"
    # And it cannot connect again with it.
    client.cookies.set("tack_session", cookie)
    stream = await connect(stream_server, client)
    code, frames = await stream.closed()
    assert code == 4401


async def test_a_membership_ended_behind_the_streams_back_is_noticed_on_recheck(new_client, stream_server) -> None:
    admin, org = await owner_with_org(new_client)
    member_client, member = await add_member(new_client, admin, org)
    stream = await live_stream(stream_server, member_client)
    from sqlalchemy import update

    from tack.orgs.models import Membership

    database = get_database()
    async with database.session() as db:  # as if changed by another tool, with no event
        await db.execute(update(Membership).where(Membership.id == member["id"]).values(status="removed"))
        await db.commit()
    await stream_server.hub.recheck()
    assert await stream.next() == {"type": "left", "org_id": org["id"], "reason": "membership_removed"}
    await emit_now(org["id"])
    await stream.silent(0.2)


async def test_announcements_lost_are_recovered_from_the_log(new_client, stream_server) -> None:
    """An event committed without an announcement (another process, a lost message) still arrives."""
    client, org = await owner_with_org(new_client)
    stream = await live_stream(stream_server, client)
    from tack.core.events import emit

    async with get_database().session() as db:
        await db.connection(execution_options={"tack_write": True})
        silent = await emit(db, org_id=org["id"], channel="org", kind="test.unannounced", data={})
        await db.commit()  # no run_after_commit: nobody is told
    [announced] = await emit_now(org["id"])
    # The announced one reveals the gap, which is read from the log first.
    assert positions(await stream.events(2, within=3)) == [silent, announced]
    async with get_database().session() as db:
        await db.connection(execution_options={"tack_write": True})
        alone = await emit(db, org_id=org["id"], channel="org", kind="test.unannounced", data={})
        await db.commit()
    # With nothing after it, the poll finds it.
    assert positions(await stream.events(1, within=stream_server.hub.config.poll_seconds + 3)) == [alone]


@pytest.mark.parametrize("frame", [json.dumps({"type": "hello", "cursors": {"x": {"position": -1}}})])
async def test_a_malformed_hello_is_refused(new_client, stream_server, frame: str) -> None:
    client, _ = await owner_with_org(new_client)
    stream = await connect(stream_server, client)
    await stream.ws.send(frame)
    code, frames = await stream.closed()
    assert code == 4400 and frames[0]["code"] == "protocol_error"


def test_tokens_in_stream_addresses_are_kept_out_of_the_logs(app, caplog) -> None:  # type: ignore[no-untyped-def]
    import logging

    with caplog.at_level(logging.INFO, logger="uvicorn.error"):
        logging.getLogger("uvicorn.error").info(
            '%s - "WebSocket %s" [accepted]', "127.0.0.1:50000", "/api/v1/stream?access_token=tack_pat_secret"
        )
    assert "tack_pat_secret" not in caplog.text
    assert "access_token=[redacted]" in caplog.text
