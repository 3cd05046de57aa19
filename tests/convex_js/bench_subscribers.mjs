// Subscribers for bench/sync.py (not a test): ConvexClients watching the newest page of
// messages:list, `hot` of them on the hot thread and `others` on threads nobody writes to. Once
// every one has its first value it prints READY, then for `seconds` measures mutation -> update:
// a probe message posted over HTTP to the hot thread, timed until a hot subscriber sees it.
// Prints RESULT {json} and exits.
//   node bench_subscribers.mjs URL KEY HOT_THREAD OTHER_THREADS_FILE others hot seconds
import { readFileSync } from "node:fs";
import { ConvexClient } from "convex/browser";
import { anyApi } from "convex/server";

const [url, key, hotThread, othersFile, others, hot, seconds] = process.argv.slice(2);
const otherThreads = readFileSync(othersFile, "utf8").split("\n").filter(Boolean);
const page = { numItems: 20, cursor: null };
const clients = [];
const ready = [];
let newest = null; // the newest content a hot subscriber has seen
const waiters = new Map();

function subscribe(threadId, onValue) {
  const client = new ConvexClient(url, { logger: false });
  client.setAuth(async () => key);
  clients.push(client);
  ready.push(
    new Promise((resolve) => {
      client.onUpdate(anyApi.messages.list, { threadId, paginationOpts: page }, (value) => {
        resolve();
        onValue(value);
      });
    }),
  );
}

for (let i = 0; i < Number(hot); i++) {
  subscribe(hotThread, (value) => {
    for (const message of value.page) {
      const waiter = waiters.get(message.content);
      if (waiter) {
        waiters.delete(message.content);
        waiter(performance.now());
      }
    }
    newest = value.page[0]?.content ?? newest;
  });
}
for (let i = 0; i < Number(others); i++) subscribe(otherThreads[i % otherThreads.length], () => {});
await Promise.all(ready);
console.log("READY");

const samples = [];
const end = performance.now() + Number(seconds) * 1000;
let n = 0;
while (Number(hot) > 0 && performance.now() < end) {
  const content = `probe ${process.pid} ${n++}`;
  const seen = new Promise((resolve) => waiters.set(content, resolve));
  const start = performance.now();
  await fetch(`${url}/api/mutation`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${key}` },
    body: JSON.stringify({
      path: "messages:create",
      args: { threadId: hotThread, role: "assistant", content },
    }),
  });
  const timeout = new Promise((resolve) => setTimeout(() => resolve(null), 10000));
  const at = await Promise.race([seen, timeout]);
  if (at !== null) samples.push(at - start);
  await new Promise((r) => setTimeout(r, 100));
}
samples.sort((a, b) => a - b);
const pct = (p) => (samples.length ? samples[Math.min(samples.length - 1, Math.floor(p * samples.length))] : null);
console.log(
  `RESULT ${JSON.stringify({ samples: samples.length, probes: n, p50_ms: pct(0.5), p95_ms: pct(0.95), max_ms: samples.at(-1) ?? null })}`,
);
await Promise.all(clients.map((c) => c.close()));
process.exit(0);
