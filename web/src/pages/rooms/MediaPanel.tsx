import {
  AudioMutedOutlined,
  AudioOutlined,
  DesktopOutlined,
  PlaySquareOutlined,
  SettingOutlined,
  StopOutlined,
  VideoCameraOutlined,
  WifiOutlined,
} from "@ant-design/icons";
import { Alert, Button, Flex, Popover, Result, Select, Spin, Tag, Tooltip, Typography } from "antd";
import { useEffect, useRef, useState, type ReactNode } from "react";
import type { MediaSession, Participant } from "../../api/types";
import { useI18n } from "../../i18n";
import type { EngineState, Quality, RemoteFeed } from "../../media/engine";
import { HlsPlayer } from "../../media/HlsPlayer";
import { useMediaText } from "../../media/messages";
import { useMediaSession, type MediaActions, type MediaView, type WatchReason } from "../../media/useMediaSession";
import "../../media/media.css";

export interface MediaPanelProps {
  /** Asks Tack for my media session (members: POST .../media; guests: with their ticket); `watch`:
   * the broadcast instead of the live room. */
  request: (token: string | null, watch: boolean) => Promise<MediaSession>;
  /** The media token of the join's ticket. */
  token: string | null;
  /** Whether a media server answered lately (the join's `media.available`). */
  available: boolean;
  mine: Participant;
  isClass: boolean;
  /** Changes when the room's media moved to another server (`room.media_moved`). */
  moveKey: number;
}

/** Sound and picture of a room: the tiles of everyone on camera (or the broadcast in a large
 * class, on a poor connection, or by choice), my camera and microphone, and how the connection is. */
export function MediaPanel({ request, token, available, mine, isClass, moveKey }: MediaPanelProps) {
  const [view, actions] = useMediaSession({
    request,
    token,
    available,
    enabled: mine.state === "joined",
    mutedByHost: mine.muted,
    roleKey: mine.role,
    moveKey,
  });
  return <MediaStage view={view} actions={actions} mine={mine} isClass={isClass} />;
}

/** What the media looks like in each phase (separate from the hook, so it can be shown in tests). */
export function MediaStage({ view, actions, mine, isClass }: { view: MediaView; actions: MediaActions; mine: Participant; isClass: boolean }) {
  const { t } = useI18n();
  const m = useMediaText();
  const phase = view.phase;

  if (phase === "unavailable") {
    return (
      <div className="tack-room-media" data-phase={phase} data-reason={view.reason ?? ""}>
        <div data-testid="media-unavailable" style={{ display: "flex", flexDirection: "column", alignItems: "center", gap: 12 }}>
          <VideoCameraOutlined style={{ fontSize: 40, color: "#bfbfbf" }} />
          <Typography.Text type="secondary">
            {view.reason === "no_media_server" ? t("room.mediaUnavailable") : m("media.unavailable")}
          </Typography.Text>
        </div>
        <Button size="small" onClick={actions.retry} data-testid="media-retry">
          {m("media.unavailableRetry")}
        </Button>
      </div>
    );
  }
  if (phase === "kicked") {
    return (
      <div className="tack-room-media" data-phase={phase}>
        <Result status="warning" title={<span data-testid="media-kicked">{m("media.kicked")}</span>} />
      </div>
    );
  }
  if (phase === "refused") {
    return (
      <div className="tack-room-media" data-phase={phase}>
        <Typography.Text type="secondary" data-testid="media-refused" data-code={view.reason ?? ""}>
          {view.reason === "room_removed" || view.reason === "janus_433" ? m("media.kicked") : m("media.refused")}
        </Typography.Text>
      </div>
    );
  }
  if (phase === "broadcast") {
    return <BroadcastView session={view.session} watching={view.watching} isClass={isClass} onBackToLive={actions.backToLive} />;
  }
  if (phase === "idle" && mine.state === "waiting") {
    return (
      <div className="tack-room-media" data-phase={phase}>
        <Typography.Text type="secondary">{m("media.waiting")}</Typography.Text>
      </div>
    );
  }
  const engine = view.engine;
  if (!engine || engine.status === "connecting" || phase === "idle" || phase === "requesting") {
    return (
      <div className="tack-room-media" data-phase={phase} data-testid="media-connecting">
        {phase === "reconnecting" ? (
          <Alert type="warning" showIcon data-testid="media-reconnecting" message={m("media.reconnecting")} />
        ) : (
          <>
            <Spin />
            <Typography.Text type="secondary">{m("media.connecting")}</Typography.Text>
          </>
        )}
      </div>
    );
  }
  return (
    <div className="tack-media" data-testid="media-panel" data-phase={phase} data-publishing={engine.publishing ? "true" : "false"}>
      {phase === "reconnecting" ? (
        <Alert type="warning" showIcon data-testid="media-reconnecting" message={m("media.reconnecting")} />
      ) : null}
      {engine.moderated || mine.muted ? (
        <Alert
          type="warning"
          showIcon
          icon={<AudioMutedOutlined />}
          data-testid="media-muted-by-host"
          message={m(isClass ? "media.mutedByHostClass" : "media.mutedByHost")}
        />
      ) : null}
      {engine.deviceError ? <Alert type="error" showIcon data-testid="media-device-error" message={m("media.deviceError")} /> : null}
      {engine.shareError ? <Alert type="info" showIcon closable data-testid="media-share-error" message={m("media.shareError")} /> : null}
      <Tiles engine={engine} mine={mine} />
      <Controls engine={engine} actions={actions} mayPublish={!!view.session?.may_publish || engine.publishing} mutedByHost={engine.moderated || mine.muted} />
    </div>
  );
}

