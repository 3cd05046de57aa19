"""Typed rows of the console's state: one frozen dataclass per kind of document a page lists,
built from the API's document by `Row.of`. A state var is then `list[ThreadRow]` and a component
reads `row.title` as a typed Var (Reflex serializes a dataclass to a dict of its fields), so no
`.to(str)` casts and no `setdefault` fillers for absent fields.

A row holds what its page shows of the document and nothing more: the state is sent to the
browser (see app/state.py PendingQueue and tests/test_console_attacks.py). Field names are the
document's (camelCase, `_id`), so a row reads as a cut of its document and the browser gets the
keys it got before. `Row.of` fills each field from the document's field of that name (the
field's default when absent), `<time>Iso` / `<time>Text` from the document's `<time>` as
formatting.iso / when write it (`created…`: `_creationTime`); a row's own `of` passes what it
derives (cut texts, labels, flags)."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from typing import Any, Self

from api.vocabulary import (
    APPROVED,
    CANCELLED,
    CHANGES_REQUESTED,
    DELIVERED,
    EXPIRED,
    FAILED,
    PENDING,
    REJECTED,
)
from app.components.markdown import renderable
from app.formatting import cut_for_display, cut_utf8, device, duration, iso, size_text, when

# What the inbox shows of each request, cut to these many UTF-8 bytes (the row clamps both to a
# line or two anyway): the title, and inbox:pending's 240-character preview of the plan. So a
# change sends at most about 1 KB a request, whatever the plans' size or script.
QUEUE_TITLE_BYTES = 240
QUEUE_PREVIEW_BYTES = 480
# Who approved so far (the two-person rule), as one line: the detail page lists them in full.
QUEUE_NAMES_BYTES = 32
# An audit entry's details as the log shows them: one line of JSON, cut here.
AUDIT_DETAILS_CHARS = 4000
WEBHOOK_STATUS_COLORS = {DELIVERED: "green", PENDING: "amber", FAILED: "red"}

TIME_SUFFIXES: tuple[tuple[str, Callable[[float | None], str]], ...] = (
    ("Iso", iso),
    ("Text", when),
)


def _field_value(doc: dict[str, Any], field: dataclasses.Field) -> Any:
    """A row field's value from `doc` (see the module's docstring)."""
    for suffix, show in TIME_SUFFIXES:
        if field.name.endswith(suffix):
            source = field.name[: -len(suffix)]
            return show(doc.get("_creationTime" if source == "created" else source))
    value = doc.get(field.name)
    return field.default if value is None else value


class Row:
    """The base of every row: `of`."""

    @classmethod
    def of(cls, doc: dict[str, Any], **derived: Any) -> Self:
        """The row of `doc`: `derived` as given, every other field from the document."""
        values = {
            field.name: _field_value(doc, field)
            for field in dataclasses.fields(cls)  # type: ignore[arg-type]
            if field.name not in derived
        }
        return cls(**values, **derived)


@dataclasses.dataclass(frozen=True)
class ThreadRow(Row):
    """/threads: one thread (console:threads)."""

    _id: str = ""
    title: str = ""
    status: str = ""
    phase: str = ""
    userId: str = ""
    updatedTimeIso: str = ""


@dataclasses.dataclass(frozen=True)
class ThreadHeaderRow(Row):
    """/threads/[id]'s heading: one thread (threads:get) without its metadata."""

    _id: str = ""
    title: str = ""
    status: str = ""
    userId: str = ""
    createdText: str = ""


@dataclasses.dataclass(frozen=True)
class ArtifactRow(Row):
    """/artifacts: one artifact without its content (artifacts:list)."""

    _id: str = ""
    title: str = ""
    type: str = ""
    status: str = ""
    version: int = 0
    threadId: str = ""
    updatedTimeIso: str = ""


