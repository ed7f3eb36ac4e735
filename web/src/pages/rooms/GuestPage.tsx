/**
 * /guest/CODE: a meeting for people without an account, by link and passcode (docs/rooms.md,
 * "Guests"). Outside sign-in.
 *
 * - Before joining: the meeting's title and organization, a form with a name and the passcode.
 * - Joining goes through the server's line like a member's join (rooms/join.ts): on 503 `busy` the
 *   place in line, and a retry by itself after Retry-After plus jitter.
 * - The guest's ticket is their only credential: it is kept per code in sessionStorage (with the
 *   name and passcode, which the server asks for on every join) so a reload gets the seat back.
 * - Guests have no stream: the page asks for the room's state every few seconds; each answer is a
 *   snapshot with the events since it was taken (roomState.ts's rebase).
 * - Sound and picture as for members (MediaPanel), the media session asked for with the ticket;
 *   a `room.media_moved` among the polled events reconnects the media, as the stream does for members.
 */
import { AudioMutedOutlined, LogoutOutlined } from "@ant-design/icons";
import { Alert, App as AntApp, Button, Card, Empty, Flex, Form, Input, List, Result, Spin, Tag, Typography } from "antd";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useParams } from "react-router-dom";
import { ApiError } from "../../api/client";
import { guestRooms } from "../../api/endpoints";
import type { GuestRoomInfo, MediaInfo, Participant, RoomSnapshot, RoomTicket } from "../../api/types";
import { AuthLayout } from "../../components/AuthLayout";
import { useErrorText } from "../../components/ErrorAlert";
import { FullPageSpinner } from "../../components/FullPageSpinner";
import { LanguageSwitch } from "../../components/LanguageSwitch";
import { Logo } from "../../components/Logo";
import { useI18n, type MessageKey } from "../../i18n";
import { GUEST_TICKET_STORAGE_PREFIX, isAbort, joinRoom, TicketStore, type JoinWaiting } from "../../rooms/join";
import {
  applyParticipantAnswer,
  joinedParticipants,
  raisedHands,
  rebase,
  type RoomState,
} from "../../rooms/roomState";
import { MediaPanel } from "./MediaPanel";
import { ParticipantRow, QueueCard, RoomStage } from "./RoomPage";

/** How often the page asks for the room's state. Tests make it shorter. */
export const guestPolling = { intervalMs: 3000 };

/** The guest's name and passcode, kept per code in sessionStorage next to the ticket. */
export const GUEST_IDENTITY_STORAGE_PREFIX = "tack.guest.identity.";

interface Identity {
  display_name: string;
  passcode: string;
}

function readIdentity(code: string): Identity | null {
  try {
    const raw = sessionStorage.getItem(GUEST_IDENTITY_STORAGE_PREFIX + code);
    const parsed = raw ? (JSON.parse(raw) as Partial<Identity>) : null;
    return parsed && typeof parsed.display_name === "string" && typeof parsed.passcode === "string"
      ? { display_name: parsed.display_name, passcode: parsed.passcode }
      : null;
  } catch {
    return null;
  }
}

function writeIdentity(code: string, who: Identity | null): void {
  try {
    if (who) sessionStorage.setItem(GUEST_IDENTITY_STORAGE_PREFIX + code, JSON.stringify(who));
    else sessionStorage.removeItem(GUEST_IDENTITY_STORAGE_PREFIX + code);
  } catch {
    /* storage unavailable: a reload asks again */
  }
}

type Phase =
  | { kind: "form" }
  | { kind: "joining" }
  | { kind: "queued"; waiting: JoinWaiting }
  | { kind: "in" }
  | { kind: "left" }
  | { kind: "removed" }
  | { kind: "ended" };

/** Titles for refusals of a guest's join, by the server's error code. */
const JOIN_ERROR_TITLES: Record<string, MessageKey> = {
  wrong_passcode: "guest.error.wrong_passcode",
  guest_throttled: "guest.error.guest_throttled",
  not_found: "guest.error.not_found",
  room_locked: "room.error.room_locked",
  room_full: "room.error.room_full",
  room_not_open: "guest.error.room_not_open",
  network_error: "room.error.network",
};

const codeOf = (error: unknown) => (error instanceof ApiError ? error.code : "");

