import { StyleProvider } from "@ant-design/cssinjs";
import { act, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../../api/client";
import type { MediaSession, Participant } from "../../api/types";
import { I18nProvider, type Lang } from "../../i18n";
import { engineTiming } from "../../media/engine";
import { fakeJanusSockets, type FakeJanusSocket, type Sent } from "../../media/fakeJanus";
import { fallbackTiming } from "../../media/fallback";
import { FakePeerConnection, installFakeWebrtc } from "../../media/fakeWebrtc";
import { setJanusSocketFactory } from "../../media/janus";
import { fakeSockets } from "../../stream/fakeSocket";
import { setStreamSocketFactory } from "../../stream/StreamProvider";
import { myOrg } from "../../test/fixtures";
import { participant, roomEvent, snapshot, studentA, teacher, ticketFor, updated } from "../../test/roomFixtures";
import { account, mockApi, renderApp, setBrowserLanguages, type Call } from "../../test/utils";
import { MediaPanel } from "./MediaPanel";

function session(extra: Partial<MediaSession> = {}): MediaSession {
  return {
    mode: "interactive",
    reason: null,
    server: "ws://janus.test:8188",
    core_token: "core",
    room: 734201992,
    join_token: "join",
    feed_id: 1001,
    display: "李明",
    may_publish: false,
    ice_servers: [],
    generation: 1,
    broadcast: null,
    expires_at: "2026-03-02T12:00:00Z",
    ...extra,
  };
}

/** A VideoRoom where the teacher (feed 555) is on camera. */
function videoroom(socket: FakeJanusSocket, options: { joinError?: number } = {}) {
  socket.onPluginMessage = (frame: Sent) => {
    const body = frame.body ?? {};
    if (body.request === "join" && body.ptype === "publisher") {
      if (options.joinError) socket.reply(frame, { videoroom: "event", error_code: options.joinError, error: "Unauthorized" });
      else socket.reply(frame, { videoroom: "joined", room: body.room, id: body.id, private_id: 7, publishers: [{ id: 555, display: "王老师" }] });
    } else if (body.request === "join") {
      socket.reply(frame, { videoroom: "attached", room: body.room }, { type: "offer", sdp: "offer" });
    } else if (body.request === "configure") {
      socket.reply(frame, { videoroom: "event", configured: "ok" }, { type: "answer", sdp: "answer" });
    } else {
      socket.reply(frame, { videoroom: "event", started: "ok" });
    }
  };
}

let janus: ReturnType<typeof fakeJanusSockets>;
let joinErrors: number[] = [];

beforeEach(() => {
  installFakeWebrtc();
  janus = fakeJanusSockets();
  joinErrors = [];
  setJanusSocketFactory((url, protocol) => {
    const socket = janus.create(url, protocol);
    videoroom(socket, { joinError: joinErrors.shift() });
    return socket;
  });
});

function renderPanel(props: Partial<Parameters<typeof MediaPanel>[0]> & { request: Parameters<typeof MediaPanel>[0]["request"] }, lang: Lang = "en") {
  const all = { token: "ticket-token", available: true, mine: studentA as Participant, isClass: true, moveKey: 0, ...props };
  const view = (p: typeof all) => (
    <StyleProvider mock="server">
      <I18nProvider initial={lang}>
        <MediaPanel {...p} />
      </I18nProvider>
    </StyleProvider>
  );
  const result = render(view(all));
  mounted.push(result.unmount);
  return { ...result, update: (more: Partial<typeof all>) => result.rerender(view({ ...all, ...more })) };
}

let mounted: (() => void)[] = [];
afterEach(() => cleanupPanels());
function cleanupPanels() {
  for (const unmount of mounted) unmount();
  mounted = [];
}

const remoteTiles = () => screen.queryAllByTestId("media-tile").filter((t) => t.getAttribute("data-feed") !== "self");

describe("the media of a room", () => {
  it("a student watches the teacher: a tile with the teacher's name, speaking shown, and no camera controls", async () => {
    const request = vi.fn(async () => session());
    renderPanel({ request });
    await waitFor(() => expect(remoteTiles()).toHaveLength(1));
    expect(request).toHaveBeenCalledWith("ticket-token", false);
    expect(within(remoteTiles()[0]).getByTestId("media-tile-name").textContent).toBe("王老师");
    expect(screen.getByTestId("media-panel").getAttribute("data-publishing")).toBe("false");
    expect(screen.getByTestId("media-listen-only").textContent).toBe("You can watch and listen. The host can let you speak.");
    expect(screen.queryByTestId("media-mic")).toBeNull();
    expect(screen.getByTestId("media-quality").getAttribute("data-level")).toBe("unknown");

    const socket = janus.last();
    const publisherHandle = Number(socket.messages("join")[0].handle_id);
    act(() => socket.event(publisherHandle, { videoroom: "talking", id: 555 }));
    expect(remoteTiles()[0].getAttribute("data-speaking")).toBe("true");
    expect(within(remoteTiles()[0]).getByTestId("media-speaking")).toBeTruthy();
    act(() => socket.event(publisherHandle, { videoroom: "stopped-talking", id: 555 }));
    expect(remoteTiles()[0].getAttribute("data-speaking")).toBe("false");
  });

  it("a teacher is on camera with microphone, camera, screen and device controls", async () => {
    const request = vi.fn(async () => session({ may_publish: true, display: "王老师", feed_id: 555 }));
    renderPanel({ request, mine: teacher }, "zh");
    await waitFor(() => expect(screen.getByTestId("media-panel").getAttribute("data-publishing")).toBe("true"));
    const self = screen.getAllByTestId("media-tile").find((t) => t.getAttribute("data-feed") === "self")!;
    expect(within(self).getByTestId("media-tile-name").textContent).toBe("王老师（我）");
    const mic = screen.getByTestId("media-mic");
    expect(mic.getAttribute("data-on")).toBe("true");
    expect(mic.getAttribute("aria-label")).toBe("关闭麦克风");
    fireEvent.click(mic);
    await waitFor(() => expect(screen.getByTestId("media-mic").getAttribute("data-on")).toBe("false"));
    fireEvent.click(screen.getByTestId("media-camera"));
    await waitFor(() => expect(screen.getByTestId("media-camera").getAttribute("data-on")).toBe("false"));
    fireEvent.click(screen.getByTestId("media-share"));
    await waitFor(() => expect(screen.getByTestId("media-share").getAttribute("data-on")).toBe("true"));
    fireEvent.click(screen.getByTestId("media-devices"));
    await screen.findByTestId("media-devices-panel");
    expect(navigator.mediaDevices.enumerateDevices).toHaveBeenCalled();
  });

  it("muted by the host: the microphone goes off and cannot be turned on, and it says why", async () => {
    const request = vi.fn(async () => session({ may_publish: true }));
    const { update } = renderPanel({ request, isClass: false, mine: participant("P_A", "李明", { role: "presenter" }) });
    await waitFor(() => expect(screen.getByTestId("media-mic").getAttribute("data-on")).toBe("true"));
    update({ mine: participant("P_A", "李明", { role: "presenter", muted: true }) });
    await waitFor(() => expect(screen.getByTestId("media-mic").getAttribute("data-on")).toBe("false"));
    expect((screen.getByTestId("media-mic") as HTMLButtonElement).disabled).toBe(true);
    expect(screen.getByTestId("media-muted-by-host").textContent).toContain("The host muted your microphone.");
    const pc = FakePeerConnection.all.find((p) => p.transceivers.length === 2)!;
    expect(pc.transceivers[0].sender.track?.enabled).toBe(false);
  });

  it("says when audio and video are unavailable, and the room goes on", async () => {
    const request = vi.fn(async () => session({ mode: "unavailable", reason: "no_media_server", server: null }));
    renderPanel({ request });
    expect((await screen.findByTestId("media-unavailable")).textContent).toBe("Audio and video are not available on this server.");

    // Without a media server at join time, nothing is asked until someone tries again.
    const quiet = vi.fn(async () => session());
    const { unmount } = renderPanel({ request: quiet, available: false });
    unmount();
    expect(quiet).not.toHaveBeenCalled();
  });

  it("a media server that fails (503) is unavailable for now, and tried again by itself", async () => {
    let calls = 0;
    const request = vi.fn(async () => {
      calls += 1;
      if (calls === 1) throw new ApiError(503, "media_unavailable", "Audio and video are not available right now.");
      return session();
    });
    renderPanel({ request });
    expect((await screen.findByTestId("media-unavailable")).textContent).toBe(
      "Audio and video are unavailable right now. Everything else in the room works.",
    );
    await waitFor(() => expect(remoteTiles()).toHaveLength(1), { timeout: 4000 });
    expect(request).toHaveBeenCalledTimes(2);
  });

  it("a large class: the broadcast with a short explanation instead of tiles", async () => {
    const request = vi.fn(async () =>
      session({ mode: "broadcast", reason: "room_full", server: null, broadcast: { hls_url: "/api/v1/media/hls/1/k/index.m3u8" } }),
    );
    renderPanel({ request });
    const broadcast = await screen.findByTestId("media-broadcast");
    expect(broadcast.textContent).toContain("You are watching the live broadcast");
    expect(broadcast.textContent).toContain("You can still chat and raise your hand.");
    expect(screen.getByTestId("media-hls").tagName).toBe("VIDEO");
    expect(screen.queryByTestId("media-tile")).toBeNull();
  });

  it("before the teacher is on camera, the broadcast says it will start", async () => {
    const request = vi.fn(async () => session({ mode: "broadcast", reason: "room_full", server: null, broadcast: null }));
    renderPanel({ request });
    expect((await screen.findByTestId("media-broadcast-waiting")).textContent).toBe(
      "The broadcast starts as soon as the teacher turns on their camera.",
    );
  });

  it("after a network blip it reconnects by itself, with a fresh media session", async () => {
    const request = vi.fn(async () => session());
    renderPanel({ request });
    await waitFor(() => expect(remoteTiles()).toHaveLength(1));
    act(() => janus.last().serverClose(1006));
    expect(await screen.findByTestId("media-reconnecting")).toBeTruthy();
    await waitFor(() => expect(janus.sockets).toHaveLength(2), { timeout: 4000 });
    await waitFor(() => expect(screen.queryByTestId("media-reconnecting")).toBeNull());
    expect(remoteTiles()).toHaveLength(1);
    expect(request.mock.calls).toEqual([["ticket-token", false], [null, false]]);
  });

  it("a join token Janus refuses (433): asks once for a new session; a second refusal stops", async () => {
    joinErrors = [433, 433];
    const request = vi.fn(async () => session());
    renderPanel({ request });
    const refused = await screen.findByTestId("media-refused");
    expect(refused.getAttribute("data-code")).toBe("janus_433");
    expect(request).toHaveBeenCalledTimes(2);
  });

  it("refused by Tack (removed, not in the room): stops without trying again", async () => {
    const request = vi.fn(async () => {
      throw new ApiError(403, "not_in_room", "You are not in this room.");
    });
    renderPanel({ request });
    expect((await screen.findByTestId("media-refused")).textContent).toBe("Audio and video have ended for you in this room.");
    await new Promise((resolve) => setTimeout(resolve, 1300));
    expect(request).toHaveBeenCalledTimes(1);
  });

  it("removed by the host on the media server: media stops with a clear message", async () => {
    const request = vi.fn(async () => session());
    renderPanel({ request });
    await waitFor(() => expect(remoteTiles()).toHaveLength(1));
    const socket = janus.last();
    act(() => socket.event(Number(socket.messages("join")[0].handle_id), { videoroom: "event", leaving: "ok", reason: "kicked" }));
    expect((await screen.findByTestId("media-kicked")).textContent).toBe(
      "You were removed from this room, so your camera and microphone were turned off.",
    );
    expect(FakePeerConnection.all.every((pc) => pc.closed)).toBe(true);
  });
});

/** Every connection measures a round trip of `rtt` ms from now on. */
function networkRoundTrip(rtt: number) {
  for (const pc of FakePeerConnection.all) {
    pc.stats = new Map([["pair", { type: "candidate-pair", nominated: true, state: "succeeded", currentRoundTripTime: rtt / 1000 }]]);
  }
}

const HLS = "/api/v1/media/hls/734201992/1-k/index.m3u8";
/** Tack's answers: the live room, or the broadcast when asked to watch. */
const liveOrBroadcast = async (_token: string | null, watch: boolean) =>
  watch ? session({ mode: "broadcast", reason: "chosen", server: null, join_token: null, broadcast: { hls_url: HLS } }) : session();

describe("the broadcast instead of the live room", () => {
  beforeEach(() => {
    engineTiming.statsEveryMs = 30;
    fallbackTiming.poorNetworkMs = 300;
  });
  afterEach(() => {
    engineTiming.statsEveryMs = 2000;
    fallbackTiming.poorNetworkMs = 15_000;
  });

  it("a student whose connection stays poor goes to the broadcast by itself, is told why, and can go back", async () => {
    const request = vi.fn(liveOrBroadcast);
    renderPanel({ request });
    await waitFor(() => expect(remoteTiles()).toHaveLength(1));
    networkRoundTrip(900);
    await waitFor(() => expect(screen.getByTestId("media-quality").getAttribute("data-level")).toBe("poor"));

    const broadcast = await screen.findByTestId("media-broadcast", {}, { timeout: 3000 });
    expect(broadcast.getAttribute("data-reason")).toBe("poor_network");
    expect(screen.getByTestId("media-broadcast-reason").textContent).toContain("Your connection is poor, so you are watching the broadcast");
    expect(screen.getByTestId("media-hls").tagName).toBe("VIDEO");
    expect(request.mock.calls.at(-1)).toEqual([null, true]);
    // The live room's connection is closed: nothing of it is left open.
    expect(FakePeerConnection.all.every((pc) => pc.closed)).toBe(true);
    expect(janus.last().closedWith).not.toBeNull();

    fireEvent.click(screen.getByTestId("media-back-live"));
    await waitFor(() => expect(remoteTiles()).toHaveLength(1));
    expect(request.mock.calls.at(-1)).toEqual([null, false]);
    expect(screen.queryByTestId("media-broadcast")).toBeNull();
  });

  it("a good reading in between keeps the live room; so does a teacher's poor connection", async () => {
    const request = vi.fn(liveOrBroadcast);
    renderPanel({ request });
    await waitFor(() => expect(remoteTiles()).toHaveLength(1));
    for (let i = 0; i < 4; i++) {
      networkRoundTrip(900);
      await new Promise((resolve) => setTimeout(resolve, 150));
      networkRoundTrip(40);
      await new Promise((resolve) => setTimeout(resolve, 60));
    }
    expect(screen.queryByTestId("media-broadcast")).toBeNull();
    expect(request).toHaveBeenCalledTimes(1);
    cleanupPanels();

    const teacherRequest = vi.fn(async (token: string | null, watch: boolean) => ({
      ...(await liveOrBroadcast(token, watch)),
      may_publish: true,
      feed_id: 555,
    }));
    renderPanel({ request: teacherRequest, mine: teacher });
    await waitFor(() => expect(screen.getByTestId("media-panel").getAttribute("data-publishing")).toBe("true"));
    networkRoundTrip(900);
    await waitFor(() => expect(screen.getByTestId("media-quality").getAttribute("data-level")).toBe("poor"));
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(screen.getByTestId("media-panel")).toBeTruthy();
    expect(teacherRequest.mock.calls).toEqual([["ticket-token", false]]);
    // Nor is the teacher offered the broadcast.
    expect(screen.queryByTestId("media-watch")).toBeNull();
  });

  it("a student may choose the broadcast, and it holds across a reconnect until they go back", async () => {
    let failNext = false;
    const request = vi.fn(async (token: string | null, watch: boolean) => {
      if (failNext) {
        failNext = false;
        throw new ApiError(503, "media_unavailable", "Audio and video are not available right now.");
      }
      return liveOrBroadcast(token, watch);
    });
    const { update } = renderPanel({ request }, "zh");
    await waitFor(() => expect(remoteTiles()).toHaveLength(1));
    const watch = screen.getByTestId("media-watch");
    expect(watch.textContent).toBe("改为观看直播");
    fireEvent.click(watch);
    const broadcast = await screen.findByTestId("media-broadcast");
    expect(broadcast.getAttribute("data-reason")).toBe("chosen");
    expect(screen.getByTestId("media-broadcast-reason").textContent).toContain("你选择了观看直播");
    expect(request.mock.calls.at(-1)).toEqual([null, true]);
    expect(screen.getByTestId("media-back-live").textContent).toBe("返回实时互动");
    expect(FakePeerConnection.all.every((pc) => pc.closed)).toBe(true);

    // The room's media moves, and the first try fails (503): asked again by itself, still to watch.
    failNext = true;
    update({ moveKey: 1 });
    await waitFor(() => expect(request).toHaveBeenCalledTimes(4), { timeout: 4000 });
    await waitFor(() => expect(screen.getByTestId("media-broadcast").getAttribute("data-reason")).toBe("chosen"));
    expect(request.mock.calls.slice(1)).toEqual([[null, true], [null, true], [null, true]]);
    expect(janus.sockets).toHaveLength(1);

    fireEvent.click(screen.getByTestId("media-back-live"));
    await waitFor(() => expect(remoteTiles()).toHaveLength(1));
    expect(request.mock.calls.at(-1)).toEqual([null, false]);
  });

  it("a student made presenter while asking to watch (watch_not_allowed) stays in the live room", async () => {
    const request = vi.fn(async (token: string | null, watch: boolean) => {
      if (watch) throw new ApiError(403, "watch_not_allowed", "Hosts, co-hosts and presenters take part in the live room.");
      return liveOrBroadcast(token, watch);
    });
    renderPanel({ request });
    await waitFor(() => expect(remoteTiles()).toHaveLength(1));
    fireEvent.click(screen.getByTestId("media-watch"));
    await waitFor(() => expect(request).toHaveBeenCalledTimes(3));
    await waitFor(() => expect(remoteTiles()).toHaveLength(1));
    expect(request.mock.calls).toEqual([["ticket-token", false], [null, true], [null, false]]);
    expect(screen.queryByTestId("media-refused")).toBeNull();
  });

  it("watching in a full class and made presenter: back in the live room", async () => {
    let full = true;
    const request = vi.fn(async () =>
      full ? session({ mode: "broadcast", reason: "room_full", server: null, broadcast: { hls_url: HLS } }) : session({ may_publish: true }),
    );
    const { update } = renderPanel({ request });
    const broadcast = await screen.findByTestId("media-broadcast");
    expect(broadcast.getAttribute("data-reason")).toBe("room_full");
    // A full room: no way back offered (there is no room).
    expect(screen.queryByTestId("media-back-live")).toBeNull();
    full = false;
    update({ mine: participant("P_A", "李明", { role: "presenter" }) });
    await waitFor(() => expect(screen.getByTestId("media-panel").getAttribute("data-publishing")).toBe("true"));
  });
});

describe("the room page's media", () => {
  it("asks for the media session with the ticket's token, follows a move to another server, and mutes with the host", async () => {
    setBrowserLanguages(["en-US"]);
    const net = fakeSockets();
    setStreamSocketFactory(net.create);
    const mediaCalls: Call[] = [];
    const org = myOrg({ kind: "school", name: "启明实验学校", member_id: studentA.member_id, roles: ["student"] });
    mockApi({
      "GET /api/v1/auth/session": { status: 200, body: { account, csrf_token: "t" } },
      "GET /api/v1/orgs": { status: 200, body: [org] },
      "GET /api/v1/orgs/ORG1/conversations": { status: 200, body: { items: [], next_cursor: null } },
      "GET /api/v1/orgs/ORG1/dings": { status: 200, body: [] },
      "GET /api/v1/orgs/ORG1/rooms/R1": { status: 200, body: snapshot().room },
      "POST /api/v1/orgs/ORG1/rooms/R1/leave": { status: 204 },
      "POST /api/v1/orgs/ORG1/rooms/R1/join": {
        status: 200,
        body: ticketFor(studentA, snapshot(), {
          media: { available: true, server: null, room: 734201992, token: "ticket-media-token", expires_at: null },
        }),
      },
      "POST /api/v1/orgs/ORG1/rooms/R1/media": (call) => {
        mediaCalls.push(call);
        return { status: 200, body: session({ generation: mediaCalls.length }) };
      },
    });
    renderApp("/orgs/ORG1/rooms/R1");
    await waitFor(() => expect(net.sockets.length).toBeGreaterThan(0));
    const stream = net.last();
    act(() => {
      stream.open();
      stream.receive({ type: "ready", orgs: { ORG1: { position: 100, epoch: "e1", member_id: "M" } }, ping_interval: 20 });
      stream.receive({ type: "live", positions: { ORG1: 100 } });
    });
    await waitFor(() => expect(remoteTiles()).toHaveLength(1));
    expect(mediaCalls.map((c) => c.body)).toEqual([{ token: "ticket-media-token" }]);

    // The room's media moved to another server: a new media session, a new connection.
    act(() => {
      stream.receive({ type: "event", ...roomEvent(101, "room.media_moved", { room_id: "R1", available: true, generation: 2 }) });
    });
    await waitFor(() => expect(mediaCalls).toHaveLength(2));
    expect(mediaCalls[1].body).toEqual({});
    await waitFor(() => expect(janus.sockets).toHaveLength(2));
    await waitFor(() => expect(remoteTiles()).toHaveLength(1));

    // Muted by the teacher (Tack's event): shown on the media too.
    act(() => {
      stream.receive({ type: "event", ...updated(102, { ...studentA, muted: true }) });
    });
    expect(await screen.findByTestId("media-muted-by-host")).toBeTruthy();
    expect(screen.getByTestId("media-muted-by-host").textContent).toBe("The teacher muted your microphone.");
  });
});
