"""/approvals/{approvalRequestId}: read the plan, see the thread around it, compare the plan
artifact's versions, and decide. Every decision goes through approvalRequests:resolve as the
signed-in person, so the registry refuses viewers and second decisions."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import reflex as rx

from api.errors import FunctionError, Unavailable
from api.vocabulary import APPROVED, CHANGES_REQUESTED, PENDING, REJECTED
from app.components.decisions import decision_buttons
from app.components.detail import (
    DetailPage,
    add_detail_page,
    back_link,
    detail_grid,
    title_line,
)
from app.components.markdown import markdown_box, renderable, safe_markdown
from app.components.session import json_details, session_card, session_fields
from app.components.timeline import timeline_list
from app.components.ui import (
    card_header,
    column,
    confirm_dialog,
    if_set,
    inline,
    muted,
    note,
    panel,
    relative_time,
    soft_button,
    status_badge,
    text_box,
)
from app.components.versions import VersionCompare, shown_notice, version_compare, version_rows
from app.formatting import MAX_RENDER_CHARS, size_text
from app.routes import APPROVAL, APPROVALS, approval_url, artifact_url, thread_url
from app.rows import REQUEST_STATUS_TEXT, ApprovalRow, SessionRow, TimelineRow
from app.state import (
    AuthState,
    NotSignedIn,
    PendingQueue,
    api_download,
    error_toast,
)
from app.worker_reads import outside_plan_view, request_view, session_view, timeline_page

RECENT_ENTRIES = 12
DECISIONS = {
    decision: REQUEST_STATUS_TEXT[decision] for decision in (APPROVED, REJECTED, CHANGES_REQUESTED)
}


class ApprovalState(DetailPage, VersionCompare, AuthState):
    request: ApprovalRow = ApprovalRow()
    session: SessionRow = SessionRow()
    recent: list[TimelineRow] = []
    comment: str = ""
    editing: bool = False
    edited_plan: str = ""
    # The plan artifact's version this page shows (sent with every decision), and, after a
    # decision was refused because the artifact moved on, what the reviewer is told.
    seen_version: int = 0
    plan_changed: str = ""
    deciding: bool = False
    # The signed-in person's id (to tell "you are reviewing" from someone else's claim).
    me: str = ""
    claiming: bool = False
    # A decision held back because someone else is reviewing: which, and the warning shown.
    held_decision: str = ""
    claim_warning: str = ""
    # For an approved request with plannedToolCalls: the calls recorded outside it.
    outside_plan: list[TimelineRow] = []
    outside_plan_count: int = 0

    @rx.var
    def request_id(self) -> str:
        """The route's argument (routes.APPROVAL_ARG), from the browser's router."""
        return self.approval_request_id

    @rx.var
    def edited_preview(self) -> str:
        """The edited plan as its preview renders it (markdown_box)."""
        return renderable(self.edited_plan)

    @rx.var
    def is_pending(self) -> bool:
        return self.request.status == PENDING

    @rx.var
    def outside_plan_title(self) -> str:
        count = self.outside_plan_count
        return f"{count} call{'' if count == 1 else 's'} outside the approved plan"

    def _compared_artifact(self) -> str:
        return self.request.artifactId

    async def _forget(self) -> None:
        self.editing, self.comment, self.edited_plan = False, "", ""
        self.request, self.session = ApprovalRow(), SessionRow()
        self.recent, self.versions, self.diff = [], [], []
        self.outside_plan, self.outside_plan_count = [], 0
        self.held_decision, self.claim_warning = "", ""
        self.me = self._signed_in_caller().id

    async def _load(self) -> None:
        doc = await request_view(self._signed_in_caller(), self.request_id)
        self.found = doc is not None
        if doc is None:
            return
        self.request = ApprovalRow.of(doc, self.me)
        thread_id = doc["threadId"]
        # A session state, the recent entries and tool calls can be many MiB: read, decoded
        # and cut in a worker process (app/worker_reads.py).
        caller = self._signed_in_caller()
        self.session = SessionRow.of(await session_view(caller, thread_id))
        recent = {"numItems": RECENT_ENTRIES, "cursor": None}
        timeline = await timeline_page(caller, thread_id, recent)
        self.recent = [TimelineRow.of(row) for row in reversed(timeline["page"])]
        if doc["status"] == APPROVED and doc.get("plannedToolCalls") is not None:
            drift = await outside_plan_view(caller, doc["_id"])
            self.outside_plan = [TimelineRow.of(row) for row in drift["calls"]]
            self.outside_plan_count = drift["count"]
        self.diff_notice, self.plan_changed, self.seen_version = "", "", 0
        if doc.get("artifactId"):
            self.versions = await version_rows(self._call, doc["artifactId"])
            if self.versions:
                self.seen_version = self.versions[-1].version
            if len(self.versions) >= 2:
                self.diff_from = str(self.versions[-2].version)
                self.diff_to = str(self.versions[-1].version)
                await self._compute_diff()

    @rx.event
    def download_plan(self):
        """The whole plan as a file, on demand (the page holds only what it renders): the
        browser fetches it from the API as an attachment."""
        if self._caller() is None:
            return self._to_signin()
        request = quote(self.request_id, safe="")
        return api_download(f"/api/export/approvalRequests/{request}/plan.md")

    @rx.event
    def set_comment(self, text: str):
        self.comment = text[:20_000]

    @rx.event
    def set_edited_plan(self, text: str):
        self.edited_plan = text

    @rx.event
    def start_edit(self):
        if not self.may_decide or not self.is_pending:
            return rx.toast.error("Only reviewers and admins can edit a pending plan.")
        if self.request.planNotice:
            # Every keystroke would send the whole text back to the server.
            size = size_text(self.request.planChars)
            return rx.toast.error(
                f"This plan ({size}) is too long to edit in the browser (at most "
                f"{size_text(MAX_RENDER_CHARS)}): approve, reject or request changes instead."
            )
        self.edited_plan = self.request.planContent
        self.editing = True
        return rx.set_focus("edited-plan")

    @rx.event
    def cancel_edit(self):
        self.editing = False

    @rx.event
    async def decide(self, decision: str):
        """approve / reject / changes_requested with the typed comment (and edited plan when
        editing). The caller's role is checked by the registry, not here. While someone else
        has claimed the request, the decision waits for a confirmation (decide_anyway)."""
        return await self._decide(decision, confirmed=False)

    @rx.event
    async def decide_anyway(self):
        """The confirmation: decide although someone else is reviewing (the API accepts it)."""
        decision, self.held_decision, self.claim_warning = self.held_decision, "", ""
        if not decision:
            return None
        return await self._decide(decision, confirmed=True)

    @rx.event
    def keep_waiting(self):
        self.held_decision, self.claim_warning = "", ""

    async def _someone_else_reviewing(self) -> str:
        """The name of whoever else holds a live claim on this request, else ""."""
        doc = await request_view(self._signed_in_caller(), self.request_id)
        claimer = (doc or {}).get("claimedBy")
        if not claimer or claimer == self.me:
            return ""
        return (doc or {}).get("claimedByName") or claimer

    @rx.event
    async def claim(self):
        return await self._claim("approvalRequests:claim", "You are reviewing this request.")

    @rx.event
    async def unclaim(self):
        return await self._claim("approvalRequests:unclaim", "You stopped reviewing it.")

    async def _claim(self, path: str, done: str):
        self.claiming = True
        async with self._caught("claiming") as failed:
            await self._call(path, {"approvalRequestId": self.request_id})
        if failed:
            return failed.event
        return rx.toast.success(done)

    async def _decide(self, decision: str, *, confirmed: bool):
        caller = self._caller()
        if caller is None:
            return self._to_signin()
        if decision not in DECISIONS:
            return rx.toast.error(f"Unknown decision {decision!r}")
        comment = self.comment.strip()
        if decision != APPROVED and not comment:
            verb = "reject" if decision == REJECTED else "request changes"
            return [
                rx.toast.error(f"Write a comment to {verb}: the agent needs to know why."),
                rx.set_focus("decision-comment"),
            ]
        # Decide on the request this tab shows: right after moving to another request the
        # URL changes before the new request has loaded.
        shown = self.request._id
        if self.loading or not shown or shown != self.request_id:
            return rx.toast.warning("This request is still loading; try again in a moment.")
        args: dict[str, Any] = {"approvalRequestId": shown, "decision": decision}
        if comment:
            args["comment"] = comment
        if self.request.artifactId and self.seen_version:
            args["artifactVersion"] = self.seen_version
        if decision == APPROVED and self.editing:
            if not self.edited_plan.strip():
                return rx.toast.error("The edited plan is empty.")
            args["editedPlan"] = self.edited_plan
        if not confirmed:
            async with self._caught() as failed:
                reviewer = await self._someone_else_reviewing()
            if failed:
                return failed.event
            if reviewer:
                self.held_decision = decision
                self.claim_warning = (
                    f"{reviewer} is reviewing this request. Your decision ("
                    f"{DECISIONS[decision].lower()}) stands once made, whatever they decide; "
                    "you may want to ask them first."
                )
                return None
        self.deciding = True
        try:
            await self._call("approvalRequests:resolve", args)
        except NotSignedIn:
            return self._to_signin()
        except FunctionError as exc:
            self.deciding = False
            if isinstance(exc.data, dict) and "seenVersion" in exc.data:
                return await self._plan_moved_on(exc)
            return [error_toast(exc), ApprovalState.refresh_request]
        except Unavailable as exc:
            self.deciding = False
            return [error_toast(exc), ApprovalState.refresh_request]
        self.deciding = False
        self.editing = False
        following = await request_view(self._signed_in_caller(), self.request_id)
        next_id = (following or {}).get("nextPendingId") or (following or {}).get("firstPendingId")
        done = rx.toast.success(f"{DECISIONS[decision]}.")
        if following is not None and following["status"] == PENDING:  # one of several
            done = rx.toast.success(
                f"Approved: {following['approvalCount']} of {following['requiredApprovals']} "
                "approvals. It waits for another person's approval."
            )
        return [done, rx.redirect(approval_url(next_id) if next_id else APPROVALS)]

    async def _plan_moved_on(self, exc: FunctionError):
        """The artifact changed after this page loaded: show the diff from the version the
        reviewer saw to the current one; the next decision is on the current version."""
        seen, current = exc.data["seenVersion"], exc.data["artifactVersion"]
        async with self._caught() as failed:
            self.versions = await version_rows(self._call, self.request.artifactId)
            self.diff_from, self.diff_to = str(seen), str(current)
            await self._compute_diff()
        if failed:
            return failed.event
        self.seen_version = current
        self.plan_changed = (
            f"The plan changed while you were reviewing it: version {current} replaced "
            f'version {seen}, which you saw. What changed is shown under "Plan artifact '
            'versions"; nothing was decided. Read it, then decide again.'
        )
        return rx.toast.warning("The plan changed meanwhile: nothing was decided.")

    @rx.event
    async def refresh_request(self):
        async with self._caught() as failed:
            doc = await request_view(self._signed_in_caller(), self.request_id)
        if failed:
            return failed.event
        if doc is not None:
            self.request = ApprovalRow.of(doc, self.me)
        return None


def _edit_then_approve() -> rx.Component:
    # An edited plan comes only with the approval that completes the request.
    request = ApprovalState.request
    label = (rx.icon("pencil", size=16), "Edit, then approve")
    edit = rx.button(
        *label,
        variant="outline",
        on_click=ApprovalState.start_edit,
        data_shortcut="e",
        data_testid="edit-plan",
        title="Edit the plan, then approve (e)",
    )
    return rx.cond(request.approvalCount + 1 >= request.required, edit)


def _editing_buttons() -> rx.Component:
    approve = rx.button(
        rx.icon("check", size=16),
        "Approve edited plan",
        color_scheme="green",
        on_click=ApprovalState.decide(APPROVED),
        loading=ApprovalState.deciding,
        data_testid="approve-edited",
    )
    cancel = soft_button("Cancel editing", color_scheme="gray", on_click=ApprovalState.cancel_edit)
    return rx.flex(approve, cancel, spacing="2", wrap="wrap")


def _decision_panel() -> rx.Component:
    decisions = decision_buttons(ApprovalState.decide, ApprovalState.deciding)
    buttons = rx.flex(*decisions, _edit_then_approve(), spacing="2", wrap="wrap")
    comment = text_box(
        "decision-comment",
        ApprovalState.comment,
        ApprovalState.set_comment,
        "3",
        placeholder="Comment — optional to approve, required to reject or request changes",
    )
    changed = note(
        ApprovalState.plan_changed, "triangle-alert", "plan-changed", color_scheme="orange"
    )
    return panel(
        rx.heading("Your decision", size="3"),
        rx.cond(ApprovalState.plan_changed != "", changed),
        comment,
        rx.cond(ApprovalState.editing, _editing_buttons(), buttons),
        spacing="3",
        test_id="decision-panel",
    )


def _claim_button() -> rx.Component:
    claim = soft_button(
        rx.icon("eye", size=14),
        "I'm reviewing this",
        on_click=ApprovalState.claim,
        size="1",
        loading=ApprovalState.claiming,
        data_testid="claim",
        title="Others see that you are reviewing it, for 15 minutes",
    )
    return rx.flex(claim, width="100%")


def _claim_bar() -> rx.Component:
    """Who is reviewing this pending request, live from the tab's queue; claim / release."""
    claimed_by = PendingQueue.shown_claimed_by
    mine = claimed_by == ApprovalState.me
    stop = soft_button(
        "Stop reviewing",
        on_click=ApprovalState.unclaim,
        size="1",
        color_scheme="gray",
        loading=ApprovalState.claiming,
        data_testid="unclaim",
    )
    who = rx.cond(
        mine,
        "You are reviewing this request (others see it for 15 minutes).",
        PendingQueue.shown_claimed_name + " is reviewing this request.",
    )
    reviewing = inline(rx.text(who), rx.cond(mine, stop), spacing="3", wrap="wrap")
    return rx.cond(
        claimed_by == "",
        rx.cond(ApprovalState.may_decide, _claim_button()),
        note(reviewing, "eye", "claim-note", color_scheme=rx.cond(mine, "blue", "amber"), size="1"),
    )