/** The position of the latest `room.media_moved` of this room in a snapshot's events, if any. */
function lastMediaMove(snapshot: RoomSnapshot): number {
  let last = 0;
  for (const event of snapshot.events ?? []) {
    if (event.kind === "room.media_moved" && (event.data as { room_id?: unknown }).room_id === snapshot.room.id) {
      last = Math.max(last, event.position);
    }
  }
  return last;
}

export function GuestPage() {
  const { code = "" } = useParams();
  return <GuestView key={code} code={code} />;
}

function GuestView({ code }: { code: string }) {
  const { t } = useI18n();
  const errorText = useErrorText();
  const { message: toast } = AntApp.useApp();
  const tickets = useMemo(() => new TicketStore(undefined, GUEST_TICKET_STORAGE_PREFIX), []);

  const [info, setInfo] = useState<GuestRoomInfo | null>(null);
  const [infoError, setInfoError] = useState<unknown>(null);
  const [infoLoading, setInfoLoading] = useState(true);
  const [phase, setPhase] = useState<Phase>(() => (tickets.get(code) && readIdentity(code) ? { kind: "joining" } : { kind: "form" }));
  const [formError, setFormError] = useState<unknown>(null);
  const [throttledUntil, setThrottledUntil] = useState(0);
  const [who, setWho] = useState<Identity | null>(() => readIdentity(code));
  const [state, setState] = useState<RoomState | null>(null);
  const [myId, setMyId] = useState<string | null>(null);
  const [media, setMedia] = useState<MediaInfo | null>(null);
  const [pollTrouble, setPollTrouble] = useState(false);
  // Bumped by a `room.media_moved` seen in a poll: the media reconnects (to the room's new server).
  const [mediaMoves, setMediaMoves] = useState(0);
  /** The position up to which media moves are known: shared snapshots repeat events. */
  const movesSeenTo = useRef(0);

  // The join below must not change identity on every render (the polling effect depends on it).
  const say = useRef({ toast, errorText });
  say.current = { toast, errorText };
  const joinCtl = useRef<AbortController | null>(null);
  const myIdRef = useRef(myId);
  myIdRef.current = myId;
  /** Counts requests and answers, to tell whether my hand's answer came after a poll was sent. */
  const clock = useRef(0);
  const handAnswer = useRef<{ participant: Participant; sentAt: number; receivedAt: number } | null>(null);

  const loadInfo = useCallback(() => {
    setInfoLoading(true);
    setInfoError(null);
    guestRooms.info(code).then(
      (answer) => {
        setInfo(answer);
        setInfoLoading(false);
        if (answer.status === "ended") setPhase((p) => (p.kind === "form" ? { kind: "ended" } : p));
      },
      (error: unknown) => {
        setInfoError(error);
        setInfoLoading(false);
      },
    );
  }, [code]);

  useEffect(loadInfo, [loadInfo]);

  const forget = useCallback(() => {
    tickets.clear(code);
    writeIdentity(code, null);
  }, [tickets, code]);

  const accept = useCallback((ticket: RoomTicket) => {
    handAnswer.current = null;
    setMyId(ticket.participant.id);
    setMedia(ticket.media);
    // Moves before this join are behind the ticket's media token already.
    movesSeenTo.current = Math.max(movesSeenTo.current, ticket.snapshot.position, lastMediaMove(ticket.snapshot));
    setState(applyParticipantAnswer(rebase(ticket.snapshot, []), ticket.participant, ticket.snapshot.position));
    setPhase({ kind: "in" });
  }, []);

  /** Joins (or, `silent`, joins again while the room stays on screen), waiting in line while the
   * server is busy. */
  const join = useCallback(
    (identity: Identity, silent = false) => {
      joinCtl.current?.abort();
      const ctl = new AbortController();
      joinCtl.current = ctl;
      setFormError(null);
      if (!silent) setPhase({ kind: "joining" });
      joinRoom({
        roomId: code,
        tickets,
        signal: ctl.signal,
        join: (ticket, signal) =>
          guestRooms.join(code, { display_name: identity.display_name, passcode: identity.passcode, ...(ticket ? { ticket } : {}) }, signal),
        onWaiting: (waiting) => {
          if (!silent) setPhase({ kind: "queued", waiting });
        },
      }).then(
        (ticket) => {
          if (ctl.signal.aborted) return;
          joinCtl.current = null;
          writeIdentity(code, identity);
          accept(ticket);
        },
        (error: unknown) => {
          if (isAbort(error) || ctl.signal.aborted) return;
          joinCtl.current = null;
          const errorCode = codeOf(error);
          if (errorCode === "room_ended") {
            forget();
            setPhase({ kind: "ended" });
            return;
          }
          if (errorCode === "room_removed") {
            forget();
            setPhase({ kind: "removed" });
            return;
          }
          if (silent) {
            say.current.toast.warning(say.current.errorText(error));
            return;
          }
          if (errorCode === "guest_throttled" && error instanceof ApiError) {
            setThrottledUntil(Date.now() + (error.retryAfter ?? 60) * 1000);
          }
          if (errorCode === "wrong_passcode") writeIdentity(code, null);
          setFormError(error);
          setPhase({ kind: "form" });
        },
      );
    },
    [code, tickets, accept, forget],
  );

  // A reload with a kept ticket: back to the seat without asking again.
  useEffect(() => {
    const kept = readIdentity(code);
    if (tickets.get(code) && kept) join(kept);
    return () => joinCtl.current?.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  // ---- the room's state, asked for every few seconds ----------------------------------------------

  const inRoom = phase.kind === "in";
  useEffect(() => {
    if (!inRoom) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ctl = new AbortController();
    const poll = async () => {
      const ticket = tickets.get(code);
      if (!ticket || stopped) return;
      const sentAt = ++clock.current;
      let delay = guestPolling.intervalMs;
      try {
        const snapshot = await guestRooms.state(code, ticket, ctl.signal);
        if (stopped) return;
        setPollTrouble(false);
        const moved = lastMediaMove(snapshot);
        if (moved > movesSeenTo.current) {
          movesSeenTo.current = moved;
          setMediaMoves((n) => n + 1);
        }
        setState((current) => {
          let next = rebase(snapshot, []);
          const answer = handAnswer.current;
          // My hand's answer that came after this poll was sent: the snapshot may not hold it yet.
          if (answer && answer.receivedAt > sentAt) next = applyParticipantAnswer(next, answer.participant, answer.sentAt);
          const id = myIdRef.current;
          const mine = id && current ? current.participants[id] : undefined;
          // A big meeting's snapshot lists at most 500 people: keep myself.
          if (mine && !next.participants[mine.id]) next = applyParticipantAnswer(next, mine, next.position);
          return next;
        });
      } catch (error) {
        if (stopped || isAbort(error)) return;
        const errorCode = codeOf(error);
        if (errorCode === "ticket_invalid" || errorCode === "room_removed") {
          forget();
          setPhase({ kind: "removed" });
          return;
        }
        if (errorCode === "room_ended") {
          forget();
          setPhase({ kind: "ended" });
          return;
        }
        if (errorCode === "ticket_expired") {
          const kept = readIdentity(code);
          if (kept) {
            join(kept, true);
            return;
          }
        }
        setPollTrouble(true);
        if (error instanceof ApiError && error.retryAfter) delay = Math.max(delay, error.retryAfter * 1000);
      }
      if (!stopped) timer = setTimeout(() => void poll(), delay);
    };
    timer = setTimeout(() => void poll(), guestPolling.intervalMs);
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      ctl.abort();
    };
  }, [inRoom, code, tickets, forget, join]);

  const mine = state && myId ? state.participants[myId] ?? null : null;
  const ended = state?.room.status === "ended";
  const removed = mine?.state === "removed";
  const gone = mine?.state === "left";

  useEffect(() => {
    if (!inRoom) return;
    if (ended) {
      forget();
      setPhase({ kind: "ended" });
    } else if (removed) {
      forget();
      setPhase({ kind: "removed" });
    } else if (gone) {
      tickets.clear(code);
      setPhase({ kind: "left" });
    }
  }, [inRoom, ended, removed, gone, forget, tickets, code]);

  // Let in from the waiting room: join again for the seat (and the media token).
  const myState = mine?.state;
  const wasWaiting = useRef(false);
  useEffect(() => {
    if (myState === "waiting") wasWaiting.current = true;
    else if (myState === "joined" && wasWaiting.current) {
      wasWaiting.current = false;
      const kept = readIdentity(code);
      if (kept) join(kept, true);
    }
  }, [myState, join, code]);

  // ---- actions ------------------------------------------------------------------------------------

  const submit = (values: Identity) => {
    const identity = { display_name: values.display_name.trim(), passcode: values.passcode.trim() };
    setWho(identity);
    join(identity);
  };

  const cancelQueue = () => {
    joinCtl.current?.abort();
    joinCtl.current = null;
    const ticket = tickets.get(code);
    if (ticket) guestRooms.leave(code, ticket).catch(() => undefined);
    setPhase({ kind: "form" });
  };

  const leave = () => {
    joinCtl.current?.abort();
    joinCtl.current = null;
    const ticket = tickets.get(code);
    // Leaving always works, also when the server cannot be reached (the seat is then given up after
    // the grace period).
    if (ticket) guestRooms.leave(code, ticket).catch(() => undefined);
    forget();
    setState(null);
    setMyId(null);
    setPhase({ kind: "left" });
  };

  const toggleHand = () => {
    const ticket = tickets.get(code);
    if (!mine || !ticket) return;
    const sentAt = state?.position ?? 0;
    guestRooms.hand(code, ticket, !mine.hand_raised).then(
      (participant) => {
        handAnswer.current = { participant, sentAt, receivedAt: ++clock.current };
        setState((s) => (s ? applyParticipantAnswer(s, participant, sentAt) : s));
      },
      (error: unknown) => void toast.error(errorText(error)),
    );
  };

  // ---- showing ------------------------------------------------------------------------------------

  if (infoLoading && !info) {
    return (
      <AuthLayout width={480}>
        <FullPageSpinner />
      </AuthLayout>
    );
  }

  if (!info) {
    const unknown = infoError instanceof ApiError && (infoError.status === 404 || infoError.status === 422);
    return (
      <AuthLayout width={480}>
        <Result
          status={unknown ? "404" : "warning"}
          title={<span data-testid="guest-unavailable">{unknown ? t("guest.error.not_found") : t("guest.loadFailed")}</span>}
          subTitle={<span data-testid="guest-error" data-code={codeOf(infoError)}>{errorText(infoError)}</span>}
          extra={
            !unknown ? (
              <Button type="primary" onClick={loadInfo}>
                {t("common.retry")}
              </Button>
            ) : null
          }
        />
      </AuthLayout>
    );
  }

  if (phase.kind === "in" && state && mine) {
    return (
      <GuestFrame>
        {mine.state === "waiting" ? (
          <div className="tack-room" data-testid="guest-page" data-state="waiting">
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
          </div>
        ) : (
          <GuestRoom
            state={state}
            mine={mine}
            media={media}
            trouble={pollTrouble}
            onHand={toggleHand}
            onLeave={leave}
            mediaPanel={
              <MediaPanel
                // The ticket as kept now (a silent rejoin renews it).
                request={(token, watch) => guestRooms.media(code, tickets.get(code) ?? "", token, watch)}
                token={media?.token ?? null}
                available={!!media?.available}
                mine={mine}
                isClass={false}
                moveKey={mediaMoves}
              />
            }
          />
        )}
      </GuestFrame>
    );
  }

  const header = (
    <>
      <Typography.Paragraph type="secondary" style={{ marginBottom: 4 }} data-testid="guest-org">
        {info.org_name}
      </Typography.Paragraph>
      <Typography.Title level={4} style={{ marginTop: 0 }} data-testid="guest-title">
        {info.title}
      </Typography.Title>
    </>
  );

  if (phase.kind === "ended" || phase.kind === "removed" || phase.kind === "left") {
    const key: MessageKey = phase.kind === "ended" ? "room.meetingEnded" : phase.kind === "removed" ? "guest.removed" : "guest.left";
    return (
      <AuthLayout width={480}>
        {header}
        <div data-testid="guest-page" data-state={phase.kind}>
          <Result
            status={phase.kind === "removed" ? "warning" : "info"}
            title={<span data-testid={`guest-${phase.kind}`}>{t(key)}</span>}
            subTitle={phase.kind === "left" ? t("guest.leftHint") : phase.kind === "ended" ? t("guest.endedHint") : null}
            extra={
              phase.kind === "left" ? (
                <Button type="primary" onClick={() => (who ? join(who) : setPhase({ kind: "form" }))} data-testid="guest-rejoin">
                  {t("room.joinAgain")}
                </Button>
              ) : null
            }
          />
        </div>
      </AuthLayout>
    );
  }

  if (phase.kind === "joining" || phase.kind === "queued" || phase.kind === "in") {
    return (
      <AuthLayout width={480}>
        {header}
        <div data-testid="guest-page" data-state="joining">
          {phase.kind === "queued" ? (
            <QueueCard waiting={phase.waiting} title={info.title} isClass={false} onCancel={cancelQueue} />
          ) : (
            <Flex vertical align="center" gap={16} style={{ padding: 32 }} data-testid="room-joining">
              <Spin size="large" />
              <Typography.Text>{t("room.enteringMeeting", { title: info.title })}</Typography.Text>
              <Button onClick={cancelQueue} data-testid="room-queue-cancel">
                {t("common.cancel")}
              </Button>
            </Flex>
          )}
        </div>
      </AuthLayout>
    );
  }

  return (
    <AuthLayout width={480}>
      {header}
      <div data-testid="guest-page" data-state="form">
        <Typography.Paragraph type="secondary">{t("guest.intro")}</Typography.Paragraph>
        {info.status === "scheduled" ? (
          <Alert type="info" showIcon style={{ marginBottom: 16 }} message={t("guest.notStarted")} data-testid="guest-not-started" />
        ) : null}
        {info.waiting_room ? (
          <Alert type="info" showIcon style={{ marginBottom: 16 }} message={t("guest.waitingRoomNote")} />
        ) : null}
        <JoinErrorAlert error={formError} throttledUntil={throttledUntil} />
        <GuestForm initial={who} throttledUntil={throttledUntil} onSubmit={submit} />
      </div>
    </AuthLayout>
  );
}

/** Seconds left until `until` (Date.now() based), ticking. */
function useSecondsLeft(until: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (until <= Date.now()) return;
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(timer);
  }, [until]);
  return Math.max(0, Math.ceil((until - now) / 1000));
}

