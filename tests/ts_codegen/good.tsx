// Code a frontend would write against `threadline codegen typescript` output (./generated/api.ts):
// tests/test_codegen.py runs `tsc --noEmit` on it and expects no error.
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { useMutation, useQuery } from "convex/react";
import { api, type Thread } from "./generated/api";

export async function backend(url: string, key: string): Promise<string> {
  const client = new ConvexHttpClient(url);
  client.setAuth(key);
  const threadId: string = await client.mutation(api.threads.create, { title: "Plan the trip" });
  await client.mutation(api.messages.create, { threadId, role: "user", content: "Hello" });
  await client.mutation(api.toolCalls.record, { threadId, toolName: "search", input: { q: 1 } });
  const page = await client.query(api.threads.list, {
    paginationOpts: { numItems: 20, cursor: null },
    status: "active",
  });
  const first: Thread | undefined = page.page[0];
  const approval = await client.query(api.approvalRequests.get, {
    approvalRequestId: "apr_x",
    waitMs: 1000,
  });
  if (approval !== null && approval.status === "approved") {
    return approval.editedPlan ?? approval.planContent;
  }
  const me = await client.query(api.users.me);
  return first?.title ?? me?.email ?? "";
}

export function watch(url: string): () => void {
  const client = new ConvexClient(url);
  const stop = client.onUpdate(api.inbox.pending, {}, (inbox) => {
    const count: number = inbox.count;
    const titles: string[] = inbox.requests.map((request) => request.threadTitle);
    console.log(count, titles);
  });
  return () => stop();
}

export function Messages({ threadId }: { threadId: string }) {
  const messages = useQuery(api.messages.list, { threadId });
  const send = useMutation(api.messages.create);
  if (messages === undefined) return null;
  const list = Array.isArray(messages) ? messages : messages.page;
  void send({ threadId, role: "assistant", content: `${list.length} messages` });
  return <ul>{list.map((message) => <li key={message._id}>{message.content}</li>)}</ul>;
}