def _claim_warning() -> rx.Component:
    return confirm_dialog(
        ApprovalState.held_decision != "",
        "Someone else is reviewing this",
        ApprovalState.claim_warning,
        "Decide anyway",
        ApprovalState.decide_anyway,
        ApprovalState.keep_waiting,
        "claim-warning",
    )


def _outside_plan() -> rx.Component:
    """For an approved request with plannedToolCalls: what ran that the plan did not list."""
    thread = thread_url(ApprovalState.request.threadId)
    more = ApprovalState.outside_plan_count > ApprovalState.outside_plan.length()
    return rx.cond(
        ApprovalState.outside_plan_count > 0,
        panel(
            inline(
                rx.icon("shield-alert", size=16, color=rx.color("red", 11)),
                rx.heading(ApprovalState.outside_plan_title, size="3"),
            ),
            muted(
                "Tool calls recorded in this thread after the approval that are not among "
                "the planned tool calls (by name, and by input where the plan gave one)."
            ),
            timeline_list(ApprovalState.outside_plan),
            rx.cond(more, rx.link("All of them in the thread", href=thread, size="2")),
            test_id="outside-plan",
        ),
    )


def _decided_banner() -> rx.Component:
    request = ApprovalState.request
    by = rx.fragment(" by ", rx.text.strong(request.decidedByName))
    outcome = rx.text(
        rx.text.strong(request.statusText),
        if_set(request.decidedByName, by),
        if_set(request.decidedTimeText, rx.fragment(" on ", request.decidedTimeText)),
        ". This request can no longer be decided.",
    )
    color = rx.match(
        request.status,
        (APPROVED, "green"),
        (REJECTED, "red"),
        (CHANGES_REQUESTED, "orange"),
        "gray",
    )
    comment = if_set(request.comment, rx.blockquote(request.comment, size="2"))
    return note(
        rx.vstack(outcome, comment, spacing="1"), "info", "decided-banner", color_scheme=color
    )


