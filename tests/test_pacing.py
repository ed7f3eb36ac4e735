"""The front door (tack/core/pacing.py): a crowd that arrives at once starts a few per turn of the
event loop, in order, leaves first; a waiter that gives up costs nobody a place."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from tack.core.pacing import DoorBusy, TurnPacer, _answer_busy


class Turns:
    """Counts the turns of the event loop."""

    def __init__(self) -> None:
        self.turn = 0
        self.ticking = True
        asyncio.get_running_loop().call_soon(self._tick)

    def _tick(self) -> None:
        self.turn += 1
        if self.ticking:
            asyncio.get_running_loop().call_soon(self._tick)


async def test_a_crowd_starts_a_few_per_turn_in_order_leaves_first() -> None:
    pacer = TurnPacer(per_turn=5)
    turns = Turns()
    started: list[tuple[int, str]] = []

    async def request(name: str, urgent: bool = False) -> None:
        await pacer.turn(urgent=urgent)
        started.append((turns.turn, name))

    crowd = [request(f"join{n}") for n in range(30)] + [request(f"leave{n}", urgent=True) for n in range(5)]
    await asyncio.gather(*crowd)
    turns.ticking = False
    per_turn: dict[int, int] = {}
    for turn, _ in started:
        per_turn[turn] = per_turn.get(turn, 0) + 1
    assert len(started) == 35 and max(per_turn.values()) <= 5, per_turn
    names = [name for _, name in started]
    # The first five came in before anyone waited; of those who waited, the leaves went first.
    assert names[:5] == [f"join{n}" for n in range(5)]
    assert names[5:10] == [f"leave{n}" for n in range(5)]
    assert names[10:] == [f"join{n}" for n in range(5, 30)]
    assert pacer.queued == 0


async def test_a_waiter_that_gives_up_is_skipped() -> None:
    pacer = TurnPacer(per_turn=1)
    loop = asyncio.get_running_loop()
    seen: list[tuple[int, float]] = []
    # All in one turn of the loop: the first takes its place, two wait, then the loop is held.
    first = asyncio.create_task(pacer.turn())
    gone = asyncio.create_task(pacer.turn())
    stays = asyncio.create_task(pacer.turn())
    loop.call_soon(time.sleep, 0.05)
    loop.call_soon(lambda: seen.append((pacer.queued, pacer.oldest_wait())))
    loop.call_soon(gone.cancel)
    await asyncio.wait_for(asyncio.gather(first, stays), timeout=1)
    queued, waited = seen[0]
    assert queued == 2 and waited >= 0.05
    assert gone.cancelled()
    assert pacer.queued == 0 and pacer.oldest_wait() == 0.0


async def test_a_request_that_waited_too_long_is_told_busy_at_once() -> None:
    pacer = TurnPacer(per_turn=1, max_wait_s=0.01)
    loop = asyncio.get_running_loop()
    first = asyncio.create_task(pacer.turn())
    late = asyncio.create_task(pacer.turn())
    leave = asyncio.create_task(pacer.turn(urgent=True))
    loop.call_soon(time.sleep, 0.05)  # the loop is held: both wait longer than 10 ms
    await first
    with pytest.raises(DoorBusy) as busy:
        await late
    assert 2 <= busy.value.retry_after <= 120
    await asyncio.wait_for(leave, timeout=1)  # leaves are never turned away
    assert pacer.turned_away == 1


async def test_the_front_door_answers_busy_with_the_envelope_and_retry_after() -> None:
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    await _answer_busy(send, 7)
    start, body = sent
    assert start["status"] == 429 and (b"retry-after", b"7") in start["headers"]
    error = json.loads(body["body"])["error"]
    assert error["code"] == "busy" and error["details"]["retry_after"] == 7


async def test_while_the_line_is_long_newcomers_are_told_busy_at_once_but_not_leaves() -> None:
    pacer = TurnPacer(per_turn=1, max_wait_s=60, shed_after_s=0.01)
    loop = asyncio.get_running_loop()
    first = asyncio.create_task(pacer.turn())
    waiting = asyncio.create_task(pacer.turn())
    loop.call_soon(time.sleep, 0.05)  # the one in line has now waited longer than 10 ms
    answers: list[str] = []

    def arrive() -> None:  # a newcomer in this same turn, while the line is old
        newcomer = pacer.turn()
        try:
            newcomer.send(None)
            answers.append("queued")
        except DoorBusy:
            answers.append("busy")
        finally:
            newcomer.close()

    loop.call_soon(arrive)
    leaving = loop.create_future()
    loop.call_soon(lambda: leaving.set_result(asyncio.ensure_future(pacer.turn(urgent=True))))
    await first
    await asyncio.wait_for(asyncio.gather(waiting, await leaving), timeout=1)
    assert answers == ["busy"] and pacer.turned_away == 1


@pytest.mark.parametrize("scope,body,urgent", [
    ({"type": "websocket", "path": "/api/v1/stream"}, b"", True),
    ({"type": "http", "method": "POST", "path": "/api/v1/orgs/o/rooms/r/leave"}, b"", True),
    ({"type": "http", "method": "POST", "path": "/api/v1/orgs/o/rooms/r/join"}, b'{"ticket": "t.k.n"}', True),
    ({"type": "http", "method": "POST", "path": "/api/v1/guest/rooms/c/join"}, b'{"ticket": "t.k.n", "x": 1}', True),
    ({"type": "http", "method": "POST", "path": "/api/v1/orgs/o/rooms/r/join"}, b"{}", False),
    ({"type": "http", "method": "POST", "path": "/api/v1/orgs/o/rooms/r/join"}, b'{"ticket": null}', False),
    ({"type": "http", "method": "POST", "path": "/api/v1/orgs/o/rooms/r/join"}, b"not json", False),
    ({"type": "http", "method": "GET", "path": "/api/v1/orgs/o/rooms/r"}, b"", False),
])
async def test_the_door_knows_leaves_rejoins_and_streams_and_hands_the_body_on(scope, body, urgent) -> None:
    from tack.core.pacing import _urgency

    messages = [{"type": "http.request", "body": body[:5], "more_body": True},
                {"type": "http.request", "body": body[5:], "more_body": False}]

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    found, replay = await _urgency(scope, receive)
    assert found is urgent
    if scope["type"] == "http":
        seen = b""
        while True:
            message = await replay()
            if message["type"] != "http.request":
                break
            seen += message["body"]
            if not message.get("more_body"):
                break
        assert seen == body  # the application reads the request as it came


async def test_fewer_start_per_turn_while_turns_are_long_and_more_again_once_short() -> None:
    pacer = TurnPacer(per_turn=20, target_turn_s=0.005)
    loop = asyncio.get_running_loop()
    slow, running = True, True

    def busy_turns() -> None:  # the rest of the loop's work: long turns, then short ones
        if slow:
            time.sleep(0.01)
        if running:
            loop.call_soon(busy_turns)

    loop.call_soon(busy_turns)
    allowances: list[int] = []

    async def request() -> None:
        await pacer.turn()
        allowances.append(pacer.starts_per_turn)

    try:
        await asyncio.wait_for(asyncio.gather(*(request() for _ in range(60))), timeout=10)
        assert min(allowances) == 2 < 20  # long turns: down to the least
        slow = False
        await asyncio.wait_for(asyncio.gather(*(request() for _ in range(300))), timeout=10)
        assert pacer.starts_per_turn == 20  # short turns again: back to all
    finally:
        running = False


async def test_those_turned_away_are_told_to_come_back_one_after_the_other() -> None:
    """Spread at the pace the line moves, not all at the same moment."""
    pacer = TurnPacer(per_turn=1, max_wait_s=0.01)
    pacer._rate = 10.0  # the line moves at 10 a second
    told = [pacer.retry_after() for _ in range(100)]
    assert told == sorted(told) and told[0] == 3 and told[-1] in (12, 13)  # 2 s, then 10 more each second
    assert len(set(told)) == 10
    assert max(pacer.retry_after() for _ in range(2000)) == 120  # never beyond two minutes
