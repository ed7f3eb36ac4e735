"""Two people chat; one loses the network while the other keeps writing; back online, the missing
messages appear in order and exactly once, a message typed while offline is delivered once, and
the sender watches the read receipts change live."""

from __future__ import annotations

import uuid

from playwright.async_api import BrowserContext, Page, expect

from tack.demo.seed import DEMO_ADMIN_PASSWORD
from tests.e2e.conftest import ARTIFACTS
from tests.live import LiveServer

# Two of 星河科技's demo staff (tack/demo/seed.py: xh0001... share the demo password).
SENDER_LOGIN = "xh0020@demo.tack.example"
READER_LOGIN = "xh0021@demo.tack.example"
MISSED = 5


async def _screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def _sign_in(browser, server: LiveServer, login: str) -> tuple[BrowserContext, Page, str]:
    context = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    await page.goto(f"{server.url}/sign-in")
    await page.get_by_test_id("signin-login").fill(login)
    await page.get_by_test_id("signin-password").fill(DEMO_ADMIN_PASSWORD)
    await page.get_by_test_id("signin-submit").click()
    await expect(page.get_by_test_id("org-switcher")).to_contain_text("星河科技")
    name = (await page.locator(".tack-account-name").inner_text()).strip()
    return context, page, name


async def _send(page: Page, text: str) -> None:
    await page.get_by_test_id("message-input").fill(text)
    await page.get_by_test_id("message-send").click()


async def _shown(page: Page) -> list[tuple[str, int, str]]:
    """(message id, sequence number, text) of every message in the open conversation, top to bottom."""
    return await page.get_by_test_id("message-item").evaluate_all(
        """items => items.map(el => [el.dataset.messageId || "", Number(el.dataset.seq || 0),
                                      (el.querySelector('[data-testid=message-text]') || el).innerText.trim()])"""
    )


async def test_messages_missed_offline_arrive_in_order_once_and_receipts_update_live(
    e2e_server: LiveServer, browser
) -> None:
    run = uuid.uuid4().hex[:6]
    sender_context, sender, sender_name = await _sign_in(browser, e2e_server, SENDER_LOGIN)
    reader_context, reader, reader_name = await _sign_in(browser, e2e_server, READER_LOGIN)
    try:
        for page in (sender, reader):
            await page.get_by_test_id("chat-nav").click()
            await expect(page.get_by_test_id("connection-state")).to_have_attribute("data-state", "live")

        # 1. The sender starts a one-to-one conversation with the reader and says hello.
        await sender.get_by_test_id("new-conversation").click()
        await sender.get_by_test_id("new-direct").click()
        await sender.get_by_test_id("new-conversation-person").click()
        await sender.keyboard.type(reader_name)
        await sender.locator(".ant-select-dropdown:visible").get_by_text(reader_name).first.click()
        await sender.get_by_test_id("new-conversation-submit").click()
        await expect(sender.get_by_test_id("chat-title")).to_have_text(reader_name)
        await _send(sender, f"hello {run}")

        # 2. The reader sees it arrive live, unread, and opens the conversation.
        item = reader.get_by_test_id("conversation-item").filter(has_text=sender_name)
        await expect(item.get_by_test_id("conversation-unread")).to_have_text("1")
        await item.click()
        await expect(reader.get_by_test_id("message-item")).to_have_count(1)
        await expect(sender.get_by_test_id("read-count")).to_have_attribute("data-unread", "0")

        # 3. The reader's network goes away; the page sees it at once.
        await reader_context.set_offline(True)
        await expect(reader.get_by_test_id("connection-state")).to_have_attribute("data-state", "offline")

        # 4. Meanwhile the sender keeps writing; nobody has read these yet.
        missed = [f"missed {n} {run}" for n in range(1, MISSED + 1)]
        for text in missed:
            await _send(sender, text)
        await expect(sender.get_by_test_id("message-item")).to_have_count(1 + MISSED)
        await expect(sender.get_by_test_id("message-status")).to_have_count(0)  # all confirmed
        await expect(sender.get_by_test_id("read-count").last).to_have_attribute("data-unread", "1")

        # ...and the reader, offline, writes too: it cannot go out yet and says so.
        await _send(reader, f"written offline {run}")
        await expect(reader.get_by_test_id("message-status")).to_be_visible()
        await reader.wait_for_timeout(1000)
        assert len(await _shown(reader)) == 2, "nothing new may arrive while the network is cut"
        await _screenshot(reader, "e2e-chat-offline")

        # 5. Back online: the stream resumes from its position.
        await reader_context.set_offline(False)
        await expect(reader.get_by_test_id("connection-state")).to_have_attribute("data-state", "live")

        # The missed messages appear in order, each once; the one written offline goes out once.
        offline_text = f"written offline {run}"
        await expect(reader.get_by_test_id("message-item")).to_have_count(2 + MISSED)
        await expect(reader.get_by_test_id("message-status")).to_have_count(0)
        shown = await _shown(reader)
        texts = [text for _, _, text in shown]
        assert [t for t in texts if t.startswith("missed")] == missed, texts
        assert texts[0] == f"hello {run}", texts
        ids = [message_id for message_id, _, _ in shown]
        seqs = [seq for _, seq, _ in shown]
        assert all(ids) and len(set(ids)) == len(ids), ids
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs
        assert texts.count(offline_text) == 1, texts

        await expect(sender.get_by_test_id("message-item").filter(has_text=offline_text)).to_have_count(1)
        await expect(sender.get_by_test_id("message-item")).to_have_count(2 + MISSED)
        sender_texts = [text for _, _, text in await _shown(sender)]
        assert [t for t in sender_texts if t.startswith("missed")] == missed, sender_texts

        # 6. The reader has the conversation open, so it is read: the sender's receipts turn live.
        receipts = sender.get_by_test_id("read-count")
        await expect(receipts).to_have_count(1 + MISSED)
        for index in range(1 + MISSED):
            await expect(receipts.nth(index)).to_have_attribute("data-unread", "0")
        await expect(receipts.last).to_have_text("Read")
        await receipts.last.click()
        await expect(sender.get_by_test_id("read-details-read")).to_contain_text(reader_name)
        await expect(sender.get_by_test_id("read-details-unread")).not_to_contain_text(reader_name)
        await _screenshot(sender, "e2e-chat-receipts")
        await _screenshot(reader, "e2e-chat-caught-up")

        # 7. A reload resumes from the positions kept for the tab and still shows each message once.
        await reader.reload()
        await expect(reader.get_by_test_id("connection-state")).to_have_attribute("data-state", "live")
        await expect(reader.get_by_test_id("message-item")).to_have_count(2 + MISSED)
        assert [t for _, _, t in await _shown(reader)] == texts
    except Exception:
        await _screenshot(sender, "e2e-chat-failure-sender")
        await _screenshot(reader, "e2e-chat-failure-reader")
        raise
    finally:
        await reader_context.close()
        await sender_context.close()
