// A chat frontend on Threadline with the official Convex React client and @convex-dev/auth,
// unchanged: only the deployment address points at Threadline (here: this page's own origin,
// which vite proxies to Threadline; see vite.config.js).
import { ConvexAuthProvider } from "@convex-dev/auth/react";
import { ConvexReactClient } from "convex/react";
import { createRoot } from "react-dom/client";
import { App } from "./App.jsx";

const convex = new ConvexReactClient(window.location.origin);

createRoot(document.getElementById("root")).render(
  <ConvexAuthProvider client={convex}>
    <App />
  </ConvexAuthProvider>,
);
