"""An online class from start to attendance, in three browsers: a teacher starts a class in the class
group, two students join it from the group, one raises a hand, the teacher sees it, mutes everyone and
ends the class for all; everyone sees it ended, and the attendance shows the three of them."""

from __future__ import annotations

from playwright.async_api import expect

from tests.e2e.pages import (
    CLASS_GROUP,
    STUDENT_LOGINS,
    TEACHER_LOGIN,
    open_class_group,
    participant,
    screenshot,
    sign_in,
)
from tests.live import LiveServer, ServerProcess, live_database


async def test_teacher_runs_a_class_students_join_raise_hands_and_attendance_shows_them(
    e2e_server: LiveServer, browser
) -> None:
    # The teacher's browser speaks Chinese, the students' English: both wordings are on show.
    teacher_context, teacher, teacher_name = await sign_in(browser, e2e_server, TEACHER_LOGIN, "zh-CN")
    a_context, student_a, a_name = await sign_in(browser, e2e_server, STUDENT_LOGINS[0], "en-US")
    b_context, student_b, b_name = await sign_in(browser, e2e_server, STUDENT_LOGINS[1], "en-US")
    pages = {"teacher": teacher, "student-a": student_a, "student-b": student_b}
    try:
        for page in pages.values():
            await open_class_group(page)
        # Nothing is open yet: no banner to join.
        await expect(student_a.get_by_test_id("room-banner")).to_have_count(0)

        # 1. The teacher starts the class and is taken into it as its teacher.
        await teacher.get_by_test_id("class-start").click()
        await expect(teacher.get_by_test_id("room-page")).to_have_attribute("data-my-role", "host")
        await expect(teacher.get_by_test_id("room-status")).to_have_attribute("data-status", "open")
        room_id = await teacher.get_by_test_id("room-page").get_attribute("data-room-id")
        assert room_id and teacher.url.endswith(f"/rooms/{room_id}"), teacher.url
        await expect(teacher.get_by_test_id("media-unavailable")).to_be_visible()

        # 2. The students see the class open in their class group (live, over the stream) and join.
        for student in (student_a, student_b):
            banner = student.get_by_test_id("room-banner")
            await expect(banner).to_have_attribute("data-room-id", room_id)
            await expect(banner).to_contain_text("Class in progress")
            await banner.get_by_test_id("room-join").click()
            await expect(student.get_by_test_id("room-page")).to_have_attribute("data-my-role", "attendee")
            await expect(student.get_by_test_id("room-host-controls")).to_have_count(0)

        # Everyone sees the three of them, with their roles: 老师 / 学生 for the teacher, in Chinese.
        await expect(teacher.get_by_test_id("room-participant")).to_have_count(3)
        await expect(participant(teacher, teacher_name).get_by_test_id("room-participant-role")).to_have_text("老师")
        for name in (a_name, b_name):
            await expect(participant(teacher, name).get_by_test_id("room-participant-role")).to_have_text("学生")
        await expect(student_b.get_by_test_id("room-participant")).to_have_count(3)
        await expect(participant(student_b, teacher_name).get_by_test_id("room-participant-role")).to_have_text("Teacher")
        await expect(participant(student_b, a_name).get_by_test_id("room-participant-role")).to_have_text("Student")

        # 3. Student A raises a hand; the teacher sees it, in the hands list and on the row.
        await student_a.get_by_test_id("room-hand-toggle").click()
        await expect(student_a.get_by_test_id("room-hand-toggle")).to_have_attribute("data-raised", "true")
        await expect(teacher.get_by_test_id("room-hand")).to_have_count(1)
        await expect(teacher.get_by_test_id("room-hand-name")).to_have_text(a_name)
        await expect(participant(teacher, a_name)).to_have_attribute("data-hand", "true")
        await expect(participant(student_b, a_name)).to_have_attribute("data-hand", "true")
        await screenshot(teacher, "e2e-rooms-teacher-sees-hand")

        # A reload of student B's page rejoins with the ticket kept for the tab: the same seat, so the
        # teacher still sees three people, and B still sees A's hand.
        await student_b.reload()
        await expect(student_b.get_by_test_id("room-page")).to_have_attribute("data-my-role", "attendee")
        await expect(participant(student_b, a_name)).to_have_attribute("data-hand", "true")
        await expect(student_b.get_by_test_id("room-participant")).to_have_count(3)
        await expect(teacher.get_by_test_id("room-participant")).to_have_count(3)

        # 4. Student A's network drops for a moment; meanwhile the teacher mutes everyone: both students
        # are muted, the teacher is not.
        joins: list[str] = []
        student_a.on(
            "request",
            lambda r: joins.append(r.post_data or "") if r.method == "POST" and r.url.endswith("/join") else None,
        )
        await a_context.set_offline(True)
        await expect(student_a.get_by_test_id("connection-state")).to_have_attribute("data-state", "offline")
        await teacher.get_by_test_id("room-mute-all").click()
        for name in (a_name, b_name):
            await expect(participant(teacher, name)).to_have_attribute("data-muted", "true")
        await expect(participant(teacher, teacher_name)).to_have_attribute("data-muted", "false")
        await expect(student_b.get_by_test_id("room-muted-self")).to_be_visible()
        # Back online, A's page rejoins with its ticket (the seat was held) and catches up.
        await a_context.set_offline(False)
        await expect(student_a.get_by_test_id("connection-state")).to_have_attribute("data-state", "live")
        await expect(student_a.get_by_test_id("room-muted-self")).to_be_visible()
        await expect(participant(student_a, b_name)).to_have_attribute("data-muted", "true")
        for _ in range(50):
            if joins:
                break
            await student_a.wait_for_timeout(100)
        assert joins and '"ticket"' in joins[-1], joins
        await expect(student_a.get_by_test_id("room-page")).to_have_attribute("data-my-role", "attendee")
        await expect(teacher.get_by_test_id("room-participant")).to_have_count(3)
        await screenshot(student_a, "e2e-rooms-student-muted")

        # 5. The teacher ends the class for everyone (after confirming); everyone sees it ended.
        await teacher.get_by_test_id("room-end").click()
        await teacher.get_by_test_id("room-end-confirm").click()
        for page in pages.values():
            await expect(page.get_by_test_id("room-ended")).to_be_visible()
        await expect(student_a.get_by_test_id("room-ended")).to_have_text("The class has ended")
        await expect(teacher.get_by_test_id("room-ended")).to_have_text("本节课已结束")

        # The class group no longer offers to join it.
        await student_b.get_by_test_id("room-back").click()
        await expect(student_b.get_by_test_id("chat-title")).to_have_text(CLASS_GROUP)
        await expect(student_b.get_by_test_id("room-banner")).to_have_count(0)

        # 6. Attendance, on the teacher's screen at the end: the three of them present, the class's
        # other students absent; and the same as a CSV file.
        rows = teacher.get_by_test_id("attendance-row")
        present = rows.filter(has=teacher.locator('[data-testid="attendance-status"][data-status="present"]'))
        await expect(present).to_have_count(3)
        for name in (teacher_name, a_name, b_name):
            await expect(present.filter(has=teacher.get_by_text(name, exact=True))).to_have_count(1)
        await expect(rows.filter(has=teacher.locator('[data-testid="attendance-status"][data-status="absent"]'))).to_have_count(28)
        await screenshot(teacher, "e2e-rooms-attendance")

        csv_href = await teacher.get_by_test_id("attendance-csv").get_attribute("href")
        assert csv_href and csv_href.endswith(f"/rooms/{room_id}/attendance.csv"), csv_href
        response = await teacher_context.request.get(f"{e2e_server.url}{csv_href}")
        assert response.status == 200, await response.text()
        csv = (await response.body()).decode("utf-8-sig")
        for name in (teacher_name, a_name, b_name):
            assert name in csv, csv

        # Later, the class group's timetable lists the class among its past ones, with its attendance.
        await teacher.get_by_test_id("room-back").click()
        await expect(teacher.get_by_test_id("chat-title")).to_have_text(CLASS_GROUP)
        await teacher.get_by_test_id("timetable-open").click()
        await teacher.get_by_test_id("timetable-past-tab").click()
        past = teacher.locator(f'[data-testid="past-room"][data-room-id="{room_id}"]')
        await past.get_by_test_id("past-room-attendance").click()
        await expect(teacher.get_by_test_id("attendance-page")).to_be_visible()
        assert teacher.url.endswith(f"/rooms/{room_id}/attendance"), teacher.url
        await expect(
            teacher.get_by_test_id("attendance-row").filter(
                has=teacher.locator('[data-testid="attendance-status"][data-status="present"]')
            )
        ).to_have_count(3)
    except Exception:
        for label, page in pages.items():
            await screenshot(page, f"e2e-rooms-failure-{label}")
        raise
    finally:
        await b_context.close()
        await a_context.close()
        await teacher_context.close()


