import { DeleteOutlined, PlayCircleOutlined, PlusOutlined } from "@ant-design/icons";
import { App as AntApp, Button, Drawer, Empty, Flex, Form, Input, List, Popconfirm, Select, Skeleton, Tabs, Tag, Typography } from "antd";
import { useCallback, useEffect, useMemo, useState } from "react";
import { Link, useNavigate } from "react-router-dom";
import { orgs as orgsApi, rooms as roomsApi } from "../../api/endpoints";
import type { ConversationDetail, Lesson, Member, MyOrg, Room, Timetable } from "../../api/types";
import { ErrorAlert, useErrorText } from "../../components/ErrorAlert";
import { useI18n, type MessageKey } from "../../i18n";
import { maySteerClass, roomPath } from "./ChatRoomBar";

export const WEEKDAY_KEYS: MessageKey[] = [
  "room.weekday.1",
  "room.weekday.2",
  "room.weekday.3",
  "room.weekday.4",
  "room.weekday.5",
  "room.weekday.6",
  "room.weekday.7",
];

const TIME = /^([01]\d|2[0-3]):[0-5]\d$/;

/** Lessons by weekday (Monday first), each day by start time. */
export function byWeekday(lessons: Lesson[]): [number, Lesson[]][] {
  const days = new Map<number, Lesson[]>();
  for (const lesson of lessons) days.set(lesson.weekday, [...(days.get(lesson.weekday) ?? []), lesson]);
  return [...days.entries()]
    .sort(([a], [b]) => a - b)
    .map(([day, list]) => [day, list.sort((a, b) => a.starts_at.localeCompare(b.starts_at))]);
}

/** Today's weekday as the timetable counts (Monday 1 ... Sunday 7), in the timetable's time zone. */
function todayWeekday(timezone: string | null): number {
  try {
    const name = new Intl.DateTimeFormat("en-US", { weekday: "short", timeZone: timezone ?? undefined }).format(new Date());
    const index = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].indexOf(name);
    if (index >= 0) return index + 1;
  } catch {
    /* unknown time zone: the browser's */
  }
  const day = new Date().getDay();
  return day === 0 ? 7 : day;
}

/** A class group's timetable: its lessons through the week; teachers and administrators add and
 * delete lessons and start a lesson's class. Also the class's past lessons, with attendance. */
export function TimetableDrawer({
  open,
  onClose,
  org,
  conversation,
}: {
  open: boolean;
  onClose: () => void;
  org: MyOrg;
  conversation: ConversationDetail;
}) {
  const { t } = useI18n();
  const [tab, setTab] = useState("week");
  return (
    <Drawer open={open} onClose={onClose} width={520} title={t("room.timetableOf", { name: conversation.name })} destroyOnHidden>
      <div data-testid="timetable">
        <Tabs
          activeKey={tab}
          onChange={setTab}
          items={[
            { key: "week", label: t("room.timetable"), children: <WeekTab org={org} conversation={conversation} /> },
            { key: "past", label: <span data-testid="timetable-past-tab">{t("room.pastClasses")}</span>, children: <PastTab org={org} conversation={conversation} /> },
          ]}
        />
      </div>
    </Drawer>
  );
}

