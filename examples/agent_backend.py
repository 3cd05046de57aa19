"""A simulated agent run, end to end, through threadline_client.

The "agent" handles a refund request: it plans (looking things up with tools), asks a person to
approve the plan, waits for the decision, and on approval carries the plan out and writes a
report. Everything it does is stored in Threadline, where you can watch it in the console.

    make run                                              # console + API on :3000
    .venv/bin/threadline create-api-key --name demo       # prints the key on its last line
    export THREADLINE_API_KEY=tl_...
    .venv/bin/python examples/agent_backend.py
    # then approve (or reject) at http://localhost:3000/approvals as a reviewer or admin

Environment: THREADLINE_URL (default http://localhost:3000), THREADLINE_API_KEY (required).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import uuid
from pathlib import Path
from typing import Any

# Run from a checkout without installing anything but httpx.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from threadline_client import Threadline, ThreadlineError  # noqa: E402

TASK = "Customer #7 says they were charged twice for order #4411. Please sort it out."


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--delay", type=float, default=0.4, help="seconds between simulated steps (default 0.4)"
    )
    parser.add_argument(
        "--approval-timeout",
        type=float,
        default=3600,
        help="the request's deadline in seconds: it expires if nobody decides (default 3600)",
    )
    parser.add_argument(
        "--stray-call",
        action="store_true",
        help="after approval, also run a tool the plan did not list (the console flags it)",
    )
    options = parser.parse_args()
    url = os.environ.get("THREADLINE_URL", "http://localhost:3000").rstrip("/")
    api_key = os.environ.get("THREADLINE_API_KEY")
    if not api_key:
        print(
            "Set THREADLINE_API_KEY (create one with: "
            ".venv/bin/threadline create-api-key --name demo)",
            file=sys.stderr,
        )
        return 2

    def report_failure(path: str, args: dict[str, Any], error: ThreadlineError) -> None:
        print(f"  ! a background write failed for good: {path}: {error}", file=sys.stderr)

    try:
        with Threadline(url, api_key, on_failure=report_failure) as client:
            Agent(client, url, options.delay, options.stray_call).run(options.approval_timeout)
            client.flush(30)
            counters = client.counters
    except ThreadlineError as error:
        print(f"Threadline refused a call: {error}", file=sys.stderr)
        return 1
    print(
        f"background writes: {counters.sent} sent, {counters.retried} retries, "
        f"{counters.failed} failed"
    )
    return 1 if counters.failed else 0


class Agent:
    def __init__(self, client: Threadline, url: str, delay: float, stray_call: bool) -> None:
        self.client = client
        self.url = url
        self.delay = delay
        self.stray_call = stray_call
        self.thread_id = ""

    def run(self, approval_timeout: float) -> None:
        client = self.client
        # Writes whose result we need (the new thread's id) are awaited; the rest is posted.
        self.thread_id = client.threads.create(
            title="Double charge on order #4411", user_id="customer-7", metadata={"demo": True}
        )
        print(f"thread:   {self.url}/threads/{self.thread_id}")
        sdk_session_id = f"sdk_{uuid.uuid4().hex[:16]}"
        self.phase("planning", sdk_session_id=sdk_session_id, state={"step": "investigate"})
        client.messages.post_create(self.thread_id, "user", TASK)

        self.say("Let me look at the order and its payments first.")
        order = self.tool("lookup_order", {"orderId": "4411"}, {"total": 59.0, "currency": "EUR"})
        payments = self.tool(
            "list_payments",
            {"orderId": "4411"},
            [{"id": "pay_1", "amount": 59.0}, {"id": "pay_2", "amount": 59.0}],
        )
        self.say(
            f"The order totals {order['total']} {order['currency']}, and I see "
            f"{len(payments)} payments of that amount: {payments[1]['id']} is a duplicate."
        )
        plan = (
            "## Plan\n"
            f"1. Refund the duplicate payment {payments[1]['id']} "
            f"({order['total']} {order['currency']}).\n"
            "2. Email the customer a confirmation.\n"
            "3. Note the incident on the order."
        )
        plan_id = client.artifacts.create(
            self.thread_id, "plan", plan, title="Refund plan", status="pending_review"
        )
        self.say("Here is my plan. A refund moves money, so I'll ask a reviewer first.")
        self.phase("awaiting_approval", plan=plan, state={"step": "approval"})
        # Let everything posted so far land before the reviewer opens the request.
        client.flush(30)
        # What the plan will run: the refund only for the duplicate payment; the email and the
        # note with whatever input. Calls recorded after the approval that are not on this
        # list are flagged "outside the approved plan".
        planned = [
            {"toolName": "issue_refund", "input": {"paymentId": payments[1]["id"]}},
            {"toolName": "send_email"},
            {"toolName": "add_order_note"},
        ]
        # A deadline on the server: if nobody decides in time the request expires (and the
        # inbox counts down to it); wait() answers at once with status "expired".
        timeout_ms = min(max(int(approval_timeout * 1000), 1000), 2_592_000_000)
        request_id = client.approvals.create(
            self.thread_id,
            plan,
            artifact_id=plan_id,
            planned_tool_calls=planned,
            timeout_ms=timeout_ms,
        )
        print(f"approval: {self.url}/approvals/{request_id}")
        print("waiting for a reviewer to decide in the console ...", flush=True)

        decision = client.approvals.wait(request_id, timeout=timeout_ms / 1000 + 60)
        status = decision["status"]
        comment = decision.get("comment")
        if status == "expired":
            self.say("Nobody decided before the deadline, so the request expired; I stopped.")
            self.phase("stopped", state={"step": "stopped", "decision": status})
            print("no decision before the deadline: request expired, stopping")
            return
        if status == "pending":  # the server's deadline watcher is late: withdraw it ourselves
            client.approvals.cancel(request_id)
            self.say("Nobody decided in time, so I withdrew the request and stopped.")
            self.phase("stopped")
            print("no decision in time: request withdrawn, stopping")
            return
        because = f": {comment}" if comment else ""
        if status != "approved":
            what = {"rejected": "rejected the plan", "changes_requested": "asked for changes"}
            self.say(f"The reviewer {what.get(status, status)}{because}. I'll stop here.")
            self.phase("stopped", state={"step": "stopped", "decision": status})
            print(f"decision: {status.replace('_', ' ')}{because}; stopping")
            return

        approved_plan = decision.get("editedPlan") or plan
        print(f"decision: approved{because}")
        self.phase("executing", plan=approved_plan, state={"step": "execute"})
        self.say("Approved, thanks! Carrying out the plan.")
        refund = self.tool(
            "issue_refund", {"paymentId": payments[1]["id"]}, {"refundId": "re_1", "ok": True}
        )
        self.tool("send_email", {"to": "customer-7", "template": "refund"}, {"queued": True})
        self.tool("add_order_note", {"orderId": "4411", "note": "duplicate charge"}, {"ok": True})
        if self.stray_call:
            # Not in the approved plan: Threadline stores it with outsidePlan: true.
            self.tool("issue_refund", {"paymentId": payments[0]["id"]}, {"refundId": "re_2"})
        report = (
            "## Report\n"
            f"- Refunded {payments[1]['id']} ({order['total']} {order['currency']}), "
            f"refund {refund['refundId']}.\n"
            "- Confirmation email queued.\n"
            "- Incident noted on order #4411."
        )
        client.artifacts.create(self.thread_id, "report", report, title="Report", status="final")
        self.say("Done: the duplicate charge is refunded and the customer has been told.")
        self.phase("done", state={"step": "done"})
        print("done: report written")

    def say(self, text: str) -> None:
        """An assistant message, posted as the agent produces it (fire and forget)."""
        self.client.messages.post_create(self.thread_id, "assistant", text)
        print(f"  assistant: {text}")
        self.pause()

    def tool(self, name: str, tool_input: dict[str, Any], result: Any) -> Any:
        """A simulated tool call, recorded as started, then as succeeded (same toolCallId)."""
        call_id = f"call_{uuid.uuid4().hex[:12]}"
        self.client.tool_calls.post_record(
            self.thread_id, name, tool_input, status="started", tool_call_id=call_id
        )
        started = time.monotonic()
        print(f"  tool:      {name}({tool_input})")
        self.pause()
        self.client.tool_calls.post_record(
            self.thread_id,
            name,
            tool_input,
            output=result,
            status="succeeded",
            tool_call_id=call_id,
            duration_ms=round((time.monotonic() - started) * 1000, 1),
        )
        return result

    def phase(self, phase: str, **fields: Any) -> None:
        self.client.sessions.post_upsert(self.thread_id, phase=phase, **fields)
        print(f"phase:    {phase}")

    def pause(self) -> None:
        if self.delay:
            time.sleep(self.delay * random.uniform(0.5, 1.5))


if __name__ == "__main__":
    sys.exit(main())