def _decided_elsewhere() -> rx.Component:
    """Live: the shared queue no longer holds this request, so someone decided (or the backend
    withdrew) it while this tab was open."""
    show = soft_button("Show the decision", on_click=ApprovalState.refresh_request, size="1")
    decided = inline(
        rx.text("Someone else has just decided this request."), show, spacing="3", wrap="wrap"
    )
    return rx.cond(
        ApprovalState.is_pending
        & PendingQueue.loaded
        & PendingQueue.complete
        & ~PendingQueue.pending_ids.contains(ApprovalState.request_id),
        note(decided, "users", "decided-elsewhere", color_scheme="orange"),
    )


def _editor() -> rx.Component:
    editor = text_box(
        "edited-plan",
        ApprovalState.edited_plan,
        ApprovalState.set_edited_plan,
        "20",
        class_name="mono",
    )
    return rx.grid(
        rx.vstack(
            rx.text("Edit the plan (markdown)", size="2", weight="bold"), editor, width="100%"
        ),
        rx.vstack(
            rx.text("Live preview", size="2", weight="bold"),
            markdown_box(ApprovalState.edited_preview, "edited-preview"),
            width="100%",
        ),
        columns=rx.breakpoints(initial="1", md="2"),
        spacing="4",
        width="100%",
    )