async def test_timetable_and_a_meeting_in_the_class_group(e2e_server: LiveServer, browser) -> None:
    """The teacher keeps the class's timetable (students only read it); a student starts a meeting in
    the group and the teacher joins it from the group's banner."""
    teacher_context, teacher, teacher_name = await sign_in(browser, e2e_server, TEACHER_LOGIN, "zh-CN")
    student_context, student, student_name = await sign_in(browser, e2e_server, STUDENT_LOGINS[0], "en-US")
    pages = {"teacher": teacher, "student": student}
    try:
        for page in pages.values():
            await open_class_group(page)

        # The demo timetable fills Monday to Friday; the teacher adds a Sunday lesson, taught by themself.
        await teacher.get_by_test_id("timetable-open").click()
        await expect(teacher.get_by_test_id("lesson-row").first).to_be_visible()
        weekdays = await teacher.get_by_test_id("lesson-row").evaluate_all("rows => rows.map(r => r.dataset.weekday)")
        assert "7" not in weekdays, weekdays
        await teacher.get_by_test_id("lesson-add").click()
        await teacher.get_by_test_id("lesson-subject-input").fill("书法")
        await teacher.get_by_test_id("lesson-weekday-input").click()
        await teacher.locator(".ant-select-dropdown:visible").get_by_text("星期日", exact=True).click()
        await teacher.get_by_test_id("lesson-starts-input").fill("10:00")
        await teacher.get_by_test_id("lesson-ends-input").fill("10:45")
        await teacher.get_by_test_id("lesson-submit").click()
        lesson = teacher.locator('[data-testid="lesson-row"][data-weekday="7"]')
        await expect(lesson).to_have_count(1)
        await expect(lesson.get_by_test_id("lesson-subject")).to_have_text("书法")
        await expect(lesson.get_by_test_id("lesson-teacher")).to_have_text(teacher_name)
        await expect(lesson.get_by_test_id("lesson-time")).to_have_text("10:00–10:45")
        await screenshot(teacher, "e2e-rooms-timetable")
        await expect(teacher.get_by_test_id("lesson-row")).to_have_count(len(weekdays) + 1)

        # The student reads it, and cannot change the timetable.
        await student.get_by_test_id("timetable-open").click()
        sunday = student.locator('[data-testid="lesson-row"][data-weekday="7"]')
        await expect(sunday.get_by_test_id("lesson-subject")).to_have_text("书法")
        await expect(student.get_by_test_id("lesson-add")).to_have_count(0)
        await expect(student.get_by_test_id("lesson-delete")).to_have_count(0)
        await student.locator(".ant-drawer-close:visible").click()
        await expect(student.get_by_test_id("timetable")).to_be_hidden()

        # The teacher deletes it again (after confirming).
        await lesson.get_by_test_id("lesson-delete").click()
        await teacher.get_by_test_id("lesson-delete-confirm").click()
        await expect(lesson).to_have_count(0)
        await expect(teacher.get_by_test_id("lesson-row")).to_have_count(len(weekdays))
        await teacher.locator(".ant-drawer-close:visible").click()
        await expect(teacher.get_by_test_id("timetable")).to_be_hidden()

        # The student starts a meeting in the class group, with a waiting room, and hosts it.
        await student.get_by_test_id("meeting-start").click()
        await student.get_by_test_id("meeting-title").fill("Study group")
        await student.get_by_test_id("meeting-waiting-room").check()
        await student.get_by_test_id("meeting-submit").click()
        await expect(student.get_by_test_id("room-page")).to_have_attribute("data-my-role", "host")
        await expect(student.get_by_test_id("room-title")).to_have_text("Study group")

        # The teacher sees it in the group and asks to join: they wait until the host lets them in,
        # then come in as a participant.
        banner = teacher.get_by_test_id("room-banner")
        await expect(banner).to_contain_text("会议进行中")
        await expect(banner.get_by_test_id("room-banner-title")).to_have_text("Study group")
        await banner.get_by_test_id("room-join").click()
        await expect(teacher.get_by_test_id("room-waiting-self")).to_be_visible()
        waiting = student.get_by_test_id("room-waiting-row")
        await expect(waiting).to_contain_text(teacher_name)
        await waiting.get_by_test_id("room-admit").click()
        await expect(teacher.get_by_test_id("room-page")).to_have_attribute("data-my-role", "attendee")
        await expect(student.get_by_test_id("room-waiting")).to_have_count(0)
        await expect(participant(teacher, student_name).get_by_test_id("room-participant-role")).to_have_text("主持人")
        await expect(participant(teacher, teacher_name).get_by_test_id("room-participant-role")).to_have_text("参会人")
        await expect(student.get_by_test_id("room-participant")).to_have_count(2)

        # The host ends it; the teacher sees it ended.
        await student.get_by_test_id("room-end").click()
        await student.get_by_test_id("room-end-confirm").click()
        await expect(student.get_by_test_id("room-ended")).to_have_text("The meeting has ended")
        await expect(teacher.get_by_test_id("room-ended")).to_have_text("会议已结束")
    except Exception:
        for label, page in pages.items():
            await screenshot(page, f"e2e-rooms-meeting-failure-{label}")
        raise
    finally:
        await student_context.close()
        await teacher_context.close()


