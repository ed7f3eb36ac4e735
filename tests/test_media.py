"""Media sessions against a real Janus: who gets in, and what Janus refuses.

A join token is on one room's allow-list from the moment Tack hands it out until the person is
removed, leaves, or the token expires; Janus itself refuses everything else (forged tokens, another
room's, expired ones, a removed person's), and nobody opens a Janus session without a core token.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import select

from tack.core.db import get_database, run_after_commit
from tack.core.event_models import Event as EventRecord
from tack.media import local
from tack.media import service as media
from tack.media.models import MediaGrant, MediaServer, ServerStatus
from tests.factories import check, owner_with_org
from tests.janus_peer import JanusPeer, forget_media_servers, register_janus, start_janus
from tests.test_rooms import error_code, join, room_url, school_class, start_class

UNAUTHORIZED_TOKEN = 433  # VideoRoom: "Unauthorized (not in the allowed list)"


async def _media(client, org: dict, room: dict, body: dict | None = None, status: int = 200) -> dict:  # type: ignore[no-untyped-def]
    return check(await client.post(room_url(org, room, "/media"), json=body or {}), status)


async def _janus_join(j: local.LocalJanus, session: dict, *, token: str | None = None,
                      room: int | None = None) -> dict:
    peer = JanusPeer(j.api_url, session["core_token"])
    try:
        opened = await peer.open()
        assert opened.get("janus") == "success", opened
        return await peer.join(room or session["room"], session["feed_id"],
                               session["join_token"] if token is None else token)
    finally:
        await peer.close()


async def test_a_seated_student_gets_into_the_media_room_and_janus_checks_the_token(new_client, media_server, janus):
    org, _, (teacher, _), [(student, _), (other, _)], group = await school_class(new_client)
    room = await start_class(teacher, org, group)
    await join(teacher, org, room)
    ticket = await join(student, org, room)
    assert ticket["media"]["available"] is True

    session = await _media(student, org, room, {"token": ticket["media"]["token"]})
    assert session["mode"] == "interactive" and session["server"] == janus.public_url
    assert session["join_token"] == ticket["media"]["token"]  # the join ticket's token is the one Janus checks
    assert session["may_publish"] is False  # a student in a class publishes only when allowed
    teacher_session = await _media(teacher, org, room)
    assert teacher_session["may_publish"] is True and teacher_session["room"] == session["room"]

    joined = await _janus_join(janus, session)
    assert joined.get("videoroom") == "joined", joined
    # Janus refuses tokens that are not on this room's allow-list: forged or made up.
    forged = ticket["media"]["token"][:-6] + "AAAAA="
    assert (await _janus_join(janus, session, token=forged))["error_code"] == UNAUTHORIZED_TOKEN
    assert (await _janus_join(janus, session, token=None or "made-up"))["error_code"] == UNAUTHORIZED_TOKEN
    # Tack refuses a forged token, and another person's.
    assert error_code(await student.post(room_url(org, room, "/media"), json={"token": forged})) == "media_token_invalid"
    await join(other, org, room)
    refused = await other.post(room_url(org, room, "/media"), json={"token": ticket["media"]["token"]})
    assert refused.status_code == 403 and error_code(refused) == "media_token_invalid"


async def test_no_janus_session_without_a_core_token_tack_signed(media_server, janus):
    for token in (None, "1999999999,janus,janus.plugin.videoroom:Zm9yZ2VkIHNpZ25hdHVyZQ=="):
        peer = JanusPeer(janus.api_url, token)
        try:
            answer = await peer.open()
        finally:
            await peer.close()
        assert answer["janus"] == "error" and answer["error"]["code"] == 403


async def test_a_token_is_good_for_its_own_room_only(new_client, media_server, janus):
    org, _, (teacher, _), [(student, _), _], group = await school_class(new_client)
    room = await start_class(teacher, org, group)
    await join(teacher, org, room)
    await join(student, org, room)
    session = await _media(student, org, room)
    meeting = check(await teacher.post(f"/orgs/{org['id']}/rooms", json={"kind": "meeting", "title": "Staff"}), 201)
    await join(teacher, org, meeting)
    other_room = await _media(teacher, org, meeting)
    assert other_room["room"] != session["room"]
    answer = await _janus_join(janus, session, room=other_room["room"])
    assert answer["error_code"] == UNAUTHORIZED_TOKEN
    # And Tack does not take one room's token for another.
    moved = await teacher.post(room_url(org, meeting, "/media"), json={"token": session["join_token"]})
    assert moved.status_code == 403 and error_code(moved) == "media_token_invalid"


async def test_a_removed_student_is_revoked_before_the_kick_and_cannot_come_back(new_client, media_server, janus):
    org, _, (teacher, _), [(student, _), _], group = await school_class(new_client)
    room = await start_class(teacher, org, group)
    await join(teacher, org, room)
    ticket = await join(student, org, room)
    session = await _media(student, org, room, {"token": ticket["media"]["token"]})
    assert (await _janus_join(janus, session))["videoroom"] == "joined"
    check(await teacher.delete(room_url(org, room, f"/participants/{ticket['participant']['id']}")), 204)
    # The token the removed student still holds is off the allow-list.
    assert (await _janus_join(janus, session))["error_code"] == UNAUTHORIZED_TOKEN
    # And Tack hands out no new one.
    refused = await student.post(room_url(org, room, "/media"), json={})
    assert refused.status_code == 403
    async with get_database().session() as db:
        grants = (await db.execute(select(MediaGrant).where(MediaGrant.room_id == room["id"],
                                                            MediaGrant.participant_id == ticket["participant"]["id"]))).all()
    assert grants == []


async def test_an_expired_token_is_taken_off_the_allow_list(new_client, media_server, janus, monkeypatch):
    from tack.core.config import get_settings

    org, _, (teacher, _), [(student, _), _], group = await school_class(new_client)
    room = await start_class(teacher, org, group)
    await join(teacher, org, room)
    monkeypatch.setattr(get_settings(), "room_media_token_seconds", -1.0)  # tokens made from now on are expired
    ticket = await join(student, org, room)
    refused = await student.post(room_url(org, room, "/media"), json={"token": ticket["media"]["token"]})
    assert refused.status_code == 403 and error_code(refused) == "media_token_expired"
    monkeypatch.setattr(get_settings(), "room_media_token_seconds", 300.0)
    session = await _media(student, org, room)
    assert (await _janus_join(janus, session))["videoroom"] == "joined"
    # Time passes: the grant expires, and the housekeeping takes the token off the allow-list.
    async with get_database().session() as db:
        grant = (await db.execute(select(MediaGrant).where(MediaGrant.token == session["join_token"]))).scalar_one()
        grant.expires_at = grant.created_at
        await db.commit()
    async with get_database().session() as db:
        assert await media.revoke_expired(db) == 1
        await db.commit()
        await run_after_commit(db)
    assert (await _janus_join(janus, session))["error_code"] == UNAUTHORIZED_TOKEN


async def test_without_a_media_server_rooms_work_and_media_says_unavailable(new_client):
    await forget_media_servers()
    org, _, (teacher, _), [(student, _), _], group = await school_class(new_client)
    room = await start_class(teacher, org, group)
    ticket = await join(student, org, room)
    assert ticket["media"]["available"] is False
    session = await _media(student, org, room)
    assert session == {**session, "mode": "unavailable", "reason": "no_media_server", "join_token": None}


async def test_media_is_for_seated_people_of_the_room_only(new_client, media_server):
    org, admin, (teacher, _), [(student, _), (absent, _)], group = await school_class(new_client)
    room = await start_class(teacher, org, group)
    await join(student, org, room)
    # In the class but not joined: no media.
    assert (await absent.post(room_url(org, room, "/media"), json={})).status_code == 403
    # Another organization's member: not even the room.
    stranger_org, _, (stranger, _), _, _ = await school_class(new_client, students=0)
    other = await stranger.post(f"/orgs/{org['id']}/rooms/{room['id']}/media", json={})
    assert other.status_code in (403, 404)
    assert (await stranger.post(f"/orgs/{stranger_org['id']}/rooms/{room['id']}/media", json={})).status_code == 404
    # Signed out: no.
    assert (await new_client().post(room_url(org, room, "/media"), json={})).status_code == 401


async def test_ending_the_room_destroys_its_media_room(new_client, media_server, janus):
    org, _, (teacher, _), [(student, _), _], group = await school_class(new_client)
    room = await start_class(teacher, org, group)
    await join(teacher, org, room)
    session = await _media(teacher, org, room)
    listed = await media.control(media_server).videoroom("list", admin_key=janus.admin_key)
    assert session["room"] in [r["room"] for r in listed["list"]]
    check(await teacher.post(room_url(org, room, "/end")), 200)
    listed = await media.control(media_server).videoroom("list", admin_key=janus.admin_key)
    assert session["room"] not in [r["room"] for r in listed["list"]]


async def test_a_dead_media_server_s_rooms_move_and_people_are_told_to_reconnect(
    new_client, media_server, janus, tmp_path
):
    org, _, (teacher, _), [(student, _), _], group = await school_class(new_client)
    room = await start_class(teacher, org, group)
    await join(teacher, org, room)
    await join(student, org, room)
    first = await _media(student, org, room)
    spare_janus = start_janus(tmp_path / "spare", "24200-24399")
    try:
        spare = await register_janus("spare-janus", spare_janus)
        # The first server stops answering three looks in a row.
        for _ in range(media.DOWN_AFTER_FAILURES):
            async with get_database().session() as db:
                await media.record_probes(db, {media_server.id: media.Probe(ok=False, error="gone"),
                                               spare.id: media.Probe(ok=True)})
                await db.commit()
                await run_after_commit(db)
        async with get_database().session() as db:
            statuses = dict((await db.execute(select(MediaServer.name, MediaServer.status))).all())
            moved = (await db.execute(select(EventRecord).where(EventRecord.kind == "room.media_moved"))).scalars().all()
        assert statuses == {"test-janus": ServerStatus.down, "spare-janus": ServerStatus.up}
        assert any(e.data["room_id"] == room["id"] for e in moved)
        # The student keeps the seat and gets media on the other server.
        again = await _media(student, org, room)
        assert again["server"] == spare_janus.public_url and again["generation"] == first["generation"] + 1
        assert (await _janus_join(spare_janus, again))["videoroom"] == "joined"
    finally:
        local.stop(spare_janus)
        shutil.rmtree(Path(spare_janus.folder), ignore_errors=True)


async def test_a_student_who_publishes_without_leave_is_muted_and_a_presenter_may_publish(
    new_client, media_server, janus
):
    from tests.janus_peer import Publisher

    org, _, (teacher, _), [(student, _), _], group = await school_class(new_client)
    room = await start_class(teacher, org, group)
    await join(teacher, org, room)
    ticket = await join(student, org, room)
    session = await _media(student, org, room)
    assert session["may_publish"] is False
    # A client that ignores may_publish: Janus lets it publish ...
    rogue = Publisher(janus.api_url, session["core_token"])
    try:
        await rogue.open()
        assert (await rogue.join(session["room"], session["feed_id"], session["join_token"]))["videoroom"] == "joined"
        await rogue.publish()
        # ... and Tack's round mutes it there.
        async with get_database().session() as db:
            assert await media.enforce_publishing(db) == 1
    finally:
        await rogue.close()
    # Made presenter, the student may publish.
    check(await teacher.patch(room_url(org, room, f"/participants/{ticket['participant']['id']}"),
                              json={"role": "presenter"}), 200)
    assert (await _media(student, org, room))["may_publish"] is True


async def test_asking_to_watch_is_for_the_room_s_own_seated_people_and_not_for_hosts(new_client, media_server, janus):
    org, _, (teacher, _), [(student, _), (absent, _)], group = await school_class(new_client)
    room = await start_class(teacher, org, group)
    await join(teacher, org, room)
    await join(student, org, room)
    # A student may watch (the teacher does not publish yet: the broadcast is not there yet).
    watching = await _media(student, org, room, {"watch": True})
    assert watching == {**watching, "mode": "broadcast", "reason": "chosen", "broadcast": None, "join_token": None}
    # In the class but not joined: no media, watching or not.
    refused = await absent.post(room_url(org, room, "/media"), json={"watch": True})
    assert refused.status_code == 403 and error_code(refused) == "not_in_room"
    # Another organization's member: not even the room.
    stranger_org, _, (stranger, _), _, _ = await school_class(new_client, students=0)
    other = await stranger.post(room_url(org, room, "/media"), json={"watch": True})
    assert other.status_code in (403, 404)
    assert (await stranger.post(f"/orgs/{stranger_org['id']}/rooms/{room['id']}/media",
                                json={"watch": True})).status_code == 404
    # The host stays in the live room (the broadcast is the host's camera).
    host = await teacher.post(room_url(org, room, "/media"), json={"watch": True})
    assert host.status_code == 403 and error_code(host) == "watch_not_allowed"
    assert "live room" in host.json()["error"]["message"]
    # Not a boolean: a validation error, not a 500.
    bad = await student.post(room_url(org, room, "/media"), json={"watch": "sometimes"})
    assert bad.status_code == 422


async def test_a_guest_who_asks_to_watch_is_revoked_in_janus(new_client, media_server, janus):
    owner, org = await owner_with_org(new_client)
    room = check(await owner.post(f"/orgs/{org['id']}/rooms",
                                  json={"kind": "meeting", "title": "Open day", "allow_guests": True}), 201)
    await join(owner, org, room)
    guest = new_client(csrf=False)
    code = room["guest_code"]
    ticket = check(await guest.post(f"/guest/rooms/{code}/join",
                                    json={"display_name": "Visitor", "passcode": room["guest_passcode"]}), 200)
    live = check(await guest.post(f"/guest/rooms/{code}/media",
                                  json={"ticket": ticket["ticket"], "token": ticket["media"]["token"]}), 200)
    assert live["mode"] == "interactive" and live["may_publish"] is True  # a meeting's guest may speak
    assert (await _janus_join(janus, live))["videoroom"] == "joined"
    watching = check(await guest.post(f"/guest/rooms/{code}/media", json={"ticket": ticket["ticket"], "watch": True}),
                     200)
    assert watching["mode"] == "broadcast" and watching["reason"] == "chosen"
    assert (await _janus_join(janus, live))["error_code"] == UNAUTHORIZED_TOKEN
    # Back to the live room: a token on the allow-list again, which Janus takes.
    again = check(await guest.post(f"/guest/rooms/{code}/media", json={"ticket": ticket["ticket"]}), 200)
    assert again["mode"] == "interactive"
    assert (await _janus_join(janus, again))["videoroom"] == "joined"
    # Another room's ticket is no ticket here.
    forged = await guest.post(f"/guest/rooms/{code}/media", json={"ticket": ticket["ticket"][:-4] + "AAAA", "watch": True})
    assert forged.status_code in (401, 403)
