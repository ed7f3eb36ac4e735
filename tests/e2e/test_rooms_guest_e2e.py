"""A guest without an account joins a meeting by link and passcode in a browser, raises a hand that
the host sees, and leaves; the host's room answers list them as a guest."""

from __future__ import annotations

import asyncio

import httpx
from playwright.async_api import expect

from tack.demo.seed import DEMO_ADMIN_LOGIN, DEMO_ADMIN_PASSWORD
from tests.e2e.conftest import ARTIFACTS
from tests.live import LiveServer


async def _host(server: LiveServer) -> tuple[httpx.AsyncClient, dict, dict]:
    """The demo administrator, signed in over the API, hosting a meeting open to guests."""
    client = httpx.AsyncClient(base_url=server.api_url, timeout=30)
    signed = await client.post("/auth/sign-in", json={"login": DEMO_ADMIN_LOGIN, "password": DEMO_ADMIN_PASSWORD})
    assert signed.status_code == 200, signed.text
    client.headers["X-CSRF-Token"] = signed.json()["csrf_token"]
    org = (await client.get("/orgs")).json()[0]
    room = await client.post(f"/orgs/{org['id']}/rooms",
                             json={"kind": "meeting", "title": "家长开放日", "allow_guests": True})
    assert room.status_code == 201, room.text
    joined = await client.post(f"/orgs/{org['id']}/rooms/{room.json()['id']}/join", json={})
    assert joined.status_code == 200, joined.text
    return client, org, room.json()


async def test_a_guest_joins_by_link_and_passcode_raises_a_hand_and_leaves(e2e_server: LiveServer, browser) -> None:
    host, org, room = await _host(e2e_server)
    context = await browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 860})
    page = await context.new_page()
    try:
        await page.goto(f"{e2e_server.url}/guest/{room['guest_code']}")
        await expect(page.get_by_test_id("guest-title")).to_have_text("家长开放日")
        await page.get_by_test_id("guest-name").fill("王女士")
        await page.get_by_test_id("guest-passcode").fill("000000" if room["guest_passcode"] != "000000" else "111111")
        await page.get_by_test_id("guest-join").click()
        await expect(page.get_by_test_id("guest-error")).to_have_attribute("data-code", "wrong_passcode")
        await page.get_by_test_id("guest-passcode").fill(room["guest_passcode"])
        await page.get_by_test_id("guest-join").click()
        await expect(page.get_by_test_id("guest-page")).to_have_attribute("data-state", "in")
        await expect(page.get_by_test_id("room-title")).to_have_text("家长开放日")

        await page.get_by_test_id("room-hand-toggle").click()
        await expect(page.get_by_test_id("room-hand-toggle")).to_have_attribute("data-raised", "true")
        people = (await host.get(f"/orgs/{org['id']}/rooms/{room['id']}/participants")).json()
        [guest] = [p for p in people if p["guest"]]
        assert guest["display_name"] == "王女士" and guest["hand_raised"] and guest["member_id"] is None

        await page.get_by_test_id("room-leave").click()
        for _ in range(50):  # the leave is on its way
            people = (await host.get(f"/orgs/{org['id']}/rooms/{room['id']}/participants")).json()
            if [p["state"] for p in people if p["guest"]] == ["left"]:
                break
            await asyncio.sleep(0.1)
        assert [p["state"] for p in people if p["guest"]] == ["left"]
    except Exception:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "e2e-guest-failure.png"), full_page=True)
        raise
    finally:
        await context.close()
        await host.aclose()