@dataclasses.dataclass(frozen=True)
class QueueRow(Row):
    """/approvals (pending): one pending request as the live inbox pushes it to every tab
    (inbox:pending), its texts cut to a bounded size."""

    _id: str = ""
    threadId: str = ""
    threadTitle: str = ""
    artifactId: str = ""
    planPreview: str = ""
    createdIso: str = ""
    # A live claim: who is reviewing it ("" for nobody).
    claimedBy: str = ""
    claimedByName: str = ""
    # The deadline for the browser's countdown (assets/countdown.js); 0: none.
    expires: int = 0
    # The two-person rule: (approvals so far, approvals required) ("1 of 2 approvals").
    approvals: tuple[int, int] = (0, 1)
    approvers: str = ""

    @classmethod
    def of(cls, doc: dict[str, Any]) -> Self:
        return super().of(
            doc,
            threadTitle=cut_utf8(doc.get("threadTitle") or "", QUEUE_TITLE_BYTES),
            planPreview=cut_utf8(doc.get("planPreview") or "", QUEUE_PREVIEW_BYTES),
            claimedByName=cut_utf8(doc.get("claimedByName") or "", QUEUE_TITLE_BYTES),
            expires=int(doc.get("expiresTime") or 0),
            approvals=(int(doc.get("approvalCount") or 0), int(doc.get("requiredApprovals") or 1)),
            approvers=cut_utf8(", ".join(doc.get("approverNames") or []), QUEUE_NAMES_BYTES),
        )


@dataclasses.dataclass(frozen=True)
class DecidedRow(Row):
    """/approvals?view=decided: who decided a request, when, after how long and why
    (inbox:decided)."""

    _id: str = ""
    status: str = ""
    threadTitle: str = ""
    decidedByName: str = ""
    decidedTimeIso: str = ""
    decidedTimeText: str = ""
    waited: str = ""
    comment: str = ""
    edited: bool = False

    @classmethod
    def of(cls, doc: dict[str, Any]) -> Self:
        return super().of(
            doc,
            decidedByName=doc.get("decidedByName") or doc.get("decidedBy") or "",
            waited=duration(doc["decidedTime"] - doc["_creationTime"]),
            edited="editedPlan" in doc,
        )


@dataclasses.dataclass(frozen=True)
class UserRow(Row):
    """/admin/users: one person (users:list); /account: the signed-in person (users:me)."""

    _id: str = ""
    name: str = ""
    email: str = ""
    role: str = ""
    disabled: bool = False
    createdText: str = ""


@dataclasses.dataclass(frozen=True)
class AuthSessionRow(Row):
    """/account: one of the signed-in person's sessions (authSessions:mine)."""

    _id: str = ""
    current: bool = False
    device: str = ""
    # The full user agent when `device` shortened it, else "".
    userAgent: str = ""
    ip: str = ""
    createdText: str = ""
    lastSeenTimeIso: str = ""

    @classmethod
    def of(cls, doc: dict[str, Any]) -> Self:
        user_agent = doc.get("userAgent") or ""
        name = device(user_agent)
        return super().of(doc, device=name, userAgent="" if user_agent == name else user_agent)


def creator_text(key: dict[str, Any]) -> str:
    """Who created a key: the person's email, the CLI, or the stored reference as it is."""
    if key.get("createdByEmail"):
        return key["createdByEmail"]
    created_by = key.get("createdBy") or ""
    return "threadline CLI" if created_by == "system:cli" else created_by


@dataclasses.dataclass(frozen=True)
class KeyRow(Row):
    """/admin/keys: one API key, never its hash (apiKeys:list)."""

    _id: str = ""
    name: str = ""
    prefix: str = ""
    creator: str = ""
    # Keys outlive their creator's account: the page flags the ones to review.
    creatorDisabled: bool = False
    createdText: str = ""
    lastUsedText: str = ""
    revoked: bool = False
    revokedText: str = ""

    @classmethod
    def of(cls, doc: dict[str, Any]) -> Self:
        return super().of(
            doc,
            creator=creator_text(doc),
            creatorDisabled=bool(doc.get("createdByDisabled")),
            lastUsedText=when(doc.get("lastUsedTime")) or "never",
            revoked=doc.get("revokedTime") is not None,
            revokedText=when(doc.get("revokedTime")),
        )


@dataclasses.dataclass(frozen=True)
class EndpointRow(Row):
    """/admin/webhooks: one endpoint and how its deliveries stand, never its secret
    (webhooks:list)."""

    _id: str = ""
    url: str = ""
    format: str = ""
    events: str = ""
    description: str = ""
    createdText: str = ""
    pending: int = 0
    failed: int = 0
    lastDeliveredText: str = ""

    @classmethod
    def of(cls, doc: dict[str, Any]) -> Self:
        return super().of(
            doc,
            events=", ".join(doc.get("events") or []) or "all events",
            lastDeliveredText=when(doc.get("lastDeliveredTime")) or "never",
        )


def to_the_second(ms: float | None) -> str:
    """Retries are seconds apart: 2026-12-02 01:15:07 UTC."""
    if ms is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ms / 1000.0))


