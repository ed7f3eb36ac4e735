"""The admission gate (tack/core/admission.py): bounded work in flight, a fair queue by priority,
honest refusals with a place in line and a Retry-After, and leaving that always works."""

from __future__ import annotations

import asyncio

import pytest

from tack.core.admission import AdmissionConfig, AdmissionGate, Busy, Priority


async def _hold(gate: AdmissionGate, priority: Priority, started: list[str], name: str, release: asyncio.Event) -> None:
    async with gate.admit(priority):
        started.append(name)
        await release.wait()


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_work_beyond_capacity_waits_and_goes_by_priority_then_arrival() -> None:
    gate = AdmissionGate("test", AdmissionConfig(max_in_flight=2, max_queue=10, max_wait_s=5))
    started: list[str] = []
    release = {name: asyncio.Event() for name in ("a", "b", "c", "d", "e", "f")}
    tasks = [asyncio.create_task(_hold(gate, Priority.attendee, started, n, release[n])) for n in ("a", "b")]
    await _settle()
    assert started == ["a", "b"] and gate.in_flight == 2
    # Queued: two attendees, then a teacher and a rejoin arrive later.
    for name, priority in (("c", Priority.attendee), ("d", Priority.attendee), ("e", Priority.host),
                           ("f", Priority.rejoin)):
        tasks.append(asyncio.create_task(_hold(gate, priority, started, name, release[name])))
        await _settle()
    assert gate.queued == 4 and started == ["a", "b"]
    release["a"].set()
    await _settle()
    assert started == ["a", "b", "f"]  # the rejoin first
    release["b"].set()
    await _settle()
    assert started == ["a", "b", "f", "e"]  # then the teacher
    release["f"].set()
    release["e"].set()
    await _settle()
    assert started == ["a", "b", "f", "e", "c", "d"]  # then attendees in arrival order
    for event in release.values():
        event.set()
    await asyncio.gather(*tasks)
    assert gate.in_flight == 0 and gate.queued == 0


async def test_a_full_queue_refuses_at_once_with_a_place_and_retry_after() -> None:
    gate = AdmissionGate("test", AdmissionConfig(max_in_flight=1, max_queue=2, max_wait_s=5))
    release = asyncio.Event()
    started: list[str] = []
    tasks = [asyncio.create_task(_hold(gate, Priority.attendee, started, str(n), release)) for n in range(3)]
    await _settle()
    assert gate.in_flight == 1 and gate.queued == 2
    with pytest.raises(Busy) as refused:
        async with gate.admit(Priority.attendee):
            pass
    error = refused.value
    assert error.status_code == 429 and error.code == "busy"
    assert error.details["reason"] == "queue_full" and error.details["position"] == 3
    assert 1 <= error.retry_after <= 30 and error.headers == {"Retry-After": str(error.retry_after)}
    release.set()
    await asyncio.gather(*tasks)


async def test_a_wait_past_the_deadline_is_refused_and_gives_its_place_up() -> None:
    gate = AdmissionGate("test", AdmissionConfig(max_in_flight=1, max_queue=10, max_wait_s=0.05))
    release = asyncio.Event()
    started: list[str] = []
    holder = asyncio.create_task(_hold(gate, Priority.attendee, started, "holder", release))
    await _settle()
    with pytest.raises(Busy) as refused:
        async with gate.admit(Priority.attendee):
            pass
    assert refused.value.details["reason"] == "queue_timeout" and refused.value.details["position"] == 1
    assert gate.queued == 0
    release.set()
    await holder
    async with gate.admit(Priority.attendee):  # capacity is whole again
        assert gate.in_flight == 1
    assert gate.in_flight == 0


async def test_leaving_is_never_queued_or_refused() -> None:
    gate = AdmissionGate("test", AdmissionConfig(max_in_flight=1, max_queue=0, max_wait_s=0.01))
    release = asyncio.Event()
    started: list[str] = []
    holder = asyncio.create_task(_hold(gate, Priority.attendee, started, "holder", release))
    await _settle()
    with pytest.raises(Busy):
        async with gate.admit(Priority.attendee):
            pass
    async with gate.admit(Priority.leave):
        left = True
    assert left
    release.set()
    await holder