function WeekTab({ org, conversation }: { org: MyOrg; conversation: ConversationDetail }) {
  const { t } = useI18n();
  const navigate = useNavigate();
  const { message: toast } = AntApp.useApp();
  const errorText = useErrorText();
  const [timetable, setTimetable] = useState<Timetable | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [adding, setAdding] = useState(false);
  const manages = maySteerClass(org);

  const load = useCallback(async () => {
    setError(null);
    try {
      setTimetable(await roomsApi.timetable(org.id, conversation.id));
    } catch (e) {
      setError(e);
    }
  }, [org.id, conversation.id]);

  useEffect(() => {
    load().catch(() => undefined);
  }, [load]);

  const remove = (lesson: Lesson) =>
    roomsApi.deleteLesson(org.id, lesson.id).then(
      () => setTimetable((tt) => (tt ? { ...tt, lessons: tt.lessons.filter((l) => l.id !== lesson.id) } : tt)),
      (e: unknown) => toast.error(errorText(e)),
    );

  const startLesson = (lesson: Lesson) =>
    roomsApi.create(org.id, { kind: "class", conversation_id: conversation.id, lesson_id: lesson.id }).then(
      (room) => navigate(roomPath(org.id, room.id)),
      (e: unknown) => toast.error(errorText(e)),
    );

  if (error && !timetable) return <ErrorAlert error={error} onRetry={() => load()} />;
  if (!timetable) return <Skeleton active />;
  const today = todayWeekday(timetable.timezone);
  const days = byWeekday(timetable.lessons);

  return (
    <>
      {manages ? (
        adding ? (
          <LessonForm
            org={org}
            conversation={conversation}
            onCancel={() => setAdding(false)}
            onAdded={(lesson) => {
              setAdding(false);
              setTimetable((tt) => (tt ? { ...tt, lessons: [...tt.lessons, lesson] } : tt));
            }}
          />
        ) : (
          <Button icon={<PlusOutlined />} onClick={() => setAdding(true)} style={{ marginBottom: 16 }} data-testid="lesson-add">
            {t("room.addLesson")}
          </Button>
        )
      ) : null}
      {!days.length ? <Empty description={t("room.noLessons")} data-testid="timetable-empty" /> : null}
      {days.map(([day, lessons]) => (
        <div key={day} style={{ marginBottom: 12 }}>
          <Typography.Text strong>
            {t(WEEKDAY_KEYS[day - 1] ?? "room.weekday.1")}
            {day === today ? <Tag color="blue" style={{ marginInlineStart: 8 }}>{t("room.today")}</Tag> : null}
          </Typography.Text>
          <List
            size="small"
            dataSource={lessons}
            renderItem={(lesson) => (
              <List.Item
                data-testid="lesson-row"
                data-lesson-id={lesson.id}
                data-weekday={lesson.weekday}
                actions={[
                  ...(day === today && (org.is_admin || lesson.teacher_member_id === org.member_id)
                    ? [
                        <Button key="start" size="small" type="link" icon={<PlayCircleOutlined />} onClick={() => startLesson(lesson)} data-testid="lesson-start-class">
                          {lesson.room_id ? t("room.openClass") : t("room.startClass")}
                        </Button>,
                      ]
                    : lesson.room_id
                      ? [
                          <Link key="join" to={roomPath(org.id, lesson.room_id)} data-testid="lesson-join">
                            {t("room.joinClass")}
                          </Link>,
                        ]
                      : []),
                  ...(manages
                    ? [
                        <Popconfirm
                          key="delete"
                          title={t("room.deleteLessonConfirm", { subject: lesson.subject })}
                          okText={t("common.delete")}
                          cancelText={t("common.cancel")}
                          okButtonProps={{ danger: true, "data-testid": "lesson-delete-confirm" }}
                          onConfirm={() => remove(lesson)}
                        >
                          <Button size="small" type="text" danger icon={<DeleteOutlined />} aria-label={t("common.delete")} data-testid="lesson-delete" />
                        </Popconfirm>,
                      ]
                    : []),
                ]}
              >
                <Flex gap={12} align="baseline">
                  <Typography.Text data-testid="lesson-time" style={{ fontVariantNumeric: "tabular-nums" }}>
                    {lesson.starts_at}–{lesson.ends_at}
                  </Typography.Text>
                  <Typography.Text strong data-testid="lesson-subject">
                    {lesson.subject}
                  </Typography.Text>
                  <Typography.Text type="secondary" data-testid="lesson-teacher">
                    {lesson.teacher_name}
                  </Typography.Text>
                </Flex>
              </List.Item>
            )}
          />
        </div>
      ))}
      {timetable.timezone ? (
        <Typography.Text type="secondary" style={{ fontSize: 12 }}>
          {t("room.timezone", { zone: timetable.timezone })}
        </Typography.Text>
      ) : null}
    </>
  );
}

interface LessonValues {
  subject: string;
  teacher_member_id: string;
  weekday: number;
  starts_at: string;
  ends_at: string;
}