def _version_badge(v: rx.Var) -> rx.Component:
    label = ("v", v.version, " · ", v.status)
    return rx.badge(*label, variant="surface", title=v.createdText)


def _versions() -> rx.Component:
    artifact = artifact_url(ApprovalState.request.artifactId)
    return rx.cond(
        ApprovalState.versions.length() > 0,
        panel(
            card_header("Plan artifact versions", "Open artifact", artifact),
            rx.flex(rx.foreach(ApprovalState.versions, _version_badge), spacing="2", wrap="wrap"),
            version_compare(ApprovalState, otherwise=muted("Only one version so far.", size="2")),
            spacing="3",
        ),
    )


def _context() -> rx.Component:
    session = ApprovalState.session
    recent = rx.cond(
        ApprovalState.recent.length() > 0,
        timeline_list(ApprovalState.recent),
        muted("No messages or tool calls in this thread yet.", size="2"),
    )
    thread = thread_url(ApprovalState.request.threadId)
    return column(
        session_card(
            *session_fields(session, "sdk-session-id"), json_details("state", session.stateJson)
        ),
        panel(card_header("Recent activity", "Full thread", thread), recent),
        min_width="0",
    )


def _pending_link(label: str, request_id: rx.Var, shortcut: str) -> rx.Component:
    """The previous / next pending request (its keyboard shortcut: assets/shortcuts.js)."""
    link = rx.link(label, href=approval_url(request_id), size="2", data_shortcut=shortcut)
    return if_set(request_id, link)


