import { useAuthActions } from "@convex-dev/auth/react";
import { useConvexAuth, useQuery } from "convex/react";
import { anyApi } from "convex/server";
import { useState } from "react";

// Threadline's functions by name (a Convex project would use its generated `api`).
const api = anyApi;

export function App() {
  const { isLoading, isAuthenticated } = useConvexAuth();
  if (isLoading) return <p>Loading…</p>;
  return isAuthenticated ? <Chat /> : <SignIn />;
}

function SignIn() {
  const { signIn } = useAuthActions();
  const [error, setError] = useState(null);
  const submit = async (event) => {
    event.preventDefault();
    setError(null);
    try {
      await signIn("password", new FormData(event.currentTarget));
    } catch (e) {
      setError(String(e.message || e));
    }
  };
  return (
    <form onSubmit={submit} aria-label="Sign in">
      <input name="email" type="email" placeholder="Email" aria-label="Email" />
      <input name="password" type="password" placeholder="Password" aria-label="Password" />
      <input name="flow" type="hidden" value="signIn" />
      <button type="submit">Sign in</button>
      {error && <p role="alert">{error}</p>}
    </form>
  );
}

function Chat() {
  const { signOut } = useAuthActions();
  const page = useQuery(api.threads.list, { paginationOpts: { numItems: 20, cursor: null } });
  const [activeThreadId, setActiveThreadId] = useState(null);
  return (
    <main style={{ display: "flex", gap: "2rem", fontFamily: "sans-serif" }}>
      <nav aria-label="Threads">
        <button type="button" onClick={() => void signOut()}>Sign out</button>
        <ul>
          {page?.page.map((thread) => (
            <li key={thread._id}>
              <button type="button" onClick={() => setActiveThreadId(thread._id)}>
                {thread.title}
              </button>
            </li>
          ))}
        </ul>
      </nav>
      {activeThreadId && <Messages threadId={activeThreadId} />}
    </main>
  );
}

function Messages({ threadId }) {
  const messages = useQuery(api.messages.list, threadId ? { threadId } : "skip");
  if (messages === undefined) return <p>Loading messages…</p>;
  return (
    <section aria-label="Messages">
      {messages.map((message) => (
        <p key={message._id} data-role={message.role}>
          <b>{message.role}:</b> {message.content}
        </p>
      ))}
    </section>
  );
}