function LessonForm({
  org,
  conversation,
  onCancel,
  onAdded,
}: {
  org: MyOrg;
  conversation: ConversationDetail;
  onCancel: () => void;
  onAdded: (lesson: Lesson) => void;
}) {
  const { t } = useI18n();
  const errorText = useErrorText();
  const [form] = Form.useForm<LessonValues>();
  const [teachers, setTeachers] = useState<Member[]>([]);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const abort = new AbortController();
    orgsApi
      .members(org.id, { department_id: conversation.department_id ?? undefined, role: "teacher", limit: 100 }, abort.signal)
      .then((page) => setTeachers(page.items))
      .catch(() => setTeachers([]));
    return () => abort.abort();
  }, [org.id, conversation.department_id]);

  const teacherOptions = useMemo(
    () => teachers.map((m) => ({ value: m.id, label: m.title ? `${m.display_name} · ${m.title}` : m.display_name })),
    [teachers],
  );

  const submit = async (values: LessonValues) => {
    setSaving(true);
    setError(null);
    try {
      onAdded(await roomsApi.addLesson(org.id, conversation.id, { ...values, subject: values.subject.trim() }));
    } catch (e) {
      setError(errorText(e));
    } finally {
      setSaving(false);
    }
  };

  return (
    <Form
      form={form}
      layout="vertical"
      onFinish={submit}
      initialValues={{ teacher_member_id: org.roles.includes("teacher") ? org.member_id : undefined, weekday: 1, starts_at: "08:00", ends_at: "08:45" }}
      style={{ padding: 12, marginBottom: 16, border: "1px solid #f0f0f0", borderRadius: 8 }}
      data-testid="lesson-form"
    >
      <Form.Item name="subject" label={t("room.subject")} rules={[{ required: true, whitespace: true, message: t("room.subjectRequired") }]}>
        <Input maxLength={100} placeholder={t("room.subjectPlaceholder")} data-testid="lesson-subject-input" />
      </Form.Item>
      <Form.Item name="teacher_member_id" label={t("room.teacher")} rules={[{ required: true, message: t("room.teacherRequired") }]}>
        <Select
          options={teacherOptions}
          showSearch
          optionFilterProp="label"
          data-testid="lesson-teacher-input"
          placeholder={t("room.teacherPlaceholder")}
        />
      </Form.Item>
      <Flex gap={12}>
        <Form.Item name="weekday" label={t("room.weekday")} style={{ flex: 1 }} rules={[{ required: true }]}>
          <Select data-testid="lesson-weekday-input" options={WEEKDAY_KEYS.map((key, i) => ({ value: i + 1, label: t(key) }))} />
        </Form.Item>
        <Form.Item
          name="starts_at"
          label={t("room.startsAt")}
          style={{ flex: 1 }}
          rules={[{ required: true, pattern: TIME, message: t("room.timeInvalid") }]}
        >
          <Input type="time" data-testid="lesson-starts-input" />
        </Form.Item>
        <Form.Item
          name="ends_at"
          label={t("room.endsAt")}
          style={{ flex: 1 }}
          dependencies={["starts_at"]}
          rules={[
            { required: true, pattern: TIME, message: t("room.timeInvalid") },
            ({ getFieldValue }) => ({
              validator: (_, value: string) =>
                !value || !getFieldValue("starts_at") || value > getFieldValue("starts_at")
                  ? Promise.resolve()
                  : Promise.reject(new Error(t("room.endsAfterStart"))),
            }),
          ]}
        >
          <Input type="time" data-testid="lesson-ends-input" />
        </Form.Item>
      </Flex>
      {error ? (
        <div role="alert" style={{ color: "#cf1322", marginBottom: 8 }} data-testid="lesson-error">
          {error}
        </div>
      ) : null}
      <Flex gap={8} justify="flex-end">
        <Button onClick={onCancel}>{t("common.cancel")}</Button>
        <Button type="primary" htmlType="submit" loading={saving} data-testid="lesson-submit">
          {t("room.addLessonSubmit")}
        </Button>
      </Flex>
    </Form>
  );
}

function PastTab({ org, conversation }: { org: MyOrg; conversation: ConversationDetail }) {
  const { t, formatDate } = useI18n();
  const [past, setPast] = useState<Room[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const manages = maySteerClass(org);

  const load = useCallback(async () => {
    setError(null);
    try {
      setPast(await roomsApi.list(org.id, { conversation_id: conversation.id, status: "ended" }));
    } catch (e) {
      setError(e);
    }
  }, [org.id, conversation.id]);

  useEffect(() => {
    load().catch(() => undefined);
  }, [load]);

  if (error && !past) return <ErrorAlert error={error} onRetry={() => load()} />;
  if (!past) return <Skeleton active />;
  if (!past.length) return <Empty description={t("room.noPastClasses")} />;
  return (
    <List
      size="small"
      dataSource={past}
      renderItem={(room) => (
        <List.Item
          data-testid="past-room"
          data-room-id={room.id}
          actions={
            manages
              ? [
                  <Link key="attendance" to={`${roomPath(org.id, room.id)}/attendance`} data-testid="past-room-attendance">
                    {t("room.attendance")}
                  </Link>,
                ]
              : []
          }
        >
          <List.Item.Meta
            title={room.title}
            description={`${formatDate(room.started_at, true)}${room.ended_at ? ` – ${formatDate(room.ended_at, true)}` : ""}`}
          />
        </List.Item>
      )}
    />
  );
}
