// The official ConvexClient (npm convex 1.48.0, under Node) against a Threadline server.
// Run by tests/test_convex_sync.py:  node sync_checks.mjs <scenario> <url>  with the credentials
// and thread ids in the environment (TL_*). Prints one "ok <check>" / "FAIL <check>: <detail>" line
// per check, then "N passed, N failed"; exits 1 if any check failed.
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { anyApi } from "convex/server";
import WebSocket from "ws";

const [scenario, url] = process.argv.slice(2);
const env = process.env;
const api = anyApi;
let passed = 0;
let failed = 0;
const logged = [];
const logger = {
  log: (...a) => logged.push(["log", a.join(" ")]),
  warn: (...a) => logged.push(["warn", a.join(" ")]),
  error: (...a) => logged.push(["error", a.join(" ")]),
  logVerbose: () => {},
};

function check(name, ok, detail = "") {
  if (ok) {
    passed++;
    console.log(`ok ${name}`);
  } else {
    failed++;
    console.log(`FAIL ${name}: ${detail}`);
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Resolves with the first value of `watch` for which `until(value)` holds.
function waitFor(client, query, args, until, ms = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`timed out waiting on ${JSON.stringify(args)}`));
    }, ms);
    const unsubscribe = client.onUpdate(
      query,
      args,
      (value) => {
        if (until(value)) {
          clearTimeout(timer);
          unsubscribe();
          resolve(value);
        }
      },
      (error) => {
        clearTimeout(timer);
        unsubscribe();
        reject(error);
      },
    );
  });
}