async def test_a_cancelled_waiter_or_a_failing_holder_leaks_no_capacity() -> None:
    gate = AdmissionGate("test", AdmissionConfig(max_in_flight=1, max_queue=10, max_wait_s=5))
    release = asyncio.Event()
    started: list[str] = []
    holder = asyncio.create_task(_hold(gate, Priority.attendee, started, "holder", release))
    await _settle()
    waiting = asyncio.create_task(_hold(gate, Priority.attendee, started, "waiting", asyncio.Event()))
    await _settle()
    waiting.cancel()
    await _settle()
    assert gate.queued == 0
    release.set()
    await holder
    with pytest.raises(RuntimeError):
        async with gate.admit(Priority.host):
            raise RuntimeError("the work failed")
    assert gate.in_flight == 0
    async with gate.admit(Priority.attendee):
        assert gate.in_flight == 1


async def test_a_lagging_loop_turns_newcomers_away_at_once_but_not_rejoins_or_hosts(monkeypatch):
    from tack.core import admission

    gate = AdmissionGate("test", AdmissionConfig(max_in_flight=4, max_queue=10, max_wait_s=5, shed_at_lag_s=1.0))
    monkeypatch.setattr(admission, "current_lag", lambda: 2.0)
    for priority in (Priority.attendee, Priority.state):
        with pytest.raises(Busy) as refused:
            async with gate.admit(priority):
                pass
        assert refused.value.details["reason"] == "overloaded"
        assert refused.value.retry_after >= 8  # four times the lag: long enough for the loop to catch up
    for priority in (Priority.leave, Priority.rejoin, Priority.host):
        async with gate.admit(priority):
            pass
    monkeypatch.setattr(admission, "current_lag", lambda: 0.0)
    async with gate.admit(Priority.attendee):
        pass


@pytest.mark.parametrize("in_flight,per_turn", [(4, 0), (100, 4)])
async def test_a_crowd_that_arrives_in_one_turn_starts_a_few_per_turn(in_flight: int, per_turn: int) -> None:
    """Work that never waits (SQLite statements on the loop) would otherwise all run in one turn of
    the loop, which would serve nothing else meanwhile."""
    gate = AdmissionGate("test", AdmissionConfig(max_in_flight=in_flight, max_queue=100, max_wait_s=5,
                                                 max_starts_per_turn=per_turn))
    turn = 0
    ticking = True

    def tick() -> None:
        nonlocal turn
        turn += 1
        if ticking:
            asyncio.get_running_loop().call_soon(tick)

    asyncio.get_running_loop().call_soon(tick)
    started_in: list[int] = []

    async def work() -> None:
        async with gate.admit(Priority.attendee):
            started_in.append(turn)  # and finishes without waiting

    await asyncio.gather(*(work() for _ in range(40)))
    ticking = False
    per_turn = {t: started_in.count(t) for t in set(started_in)}
    assert len(started_in) == 40 and gate.in_flight == 0
    assert max(per_turn.values()) <= 2 * 4, per_turn  # the ones let in last turn, and as many new
    assert len(per_turn) >= 40 // 8


async def test_leaves_have_a_lane_of_their_own_that_goes_a_few_per_turn() -> None:
    gate = AdmissionGate("test", AdmissionConfig(max_in_flight=1, max_queue=0, max_wait_s=0.01,
                                                 max_leaves_in_flight=2))
    release = asyncio.Event()
    holder = asyncio.create_task(_hold(gate, Priority.attendee, [], "holder", release))
    await _settle()
    left: list[int] = []

    async def leave(n: int) -> None:
        async with gate.admit(Priority.leave):
            left.append(n)

    # Many leaves at once, with the joins' capacity taken: none is refused, none waits for the join.
    await asyncio.wait_for(asyncio.gather(*(leave(n) for n in range(20))), timeout=2)
    assert sorted(left) == list(range(20)) and gate.in_flight == 1
    release.set()
    await holder