async def test_teacher_controls_hands_roles_lock_and_removal(e2e_server: LiveServer, browser) -> None:
    """The host's controls as the students see them: a hand lowered by the teacher, a student made
    presenter, a locked class refusing a newcomer until unlocked, and a removed student kept out."""
    teacher_context, teacher, _ = await sign_in(browser, e2e_server, TEACHER_LOGIN, "zh-CN")
    a_context, student_a, a_name = await sign_in(browser, e2e_server, STUDENT_LOGINS[0], "en-US")
    b_context, student_b, b_name = await sign_in(browser, e2e_server, STUDENT_LOGINS[1], "en-US")
    pages = {"teacher": teacher, "student-a": student_a, "student-b": student_b}
    try:
        for page in pages.values():
            await open_class_group(page)
        await teacher.get_by_test_id("class-start").click()
        await expect(teacher.get_by_test_id("room-page")).to_have_attribute("data-my-role", "host")
        await student_a.get_by_test_id("room-join").click()
        await expect(student_a.get_by_test_id("room-page")).to_have_attribute("data-my-role", "attendee")

        # A raises a hand; the teacher lowers it.
        await student_a.get_by_test_id("room-hand-toggle").click()
        await teacher.get_by_test_id("room-hand-lower").click()
        await expect(student_a.get_by_test_id("room-hand-toggle")).to_have_attribute("data-raised", "false")
        await expect(teacher.get_by_test_id("room-hand")).to_have_count(0)

        # The teacher makes A the presenter.
        await participant(teacher, a_name).get_by_test_id("room-participant-actions").click()
        await teacher.locator(".ant-dropdown:visible").get_by_test_id("room-action-presenter").click()
        await expect(participant(teacher, a_name).get_by_test_id("room-participant-role")).to_have_text("主讲")
        await expect(student_a.get_by_test_id("room-page")).to_have_attribute("data-my-role", "presenter")

        # Locked, the class refuses B, in words; unlocked, B's retry gets in.
        await teacher.get_by_test_id("room-lock").click()
        await expect(teacher.get_by_test_id("room-lock")).to_have_attribute("data-locked", "true")
        await expect(student_a.get_by_test_id("room-locked")).to_be_visible()
        await student_b.get_by_test_id("room-join").click()
        await expect(student_b.get_by_test_id("room-join-error")).to_have_attribute("data-code", "room_locked")
        await expect(student_b.get_by_test_id("room-join-error-title")).to_have_text("The room is locked")
        await teacher.get_by_test_id("room-lock").click()
        await expect(teacher.get_by_test_id("room-lock")).to_have_attribute("data-locked", "false")
        await student_b.get_by_test_id("room-join-retry").click()
        await expect(student_b.get_by_test_id("room-page")).to_have_attribute("data-my-role", "attendee")

        # The teacher removes B (after confirming): B is told, and cannot come back.
        await participant(teacher, b_name).get_by_test_id("room-participant-actions").click()
        await teacher.locator(".ant-dropdown:visible").get_by_test_id("room-action-remove").click()
        await teacher.get_by_test_id("room-remove-confirm").click()
        await expect(student_b.get_by_test_id("room-removed")).to_be_visible()
        await expect(participant(teacher, b_name)).to_have_count(0)
        await expect(participant(student_a, b_name)).to_have_count(0)
        await student_b.get_by_test_id("room-back").click()
        await student_b.get_by_test_id("room-join").click()
        await expect(student_b.get_by_test_id("room-join-error")).to_have_attribute("data-code", "room_removed")
        await expect(student_b.get_by_test_id("room-join-retry")).to_have_count(0)

        # A leaves by themself; the teacher sees it.
        await student_a.get_by_test_id("room-leave").click()
        await expect(student_a.get_by_test_id("chat-title")).to_have_text(CLASS_GROUP)
        await expect(participant(teacher, a_name)).to_have_count(0)
        await teacher.get_by_test_id("room-end").click()
        await teacher.get_by_test_id("room-end-confirm").click()
        await expect(teacher.get_by_test_id("room-ended")).to_be_visible()
        present = teacher.get_by_test_id("attendance-row").filter(
            has=teacher.locator('[data-testid="attendance-status"][data-status="present"]')
        )
        await expect(present).to_have_count(3)
    except Exception:
        for label, page in pages.items():
            await screenshot(page, f"e2e-rooms-controls-failure-{label}")
        raise
    finally:
        await b_context.close()
        await a_context.close()
        await teacher_context.close()


