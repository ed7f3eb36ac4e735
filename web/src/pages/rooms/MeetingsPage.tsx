/**
 * /orgs/ORG/meetings: the rooms I may join that have not ended (those I host, am invited to, or of
 * my groups), with "join" for open ones and "start" for scheduled ones I host, and a form to
 * schedule a meeting outside group chats (invitees, times, waiting room, guests).
 */
import { LinkOutlined, PlayCircleOutlined, PlusOutlined, ReloadOutlined } from "@ant-design/icons";
import { App as AntApp, Button, Empty, Flex, Form, Input, Modal, Popover, Switch, Table, Tag, Typography } from "antd";
import dayjs from "dayjs";
import { useCallback, useEffect, useRef, useState } from "react";
import { useNavigate } from "react-router-dom";
import { rooms as roomsApi } from "../../api/endpoints";
import type { MyOrg, Room, RoomIn } from "../../api/types";
import { ErrorAlert, useErrorText } from "../../components/ErrorAlert";
import { useI18n, type MessageKey } from "../../i18n";
import { useCurrentOrg } from "../../orgs/OrgsContext";
import { useResync, useStreamEvents } from "../../stream/StreamProvider";
import { PeopleSelect } from "../chat/NewConversationModal";
import { roomPath } from "./ChatRoomBar";
import { GuestAccessCard } from "./GuestAccessCard";

/** Stream events after which the list is fetched again. */
const REFRESH_KINDS = new Set(["room.invited", "room.opened", "room.scheduled", "room.ended", "room.updated", "room.closed"]);
/** Events often come in bursts (a meeting opens for many): one fetch for a burst. */
const REFRESH_DELAY_MS = 200;

const hostsIt = (room: Room, org: MyOrg) => room.my_role === "host" || room.host_member_id === org.member_id;

/** A `datetime-local` value ("2026-03-02T10:00") as ISO 8601 with this browser's offset. */
export function localToIso(value: string): string {
  return dayjs(value).format();
}