def _navigation() -> rx.Component:
    request = ApprovalState.request
    previous = _pending_link("← previous (k)", request.previousPendingId, "k")
    following = _pending_link("next (j) →", request.nextPendingId, "j")
    return inline(
        back_link("Inbox", APPROVALS), rx.spacer(), previous, following, spacing="3", width="100%"
    )


def _deadline() -> rx.Component:
    """The deadline: a countdown ticking in the browser while pending (assets/countdown.js)."""
    request = ApprovalState.request
    expires = request.expiresTime
    countdown = rx.text(
        as_="span", class_name="countdown", data_deadline=expires, data_testid="countdown"
    )
    deadline = rx.cond(
        ApprovalState.is_pending,
        rx.text("Expires in ", countdown, " · ", request.expiresText, size="2"),
        muted("Deadline ", request.expiresText, size="2"),
    )
    return rx.cond(expires > 0, inline(rx.icon("timer", size=16), deadline, data_testid="deadline"))


def _approver(approver: rx.Var) -> rx.Component:
    """One approval given; it no longer counts once the plan it approved has changed."""
    counts = approver.counts
    approved = (rx.text.strong(approver.name), " approved on ", approver.decidedText)
    changed = " of the plan, which has changed since: no longer counts"
    return rx.flex(
        rx.icon("circle-check", size=16, color=rx.cond(counts, "var(--green-9)", "var(--gray-8)")),
        rx.vstack(
            rx.text(*approved, size="2"),
            rx.cond(~counts, muted("on version ", approver.version, changed)),
            if_set(approver.comment, rx.blockquote(approver.comment, size="1")),
            spacing="1",
        ),
        spacing="2",
        align="start",
        class_name="approver",
    )