async def test_a_join_refused_as_busy_waits_in_line_and_can_be_cancelled(browser) -> None:
    """On a server that admits no joins at all (no room in its admission gate), a join is answered
    503 busy: the page shows the place in line and the time to the next try, and cancelling goes back
    to the class group."""
    busy_env = {"TACK_ROOM_JOINS_IN_FLIGHT": "0", "TACK_ROOM_JOIN_QUEUE": "0"}
    with live_database(seed_demo=True, env=busy_env) as database:
        process = ServerProcess(database, name="busy")
        server = process.start()
        try:
            context, teacher, _ = await sign_in(browser, server, TEACHER_LOGIN, "en-US")
            leaves: list[str] = []
            teacher.on(
                "request", lambda r: leaves.append(r.url) if r.method == "POST" and r.url.endswith("/leave") else None
            )
            try:
                await open_class_group(teacher)
                await teacher.get_by_test_id("class-start").click()
                queue = teacher.get_by_test_id("room-queue")
                await expect(queue).to_have_attribute("data-position", "1")
                await expect(queue).to_have_text("Many people are coming in at once. You are number 1 in line.")
                await expect(teacher.get_by_test_id("room-queue-retry")).to_contain_text("Trying again by itself in")
                await screenshot(teacher, "e2e-rooms-busy-queue")
                await teacher.get_by_test_id("room-queue-cancel").click()
                await expect(teacher.get_by_test_id("chat-title")).to_have_text(CLASS_GROUP)
                # The class is still open (only joining was refused): the group can try again from it.
                await expect(teacher.get_by_test_id("room-banner")).to_have_count(1)
                assert leaves, "cancelling sends a leave, in case the join got through after all"
            except Exception:
                await screenshot(teacher, "e2e-rooms-busy-failure")
                raise
            finally:
                await context.close()
        finally:
            process.stop()