function Tiles({ engine, mine }: { engine: EngineState; mine: Participant }) {
  const m = useMediaText();
  const withPicture = engine.feeds;
  if (!engine.publishing && !withPicture.length) {
    return (
      <div className="tack-room-media" data-testid="media-tiles" data-count={0}>
        <VideoCameraOutlined style={{ fontSize: 40, color: "#bfbfbf" }} />
        <Typography.Text type="secondary" data-testid="media-nobody">
          {m("media.noOneOnCamera")}
        </Typography.Text>
      </div>
    );
  }
  return (
    <div className="tack-media-tiles" data-testid="media-tiles" data-count={withPicture.length + (engine.publishing ? 1 : 0)}>
      {engine.publishing ? (
        <Tile
          self
          name={m("media.you", { name: mine.display_name })}
          stream={engine.localStream}
          talking={engine.talking && engine.micOn}
          micOff={!engine.micOn}
          camOff={!engine.localStream}
        />
      ) : null}
      {withPicture.map((feed) => (
        <RemoteTile key={feed.id} feed={feed} />
      ))}
    </div>
  );
}

function RemoteTile({ feed }: { feed: RemoteFeed }) {
  const hasVideo = !!feed.stream?.getVideoTracks().length;
  return <Tile feedId={feed.id} name={feed.display} stream={feed.stream} talking={feed.talking} micOff={!!feed.audioMuted} camOff={!hasVideo} />;
}

function Tile({
  self = false,
  feedId,
  name,
  stream,
  talking,
  micOff = false,
  camOff,
}: {
  self?: boolean;
  feedId?: number;
  name: string;
  stream: MediaStream | null;
  talking: boolean;
  micOff?: boolean;
  camOff: boolean;
}) {
  const m = useMediaText();
  const video = useRef<HTMLVideoElement | null>(null);
  const [needsSound, setNeedsSound] = useState(false);
  useEffect(() => {
    const element = video.current;
    if (!element) return;
    if (element.srcObject !== stream) element.srcObject = stream;
    if (!stream) return;
    const playing = element.play?.();
    playing?.catch?.(() => {
      if (self) return;
      // The browser refused sound without a click: play muted and offer the sound.
      element.muted = true;
      setNeedsSound(true);
      element.play?.()?.catch?.(() => undefined);
    });
  }, [stream, self]);
  return (
    <div
      className={`tack-media-tile${talking ? " tack-media-tile-talking" : ""}`}
      data-testid="media-tile"
      data-feed={self ? "self" : String(feedId)}
      data-speaking={talking ? "true" : "false"}
      data-mic={micOff ? "off" : "on"}
      data-name={name}
    >
      <video ref={video} autoPlay playsInline muted={self} data-testid={self ? "media-local-video" : "media-remote-video"} />
      {camOff ? <div className="tack-media-tile-off">{name.slice(0, 1)}</div> : null}
      <div className="tack-media-tile-name">
        {micOff ? <AudioMutedOutlined aria-label={m("media.micMuted")} style={{ color: "#ff7875" }} /> : null}
        {talking ? (
          <span className="tack-media-speaking" aria-label={m("media.speaking")} title={m("media.speaking")} data-testid="media-speaking">
            <AudioOutlined />
          </span>
        ) : null}
        <span data-testid="media-tile-name">{name}</span>
      </div>
      {needsSound ? (
        <button
          type="button"
          className="tack-media-sound"
          data-testid="media-sound"
          onClick={() => {
            if (video.current) video.current.muted = false;
            setNeedsSound(false);
          }}
        >
          {m("media.playSound")}
        </button>
      ) : null}
    </div>
  );
}

