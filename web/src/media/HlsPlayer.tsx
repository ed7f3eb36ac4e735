import { useEffect, useRef, useState } from "react";

const RETRY_MS = 2000;

/** Plays a room's broadcast (HLS) with hls.js (loaded only when needed), or natively where Media
 * Source Extensions are missing (iOS Safari). Recovers from network and media errors by itself, and
 * says when it cannot play. */
export function HlsPlayer({ url, onTrouble }: { url: string; onTrouble?: (trouble: boolean) => void }) {
  const video = useRef<HTMLVideoElement | null>(null);
  const [muted, setMuted] = useState(false);
  const troubleRef = useRef(onTrouble);
  troubleRef.current = onTrouble;

  useEffect(() => {
    const element = video.current;
    if (!element) return;
    const source = /^https?:/.test(url) ? url : absolute(url);
    let destroyed = false;
    let hls: { destroy: () => void } | null = null;
    const play = () => {
      element.play().catch(() => {
        // Autoplay with sound was refused: play muted, and offer the sound.
        element.muted = true;
        setMuted(true);
        element.play().catch(() => undefined);
      });
    };
    const native = () => {
      element.src = source;
      element.addEventListener("loadedmetadata", play, { once: true });
    };
    // hls.js wherever Media Source Extensions exist (newer Chromium also claims native HLS, which it
    // does not play everywhere); the browser's own player only where they do not (iOS Safari).
    void import("hls.js").then(
      ({ default: Hls }) => {
        if (destroyed) return;
        if (!Hls.isSupported()) {
          if (element.canPlayType("application/vnd.apple.mpegurl")) native();
          else troubleRef.current?.(true);
          return;
        }
        // A fresh player each time the stream cannot be loaded (the playlist appears a few seconds
        // after the broadcast starts; a network blip), after a pause.
        const startPlayer = () => {
          if (destroyed) return;
          const player = new Hls({ liveSyncDurationCount: 3 });
          hls = player;
          player.on(Hls.Events.MANIFEST_PARSED, () => {
            troubleRef.current?.(false);
            play();
          });
          player.on(Hls.Events.ERROR, (_event, data) => {
            if (!data.fatal) return;
            if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
              player.recoverMediaError();
              return;
            }
            troubleRef.current?.(true);
            player.destroy();
            if (hls === player) hls = null;
            setTimeout(startPlayer, RETRY_MS);
          });
          player.loadSource(source);
          player.attachMedia(element);
        };
        startPlayer();
      },
      () => {
        if (!destroyed && element.canPlayType("application/vnd.apple.mpegurl")) native();
      },
    );
    return () => {
      destroyed = true;
      hls?.destroy();
      element.removeAttribute("src");
    };
  }, [url]);

  return (
    <div style={{ position: "relative", width: "100%" }}>
      <video
        ref={video}
        data-testid="media-hls"
        controls
        playsInline
        style={{ width: "100%", maxHeight: 480, background: "#000", borderRadius: 8 }}
      />
      {muted ? (
        <button
          type="button"
          className="tack-media-sound"
          data-testid="media-hls-sound"
          onClick={() => {
            if (video.current) video.current.muted = false;
            setMuted(false);
          }}
        >
          🔊
        </button>
      ) : null}
    </div>
  );
}

function absolute(path: string): string {
  // The playlist's address is a path of this server (/api/v1/media/hls/...).
  return new URL(path, window.location.origin).toString();
}
