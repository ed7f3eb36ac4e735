"""Real audio and video in a class, through a real Janus, in three browsers with fake cameras: the
teacher starts a class and is on camera; two students join from the class group and see and hear the
teacher (their browsers decode the teacher's video frames); the teacher mutes one student and removes
the other, whose media stops and who cannot get back into the media room. A class beyond its
interactive capacity, whose student watches the teacher's broadcast (HLS); a student who chooses the
broadcast and comes back. And a meeting's guest, who came by link and passcode, sees and hears the
host."""

from __future__ import annotations

import json
from typing import Any

import httpx
from playwright.async_api import Page, expect

from tack.demo.seed import DEMO_ADMIN_PASSWORD, SCHOOL_NAME
from tests.e2e.conftest import MediaLiveServer
from tests.e2e.pages import (
    CLASS_GROUP,
    STUDENT_LOGINS,
    TEACHER_LOGIN,
    open_class_group,
    participant,
    screenshot,
    sign_in,
)
from tests.janus_peer import JanusPeer

# Every RTCPeerConnection the page makes, so the test can read their statistics (getStats).
RECORD_PEER_CONNECTIONS = """
(() => {
  const Original = window.RTCPeerConnection;
  window.__tackPcs = [];
  window.RTCPeerConnection = function (...args) {
    const pc = new Original(...args);
    window.__tackPcs.push(pc);
    return pc;
  };
  window.RTCPeerConnection.prototype = Original.prototype;
  Object.setPrototypeOf(window.RTCPeerConnection, Original);
})();
"""

# What the page receives: video frames decoded and how its connections stand.
INBOUND_VIDEO = """
async () => {
  let frames = 0, packets = 0;
  const states = [];
  for (const pc of window.__tackPcs || []) {
    states.push(pc.connectionState + '/' + pc.iceConnectionState);
    if (pc.connectionState === 'closed') continue;
    const stats = await pc.getStats();
    stats.forEach((r) => {
      if (r.type === 'inbound-rtp' && (r.kind === 'video' || r.mediaType === 'video')) {
        frames += r.framesDecoded || 0;
        packets += r.packetsReceived || 0;
      }
    });
  }
  return {frames, packets, states};
}
"""


def _keep_media_sessions(page: Page) -> list[dict[str, Any]]:
    """The media sessions Tack hands this page (their join tokens, to try them again later)."""
    sessions: list[dict[str, Any]] = []

    async def seen(response) -> None:  # noqa: ANN001
        if response.request.method == "POST" and response.url.endswith("/media") and response.status == 200:
            try:
                sessions.append(json.loads(await response.text()))
            except Exception:  # noqa: BLE001 - a page that went away meanwhile
                pass

    page.on("response", seen)
    return sessions


async def _frames_rising(page: Page, label: str) -> tuple[int, int]:
    """Waits until the page decodes video, then reads framesDecoded twice, a second apart."""
    first: dict[str, Any] = {}
    for _ in range(40):
        first = await page.evaluate(INBOUND_VIDEO)
        if first["frames"] > 0:
            break
        await page.wait_for_timeout(500)
    assert first["frames"] > 0, f"{label} decodes no video: {first}"
    await page.wait_for_timeout(1000)
    second = await page.evaluate(INBOUND_VIDEO)
    assert second["frames"] > first["frames"], f"{label}: framesDecoded did not rise: {first} -> {second}"
    return first["frames"], second["frames"]


