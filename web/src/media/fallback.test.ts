import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { PoorNetworkWatch } from "./fallback";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("when a poor connection means the broadcast", () => {
  it("poor for the whole window: switches once", () => {
    const sustained = vi.fn();
    const watch = new PoorNetworkWatch(sustained, 15_000);
    for (let t = 0; t <= 14_000; t += 2_000) {
      watch.observe("poor", true);
      vi.advanceTimersByTime(2_000);
    }
    expect(sustained).toHaveBeenCalledTimes(1);
    watch.observe("poor", true);
    vi.advanceTimersByTime(30_000);
    expect(sustained).toHaveBeenCalledTimes(1);
    expect(watch.pending).toBe(false);
  });

  it("one fair or good reading starts the window again: a blip is not a poor network", () => {
    const sustained = vi.fn();
    const watch = new PoorNetworkWatch(sustained, 15_000);
    watch.observe("poor", true);
    vi.advanceTimersByTime(14_000);
    watch.observe("fair", true);
    expect(watch.pending).toBe(false);
    watch.observe("poor", true);
    vi.advanceTimersByTime(14_000);
    watch.observe("good", true);
    vi.advanceTimersByTime(20_000);
    expect(sustained).not.toHaveBeenCalled();
  });

  it("readings without statistics neither start nor end the window", () => {
    const sustained = vi.fn();
    const watch = new PoorNetworkWatch(sustained, 15_000);
    watch.observe("unknown", true);
    vi.advanceTimersByTime(20_000);
    expect(watch.pending).toBe(false);
    watch.observe("poor", true);
    vi.advanceTimersByTime(8_000);
    watch.observe("unknown", true);
    vi.advanceTimersByTime(7_000);
    expect(sustained).toHaveBeenCalledTimes(1);
  });

  it("someone who publishes stays in the live room, however poor the connection", () => {
    const sustained = vi.fn();
    const watch = new PoorNetworkWatch(sustained, 15_000);
    watch.observe("poor", true);
    vi.advanceTimersByTime(10_000);
    // Made presenter meanwhile: they publish now.
    watch.observe("poor", false);
    vi.advanceTimersByTime(30_000);
    expect(sustained).not.toHaveBeenCalled();
  });

  it("stopped (the connection closed): never switches", () => {
    const sustained = vi.fn();
    const watch = new PoorNetworkWatch(sustained, 15_000);
    watch.observe("poor", true);
    watch.stop();
    watch.observe("poor", true);
    vi.advanceTimersByTime(30_000);
    expect(sustained).not.toHaveBeenCalled();
  });
});
