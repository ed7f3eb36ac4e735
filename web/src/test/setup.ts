import { cleanup, configure } from "@testing-library/react";
import { afterEach, vi } from "vitest";
import { FakeSocket } from "../stream/fakeSocket";
import { setStreamSocketFactory } from "../stream/StreamProvider";

// Ant Design renders slowly in jsdom on a small machine; give screens time to appear.
configure({ asyncUtilTimeout: 8000 });

// jsdom lacks these browser APIs that antd uses for layout and responsiveness.
if (!window.matchMedia) {
  Object.defineProperty(window, "matchMedia", {
    writable: true,
    value: vi.fn().mockImplementation((query: string) => ({
      matches: false,
      media: query,
      onchange: null,
      addListener: vi.fn(),
      removeListener: vi.fn(),
      addEventListener: vi.fn(),
      removeEventListener: vi.fn(),
      dispatchEvent: vi.fn(),
    })),
  });
}

if (!("ResizeObserver" in window)) {
  class ResizeObserver {
    observe() {}
    unobserve() {}
    disconnect() {}
  }
  Object.defineProperty(window, "ResizeObserver", { writable: true, value: ResizeObserver });
}

// jsdom's getComputedStyle does not accept a pseudo-element; antd asks for one when measuring scrollbars.
const originalGetComputedStyle = window.getComputedStyle.bind(window);
window.getComputedStyle = (element: Element) => originalGetComputedStyle(element);

afterEach(() => {
  cleanup();
  localStorage.clear();
  document.cookie.split(";").forEach((part) => {
    const name = part.split("=")[0].trim();
    if (name) document.cookie = `${name}=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/`;
  });
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});

// The real-time stream never reaches a network in unit tests: its sockets stay unopened unless a
// test hands in its own (setStreamSocketFactory).
setStreamSocketFactory((url) => new FakeSocket(url));
afterEach(() => {
  setStreamSocketFactory((url) => new FakeSocket(url));
  sessionStorage.clear();
});
