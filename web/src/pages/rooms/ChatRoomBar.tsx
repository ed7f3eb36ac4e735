import { CalendarOutlined, PlayCircleOutlined, VideoCameraOutlined } from "@ant-design/icons";
import { App as AntApp, Button, Checkbox, Flex, Form, Input, Modal, Tooltip } from "antd";
import { useState } from "react";
import { useNavigate } from "react-router-dom";
import { rooms as roomsApi } from "../../api/endpoints";
import type { ConversationDetail, MyOrg, Room } from "../../api/types";
import { useErrorText } from "../../components/ErrorAlert";
import { useI18n } from "../../i18n";
import { TimetableDrawer } from "./TimetableDrawer";

export const roomPath = (orgId: string, roomId: string) => `/orgs/${orgId}/rooms/${roomId}`;

/** Whether the client offers to start a class: teachers and administrators (the server decides). */
export function maySteerClass(org: MyOrg): boolean {
  return org.is_admin || org.roles.includes("teacher");
}

/** Buttons in a group chat's header: the timetable and "start class" in a class group, "start
 * meeting" in any group. */
export function ChatRoomActions({
  org,
  detail,
  onStarted,
}: {
  org: MyOrg;
  detail: ConversationDetail;
  onStarted: (room: Room) => void;
}) {
  const { t } = useI18n();
  const navigate = useNavigate();
  const { message: toast } = AntApp.useApp();
  const errorText = useErrorText();
  const [starting, setStarting] = useState(false);
  const [meetingOpen, setMeetingOpen] = useState(false);
  const [timetableOpen, setTimetableOpen] = useState(false);
  const isClass = detail.kind === "class";
  if (detail.kind === "direct") return null;

  const startClass = () => {
    setStarting(true);
    roomsApi
      .create(org.id, { kind: "class", conversation_id: detail.id })
      .then(
        (room) => {
          onStarted(room);
          navigate(roomPath(org.id, room.id));
        },
        (e: unknown) => toast.error(errorText(e)),
      )
      .finally(() => setStarting(false));
  };

  return (
    <>
      {isClass ? (
        <Tooltip title={t("room.timetable")}>
          <Button icon={<CalendarOutlined />} onClick={() => setTimetableOpen(true)} data-testid="timetable-open" aria-label={t("room.timetable")} />
        </Tooltip>
      ) : null}
      {isClass && maySteerClass(org) ? (
        <Button type="primary" icon={<PlayCircleOutlined />} loading={starting} onClick={startClass} data-testid="class-start">
          {t("room.startClass")}
        </Button>
      ) : null}
      <Tooltip title={t("room.startMeetingHint")}>
        <Button icon={<VideoCameraOutlined />} onClick={() => setMeetingOpen(true)} data-testid="meeting-start">
          {t("room.startMeeting")}
        </Button>
      </Tooltip>
      <StartMeetingModal
        open={meetingOpen}
        org={org}
        detail={detail}
        onClose={() => setMeetingOpen(false)}
        onStarted={(room) => {
          setMeetingOpen(false);
          onStarted(room);
          navigate(roomPath(org.id, room.id));
        }}
      />
      {isClass ? (
        <TimetableDrawer open={timetableOpen} onClose={() => setTimetableOpen(false)} org={org} conversation={detail} />
      ) : null}
    </>
  );
}

function StartMeetingModal({
  open,
  org,
  detail,
  onClose,
  onStarted,
}: {
  open: boolean;
  org: MyOrg;
  detail: ConversationDetail;
  onClose: () => void;
  onStarted: (room: Room) => void;
}) {
  const { t } = useI18n();
  const errorText = useErrorText();
  const [form] = Form.useForm<{ title: string; waiting_room: boolean }>();
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async () => {
    const values = await form.validateFields();
    setSaving(true);
    setError(null);
    try {
      const room = await roomsApi.create(org.id, {
        kind: "meeting",
        title: values.title.trim(),
        conversation_id: detail.id,
        ...(values.waiting_room ? { waiting_room: true } : {}),
      });
      form.resetFields();
      onStarted(room);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setSaving(false);
    }
  };

  return (
    <Modal
      open={open}
      title={t("room.startMeeting")}
      onCancel={onClose}
      onOk={submit}
      okText={t("room.startMeetingSubmit")}
      cancelText={t("common.cancel")}
      confirmLoading={saving}
      okButtonProps={{ "data-testid": "meeting-submit" }}
      destroyOnHidden
    >
      <p style={{ color: "rgba(0,0,0,0.55)" }}>{t("room.startMeetingIntro", { name: detail.name })}</p>
      <Form
        form={form}
        layout="vertical"
        initialValues={{ title: t("room.meetingDefaultTitle", { name: detail.name }), waiting_room: false }}
        onFinish={submit}
      >
        <Form.Item name="title" label={t("room.meetingTitle")} rules={[{ required: true, whitespace: true, message: t("room.meetingTitleRequired") }]}>
          <Input maxLength={100} data-testid="meeting-title" />
        </Form.Item>
        <Form.Item name="waiting_room" valuePropName="checked" extra={t("room.waitingRoomHint")}>
          <Checkbox data-testid="meeting-waiting-room">{t("room.waitingRoomOption")}</Checkbox>
        </Form.Item>
      </Form>
      {error ? (
        <div role="alert" style={{ color: "#cf1322" }} data-testid="meeting-error">
          {error}
        </div>
      ) : null}
    </Modal>
  );
}

/** Under the header of a group chat: each room of the group that is open, with a button to join it. */
export function OpenRoomsBanner({ orgId, rooms }: { orgId: string; rooms: Room[] }) {
  const { t } = useI18n();
  const navigate = useNavigate();
  const open = rooms.filter((r) => r.status === "open");
  if (!open.length) return null;
  return (
    <>
      {open.map((room) => (
        <Flex
          key={room.id}
          className="tack-room-banner"
          align="center"
          gap={12}
          data-testid="room-banner"
          data-room-id={room.id}
          data-kind={room.kind}
        >
          {room.kind === "class" ? <PlayCircleOutlined /> : <VideoCameraOutlined />}
          <span style={{ flex: 1, minWidth: 0 }}>
            <strong>{room.kind === "class" ? t("room.classInProgress") : t("room.meetingInProgress")}</strong>
            {" · "}
            <span data-testid="room-banner-title">{room.title}</span>
            {room.seated ? <span className="tack-room-banner-count"> · {t("room.seatedCount", { count: room.seated })}</span> : null}
          </span>
          <Button type="primary" size="small" onClick={() => navigate(roomPath(orgId, room.id))} data-testid="room-join">
            {room.kind === "class" ? t("room.joinClass") : t("room.joinMeeting")}
          </Button>
        </Flex>
      ))}
    </>
  );
}
