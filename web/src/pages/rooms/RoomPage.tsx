import {
  ArrowLeftOutlined,
  AudioMutedOutlined,
  AudioOutlined,
  CheckOutlined,
  LockOutlined,
  LogoutOutlined,
  MoreOutlined,
  PoweroffOutlined,
  SoundOutlined,
  TableOutlined,
  UnlockOutlined,
  VideoCameraOutlined,
} from "@ant-design/icons";
import {
  Alert,
  App as AntApp,
  Avatar,
  Badge,
  Button,
  Card,
  Drawer,
  Dropdown,
  Empty,
  Flex,
  List,
  Result,
  Spin,
  Tag,
  Tooltip,
  Typography,
  type MenuProps,
} from "antd";
import { useCallback, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { useNavigate, useParams } from "react-router-dom";
import { ApiError } from "../../api/client";
import { rooms as roomsApi } from "../../api/endpoints";
import type { MediaInfo, Participant, ParticipantUpdate, Room, RoomTicket } from "../../api/types";
import { useErrorText } from "../../components/ErrorAlert";
import { avatarColor } from "../../components/MemberList";
import { useI18n, type MessageKey } from "../../i18n";
import { useCurrentOrg } from "../../orgs/OrgsContext";
import { isAbort, joinRoom, TicketStore, type JoinWaiting } from "../../rooms/join";
import { useRoomEvents } from "../../rooms/RoomEvents";
import {
  applyMuteAllAnswer,
  applyParticipantAnswer,
  applyRoomAnswer,
  applyRoomEvent,
  isHost,
  joinedParticipants,
  raisedHands,
  rebase,
  roomIdOf,
  waitingParticipants,
  type RoomState,
} from "../../rooms/roomState";
import type { StreamEvent } from "../../stream/StreamClient";
import { useResync, useStream, useStreamEvents } from "../../stream/StreamProvider";
import { AttendanceTable } from "./AttendancePage";
import { GuestAccessCard } from "./GuestAccessCard";
import { MediaPanel } from "./MediaPanel";
import { useRoleName } from "./labels";

/** Room events kept to rebase a later snapshot on (a rejoin after a reconnect). */
const EVENT_LOG_LIMIT = 1000;

type Phase =
  | { kind: "joining" }
  | { kind: "queued"; waiting: JoinWaiting }
  | { kind: "in" }
  | { kind: "error"; error: unknown }
  | { kind: "left" };

/** Titles for refusals of a join, by the server's error code. */
const JOIN_ERROR_TITLES: Record<string, MessageKey> = {
  not_found: "room.error.not_found",
  room_removed: "room.error.room_removed",
  room_locked: "room.error.room_locked",
  room_not_open: "room.error.room_not_open",
  room_ended: "room.error.room_ended",
  room_full: "room.error.room_full",
  network_error: "room.error.network",
};
/** Refusals after which trying again cannot help. */
const FINAL_CODES = new Set(["not_found", "room_removed", "room_ended"]);

/** /orgs/ORG/rooms/ROOM: a class or a meeting. */
export function RoomPage() {
  const { roomId = "" } = useParams();
  return <RoomView key={roomId} roomId={roomId} />;
}

function RoomView({ roomId }: { roomId: string }) {
  const org = useCurrentOrg();
  const orgId = org.id;
  const { t } = useI18n();
  const navigate = useNavigate();
  const errorText = useErrorText();
  const { message: toast, modal } = AntApp.useApp();
  // The join below must not change identity on every render (it runs from effects).
  const say = useRef({ toast, errorText });
  say.current = { toast, errorText };
  const stream = useStream();
  const tickets = useMemo(() => new TicketStore(), []);

  const [state, setState] = useState<RoomState | null>(null);
  const [myId, setMyId] = useState<string | null>(null);
  const [media, setMedia] = useState<MediaInfo | null>(null);
  const [phase, setPhase] = useState<Phase>({ kind: "joining" });
  const [info, setInfo] = useState<Room | null>(null);
  const [rejoinWaiting, setRejoinWaiting] = useState<JoinWaiting | null>(null);
  const [attendanceOpen, setAttendanceOpen] = useState(false);
  // Bumped by `room.media_moved`: the media reconnects (to the room's new media server).
  const [mediaMoves, setMediaMoves] = useState(0);
  const stateRef = useRef(state);
  stateRef.current = state;
  // The room's events: those kept from before this page (the snapshot may be a second old), then
  // those heard here.
  const roomEvents = useRoomEvents();
  const log = useRef<StreamEvent[]>([]);
  const seen = useCallback(
    () => [...roomEvents.recent(orgId, roomId), ...log.current],
    [roomEvents, orgId, roomId],
  );
  const joinCtl = useRef<AbortController | null>(null);
  const gone = useRef(false);

  const room = state?.room ?? info;
  const backPath = room?.conversation_id ? `/orgs/${orgId}/chat/${room.conversation_id}` : `/orgs/${orgId}/chat`;
  const backRef = useRef(backPath);
  backRef.current = backPath;

  // ---- joining --------------------------------------------------------------------------------

  const accept = useCallback((ticket: RoomTicket) => {
    setMyId(ticket.participant.id);
    setMedia(ticket.media);
    setState(applyParticipantAnswer(rebase(ticket.snapshot, seen()), ticket.participant, ticket.snapshot.position));
    setPhase({ kind: "in" });
  }, [seen]);

  /** Joins (or, `silent`, joins again while the room stays on screen: after a reconnect, after
   * being admitted from the waiting room), waiting in line while the server is busy. */
  const join = useCallback(
    (silent: boolean) => {
      joinCtl.current?.abort();
      const ctl = new AbortController();
      joinCtl.current = ctl;
      const inView = silent && !!stateRef.current;
      if (!inView) setPhase({ kind: "joining" });
      setRejoinWaiting(null);
      joinRoom({
        roomId,
        tickets,
        signal: ctl.signal,
        join: (ticket, signal) => roomsApi.join(orgId, roomId, ticket, signal),
        onWaiting: (waiting) => (inView ? setRejoinWaiting(waiting) : setPhase({ kind: "queued", waiting })),
      }).then(
        (ticket) => {
          if (ctl.signal.aborted) return;
          joinCtl.current = null;
          setRejoinWaiting(null);
          accept(ticket);
        },
        (error: unknown) => {
          if (isAbort(error) || ctl.signal.aborted) return;
          joinCtl.current = null;
          setRejoinWaiting(null);
          const code = error instanceof ApiError ? error.code : "";
          if (FINAL_CODES.has(code)) tickets.clear(roomId);
          if (inView && !FINAL_CODES.has(code)) {
            // Still on screen from the stream's events: say it, and leave the view as it is.
            say.current.toast.warning(say.current.errorText(error));
            return;
          }
          setPhase({ kind: "error", error });
        },
      );
    },
    [orgId, roomId, tickets, accept],
  );

  useEffect(() => {
    gone.current = false;
    join(false);
    roomsApi.get(orgId, roomId).then(setInfo, () => undefined);
    return () => {
      joinCtl.current?.abort();
      // Leaving the page leaves the room (a reload does not come here: the seat is kept for the
      // rejoin with the ticket).
      if (!gone.current) roomsApi.leave(orgId, roomId).catch(() => undefined);
    };
  }, [orgId, roomId, join]);

  // ---- the stream -----------------------------------------------------------------------------

  useStreamEvents(orgId, (event) => {
    if (event.kind === "room.media_moved" && (event.data as { room_id?: unknown }).room_id === roomId) {
      setMediaMoves((n) => n + 1);
      return;
    }
    if (roomIdOf(event) !== roomId) return;
    log.current.push(event);
    if (log.current.length > EVENT_LOG_LIMIT) log.current.splice(0, log.current.length - EVENT_LOG_LIMIT);
    setState((current) => (current ? applyRoomEvent(current, event) : current));
  });

  useResync(orgId, async () => {
    if (!stateRef.current) return;
    const snapshot = await roomsApi.snapshot(orgId, roomId);
    setState((current) => {
      if (!current) return current;
      const next = rebase(snapshot, seen());
      const mine = myId ? current.participants[myId] : undefined;
      return mine && !next.participants[mine.id] ? applyParticipantAnswer(next, mine, next.position) : next;
    });
  });

  // Back from a dropped connection: join again with the ticket (the seat was held for us).
  const wasDown = useRef(false);
  const everLive = useRef(false);
  useEffect(() => {
    if (stream.state === "live") {
      if (wasDown.current && phase.kind === "in" && stateRef.current?.room.status !== "ended") join(true);
      wasDown.current = false;
      everLive.current = true;
    } else if (everLive.current && (stream.state === "offline" || stream.state === "connecting")) {
      wasDown.current = true;
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [stream.state]);

  // ---- what it means for me -------------------------------------------------------------------

  const mine = state && myId ? state.participants[myId] ?? null : null;
  const hosting = isHost(mine?.role);
  const ended = state?.room.status === "ended";
  const removed = mine?.state === "removed";
  const leftElsewhere = phase.kind === "in" && mine?.state === "left";

  // Admitted from the waiting room: join again for the seat (and the media token).
  const myState = mine?.state;
  const wasWaiting = useRef(false);
  useEffect(() => {
    if (myState === "waiting") wasWaiting.current = true;
    else if (myState === "joined" && wasWaiting.current) {
      wasWaiting.current = false;
      join(true);
    }
  }, [myState, join]);

  useEffect(() => {
    if (ended || removed) {
      gone.current = true;
      tickets.clear(roomId);
    }
  }, [ended, removed, tickets, roomId]);

  useEffect(() => {
    if (phase.kind === "error") {
      const code = phase.error instanceof ApiError ? phase.error.code : "";
      if (FINAL_CODES.has(code)) gone.current = true;
    }
  }, [phase]);

  // ---- actions --------------------------------------------------------------------------------

  const position = () => stateRef.current?.position ?? 0;
  const failed = (e: unknown) => void toast.error(errorText(e));

  const leave = () => {
    gone.current = true;
    joinCtl.current?.abort();
    tickets.clear(roomId);
    // Leaving always works, also when the server cannot be reached: the seat is given up after the
    // grace period then.
    roomsApi.leave(orgId, roomId).catch(() => undefined);
    navigate(backRef.current);
  };

  const cancelQueue = () => {
    gone.current = true;
    joinCtl.current?.abort();
    roomsApi.leave(orgId, roomId).catch(() => undefined);
    navigate(backRef.current);
  };

  const toggleHand = () => {
    if (!mine) return;
    const sentAt = position();
    roomsApi.hand(orgId, roomId, !mine.hand_raised).then(
      (p) => setState((s) => (s ? applyParticipantAnswer(s, p, sentAt) : s)),
      failed,
    );
  };

  const updateParticipant = (p: Participant, body: ParticipantUpdate) => {
    const sentAt = position();
    roomsApi.updateParticipant(orgId, roomId, p.id, body).then(
      (updated) => setState((s) => (s ? applyParticipantAnswer(s, updated, sentAt) : s)),
      failed,
    );
  };

  const removeParticipant = (p: Participant) =>
    modal.confirm({
      title: t("room.removeConfirm", { name: p.display_name }),
      content: t("room.removeHint"),
      okText: t("room.remove"),
      cancelText: t("common.cancel"),
      okButtonProps: { danger: true, "data-testid": "room-remove-confirm" },
      onOk: () => {
        const sentAt = position();
        return roomsApi.removeParticipant(orgId, roomId, p.id).then(
          () => setState((s) => (s ? applyParticipantAnswer(s, { ...p, state: "removed", hand_raised: false }, sentAt) : s)),
          failed,
        );
      },
    });

  const muteAll = () => {
    const sentAt = position();
    roomsApi.muteAll(orgId, roomId).then(
      (answer) => {
        setState((s) => (s ? applyMuteAllAnswer(s, sentAt) : s));
        toast.success(t("room.mutedAllDone", { count: answer?.muted ?? 0 }));
      },
      failed,
    );
  };

  const toggleLock = () => {
    if (!state) return;
    const sentAt = position();
    roomsApi.update(orgId, roomId, { locked: !state.room.locked }).then(
      (updated) => setState((s) => (s ? applyRoomAnswer(s, updated, sentAt) : s)),
      failed,
    );
  };

  const endForAll = () =>
    modal.confirm({
      title: state?.room.kind === "class" ? t("room.endClassConfirm") : t("room.endMeetingConfirm"),
      content: t("room.endHint"),
      okText: t("room.endForAll"),
      cancelText: t("common.cancel"),
      okButtonProps: { danger: true, "data-testid": "room-end-confirm" },
      onOk: () => {
        const sentAt = position();
        return roomsApi.end(orgId, roomId).then(
          (updated) => setState((s) => (s ? applyRoomAnswer(s, updated, sentAt) : s)),
          failed,
        );
      },
    });

  // ---- showing --------------------------------------------------------------------------------

  const kind = room?.kind ?? "meeting";
  const isClass = kind === "class";

  if (phase.kind === "joining" || phase.kind === "queued") {
    return (
      <RoomFrame testState="joining">
        {phase.kind === "queued" ? (
          <QueueCard waiting={phase.waiting} title={room?.title ?? null} isClass={isClass} onCancel={cancelQueue} />
        ) : (
          <Flex vertical align="center" gap={16} style={{ padding: 64 }} data-testid="room-joining">
            <Spin size="large" />
            <Typography.Text>{room ? t(isClass ? "room.enteringClass" : "room.enteringMeeting", { title: room.title }) : t("room.entering")}</Typography.Text>
            <Button onClick={cancelQueue} data-testid="room-queue-cancel">
              {t("common.cancel")}
            </Button>
          </Flex>
        )}
      </RoomFrame>
    );
  }

  if (phase.kind === "error") {
    const code = phase.error instanceof ApiError ? phase.error.code : "";
    const title = JOIN_ERROR_TITLES[code];
    return (
      <RoomFrame testState="error">
        <Result
          status={code === "not_found" ? "404" : code === "room_ended" ? "info" : "warning"}
          title={<span data-testid="room-join-error-title">{title ? t(title) : t("room.error.generic")}</span>}
          subTitle={<span data-testid="room-join-error" data-code={code}>{errorText(phase.error)}</span>}
          extra={[
            !FINAL_CODES.has(code) ? (
              <Button key="retry" type="primary" onClick={() => join(false)} data-testid="room-join-retry">
                {t("room.tryAgain")}
              </Button>
            ) : null,
            <Button key="back" onClick={() => navigate(backRef.current)} data-testid="room-back">
              {t("room.backToChat")}
            </Button>,
          ]}
        />
      </RoomFrame>
    );
  }

  if (!state || !mine) {
    return (
      <RoomFrame testState="joining">
        <Flex justify="center" style={{ padding: 64 }}>
          <Spin size="large" />
        </Flex>
      </RoomFrame>
    );
  }

  if (ended) {
    return (
      <RoomFrame testState="ended">
        <div data-testid="room-page" data-room-id={roomId} data-status="ended" data-my-role={mine.role}>
          <Result
            status="info"
            title={<span data-testid="room-ended">{isClass ? t("room.classEnded") : t("room.meetingEnded")}</span>}
            subTitle={state.room.title}
            extra={
              <Button type="primary" onClick={() => navigate(backRef.current)} data-testid="room-back">
                {t("room.backToChat")}
              </Button>
            }
          />
          {hosting ? (
            <Card title={t("room.attendance")} style={{ maxWidth: 960, margin: "0 auto" }}>
              <AttendanceTable orgId={orgId} roomId={roomId} />
            </Card>
          ) : null}
        </div>
      </RoomFrame>
    );
  }

  if (removed) {
    return (
      <RoomFrame testState="removed">
        <Result
          status="warning"
          title={<span data-testid="room-removed">{t("room.removedYou")}</span>}
          subTitle={state.room.title}
          extra={
            <Button type="primary" onClick={() => navigate(backRef.current)} data-testid="room-back">
              {t("room.backToChat")}
            </Button>
          }
        />
      </RoomFrame>
    );
  }

  if (leftElsewhere) {
    return (
      <RoomFrame testState="left">
        <Result
          status="info"
          title={<span data-testid="room-left">{t("room.youLeft")}</span>}
          subTitle={state.room.title}
          extra={[
            <Button key="again" type="primary" onClick={() => join(false)} data-testid="room-rejoin">
              {t("room.joinAgain")}
            </Button>,
            <Button key="back" onClick={() => navigate(backRef.current)} data-testid="room-back">
              {t("room.backToChat")}
            </Button>,
          ]}
        />
      </RoomFrame>
    );
  }

  if (mine.state === "waiting") {
    return (
      <RoomFrame testState="waiting">
        <Result
          icon={<Spin size="large" />}
          title={<span data-testid="room-waiting-self">{t("room.waitingForHost")}</span>}
          subTitle={state.room.title}
          extra={
            <Button onClick={leave} data-testid="room-leave">
              {t("room.leave")}
            </Button>
          }
        />
      </RoomFrame>
    );
  }

  // Only answers to a host carry the guest link (snapshots and events, shared by everyone, do not).
  const guestCode = info?.guest_code ?? state.room.guest_code ?? null;
  const guestPasscode = info?.guest_passcode ?? state.room.guest_passcode ?? null;
  const joined = joinedParticipants(state);
  const hands = raisedHands(state);
  const waiting = waitingParticipants(state);
  const count = state.order.length >= 500 ? Math.max(state.room.seated, joined.length) : joined.length;

  return (
    <div
      className="tack-room"
      data-testid="room-page"
      data-room-id={roomId}
      data-status={state.room.status}
      data-my-role={mine.role}
      data-locked={state.room.locked ? "true" : "false"}
    >
      <Flex className="tack-room-head" align="center" gap={12} wrap>
        <Tooltip title={t("room.backToChat")}>
          <Button type="text" icon={<ArrowLeftOutlined />} onClick={leave} aria-label={t("room.leave")} />
        </Tooltip>
        <div style={{ flex: 1, minWidth: 200 }}>
          <Flex align="center" gap={8} wrap>
            <Typography.Title level={4} style={{ margin: 0 }} data-testid="room-title">
              {state.room.title}
            </Typography.Title>
            <Tag color={isClass ? "geekblue" : "purple"}>{isClass ? t("room.kind.class") : t("room.kind.meeting")}</Tag>
            <Tag color={state.room.status === "open" ? "green" : "default"} data-testid="room-status" data-status={state.room.status}>
              {t(`room.status.${state.room.status}` as MessageKey)}
            </Tag>
            {state.room.locked ? (
              <Tag icon={<LockOutlined />} color="orange" data-testid="room-locked">
                {t("room.locked")}
              </Tag>
            ) : null}
          </Flex>
          <Typography.Text type="secondary" style={{ fontSize: 13 }} data-testid="room-count" data-count={count}>
            {t("room.inRoomCount", { count })}
          </Typography.Text>
        </div>
        {hosting ? (
          <Flex gap={8} wrap data-testid="room-host-controls">
            <Button icon={<AudioMutedOutlined />} onClick={muteAll} data-testid="room-mute-all">
              {t("room.muteAll")}
            </Button>
            <Button
              icon={state.room.locked ? <UnlockOutlined /> : <LockOutlined />}
              onClick={toggleLock}
              data-testid="room-lock"
              data-locked={state.room.locked ? "true" : "false"}
            >
              {state.room.locked ? t("room.unlock") : t("room.lock")}
            </Button>
            <Button icon={<TableOutlined />} onClick={() => setAttendanceOpen(true)} data-testid="room-attendance">
              {t("room.attendance")}
            </Button>
            <Button danger type="primary" icon={<PoweroffOutlined />} onClick={endForAll} data-testid="room-end">
              {isClass ? t("room.endClass") : t("room.endMeeting")}
            </Button>
          </Flex>
        ) : null}
        <Button icon={<LogoutOutlined />} onClick={leave} data-testid="room-leave">
          {t("room.leave")}
        </Button>
      </Flex>
      {rejoinWaiting ? (
        <Alert
          type="info"
          showIcon
          style={{ margin: "8px 16px 0" }}
          data-testid="room-rejoin-queue"
          message={t("room.rejoinQueued", { position: rejoinWaiting.position ?? "?" })}
        />
      ) : null}
      {mine.muted ? (
        <Alert type="warning" showIcon icon={<AudioMutedOutlined />} style={{ margin: "8px 16px 0" }} data-testid="room-muted-self" message={t(isClass ? "room.youAreMutedClass" : "room.youAreMuted")} />
      ) : null}
      <div className="tack-room-body">
        <RoomStage
          media={media}
          mine={mine}
          onHand={toggleHand}
          mediaPanel={
            <MediaPanel
              request={(token, watch) => roomsApi.media(orgId, roomId, token, watch)}
              token={media?.token ?? null}
              available={!!media?.available}
              mine={mine}
              isClass={isClass}
              moveKey={mediaMoves}
            />
          }
        />
        <div className="tack-room-side">
          <Card size="small" title={<Badge count={hands.length} offset={[12, 0]} size="small">{t("room.hands")}</Badge>} data-testid="room-hands">
            {hands.length ? (
              <List
                size="small"
                dataSource={hands}
                renderItem={(p, index) => (
                  <List.Item
                    data-testid="room-hand"
                    data-participant-id={p.id}
                    data-member-id={p.member_id}
                    actions={
                      hosting
                        ? [
                            <Button key="lower" size="small" onClick={() => updateParticipant(p, { hand_raised: false })} data-testid="room-hand-lower">
                              {t("room.lowerTheirHand")}
                            </Button>,
                          ]
                        : []
                    }
                  >
                    <span>
                      {index + 1}. <span aria-hidden>✋</span> <span data-testid="room-hand-name">{p.display_name}</span>
                      {p.id === mine.id ? ` ${t("room.me")}` : ""}
                    </span>
                  </List.Item>
                )}
              />
            ) : (
              <Typography.Text type="secondary" data-testid="room-hands-empty">
                {t("room.noHands")}
              </Typography.Text>
            )}
          </Card>
          {hosting && guestCode ? <GuestAccessCard code={guestCode} passcode={guestPasscode} /> : null}
          {hosting && waiting.length ? (
            <Card size="small" title={t("room.waitingRoom", { count: waiting.length })} data-testid="room-waiting">
              <List
                size="small"
                dataSource={waiting}
                renderItem={(p) => (
                  <List.Item
                    data-testid="room-waiting-row"
                    data-participant-id={p.id}
                    actions={[
                      <Button key="admit" size="small" type="primary" icon={<CheckOutlined />} onClick={() => updateParticipant(p, { admit: true })} data-testid="room-admit">
                        {t("room.admit")}
                      </Button>,
                    ]}
                  >
                    {p.display_name}
                  </List.Item>
                )}
              />
            </Card>
          ) : null}
          <Card size="small" title={t("room.participants", { count })} data-testid="room-participants" className="tack-room-people">
            {joined.length ? (
              <List
                size="small"
                dataSource={joined}
                renderItem={(p) => (
                  <ParticipantRow
                    participant={p}
                    kind={kind}
                    isMe={p.id === mine.id}
                    canManage={hosting && p.id !== mine.id && p.role !== "host"}
                    iAmHost={mine.role === "host"}
                    onUpdate={(body) => updateParticipant(p, body)}
                    onRemove={() => removeParticipant(p)}
                  />
                )}
              />
            ) : (
              <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} />
            )}
          </Card>
        </div>
      </div>
      {hosting ? (
        <Drawer open={attendanceOpen} onClose={() => setAttendanceOpen(false)} width={760} title={t("room.attendance")} destroyOnHidden>
          <AttendanceTable orgId={orgId} roomId={roomId} />
        </Drawer>
      ) : null}
    </div>
  );
}

function RoomFrame({ testState, children }: { testState: string; children: React.ReactNode }) {
  return (
    <div className="tack-room" data-testid="room-view" data-state={testState}>
      {children}
    </div>
  );
}

export function QueueCard({
  waiting,
  title,
  isClass,
  onCancel,
}: {
  waiting: JoinWaiting;
  title: string | null;
  isClass: boolean;
  onCancel: () => void;
}) {
  const { t } = useI18n();
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(timer);
  }, []);
  const seconds = Math.max(0, Math.ceil((waiting.retryAt - now) / 1000));
  return (
    <Result
      icon={<Spin size="large" />}
      title={
        <span data-testid="room-queue" data-position={waiting.position ?? ""}>
          {waiting.position !== null ? t("room.queuePosition", { position: waiting.position }) : t("room.queueBusy")}
        </span>
      }
      subTitle={
        <Flex vertical gap={4} align="center">
          {title ? <span>{t(isClass ? "room.enteringClass" : "room.enteringMeeting", { title })}</span> : null}
          <span data-testid="room-queue-retry" data-seconds={seconds}>
            {seconds > 0 ? t("room.queueRetryIn", { seconds }) : t("room.queueRetrying")}
          </span>
        </Flex>
      }
      extra={
        <Button onClick={onCancel} data-testid="room-queue-cancel">
          {t("common.cancel")}
        </Button>
      }
    />
  );
}