function JoinErrorAlert({ error, throttledUntil }: { error: unknown; throttledUntil: number }) {
  const { t } = useI18n();
  const errorText = useErrorText();
  const seconds = useSecondsLeft(throttledUntil);
  if (!error) return null;
  const errorCode = codeOf(error);
  const title = JOIN_ERROR_TITLES[errorCode];
  const throttled = errorCode === "guest_throttled";
  // For the throttle the wait is shown as a countdown, not as the fixed figure of the answer.
  const text = throttled
    ? seconds > 0
      ? t("guest.throttledWait", { seconds })
      : t("guest.throttledOver")
    : errorText(error);
  return (
    <Alert
      type={errorCode === "wrong_passcode" || throttled ? "error" : "warning"}
      showIcon
      role="alert"
      style={{ marginBottom: 16 }}
      data-testid="guest-error"
      data-code={errorCode}
      message={<span data-testid="guest-error-title">{title ? t(title) : t("room.error.generic")}</span>}
      description={
        <span data-testid={throttled ? "guest-throttled-wait" : "guest-error-message"} data-seconds={throttled ? seconds : undefined}>
          {text}
        </span>
      }
    />
  );
}

function GuestForm({
  initial,
  throttledUntil,
  onSubmit,
}: {
  initial: Identity | null;
  throttledUntil: number;
  onSubmit: (values: Identity) => void;
}) {
  const { t } = useI18n();
  const seconds = useSecondsLeft(throttledUntil);
  return (
    <Form<Identity>
      layout="vertical"
      requiredMark={false}
      initialValues={{ display_name: initial?.display_name ?? "", passcode: "" }}
      onFinish={onSubmit}
    >
      <Form.Item
        name="display_name"
        label={t("guest.name")}
        extra={t("guest.nameHint")}
        rules={[{ required: true, whitespace: true, message: t("guest.nameRequired") }]}
      >
        <Input maxLength={100} autoComplete="name" data-testid="guest-name" />
      </Form.Item>
      <Form.Item
        name="passcode"
        label={t("guest.passcode")}
        rules={[
          { required: true, message: t("guest.passcodeRequired") },
          { pattern: /^\s*[0-9]{4,12}\s*$/, message: t("guest.passcodeInvalid") },
        ]}
      >
        <Input inputMode="numeric" maxLength={12} autoComplete="off" data-testid="guest-passcode" />
      </Form.Item>
      <Button type="primary" htmlType="submit" block disabled={seconds > 0} data-testid="guest-join">
        {t("guest.join")}
      </Button>
    </Form>
  );
}