def _approval_count() -> rx.Component:
    """ "1 of 2 approvals": green once one counts."""
    request = ApprovalState.request
    required, count = request.required, request.approvalCount
    return rx.badge(
        count,
        " of ",
        required,
        " approvals",
        variant="soft",
        color_scheme=rx.cond(count > 0, "green", "gray"),
        data_testid="approval-count",
    )


def _approvals() -> rx.Component:
    """The two-person rule: how many approvals count so far, and who gave them."""
    request = ApprovalState.request
    required = request.required
    approvers = request.approvers
    waits = note(
        "You have approved this request; it waits for another person. "
        "You can still reject it or request changes.",
        "user-check",
        "approved-by-me",
        size="1",
    )
    listed = rx.vstack(rx.foreach(approvers, _approver), spacing="2", data_testid="approvers")
    return rx.cond(
        required > 1,
        panel(
            inline(rx.heading("Approvals", size="3"), _approval_count()),
            muted(
                required,
                " different people must approve; a rejection or a request for changes by "
                "anyone decides at once.",
            ),
            rx.cond(approvers.length() > 0, listed, muted("No approvals yet.", size="2")),
            rx.cond(ApprovalState.is_pending & request.approvedByMe, waits),
            test_id="approvals-card",
        ),
    )


def _plan() -> rx.Component:
    request = ApprovalState.request
    return panel(
        rx.heading("Plan", size="3"),
        shown_notice(request.planNotice, ApprovalState.download_plan),
        markdown_box(request.planShown, "plan"),
        spacing="3",
    )


def _edited_plan() -> rx.Component:
    request = ApprovalState.request
    heading = rx.cond(
        request.status == CHANGES_REQUESTED,
        "Suggested revision (from the reviewer)",
        "Plan as approved (edited by the reviewer)",
    )
    edited = rx.card(
        rx.heading(heading, size="3"),
        if_set(request.editedPlanNotice, muted(request.editedPlanNotice)),
        rx.box(safe_markdown(request.editedPlanShown), class_name="plan-box"),
        width="100%",
    )
    return if_set(request.editedPlan, edited)


def _decision_or_outcome() -> rx.Component:
    viewer_note = note(
        "You can read this request; deciding needs the reviewer or admin role.",
        "eye",
        "viewer-note",
    )
    return rx.cond(
        ApprovalState.is_pending,
        rx.cond(ApprovalState.may_decide, _decision_panel(), viewer_note),
        _decided_banner(),
    )


def _detail() -> rx.Component:
    request = ApprovalState.request
    requested = ("Requested ", relative_time(request.createdIso), " · ")
    return column(
        _navigation(),
        title_line(request.threadTitle, "(untitled thread)", status_badge(request.status)),
        muted(*requested, request.createdText, size="2"),
        _deadline(),
        _decided_elsewhere(),
        rx.cond(ApprovalState.is_pending, _claim_bar()),
        _claim_warning(),
        detail_grid(
            column(
                _decision_or_outcome(),
                _outside_plan(),
                _approvals(),
                rx.cond(ApprovalState.editing, _editor()),
                _plan(),
                _edited_plan(),
                _versions(),
                min_width="0",
            ),
            _context(),
            lg="2",
            class_name="detail-grid",
        ),
    )


def add(app: rx.App) -> None:
    add_detail_page(
        app, ApprovalState, _detail, APPROVAL, "Approval request", ("the inbox", APPROVALS)
    )