async def test_a_class_with_real_video_mute_and_removal(media_e2e_server: MediaLiveServer, media_browser) -> None:
    server, janus = media_e2e_server.server, media_e2e_server.janus
    teacher_context, teacher, teacher_name = await sign_in(media_browser, server, TEACHER_LOGIN, init_script=RECORD_PEER_CONNECTIONS)
    a_context, student_a, a_name = await sign_in(media_browser, server, STUDENT_LOGINS[0], init_script=RECORD_PEER_CONNECTIONS)
    b_context, student_b, b_name = await sign_in(media_browser, server, STUDENT_LOGINS[1], init_script=RECORD_PEER_CONNECTIONS)
    pages = {"teacher": teacher, "student-a": student_a, "student-b": student_b}
    b_sessions = _keep_media_sessions(student_b)
    try:
        for page in pages.values():
            await open_class_group(page)

        # 1. The teacher starts the class and is on camera (the fake camera's picture).
        await teacher.get_by_test_id("class-start").click()
        await expect(teacher.get_by_test_id("room-page")).to_have_attribute("data-my-role", "host")
        room_id = await teacher.get_by_test_id("room-page").get_attribute("data-room-id")
        org_id = teacher.url.split("/orgs/", 1)[1].split("/", 1)[0]
        panel = teacher.get_by_test_id("media-panel")
        await expect(panel).to_have_attribute("data-publishing", "true", timeout=15_000)
        await expect(teacher.locator('[data-testid="media-tile"][data-feed="self"]')).to_be_visible()
        await expect(teacher.get_by_test_id("media-mic")).to_have_attribute("data-on", "true")
        await expect(teacher.get_by_test_id("media-camera")).to_have_attribute("data-on", "true")

        # 2. The students join from the class group: they watch and listen (students do not publish
        # until the teacher lets them), and see the teacher's tile with the teacher's name.
        for student in (student_a, student_b):
            banner = student.get_by_test_id("room-banner")
            await expect(banner).to_have_attribute("data-room-id", room_id)
            await banner.get_by_test_id("room-join").click()
            await expect(student.get_by_test_id("room-page")).to_have_attribute("data-my-role", "attendee")
            await expect(student.get_by_test_id("media-panel")).to_have_attribute("data-publishing", "false", timeout=15_000)
            await expect(student.get_by_test_id("media-listen-only")).to_be_visible()
            tile = student.get_by_test_id("media-tile").filter(has_not=student.locator('[data-feed="self"]'))
            await expect(student.locator('[data-testid="media-tile"]:not([data-feed="self"])')).to_have_count(1, timeout=15_000)
            await expect(tile.get_by_test_id("media-tile-name")).to_have_text(teacher_name)

        # Both students' browsers decode the teacher's video, and keep decoding.
        a_frames = await _frames_rising(student_a, "student A")
        b_frames = await _frames_rising(student_b, "student B")
        await expect(student_a.get_by_test_id("media-quality")).not_to_have_attribute("data-level", "unknown", timeout=10_000)
        await screenshot(student_a, "e2e-media-student-sees-teacher")

        # 3. The teacher mutes student A: A is told, and A's microphone stays off.
        await participant(teacher, a_name).get_by_test_id("room-participant-mute").click()
        await expect(participant(teacher, a_name)).to_have_attribute("data-muted", "true")
        await expect(student_a.get_by_test_id("media-muted-by-host")).to_be_visible()
        await expect(student_a.get_by_test_id("room-muted-self")).to_be_visible()

        # The teacher lets student A present: A goes on camera (the microphone stays off: still muted),
        # and the teacher's browser decodes A's picture.
        await participant(teacher, a_name).get_by_test_id("room-participant-actions").click()
        await teacher.get_by_test_id("room-action-presenter").click()
        await expect(student_a.get_by_test_id("media-panel")).to_have_attribute("data-publishing", "true", timeout=15_000)
        await expect(student_a.get_by_test_id("media-mic")).to_have_attribute("data-on", "false")
        await expect(student_a.get_by_test_id("media-mic")).to_be_disabled()
        await expect(student_a.get_by_test_id("media-camera")).to_have_attribute("data-on", "true")
        a_tile = teacher.locator('[data-testid="media-tile"]:not([data-feed="self"])')
        await expect(a_tile).to_have_count(1, timeout=15_000)
        await expect(a_tile.get_by_test_id("media-tile-name")).to_have_text(a_name)
        await _frames_rising(teacher, "the teacher (student A's camera)")
        await screenshot(teacher, "e2e-media-teacher-sees-presenter")

        # The teacher unmutes A, A turns the microphone on, and the teacher mutes A again: A's microphone
        # goes off, on A's page and (the media server's moderation event) on A's tile at the teacher's.
        # (Speaking indicators are not checked here: the fake microphone's beep is too quiet for them.)
        mute_a = participant(teacher, a_name).get_by_test_id("room-participant-mute")
        await mute_a.click()
        await expect(participant(teacher, a_name)).to_have_attribute("data-muted", "false")
        await expect(student_a.get_by_test_id("media-mic")).to_be_enabled()
        await student_a.get_by_test_id("media-mic").click()
        await expect(student_a.get_by_test_id("media-mic")).to_have_attribute("data-on", "true")
        await mute_a.click()
        await expect(participant(teacher, a_name)).to_have_attribute("data-muted", "true")
        await expect(student_a.get_by_test_id("media-mic")).to_have_attribute("data-on", "false")
        await expect(student_a.get_by_test_id("media-muted-by-host")).to_be_visible()
        await expect(a_tile).to_have_attribute("data-mic", "off", timeout=5_000)

        # 4. The teacher removes student B: B's page says so, B's media stops, and B can neither get a
        # media session again nor get back into the media room with the join token B had.
        assert b_sessions and b_sessions[-1]["mode"] == "interactive", b_sessions
        old = b_sessions[-1]
        await participant(teacher, b_name).get_by_test_id("room-participant-actions").click()
        # (A's menu from before stays in the page, hidden: the visible one is B's.)
        await teacher.locator('[data-testid="room-action-remove"]:visible').click()
        await teacher.get_by_test_id("room-remove-confirm").click()
        await expect(student_b.get_by_test_id("room-removed")).to_be_visible()
        await expect(student_b.get_by_test_id("media-panel")).to_have_count(0)
        open_pcs = await student_b.evaluate(
            "() => (window.__tackPcs || []).filter((pc) => pc.connectionState !== 'closed').length"
        )
        assert open_pcs == 0, f"student B still has {open_pcs} open peer connections"
        refused = await student_b.evaluate(
            """async ([org, room]) => {
                const csrf = (document.cookie.match(/(?:^|; )tack_csrf=([^;]*)/) || [])[1] || '';
                const r = await fetch(`/api/v1/orgs/${org}/rooms/${room}/media`, {
                    method: 'POST', credentials: 'include',
                    headers: {'Content-Type': 'application/json', 'X-CSRF-Token': decodeURIComponent(csrf)},
                    body: JSON.stringify({token: null}),
                });
                return {status: r.status, body: await r.json()};
            }""",
            [org_id, room_id],
        )
        assert refused["status"] == 403, refused
        peer = JanusPeer(janus.api_url, old["core_token"])
        try:
            await peer.open()
            answer = await peer.join(old["room"], old["feed_id"], old["join_token"])
        finally:
            await peer.close()
        assert answer.get("error_code") == 433, answer

        # The teacher and student A carry on: A still decodes the teacher's video.
        await expect(teacher.get_by_test_id("room-participant")).to_have_count(2)
        await _frames_rising(student_a, "student A after the removal")
        print(f"framesDecoded A {a_frames}, B {b_frames}; refused {refused['body']}; janus {answer}")
    except Exception:
        for label, page in pages.items():
            await screenshot(page, f"e2e-media-failure-{label}")
        raise
    finally:
        await b_context.close()
        await a_context.close()
        await teacher_context.close()


