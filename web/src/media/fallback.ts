/**
 * When to give up on the live room for the broadcast: the connection has been poor for a sustained
 * while. One poor reading is a blip (a download next door, a lift); only poor readings for the whole
 * window, with no good or fair one between, count. Readings of "unknown" (no statistics yet) neither
 * start nor end the window.
 */
import type { QualityLevel } from "./engine";

/** How long the connection must stay poor before the broadcast takes over. Tests make it shorter. */
export const fallbackTiming = { poorNetworkMs: 15_000 };

export class PoorNetworkWatch {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private done = false;

  constructor(
    /** Called once, when the window has passed with the connection poor throughout. */
    private readonly onSustained: () => void,
    private readonly windowMs: number = fallbackTiming.poorNetworkMs,
  ) {}

  /** A quality reading; `eligible`: the person may switch (they do not publish). */
  observe(level: QualityLevel, eligible: boolean): void {
    if (this.done) return;
    if (!eligible || level === "good" || level === "fair") {
      this.cancel();
      return;
    }
    if (level !== "poor" || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.done = true;
      this.onSustained();
    }, this.windowMs);
  }

  /** Whether a poor window is running. */
  get pending(): boolean {
    return this.timer !== null;
  }

  stop(): void {
    this.cancel();
    this.done = true;
  }

  private cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