function Controls({ engine, actions, mayPublish, mutedByHost }: { engine: EngineState; actions: MediaActions; mayPublish: boolean; mutedByHost: boolean }) {
  const m = useMediaText();
  if (!mayPublish) {
    return (
      <Flex className="tack-media-controls" align="center" justify="space-between" gap={8} wrap>
        <Typography.Text type="secondary" data-testid="media-listen-only">
          {m("media.listenOnly")}
        </Typography.Text>
        <Flex align="center" gap={8}>
          <Tooltip title={m("media.watchInsteadHint")}>
            <Button size="small" icon={<PlaySquareOutlined />} onClick={actions.watchBroadcast} data-testid="media-watch">
              {m("media.watchInstead")}
            </Button>
          </Tooltip>
          <QualityBadge quality={engine.quality} />
        </Flex>
      </Flex>
    );
  }
  const micLabel = mutedByHost ? m("media.mutedByHost") : engine.micOn ? m("media.micOn") : m("media.micOff");
  return (
    <Flex className="tack-media-controls" align="center" justify="center" gap={8} wrap>
      <ControlButton
        label={micLabel}
        on={engine.micOn}
        danger={!engine.micOn}
        disabled={mutedByHost || !engine.publishing}
        icon={engine.micOn ? <AudioOutlined /> : <AudioMutedOutlined />}
        onClick={() => actions.setMic(!engine.micOn)}
        testId="media-mic"
      />
      <ControlButton
        label={engine.camOn ? m("media.camOn") : m("media.camOff")}
        on={engine.camOn}
        danger={!engine.camOn}
        disabled={!engine.publishing}
        icon={engine.camOn ? <VideoCameraOutlined /> : <StopOutlined />}
        onClick={() => actions.setCamera(!engine.camOn)}
        testId="media-camera"
      />
      <ControlButton
        label={engine.sharing ? m("media.stopShare") : m("media.share")}
        on={engine.sharing}
        primary={engine.sharing}
        disabled={!engine.publishing || typeof navigator.mediaDevices?.getDisplayMedia !== "function"}
        icon={<DesktopOutlined />}
        onClick={() => (engine.sharing ? actions.stopShare() : actions.shareScreen())}
        testId="media-share"
      />
      <DevicePicker actions={actions} disabled={!engine.publishing} />
      <QualityBadge quality={engine.quality} />
    </Flex>
  );
}

/** A round control button (microphone, camera, screen) whose state shows in its look and `data-on`. */
function ControlButton({
  label,
  on,
  danger = false,
  primary = false,
  disabled,
  icon,
  onClick,
  testId,
}: {
  label: string;
  on: boolean;
  danger?: boolean;
  primary?: boolean;
  disabled: boolean;
  icon: ReactNode;
  onClick: () => void;
  testId: string;
}) {
  return (
    <Tooltip title={label}>
      <Button
        shape="circle"
        size="large"
        type={primary ? "primary" : "default"}
        danger={danger}
        disabled={disabled}
        icon={icon}
        onClick={onClick}
        aria-label={label}
        data-testid={testId}
        data-on={on ? "true" : "false"}
      />
    </Tooltip>
  );
}