async def test_beyond_the_interactive_capacity_a_student_watches_the_broadcast(
    broadcast_e2e_server: MediaLiveServer, media_browser
) -> None:
    server = broadcast_e2e_server.server
    teacher_context, teacher, _ = await sign_in(media_browser, server, TEACHER_LOGIN, init_script=RECORD_PEER_CONNECTIONS)
    student_context, student, _ = await sign_in(media_browser, server, STUDENT_LOGINS[0], init_script=RECORD_PEER_CONNECTIONS)
    pages = {"teacher": teacher, "student": student}
    sessions = _keep_media_sessions(student)
    console: list[str] = []
    student.on("console", lambda m: console.append(f"{m.type}: {m.text}"[:300]))
    requests: list[str] = []
    student.on("response", lambda r: requests.append(f"{r.status} {r.url[-40:]}") if "/media/hls/" in r.url else None)
    try:
        for page in pages.values():
            await open_class_group(page)
        await teacher.get_by_test_id("class-start").click()
        await expect(teacher.get_by_test_id("media-panel")).to_have_attribute("data-publishing", "true", timeout=15_000)
        await student.get_by_test_id("room-banner").get_by_test_id("room-join").click()

        # The room is full for interactive media (capacity 1: the teacher): the student watches the
        # broadcast, told why, and the player plays it a few seconds behind.
        broadcast = student.get_by_test_id("media-broadcast")
        await expect(broadcast).to_be_visible(timeout=15_000)
        await expect(broadcast).to_contain_text("You are watching the live broadcast")
        await expect(student.get_by_test_id("media-tile")).to_have_count(0)
        video = student.get_by_test_id("media-hls")
        await expect(video).to_be_visible(timeout=20_000)
        played = 0.0
        for _ in range(60):
            played = await video.evaluate("(v) => v.readyState >= 2 ? v.currentTime : 0")
            if played > 0.5:
                break
            await student.wait_for_timeout(500)
        if played <= 0.5:
            url = sessions[-1].get("broadcast", {}).get("hls_url") if sessions else None
            fetched = await student.evaluate(
                "async (u) => { if (!u) return null; const r = await fetch(u); return [r.status, (await r.text()).slice(0, 400)]; }",
                url,
            )
            folder = server.var_dir
            listing = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if "hls" in str(p) or "ffmpeg" in p.name)
            ffmpeg_logs = [p.read_text(errors="replace")[-1500:] for p in folder.rglob("ffmpeg.log")]
            state = await video.evaluate(
                "(v) => ({ready: v.readyState, net: v.networkState, error: v.error && v.error.message, paused: v.paused,"
                " src: v.currentSrc, buffered: v.buffered.length ? [v.buffered.start(0), v.buffered.end(0)] : null})"
            )
            raise AssertionError(
                f"the broadcast did not play (currentTime {played}); video {state}; console {console[-15:]}; "
                f"hls requests {requests[-12:]}; sessions {sessions}; playlist {fetched}; "
                f"files {listing}; ffmpeg {ffmpeg_logs}; server log:\n{server.log(3000)}"
            )
        await screenshot(student, "e2e-media-broadcast")
    except Exception:
        for label, page in pages.items():
            await screenshot(page, f"e2e-media-broadcast-failure-{label}")
        raise
    finally:
        await student_context.close()
        await teacher_context.close()