/** The stage of a room (media, then my own controls), for members and guests alike. */
export function RoomStage({
  media,
  mine,
  onHand,
  mediaPanel,
}: {
  media: MediaInfo | null;
  mine: Participant;
  onHand: () => void;
  /** Sound and picture (MediaPanel); without it, only whether media is available. */
  mediaPanel?: ReactNode;
}) {
  const { t } = useI18n();
  return (
    <div className="tack-room-stage">
      {mediaPanel ?? <MediaArea media={media} />}
      <Flex className="tack-room-controls" align="center" justify="center" gap={12}>
        <Button
          size="large"
          type={mine.hand_raised ? "primary" : "default"}
          onClick={onHand}
          data-testid="room-hand-toggle"
          data-raised={mine.hand_raised ? "true" : "false"}
        >
          <span aria-hidden>✋</span> {mine.hand_raised ? t("room.lowerHand") : t("room.raiseHand")}
        </Button>
        <Tag icon={mine.muted ? <AudioMutedOutlined /> : <AudioOutlined />} color={mine.muted ? "red" : "default"}>
          {mine.muted ? t("room.muted") : t("room.notMuted")}
        </Tag>
      </Flex>
    </div>
  );
}

export function MediaArea({ media }: { media: MediaInfo | null }) {
  const { t } = useI18n();
  if (!media?.available) {
    return (
      <div className="tack-room-media" data-testid="media-unavailable">
        <VideoCameraOutlined style={{ fontSize: 40, color: "#bfbfbf" }} />
        <Typography.Text type="secondary">{t("room.mediaUnavailable")}</Typography.Text>
      </div>
    );
  }
  return (
    <div className="tack-room-media" data-testid="media-pending">
      <SoundOutlined style={{ fontSize: 40, color: "#bfbfbf" }} />
      <Typography.Text type="secondary">{t("room.mediaComing")}</Typography.Text>
    </div>
  );
}

