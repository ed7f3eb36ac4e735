"""Early warning before and during the 8:00 surge, for the people who run an organization.

Three signals, checked in every housekeeping round (tack/rooms/housekeeping.py):
- forecast: the timetable and scheduled meetings say how many people will join in the next 10
  minutes. A class's joins arrive within about JOIN_SPREAD_MINUTES of its start, so that number
  over the spread is the expected peak a minute; above the measured capacity
  (TACK_ROOM_JOIN_CAPACITY_PER_MINUTE, from `tack bench join-storm`), the administrators are warned
  while there is still time to act (stagger the start, add a server).
- join rate: joins a minute in this process above TACK_ROOM_WARN_JOINS_PER_MINUTE (default 80% of the
  capacity).
- queue wait: a join waited longer than TACK_ROOM_WARN_QUEUE_WAIT_SECONDS at admission in the last
  minute.

A warning is an event `ops.warning` on each administrator's own channel (the web client shows it),
at most once per kind and organization every REPEAT_AFTER in a process. The same figures are served
on demand by GET /orgs/{org_id}/room-load. Live figures are this process's; with several processes
each watches its own share.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tack.chat.models import ConversationMember
from tack.core import admission
from tack.core.config import get_settings
from tack.core.db import utcnow
from tack.core.events import NewEvent, emit_many, member_channel
from tack.orgs.models import ADMIN_ROLES, MemberRole, Membership, MemberStatus
from tack.rooms.models import Lesson, Room, RoomInvitee, RoomStatus

FORECAST_WINDOW = timedelta(minutes=10)
JOIN_SPREAD_MINUTES = 2
REPEAT_AFTER_S = 600.0


class JoinRates:
    """Joins per organization in this process, in one-second buckets over the last minute."""

    def __init__(self) -> None:
        self._buckets: dict[str, deque[list[int]]] = defaultdict(deque)

    def record(self, org_id: str) -> None:
        now = int(time.monotonic())
        buckets = self._buckets[org_id]
        if buckets and buckets[-1][0] == now:
            buckets[-1][1] += 1
        else:
            buckets.append([now, 1])
            while buckets and buckets[0][0] <= now - 60:
                buckets.popleft()

    def per_minute(self, org_id: str) -> int:
        buckets = self._buckets.get(org_id)
        if not buckets:
            return 0
        horizon = int(time.monotonic()) - 60
        return sum(count for second, count in buckets if second > horizon)

    def active(self) -> list[str]:
        horizon = int(time.monotonic()) - 60
        for org_id in [o for o, b in self._buckets.items() if not b or b[-1][0] <= horizon]:
            del self._buckets[org_id]
        return list(self._buckets)


join_rates = JoinRates()
_warned: dict[tuple[str, str], float] = {}


def warn_joins_per_minute() -> int:
    settings = get_settings()
    return settings.room_warn_joins_per_minute or int(settings.room_join_capacity_per_minute * 0.8)


async def forecast(db: AsyncSession, org_ids: list[str] | None = None, *, now: datetime | None = None
                   ) -> dict[str, dict[str, Any]]:
    """Per organization: the people expected to join in the next 10 minutes, and when."""
    from tack.rooms.service import _zone

    zone = _zone()
    local = (now or utcnow()).astimezone(zone)
    end = local + FORECAST_WINDOW
    if end.date() != local.date():
        end = local.replace(hour=23, minute=59)
    # Counted per lesson in the window only (the primary key's prefix), not over every group.
    class_size = (
        select(func.count())
        .where(ConversationMember.org_id == Lesson.org_id, ConversationMember.conversation_id == Lesson.conversation_id)
        .scalar_subquery()
    )
    lessons = select(Lesson.org_id, Lesson.starts_at, class_size).where(
        Lesson.weekday == local.isoweekday(), Lesson.starts_at > local.strftime("%H:%M"),
        Lesson.starts_at <= end.strftime("%H:%M"))
    if org_ids is not None:
        lessons = lessons.where(Lesson.org_id.in_(org_ids))
    result: dict[str, dict[str, Any]] = {}

    def add(org_id: str, at: str, people: int) -> None:
        entry = result.setdefault(org_id, {"people": 0, "rooms": 0, "starts": defaultdict(int)})
        entry["people"] += people
        entry["rooms"] += 1
        entry["starts"][at] += people

    for org_id, starts_at, people in (await db.execute(lessons)).all():
        add(org_id, starts_at, int(people))
    meetings = select(Room.org_id, Room.id, Room.conversation_id, Room.scheduled_start).where(
        Room.status == RoomStatus.scheduled, Room.scheduled_start > local, Room.scheduled_start <= end)
    if org_ids is not None:
        meetings = meetings.where(Room.org_id.in_(org_ids))
    for org_id, room_id, conversation_id, start in (await db.execute(meetings)).all():
        if conversation_id:
            people = (await db.execute(select(func.count()).where(
                ConversationMember.org_id == org_id, ConversationMember.conversation_id == conversation_id))).scalar_one()
        else:
            people = 1 + (await db.execute(select(func.count()).where(
                RoomInvitee.org_id == org_id, RoomInvitee.room_id == room_id))).scalar_one()
        add(org_id, start.astimezone(zone).strftime("%H:%M"), int(people))
    for entry in result.values():
        entry["peak_per_minute"] = -(-max(entry["starts"].values()) // JOIN_SPREAD_MINUTES) if entry["starts"] else 0
        entry["starts"] = [{"at": at, "people": people} for at, people in sorted(entry["starts"].items())]
    return result


def live_figures(org_id: str) -> dict[str, Any]:
    gate = admission.process_gate(admission.ROOM_JOIN)
    return {
        "joins_per_minute": join_rates.per_minute(org_id),
        "longest_queue_wait_s": round(gate.longest_recent_wait(60.0), 3) if gate is not None else 0.0,
        "in_flight": gate.in_flight if gate is not None else 0,
        "queued": gate.queued if gate is not None else 0,
    }


def warnings_for(org_id: str, predicted: dict[str, Any] | None, live: dict[str, Any]) -> list[dict[str, Any]]:
    settings = get_settings()
    capacity = settings.room_join_capacity_per_minute
    found = []
    if predicted is not None and predicted["peak_per_minute"] > capacity:
        found.append({
            "kind": "forecast", "value": predicted["peak_per_minute"], "threshold": capacity,
            "people": predicted["people"], "starts": predicted["starts"],
            "message": f"About {predicted['people']} people will join in the next 10 minutes, up to "
                       f"{predicted['peak_per_minute']} a minute; this installation was measured to take "
                       f"{capacity} a minute. Stagger the starts or add a server.",
        })
    threshold = warn_joins_per_minute()
    if live["joins_per_minute"] > threshold:
        found.append({
            "kind": "join_rate", "value": live["joins_per_minute"], "threshold": threshold,
            "message": f"{live['joins_per_minute']} joins in the last minute (warning above {threshold}).",
        })
    if live["longest_queue_wait_s"] > settings.room_warn_queue_wait_seconds:
        found.append({
            "kind": "queue_wait", "value": live["longest_queue_wait_s"],
            "threshold": settings.room_warn_queue_wait_seconds,
            "message": f"People waited up to {live['longest_queue_wait_s']:.1f} s to join in the last minute.",
        })
    return found


async def _admins(db: AsyncSession, org_id: str) -> list[str]:
    rows = await db.execute(
        select(MemberRole.member_id).join(
            Membership, (Membership.org_id == MemberRole.org_id) & (Membership.id == MemberRole.member_id)
        ).where(MemberRole.org_id == org_id, MemberRole.role.in_(list(ADMIN_ROLES)),
                Membership.status == MemberStatus.active)
    )
    return sorted(set(rows.scalars()))


async def check_and_warn(db: AsyncSession) -> int:
    """Warn the administrators of organizations that cross a threshold now; returns warnings sent."""
    predicted = await forecast(db)
    orgs = set(predicted) | set(join_rates.active())
    sent = 0
    now = time.monotonic()
    for org_id in sorted(orgs):
        fresh = [
            w for w in warnings_for(org_id, predicted.get(org_id), live_figures(org_id))
            if now - _warned.get((org_id, w["kind"]), -REPEAT_AFTER_S) >= REPEAT_AFTER_S
        ]
        if not fresh:
            continue
        admins = await _admins(db, org_id)
        await emit_many(db, org_id=org_id, events=[
            NewEvent(member_channel(admin), "ops.warning", warning) for warning in fresh for admin in admins
        ])
        for warning in fresh:
            _warned[(org_id, warning["kind"])] = now
        sent += len(fresh)
    return sent