async def test_a_guest_sees_and_hears_the_host_of_a_meeting(media_e2e_server: MediaLiveServer, media_browser) -> None:
    """A guest who came by link and passcode has sound and picture like a member: the guest's browser
    decodes the host's video, and the host's decodes the guest's (a meeting's guests may speak)."""
    server = media_e2e_server.server
    async with httpx.AsyncClient(base_url=server.api_url, timeout=30) as api:
        signed = await api.post("/auth/sign-in", json={"login": TEACHER_LOGIN, "password": DEMO_ADMIN_PASSWORD})
        assert signed.status_code == 200, signed.text
        api.headers["X-CSRF-Token"] = signed.json()["csrf_token"]
        org = next(o for o in (await api.get("/orgs")).json() if o["name"] == SCHOOL_NAME)
        made = await api.post(f"/orgs/{org['id']}/rooms",
                              json={"kind": "meeting", "title": "家长会", "allow_guests": True})
        assert made.status_code == 201, made.text
        room = made.json()
    host_context, host, host_name = await sign_in(media_browser, server, TEACHER_LOGIN, init_script=RECORD_PEER_CONNECTIONS)
    guest_context = await media_browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 860})
    await guest_context.add_init_script(RECORD_PEER_CONNECTIONS)
    guest = await guest_context.new_page()
    pages = {"host": host, "guest": guest}
    guest_sessions = _keep_media_sessions(guest)
    try:
        await host.goto(f"{server.url}/orgs/{org['id']}/rooms/{room['id']}")
        await expect(host.get_by_test_id("media-panel")).to_have_attribute("data-publishing", "true", timeout=15_000)

        await guest.goto(f"{server.url}/guest/{room['guest_code']}")
        await guest.get_by_test_id("guest-name").fill("王女士")
        await guest.get_by_test_id("guest-passcode").fill(room["guest_passcode"])
        await guest.get_by_test_id("guest-join").click()
        await expect(guest.get_by_test_id("guest-page")).to_have_attribute("data-state", "in")
        await expect(guest.get_by_test_id("media-panel")).to_have_attribute("data-publishing", "true", timeout=15_000)
        remote = guest.locator('[data-testid="media-tile"]:not([data-feed="self"])')
        await expect(remote).to_have_count(1, timeout=15_000)
        await expect(remote.get_by_test_id("media-tile-name")).to_have_text(host_name)
        guest_frames = await _frames_rising(guest, "the guest (the host's camera)")
        assert guest_sessions and guest_sessions[0]["mode"] == "interactive", guest_sessions

        host_tile = host.locator('[data-testid="media-tile"]:not([data-feed="self"])')
        await expect(host_tile).to_have_count(1, timeout=15_000)
        await expect(host_tile.get_by_test_id("media-tile-name")).to_have_text("王女士")
        host_frames = await _frames_rising(host, "the host (the guest's camera)")
        await screenshot(guest, "e2e-media-guest-sees-host")
        print(f"framesDecoded guest {guest_frames}, host {host_frames}")
    except Exception:
        for label, page in pages.items():
            await screenshot(page, f"e2e-media-guest-failure-{label}")
        raise
    finally:
        await guest_context.close()
        await host_context.close()