export function ParticipantRow({
  participant: p,
  kind,
  isMe,
  canManage,
  iAmHost,
  onUpdate,
  onRemove,
}: {
  participant: Participant;
  kind: string;
  isMe: boolean;
  canManage: boolean;
  iAmHost: boolean;
  onUpdate: (body: ParticipantUpdate) => void;
  onRemove: () => void;
}) {
  const { t } = useI18n();
  const roleName = useRoleName();
  const items: MenuProps["items"] = [];
  if (canManage) {
    if (p.role !== "presenter") items.push({ key: "presenter", label: <span data-testid="room-action-presenter">{t("room.makePresenter")}</span> });
    if (iAmHost && p.role !== "cohost") items.push({ key: "cohost", label: <span data-testid="room-action-cohost">{t(kind === "class" ? "room.makeAssistant" : "room.makeCohost")}</span> });
    if (p.role !== "attendee") items.push({ key: "attendee", label: <span data-testid="room-action-attendee">{t(kind === "class" ? "room.makeStudent" : "room.makeAttendee")}</span> });
    if (p.hand_raised) items.push({ key: "lower", label: <span data-testid="room-action-lower-hand">{t("room.lowerTheirHand")}</span> });
    items.push({ type: "divider" });
    items.push({ key: "remove", danger: true, label: <span data-testid="room-action-remove">{t("room.remove")}</span> });
  }
  return (
    <List.Item
      data-testid="room-participant"
      data-participant-id={p.id}
      data-member-id={p.member_id}
      data-role={p.role}
      data-muted={p.muted ? "true" : "false"}
      data-hand={p.hand_raised ? "true" : "false"}
      actions={
        canManage
          ? [
              <Tooltip key="mute" title={p.muted ? t("room.unmute") : t("room.mute")}>
                <Button
                  size="small"
                  type="text"
                  icon={p.muted ? <AudioMutedOutlined style={{ color: "#cf1322" }} /> : <AudioOutlined />}
                  onClick={() => onUpdate({ muted: !p.muted })}
                  aria-label={p.muted ? t("room.unmute") : t("room.mute")}
                  data-testid="room-participant-mute"
                />
              </Tooltip>,
              <Dropdown
                key="more"
                trigger={["click"]}
                menu={{
                  items,
                  onClick: ({ key }) => {
                    if (key === "presenter") onUpdate({ role: "presenter" });
                    else if (key === "cohost") onUpdate({ role: "cohost" });
                    else if (key === "attendee") onUpdate({ role: "attendee" });
                    else if (key === "lower") onUpdate({ hand_raised: false });
                    else if (key === "remove") onRemove();
                  },
                }}
              >
                <Button size="small" type="text" icon={<MoreOutlined />} aria-label={t("room.manage", { name: p.display_name })} data-testid="room-participant-actions" />
              </Dropdown>,
            ]
          : p.muted
            ? [<AudioMutedOutlined key="muted" style={{ color: "#cf1322" }} aria-label={t("room.muted")} data-testid="room-participant-muted" />]
            : []
      }
    >
      <Flex align="center" gap={8} style={{ minWidth: 0 }}>
        <Avatar size="small" style={{ background: avatarColor(p.member_id ?? p.id), flexShrink: 0 }}>
          {p.display_name.slice(0, 1)}
        </Avatar>
        <span data-testid="room-participant-name" style={{ overflow: "hidden", textOverflow: "ellipsis", whiteSpace: "nowrap" }}>
          {p.display_name}
        </span>
        {isMe ? <Typography.Text type="secondary">{t("room.me")}</Typography.Text> : null}
        {p.guest ? (
          <Tag data-testid="room-participant-guest" style={{ marginInlineEnd: 0 }}>
            {t("guest.tag")}
          </Tag>
        ) : null}
        <Tag color={p.role === "host" ? "gold" : p.role === "attendee" ? undefined : "blue"} data-testid="room-participant-role" style={{ marginInlineEnd: 0 }}>
          {roleName(p.role, kind)}
        </Tag>
        {p.hand_raised ? (
          <span aria-label={t("room.handUp")} title={t("room.handUp")} data-testid="room-participant-hand">
            ✋
          </span>
        ) : null}
      </Flex>
    </List.Item>
  );
}
