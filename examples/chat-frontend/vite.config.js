// The app talks to Threadline through this server's own origin: /api (HTTP and the sync
// WebSocket) is proxied to THREADLINE_URL, so no CORS setup is needed on either side.
import { defineConfig } from "vite";

const target = process.env.THREADLINE_URL || "http://127.0.0.1:3000";
const proxy = { "/api": { target, ws: true, changeOrigin: true } };

export default defineConfig({
  server: { proxy },
  preview: { proxy },
});
