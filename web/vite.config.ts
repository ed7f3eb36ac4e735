/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// Node's `process`, declared here so the client's type check needs no Node typings.
declare const process: { env: Record<string, string | undefined> };

// The Python app serves web/dist; during development `npm run dev` proxies the API to it.
const backend = process.env.TACK_BACKEND ?? "http://127.0.0.1:8700";

export default defineConfig({
  plugins: [react()],
  server: {
    port: 5173,
    proxy: {
      "/api": { target: backend, changeOrigin: false, ws: true },
      "/healthz": { target: backend, changeOrigin: false },
    },
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 2000,
  },
  test: {
    environment: "jsdom",
    globals: false,
    setupFiles: ["./src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    css: false,
    pool: "threads",
    maxWorkers: 2,
    testTimeout: 30000,
  },
});