async function httpWrite(path, args, key = env.TL_KEY) {
  const response = await fetch(`${url}/api/mutation`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${key}` },
    body: JSON.stringify({ path, args }),
  });
  const body = await response.json();
  if (body.status !== "success") throw new Error(body.errorMessage);
  return body.value;
}

function client(options = {}) {
  return new ConvexClient(url, { logger, ...options });
}

const contents = (list) => list.map((m) => m.content);

const scenarios = {
  // Subscribe with a session token; HTTP writes show up live and in order.
  async live() {
    const c = client();
    const fetches = [];
    const changes = [];
    c.setAuth(
      async (opts) => {
        fetches.push(opts.forceRefreshToken);
        return env.TL_TOKEN;
      },
      (isAuthenticated) => changes.push(isAuthenticated),
    );
    const thread = env.TL_THREAD;
    const first = await waitFor(c, api.messages.list, { threadId: thread }, () => true);
    check("initial value", Array.isArray(first) && first.length === 0, JSON.stringify(first));
    check("auth confirmed", changes[0] === true, JSON.stringify(changes));
    const start = Date.now();
    const seen = waitFor(c, api.messages.list, { threadId: thread }, (v) => v.length === 1);
    await httpWrite("messages:create", { threadId: thread, role: "assistant", content: "one" });
    const after = await seen;
    check("live update after an HTTP write", after[0].content === "one", JSON.stringify(after));
    console.log(`latency_ms ${Date.now() - start}`);
    const three = waitFor(c, api.messages.list, { threadId: thread }, (v) => v.length === 4);
    for (const content of ["two", "three", "four"]) {
      await httpWrite("messages:create", { threadId: thread, role: "assistant", content });
    }
    const all = await three;
    check(
      "order",
      JSON.stringify(contents(all)) === JSON.stringify(["one", "two", "three", "four"]),
      JSON.stringify(contents(all)),
    );
    // A thread nobody writes to sees no re-sent value.
    const quiet = [];
    const off = c.onUpdate(api.threads.get, { threadId: env.TL_OTHER_THREAD }, (v) => quiet.push(v));
    await sleep(300);
    await httpWrite("messages:create", { threadId: thread, role: "assistant", content: "five" });
    await sleep(500);
    off();
    check("unrelated query not updated", quiet.length === 1, `${quiet.length} values`);
    await c.close();
  },

  // Other query families: an artifact (its id, no threadId argument) and a thread's approvals.
  async families() {
    const c = client();
    c.setAuth(async () => env.TL_TOKEN);
    const thread = env.TL_THREAD;
    const artifactId = await httpWrite("artifacts:create", {
      threadId: thread,
      type: "plan",
      content: "v1",
    });
    await waitFor(c, api.artifacts.get, { artifactId }, (a) => a && a.content === "v1");
    const updated = waitFor(c, api.artifacts.get, { artifactId }, (a) => a.content === "v2");
    await httpWrite("artifacts:update", { artifactId, content: "v2" });
    const artifact = await updated;
    check("artifacts:get updates live", artifact.content === "v2", JSON.stringify(artifact));
    const args = { threadId: thread, paginationOpts: { numItems: 10, cursor: null } };
    await waitFor(c, api.approvalRequests.list, args, (p) => p.page.length === 0);
    const listed = waitFor(c, api.approvalRequests.list, args, (p) => p.page.length === 1);
    await httpWrite("approvalRequests:create", { threadId: thread, planContent: "do it" });
    const page = await listed;
    check("approvalRequests:list updates live", page.page[0].planContent === "do it",
      JSON.stringify(page));
    await c.close();
  },

  // A mutation over the socket resolves, and its own subscription already shows the row.
  async mutation() {
    const c = client();
    c.setAuth(async () => env.TL_KEY);
    const thread = env.TL_THREAD;
    const keep = c.onUpdate(api.messages.list, { threadId: thread }, () => {});
    await waitFor(c, api.messages.list, { threadId: thread }, () => true);
    const id = await c.mutation(api.messages.create, {
      threadId: thread,
      role: "user",
      content: "over the socket",
    });
    check("mutation resolves with the id", typeof id === "string" && id.length > 0, String(id));
    const local = c.client.localQueryResult("messages:list", { threadId: thread });
    check(
      "read your writes",
      Array.isArray(local) && local.some((m) => m._id === id),
      JSON.stringify(local),
    );
    let message = "";
    try {
      await c.mutation(api.messages.create, { threadId: "nope", role: "user", content: "x" });
    } catch (error) {
      message = String(error.message);
    }
    check("bad mutation throws the server's message", message.includes("threadId"), message);
    keep();
    await c.close();
  },

  // A viewer may read but not write; the error is the server's.
  async forbidden() {
    const c = client();
    c.setAuth(async () => env.TL_VIEWER_TOKEN);
    const thread = env.TL_THREAD;
    const list = await waitFor(c, api.messages.list, { threadId: thread }, () => true);
    check("viewer reads", Array.isArray(list), JSON.stringify(list));
    let message = "";
    try {
      await c.mutation(api.messages.create, { threadId: thread, role: "user", content: "x" });
    } catch (error) {
      message = String(error.message);
    }
    check(
      "forbidden mutation throws the server's message",
      message.includes("Not allowed: a viewer may not call messages:create"),
      message,
    );
    await c.close();
  },

  // No credentials: queries fail, no data is sent.
  async anonymous() {
    const c = client();
    let error = null;
    try {
      await waitFor(c, api.messages.list, { threadId: env.TL_THREAD }, () => true, 5000);
    } catch (e) {
      error = e;
    }
    check(
      "unauthenticated socket gets no data",
      error !== null && String(error.message).includes("Unauthenticated"),
      String(error),
    );
    let message = "";
    try {
      await c.mutation(api.threads.create, { title: "x" });
    } catch (e) {
      message = String(e.message);
    }
    check("unauthenticated mutation throws", message.includes("Unauthenticated"), message);
    await c.close();
  },

  // An API key as Convex's admin auth; a bad token gives onChange(false), not a dead client.
  async tokens() {
    const admin = client();
    admin.setAdminAuth(env.TL_KEY);
    const got = await waitFor(admin, api.threads.get, { threadId: env.TL_THREAD }, () => true);
    check("admin auth with an API key", got && got._id === env.TL_THREAD, JSON.stringify(got));
    await admin.close();
    const bad = client();
    const changes = await new Promise((resolve) => {
      const seen = [];
      bad.setAuth(
        async () => "tls_not-a-real-token",
        (ok) => {
          seen.push(ok);
          resolve(seen);
        },
      );
    });
    check("bad token reported as not authenticated", changes[0] === false, JSON.stringify(changes));
    await bad.close();
  },

  // The socket drops right after a MutationResponse, before the transition that covers it: the
  // client re-sends the mutation on the new socket, and it is not applied twice.
  async reconnect() {
    let dropped = false;
    class DroppingWebSocket extends WebSocket {
      constructor(...args) {
        super(...args);
        this.on("message", (data) => {
          if (!dropped && String(data).includes('"MutationResponse"')) {
            dropped = true;
            this.terminate();
          }
        });
      }
    }
    const c = client({ webSocketConstructor: DroppingWebSocket });
    c.setAuth(async () => env.TL_KEY);
    const thread = env.TL_THREAD;
    await waitFor(c, api.messages.list, { threadId: thread }, () => true);
    const id = await c.mutation(api.messages.create, {
      threadId: thread,
      role: "user",
      content: "exactly once",
    });
    check("socket was dropped mid-mutation", dropped, "");
    check("mutation resolved after the reconnect", typeof id === "string", String(id));
    const list = await waitFor(c, api.messages.list, { threadId: thread }, () => true);
    const copies = list.filter((m) => m.content === "exactly once");
    check("applied once", copies.length === 1 && copies[0]._id === id, JSON.stringify(list));
    await c.close();
  },

  // @convex-dev/auth's calls: auth:signIn as an Action over the socket, the JWT on the socket,
  // the refresh over HTTP /api/action (as the auth client does), then auth:signOut ends it all.
  async jwt() {
    const c = client();
    const signedIn = await c.action(api.auth.signIn, {
      provider: "password",
      params: { email: env.TL_EMAIL, password: env.TL_PASSWORD, flow: "signIn" },
    });
    let tokens = signedIn.tokens;
    check("signIn over the socket answers tokens", tokens && tokens.token && tokens.refreshToken);
    const http = new ConvexHttpClient(url, { logger });
    const fetches = [];
    const changes = [];
    c.setAuth(
      async ({ forceRefreshToken }) => {
        fetches.push(forceRefreshToken);
        if (!forceRefreshToken) return tokens.token;
        const refreshed = await http.action(api.auth.signIn, { refreshToken: tokens.refreshToken });
        if (refreshed.tokens === null) return null;
        tokens = refreshed.tokens;
        return tokens.token;
      },
      (ok) => changes.push(ok),
    );
    const me = await waitFor(c, api.users.me, {}, (v) => v && v.email === env.TL_EMAIL);
    check("query as the JWT's person", me.email === env.TL_EMAIL, JSON.stringify(me));
    const deadline = Date.now() + 5000;
    while (fetches.length < 2 && Date.now() < deadline) await sleep(50);
    check("token refreshed after confirmation", fetches[0] === false && fetches[1] === true,
      JSON.stringify(fetches));
    await sleep(300);
    check("still authenticated with the refreshed token", changes.at(-1) === true,
      JSON.stringify(changes));
    const keep = c.onUpdate(api.users.me, {}, () => {}, () => {});
    await c.action(api.auth.signOut, {});
    const end = Date.now() + 10000;
    while (changes.at(-1) !== false && Date.now() < end) await sleep(50);
    check("sign-out drops the socket's identity", changes.at(-1) === false, JSON.stringify(changes));
    let error = null;
    try {
      // Values from before the sign-out may still be cached; the failure follows them.
      await waitFor(c, api.users.me, {}, () => false, 10000);
    } catch (e) {
      error = e;
    }
    check("queries fail once signed out", error && String(error.message).includes("Unauthenticated"),
      String(error));
    keep();
    await c.close();
  },

  // A person disabled while subscribed: the subscription fails at once.
  async revoked() {
    const c = client();
    const changes = [];
    c.setAuth(async () => env.TL_TOKEN, (ok) => changes.push(ok));
    const errors = [];
    const values = [];
    c.onUpdate(api.threads.get, { threadId: env.TL_THREAD }, (v) => values.push(v), (e) => errors.push(e));
    const deadline = Date.now() + 5000;
    while (!values.length && Date.now() < deadline) await sleep(20);
    check("subscribed before the change", values.length > 0, "");
    await httpWrite("users:setDisabled", { userId: env.TL_USER_ID, disabled: true }, env.TL_ADMIN_TOKEN);
    const end = Date.now() + 10000;
    while (changes.at(-1) !== false && Date.now() < end) await sleep(20);
    check("disabling the person drops the socket's identity", changes.at(-1) === false,
      JSON.stringify(changes));
    await c.close();
  },

  // Two servers on one database: a write through one updates a subscription held by the other.
  async workers() {
    const other = env.TL_OTHER_URL;
    const c = client();
    c.setAuth(async () => env.TL_KEY);
    const thread = env.TL_THREAD;
    await waitFor(c, api.messages.list, { threadId: thread }, () => true);
    const seen = waitFor(c, api.messages.list, { threadId: thread }, (v) => v.length === 1);
    const start = Date.now();
    const http = new ConvexHttpClient(other);
    http.setAuth(env.TL_KEY);
    await http.mutation(api.messages.create, { threadId: thread, role: "user", content: "far" });
    const list = await seen;
    check("write on one worker updates the other's subscription", list[0].content === "far", "");
    console.log(`latency_ms ${Date.now() - start}`);
    await c.close();
  },
};

try {
  await scenarios[scenario]();
} catch (error) {
  check(scenario, false, error && error.stack ? error.stack : String(error));
}
// The client logs a function's own error as "[CONVEX M(path)] message"; anything else is a finding.
const unexpected = logged.filter(([level, text]) => level !== "log" && !text.startsWith("[CONVEX"));
for (const [level, text] of unexpected) console.log(`client ${level}: ${text}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