export function MeetingsPage() {
  const org = useCurrentOrg();
  const { t, formatDate } = useI18n();
  const navigate = useNavigate();
  const errorText = useErrorText();
  const { message: toast } = AntApp.useApp();
  const [rooms, setRooms] = useState<Room[]>([]);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const [scheduleOpen, setScheduleOpen] = useState(false);
  const [starting, setStarting] = useState<string | null>(null);
  const generation = useRef(0);
  const refreshTimer = useRef<ReturnType<typeof setTimeout> | null>(null);

  const reload = useCallback(async () => {
    const run = ++generation.current;
    try {
      const list = await roomsApi.list(org.id);
      if (run !== generation.current) return;
      setRooms(list.filter((r) => r.status !== "ended"));
      setError(null);
    } catch (e) {
      if (run === generation.current) setError(e);
    } finally {
      if (run === generation.current) setLoading(false);
    }
  }, [org.id]);

  useEffect(() => {
    reload().catch(() => undefined);
    return () => {
      if (refreshTimer.current) clearTimeout(refreshTimer.current);
    };
  }, [reload]);

  useStreamEvents(org.id, (event) => {
    if (!REFRESH_KINDS.has(event.kind)) return;
    if (refreshTimer.current) clearTimeout(refreshTimer.current);
    refreshTimer.current = setTimeout(() => {
      refreshTimer.current = null;
      reload().catch(() => undefined);
    }, REFRESH_DELAY_MS);
  });
  useResync(org.id, reload);

  const start = (room: Room) => {
    setStarting(room.id);
    roomsApi
      .start(org.id, room.id)
      .then(
        () => navigate(roomPath(org.id, room.id)),
        (e: unknown) => void toast.error(errorText(e)),
      )
      .finally(() => setStarting(null));
  };

  const created = (room: Room) => {
    setScheduleOpen(false);
    if (room.status === "open") {
      navigate(roomPath(org.id, room.id));
      return;
    }
    toast.success(t("meetings.scheduled"));
    setRooms((list) => [...list.filter((r) => r.id !== room.id), room]);
    reload().catch(() => undefined);
  };

  return (
    <div data-testid="meetings-page">
      <Flex align="center" justify="space-between" gap={12} wrap style={{ marginBottom: 16 }}>
        <div>
          <Typography.Title level={3} style={{ margin: 0 }}>
            {t("meetings.title")}
          </Typography.Title>
          <Typography.Text type="secondary">{t("meetings.intro")}</Typography.Text>
        </div>
        <Flex gap={8}>
          <Button icon={<ReloadOutlined />} onClick={() => void reload()} aria-label={t("common.retry")} />
          <Button type="primary" icon={<PlusOutlined />} onClick={() => setScheduleOpen(true)} data-testid="meetings-schedule">
            {t("meetings.schedule")}
          </Button>
        </Flex>
      </Flex>
      <ErrorAlert error={error} onRetry={() => void reload()} style={{ marginBottom: 16 }} />
      <Table<Room>
        rowKey="id"
        loading={loading}
        dataSource={rooms}
        pagination={false}
        locale={{ emptyText: <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={<span data-testid="meetings-empty">{t("meetings.empty")}</span>} /> }}
        onRow={(room) =>
          ({ "data-testid": "meetings-row", "data-room-id": room.id, "data-status": room.status }) as React.HTMLAttributes<HTMLElement>
        }
        columns={[
          {
            key: "title",
            title: t("meetings.colTitle"),
            render: (_, room) => (
              <Flex align="center" gap={8} wrap>
                <span data-testid="meetings-row-title">{room.title}</span>
                {hostsIt(room, org) ? <Tag color="gold">{t("meetings.hosting")}</Tag> : null}
              </Flex>
            ),
          },
          {
            key: "kind",
            title: t("meetings.colKind"),
            render: (_, room) => (
              <Tag color={room.kind === "class" ? "geekblue" : "purple"} data-testid="meetings-row-kind">
                {t(room.kind === "class" ? "room.kind.class" : "room.kind.meeting")}
              </Tag>
            ),
          },
          {
            key: "status",
            title: t("meetings.colStatus"),
            render: (_, room) => (
              <Tag color={room.status === "open" ? "green" : "default"} data-testid="meetings-row-status" data-status={room.status}>
                {t(`room.status.${room.status}` as MessageKey)}
              </Tag>
            ),
          },
          {
            key: "start",
            title: t("meetings.colStart"),
            render: (_, room) => (
              <span data-testid="meetings-row-start">
                {room.scheduled_start
                  ? formatDate(room.scheduled_start, true)
                  : room.started_at
                    ? formatDate(room.started_at, true)
                    : t("meetings.notSet")}
              </span>
            ),
          },
          {
            key: "actions",
            title: t("common.actions"),
            render: (_, room) => (
              <Flex gap={8} wrap>
                {room.status === "open" ? (
                  <Button type="primary" size="small" onClick={() => navigate(roomPath(org.id, room.id))} data-testid="meetings-join">
                    {t("meetings.join")}
                  </Button>
                ) : null}
                {room.status === "scheduled" && hostsIt(room, org) ? (
                  <Button
                    type="primary"
                    size="small"
                    icon={<PlayCircleOutlined />}
                    loading={starting === room.id}
                    onClick={() => start(room)}
                    data-testid="meetings-start"
                  >
                    {t("meetings.start")}
                  </Button>
                ) : null}
                {room.guest_code ? (
                  <Popover
                    trigger="click"
                    content={
                      <div style={{ width: 320 }}>
                        <GuestAccessCard code={room.guest_code} passcode={room.guest_passcode ?? null} bordered={false} />
                      </div>
                    }
                  >
                    <Button size="small" icon={<LinkOutlined />} data-testid="meetings-guest-link">
                      {t("meetings.guestLink")}
                    </Button>
                  </Popover>
                ) : null}
              </Flex>
            ),
          },
        ]}
      />
      <ScheduleMeetingModal open={scheduleOpen} org={org} onClose={() => setScheduleOpen(false)} onCreated={created} />
    </div>
  );
}