/** The page frame once in: the Tack name and the language, no sign-in. */
function GuestFrame({ children }: { children: React.ReactNode }) {
  return (
    <div style={{ minHeight: "100vh", background: "#f5f7fa", display: "flex", flexDirection: "column" }}>
      <Flex justify="space-between" align="center" style={{ padding: "12px 24px" }}>
        <Logo />
        <LanguageSwitch />
      </Flex>
      <div style={{ flex: 1, padding: "0 16px 24px" }}>{children}</div>
    </div>
  );
}

function GuestRoom({
  state,
  mine,
  media,
  trouble,
  onHand,
  onLeave,
  mediaPanel,
}: {
  state: RoomState;
  mine: Participant;
  media: MediaInfo | null;
  trouble: boolean;
  onHand: () => void;
  onLeave: () => void;
  mediaPanel: React.ReactNode;
}) {
  const { t } = useI18n();
  const joined = joinedParticipants(state);
  const hands = raisedHands(state);
  const count = state.order.length >= 500 ? Math.max(state.room.seated, joined.length) : joined.length;
  return (
    <div
      className="tack-room"
      data-testid="guest-page"
      data-state="in"
      data-status={state.room.status}
      style={{ minHeight: "calc(100vh - 96px)" }}
    >
      <Flex className="tack-room-head" align="center" gap={12} wrap>
        <div style={{ flex: 1, minWidth: 200 }}>
          <Flex align="center" gap={8} wrap>
            <Typography.Title level={4} style={{ margin: 0 }} data-testid="room-title">
              {state.room.title}
            </Typography.Title>
            <Tag color="purple">{t("room.kind.meeting")}</Tag>
            <Tag>{t("guest.youAreGuest")}</Tag>
          </Flex>
          <Typography.Text type="secondary" style={{ fontSize: 13 }} data-testid="room-count" data-count={count}>
            {t("room.inRoomCount", { count })}
          </Typography.Text>
        </div>
        <Button icon={<LogoutOutlined />} onClick={onLeave} data-testid="room-leave">
          {t("room.leave")}
        </Button>
      </Flex>
      {trouble ? (
        <Alert type="warning" showIcon style={{ margin: "8px 16px 0" }} data-testid="guest-poll-trouble" message={t("guest.pollTrouble")} />
      ) : null}
      {mine.muted ? (
        <Alert type="warning" showIcon icon={<AudioMutedOutlined />} style={{ margin: "8px 16px 0" }} data-testid="room-muted-self" message={t("room.youAreMuted")} />
      ) : null}
      <div className="tack-room-body">
        <RoomStage media={media} mine={mine} onHand={onHand} mediaPanel={mediaPanel} />
        <div className="tack-room-side">
          <Card size="small" title={t("room.hands")} data-testid="room-hands">
            {hands.length ? (
              <List
                size="small"
                dataSource={hands}
                renderItem={(p, index) => (
                  <List.Item data-testid="room-hand" data-participant-id={p.id} data-member-id={p.member_id ?? undefined}>
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
          <Card size="small" title={t("room.participants", { count })} data-testid="room-participants" className="tack-room-people">
            {joined.length ? (
              <List
                size="small"
                dataSource={joined}
                renderItem={(p) => (
                  <ParticipantRow
                    participant={p}
                    kind="meeting"
                    isMe={p.id === mine.id}
                    canManage={false}
                    iAmHost={false}
                    onUpdate={() => undefined}
                    onRemove={() => undefined}
                  />
                )}
              />
            ) : (
              <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} />
            )}
          </Card>
        </div>
      </div>
    </div>
  );
}