async def _video_plays(page: Page, label: str) -> float:
    video = page.get_by_test_id("media-hls")
    await expect(video).to_be_visible(timeout=20_000)
    played = 0.0
    # Up to a minute: the first segments have to be written by ffmpeg and fetched by the player, and
    # on a loaded machine (the whole suite on 2 cores) that has taken over 30 s.
    for _ in range(120):
        played = await video.evaluate("(v) => v.readyState >= 2 ? v.currentTime : 0")
        if played > 0.5:
            return played
        await page.wait_for_timeout(500)
    raise AssertionError(f"{label}: the broadcast did not play (currentTime {played})")


async def test_a_student_chooses_the_broadcast_and_comes_back_to_the_live_room(
    media_e2e_server: MediaLiveServer, media_browser
) -> None:
    """What a poor network does by itself, by hand: a student leaves the live room for the broadcast
    (their join token stops working in Janus, the player plays), then comes back and decodes again."""
    server, janus = media_e2e_server.server, media_e2e_server.janus
    async with httpx.AsyncClient(base_url=server.api_url, timeout=30) as api:
        signed = await api.post("/auth/sign-in", json={"login": TEACHER_LOGIN, "password": DEMO_ADMIN_PASSWORD})
        assert signed.status_code == 200, signed.text
        api.headers["X-CSRF-Token"] = signed.json()["csrf_token"]
        org = next(o for o in (await api.get("/orgs")).json() if o["name"] == SCHOOL_NAME)
        groups = (await api.get(f"/orgs/{org['id']}/conversations", params={"limit": 100})).json()["items"]
        group = next(c for c in groups if c["kind"] == "class" and CLASS_GROUP in c["name"])
        started = await api.post(f"/orgs/{org['id']}/rooms", json={"kind": "class", "conversation_id": group["id"]})
        assert started.status_code in (200, 201), started.text  # 200: the class of an earlier test is still open
        room = started.json()
    room_url = f"{server.url}/orgs/{org['id']}/rooms/{room['id']}"
    teacher_context, teacher, _ = await sign_in(media_browser, server, TEACHER_LOGIN, init_script=RECORD_PEER_CONNECTIONS)
    student_context, student, _ = await sign_in(media_browser, server, "s.0101.03@demo.tack.example", init_script=RECORD_PEER_CONNECTIONS)
    pages = {"teacher": teacher, "student": student}
    sessions = _keep_media_sessions(student)
    try:
        await teacher.goto(room_url)
        await expect(teacher.get_by_test_id("media-panel")).to_have_attribute("data-publishing", "true", timeout=15_000)
        await student.goto(room_url)
        await expect(student.get_by_test_id("media-panel")).to_have_attribute("data-publishing", "false", timeout=15_000)
        await _frames_rising(student, "the student in the live room")
        live = sessions[-1]
        assert live["mode"] == "interactive", sessions

        await student.get_by_test_id("media-watch").click()
        broadcast = student.get_by_test_id("media-broadcast")
        await expect(broadcast).to_have_attribute("data-reason", "chosen", timeout=15_000)
        await expect(student.get_by_test_id("media-tile")).to_have_count(0)
        await _video_plays(student, "the student who chose the broadcast")
        assert sessions[-1]["mode"] == "broadcast" and sessions[-1]["reason"] == "chosen", sessions[-1]
        # The live room's join token the student had is off the allow-list now.
        peer = JanusPeer(janus.api_url, live["core_token"])
        try:
            await peer.open()
            answer = await peer.join(live["room"], live["feed_id"], live["join_token"])
        finally:
            await peer.close()
        assert answer.get("error_code") == 433, answer
        await screenshot(student, "e2e-media-chosen-broadcast")

        await student.get_by_test_id("media-back-live").click()
        await expect(student.get_by_test_id("media-panel")).to_have_attribute("data-publishing", "false", timeout=15_000)
        await expect(student.locator('[data-testid="media-tile"]:not([data-feed="self"])')).to_have_count(1, timeout=15_000)
        await _frames_rising(student, "the student back in the live room")
    except Exception:
        for label, page in pages.items():
            await screenshot(page, f"e2e-media-chosen-failure-{label}")
        raise
    finally:
        await student_context.close()
        await teacher_context.close()