interface ScheduleValues {
  title: string;
  invitee_ids?: string[];
  start?: string;
  end?: string;
  waiting_room?: boolean;
  allow_guests?: boolean;
}

function ScheduleMeetingModal({
  open,
  org,
  onClose,
  onCreated,
}: {
  open: boolean;
  org: MyOrg;
  onClose: () => void;
  onCreated: (room: Room) => void;
}) {
  const { t } = useI18n();
  const [form] = Form.useForm<ScheduleValues>();
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const start = Form.useWatch("start", form);

  useEffect(() => {
    if (open) setError(null);
  }, [open]);

  const submit = async () => {
    const values = await form.validateFields();
    const body: RoomIn = { kind: "meeting", title: values.title.trim() };
    if (values.invitee_ids?.length) body.invitee_ids = values.invitee_ids;
    if (values.start) body.scheduled_start = localToIso(values.start);
    if (values.end) body.scheduled_end = localToIso(values.end);
    if (values.waiting_room) body.waiting_room = true;
    if (values.allow_guests) body.allow_guests = true;
    setSaving(true);
    setError(null);
    try {
      const room = await roomsApi.create(org.id, body);
      form.resetFields();
      onCreated(room);
    } catch (e) {
      setError(e);
    } finally {
      setSaving(false);
    }
  };

  return (
    <Modal
      open={open}
      title={t("meetings.schedule")}
      onCancel={onClose}
      onOk={() => void submit().catch(() => undefined)}
      okText={start ? t("meetings.submitLater") : t("meetings.submitNow")}
      cancelText={t("common.cancel")}
      confirmLoading={saving}
      okButtonProps={{ "data-testid": "schedule-submit" }}
      destroyOnHidden
    >
      <Form<ScheduleValues>
        form={form}
        layout="vertical"
        requiredMark={false}
        initialValues={{ title: "", invitee_ids: [], start: "", end: "", waiting_room: false, allow_guests: false }}
      >
        <Form.Item name="title" label={t("meetings.formTitle")} rules={[{ required: true, whitespace: true, message: t("meetings.formTitleRequired") }]}>
          <Input maxLength={100} data-testid="schedule-title" />
        </Form.Item>
        <Form.Item name="invitee_ids" label={t("meetings.invitees")} extra={t("meetings.inviteesHint")}>
          <PeopleSelect orgId={org.id} exclude={[org.member_id]} testId="schedule-invitees" />
        </Form.Item>
        <Flex gap={12} wrap>
          <Form.Item name="start" label={t("meetings.startTime")} extra={t("meetings.timeHint")} style={{ flex: 1, minWidth: 200 }}>
            <Input type="datetime-local" data-testid="schedule-start" />
          </Form.Item>
          <Form.Item
            name="end"
            label={t("meetings.endTime")}
            style={{ flex: 1, minWidth: 200 }}
            dependencies={["start"]}
            rules={[
              ({ getFieldValue }) => ({
                validator: (_, value: string | undefined) => {
                  if (!value) return Promise.resolve();
                  const from = getFieldValue("start") as string | undefined;
                  if (!from) return Promise.reject(new Error(t("meetings.endNeedsStart")));
                  if (!dayjs(value).isAfter(dayjs(from))) return Promise.reject(new Error(t("meetings.endAfterStart")));
                  return Promise.resolve();
                },
              }),
            ]}
          >
            <Input type="datetime-local" data-testid="schedule-end" />
          </Form.Item>
        </Flex>
        <Form.Item name="waiting_room" valuePropName="checked" label={t("room.waitingRoomOption")} extra={t("room.waitingRoomHint")}>
          <Switch data-testid="schedule-waiting-room" />
        </Form.Item>
        <Form.Item name="allow_guests" valuePropName="checked" label={t("meetings.allowGuests")} extra={t("meetings.allowGuestsHint")}>
          <Switch data-testid="schedule-allow-guests" />
        </Form.Item>
      </Form>
      {error ? (
        <div data-testid="schedule-error">
          <ErrorAlert error={error} />
        </div>
      ) : null}
    </Modal>
  );
}