@dataclasses.dataclass(frozen=True)
class DeliveryRow(Row):
    """/admin/webhooks: one delivery of the log (webhooks:deliveries)."""

    _id: str = ""
    createdText: str = ""
    endpointUrl: str = ""
    eventType: str = ""
    status: str = ""
    color: str = ""
    attempts: int = 0
    lastResult: str = ""
    nextTry: str = ""

    @classmethod
    def of(cls, doc: dict[str, Any]) -> Self:
        code = doc.get("lastStatusCode")
        if doc.get("lastError"):
            result = doc["lastError"]
        elif code is not None:
            result = f"HTTP {code}"
        else:
            result = "not tried yet"
        next_try = to_the_second(doc.get("nextAttemptTime")) if doc["status"] == PENDING else "—"
        return super().of(
            doc,
            endpointUrl=doc.get("endpointUrl") or doc["endpointId"],
            color=WEBHOOK_STATUS_COLORS.get(doc["status"], "gray"),
            lastResult=result,
            nextTry=next_try or "now",
        )


def details_text(details: Any) -> str:
    """An entry's details as one line of JSON (shown as text, never as HTML)."""
    if details is None:
        return ""
    text = json.dumps(details, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= AUDIT_DETAILS_CHARS else text[:AUDIT_DETAILS_CHARS] + " …"


@dataclasses.dataclass(frozen=True)
class AuditRow(Row):
    """/admin/audit: one entry of the audit log (auditLog:list), its target named when it is a
    person or a key (`names`: id -> label)."""

    action: str = ""
    actor: str = ""
    actorLabel: str = ""
    target: str = ""
    targetLabel: str = ""
    detailsText: str = ""
    createdText: str = ""
    createdIso: str = ""

    @classmethod
    def of(cls, doc: dict[str, Any], names: dict[str, str]) -> Self:
        target = doc.get("target") or ""
        return super().of(
            doc,
            actorLabel=doc.get("actorLabel") or doc["actor"],
            target=target,
            targetLabel=names.get(target, target),
            detailsText=details_text(doc.get("details")),
        )


# ---- the detail pages (thread, approval request, artifact) -------------------------------------

# How the approval page names a request's status.
REQUEST_STATUS_TEXT = {
    APPROVED: "Approved",
    REJECTED: "Rejected",
    CHANGES_REQUESTED: "Changes requested",
    EXPIRED: "Expired",
    CANCELLED: "Cancelled",
}


@dataclasses.dataclass(frozen=True)
class TimelineRow(Row):
    """A thread's timeline entry (a message or a tool call) on the thread and approval pages,
    built from the display row app/worker_reads.py timeline_row makes of a timeline:list entry
    (texts cut, a tool call's input and output as JSON previews; a message's fields are empty
    on a tool call and the other way round). `_creationTime` is what the live thread view orders
    and tells new rows by (app/pages/thread.py LiveTimeline)."""

    _id: str = ""
    _creationTime: float = 0.0
    kind: str = ""
    createdIso: str = ""
    createdText: str = ""
    # A message.
    role: str = ""
    order: int = 0
    content: str = ""
    contentNotice: str = ""
    # A tool call.
    toolName: str = ""
    status: str = ""
    toolCallId: str = ""
    outsidePlan: bool = False
    durationText: str = ""
    inputJson: str = ""
    outputJson: str = ""

    @classmethod
    def of(cls, row: dict[str, Any]) -> Self:
        return super().of(
            row,
            _creationTime=float(row["_creationTime"]),
            durationText=row.get("durationText") or "",
        )


@dataclasses.dataclass(frozen=True)
class SessionRow(Row):
    """The session card (thread and approval pages), from the display row app/worker_reads.py
    session_row makes of sessions:get (the plan cut, the state as a JSON preview);
    `SessionRow()`: no session."""

    exists: bool = False
    sdkSessionId: str = ""
    phase: str = ""
    plan: str = ""
    planNotice: str = ""
    stateJson: str = ""
    updatedText: str = ""

    @classmethod
    def of(cls, row: dict[str, Any]) -> Self:
        return super().of(row, updatedText=row.get("updatedText") or "")


@dataclasses.dataclass(frozen=True)
class VersionRow(Row):
    """One version of an artifact (artifact and approval pages), from console:artifactVersions:
    its number, status, author, time and size; never its content."""

    version: int = 0
    status: str = ""
    createdBy: str = ""
    createdText: str = ""
    sizeText: str = ""

    @classmethod
    def of(cls, doc: dict[str, Any]) -> Self:
        return super().of(doc, sizeText=f"{doc['lines']:,} lines · {size_text(doc['chars'])}")


@dataclasses.dataclass(frozen=True)
class ApproverRow(Row):
    """One approval given so far (the two-person rule); it no longer counts once the plan it
    approved (`version`) has changed."""

    name: str = ""
    decidedText: str = ""
    comment: str = ""
    counts: bool = False
    version: int = 0

    @classmethod
    def of(cls, doc: dict[str, Any]) -> Self:
        return super().of(
            doc,
            decidedText=when(doc.get("decidedTime")),
            version=int(doc.get("artifactVersion") or 0),
        )


@dataclasses.dataclass(frozen=True)
class ApprovalRow(Row):
    """/approvals/{id}: one approval request, from inbox:detail as app/worker_reads.py
    request_view sends it (its plans cut to MAX_RENDER_CHARS, with their whole lengths).

    Plans are up to 8 MiB: the row holds what the page renders, cut again at a line end with a
    notice (formatting.cut_for_display); `planContent` is the text itself (editing starts from
    it), `planShown` / `editedPlanShown` what is rendered (markdown.renderable)."""

    _id: str = ""
    threadId: str = ""
    threadTitle: str = ""
    status: str = ""
    statusText: str = ""
    createdIso: str = ""
    createdText: str = ""
    artifactId: str = ""
    planContent: str = ""
    planNotice: str = ""
    planChars: int = 0
    planShown: str = ""
    editedPlan: str = ""
    editedPlanNotice: str = ""
    editedPlanShown: str = ""
    decidedByName: str = ""
    decidedTimeText: str = ""
    comment: str = ""
    # The queue around it (the j / k shortcuts).
    nextPendingId: str = ""
    previousPendingId: str = ""
    # The deadline (the browser counts down to it: assets/countdown.js; 0: none).
    expiresTime: int = 0
    expiresText: str = ""
    # The two-person rule: approvals required, counted so far, who gave them, and whether the
    # signed-in person is one of them.
    required: int = 1
    approvalCount: int = 0
    approvers: list[ApproverRow] = dataclasses.field(default_factory=list)
    approvedByMe: bool = False

    @classmethod
    def of(cls, doc: dict[str, Any], me: str = "") -> Self:
        """`me`: the signed-in person's id (for `approvedByMe`)."""
        plan, plan_notice = cut_for_display(doc["planContent"], doc.get("planChars"))
        edited, edited_notice = cut_for_display(
            doc.get("editedPlan") or "", doc.get("editedPlanChars")
        )
        status = doc["status"]
        approvers = doc.get("approvers") or []
        return super().of(
            doc,
            statusText=REQUEST_STATUS_TEXT.get(status, status.replace("_", " ")),
            planContent=plan,
            planNotice=plan_notice,
            planChars=int(doc.get("planChars", len(doc["planContent"]))),
            planShown=renderable(plan),
            editedPlan=edited,
            editedPlanNotice=edited_notice,
            editedPlanShown=renderable(edited),
            decidedByName=doc.get("decidedByName") or doc.get("decidedBy") or "",
            expiresTime=int(doc.get("expiresTime") or 0),
            expiresText=when(doc.get("expiresTime")),
            required=int(doc.get("requiredApprovals") or 1),
            approvers=[ApproverRow.of(approver) for approver in approvers],
            approvedByMe=any(
                approver["counts"] and approver["userId"] == me for approver in approvers
            ),
        )


@dataclasses.dataclass(frozen=True)
class ArtifactDetailRow(Row):
    """/artifacts/{id}: the artifact's heading (artifacts:get without its content, as
    app/worker_reads.py artifact_view sends it); its versions are VersionRows."""

    _id: str = ""
    title: str = ""
    type: str = ""
    status: str = ""
    version: int = 0
    threadId: str = ""
    updatedTimeText: str = ""


@dataclasses.dataclass(frozen=True)
class ThreadArtifactRow(Row):
    """/threads/{id}: one of the thread's artifacts in its side list (artifacts:list), named by
    its title or else its type."""

    _id: str = ""
    title: str = ""
    type: str = ""
    status: str = ""
    version: int = 0

    @classmethod
    def of(cls, doc: dict[str, Any]) -> Self:
        return super().of(doc, title=doc.get("title") or doc.get("type") or "")


@dataclasses.dataclass(frozen=True)
class ThreadRequestRow(Row):
    """/threads/{id}: one of the thread's approval requests in its side list
    (approvalRequests:list)."""

    _id: str = ""
    status: str = ""
    createdIso: str = ""