function DevicePicker({ actions, disabled }: { actions: MediaActions; disabled: boolean }) {
  const m = useMediaText();
  const [open, setOpen] = useState(false);
  const [devices, setDevices] = useState<MediaDeviceInfo[]>([]);
  const [chosen, setChosen] = useState<{ audioinput: string; videoinput: string }>({ audioinput: "", videoinput: "" });
  useEffect(() => {
    if (!open || !navigator.mediaDevices?.enumerateDevices) return;
    navigator.mediaDevices.enumerateDevices().then(setDevices, () => setDevices([]));
  }, [open]);
  const options = (kind: MediaDeviceKind) => [
    { value: "", label: m("media.defaultDevice") },
    ...devices
      .filter((d) => d.kind === kind && d.deviceId && d.deviceId !== "default")
      .map((d, i) => ({ value: d.deviceId, label: d.label || `${kind === "videoinput" ? m("media.camera") : m("media.microphone")} ${i + 1}` })),
  ];
  const choose = (kind: "audioinput" | "videoinput", value: string) => {
    setChosen((c) => ({ ...c, [kind]: value }));
    actions.setDevice(kind, value || null);
  };
  const content = (
    <Flex vertical gap={8} style={{ width: 260 }} data-testid="media-devices-panel">
      <Typography.Text strong>{m("media.camera")}</Typography.Text>
      <Select value={chosen.videoinput} options={options("videoinput")} onChange={(v) => choose("videoinput", v)} data-testid="media-camera-select" />
      <Typography.Text strong>{m("media.microphone")}</Typography.Text>
      <Select value={chosen.audioinput} options={options("audioinput")} onChange={(v) => choose("audioinput", v)} data-testid="media-mic-select" />
    </Flex>
  );
  return (
    <Popover trigger="click" open={open && !disabled} onOpenChange={setOpen} content={content} title={m("media.devices")}>
      <Tooltip title={m("media.devices")}>
        <Button shape="circle" size="large" disabled={disabled} icon={<SettingOutlined />} aria-label={m("media.devices")} data-testid="media-devices" />
      </Tooltip>
    </Popover>
  );
}

export function QualityBadge({ quality }: { quality: Quality }) {
  const m = useMediaText();
  const color = quality.level === "good" ? "green" : quality.level === "fair" ? "gold" : quality.level === "poor" ? "red" : "default";
  const detail =
    quality.rtt !== null || quality.loss !== null ? m("media.quality.detail", { rtt: quality.rtt ?? "?", loss: quality.loss ?? 0 }) : null;
  return (
    <Tooltip title={detail}>
      <Tag icon={<WifiOutlined />} color={color} data-testid="media-quality" data-level={quality.level} data-rtt={quality.rtt ?? ""} data-loss={quality.loss ?? ""}>
        {m(`media.quality.${quality.level}`)}
      </Tag>
    </Tooltip>
  );
}

function BroadcastView({
  session,
  watching,
  isClass,
  onBackToLive,
}: {
  session: MediaSession | null;
  watching: WatchReason | null;
  isClass: boolean;
  onBackToLive: () => void;
}) {
  const m = useMediaText();
  const [trouble, setTrouble] = useState(false);
  const url = session?.broadcast?.hls_url ?? null;
  const explained =
    watching === "poor_network" ? (
      <Alert
        type="warning"
        showIcon
        data-testid="media-broadcast-reason"
        message={m("media.poorNetworkTitle")}
        description={m("media.poorNetworkHint")}
        action={<BackToLive onClick={onBackToLive} />}
      />
    ) : watching === "chosen" ? (
      <Alert
        type="info"
        showIcon
        data-testid="media-broadcast-reason"
        message={m("media.broadcastTitle")}
        description={m("media.chosenHint")}
        action={<BackToLive onClick={onBackToLive} />}
      />
    ) : (
      <Alert
        type="info"
        showIcon
        data-testid="media-broadcast-reason"
        message={m("media.broadcastTitle")}
        description={m(isClass ? "media.broadcastHint" : "media.broadcastHintMeeting")}
      />
    );
  return (
    <div className="tack-media" data-testid="media-broadcast" data-phase="broadcast" data-reason={watching ?? session?.reason ?? ""}>
      {explained}
      {url ? (
        <>
          <HlsPlayer url={url} onTrouble={setTrouble} />
          {trouble ? <Typography.Text type="secondary">{m("media.broadcastError")}</Typography.Text> : null}
        </>
      ) : (
        <div className="tack-room-media" data-testid="media-broadcast-waiting">
          <Spin />
          <Typography.Text type="secondary">{m(isClass ? "media.broadcastNotYet" : "media.broadcastNotYetMeeting")}</Typography.Text>
        </div>
      )}
    </div>
  );
}

function BackToLive({ onClick }: { onClick: () => void }) {
  const m = useMediaText();
  return (
    <Button size="small" type="primary" onClick={onClick} data-testid="media-back-live">
      {m("media.backToLive")}
    </Button>
  );
}
