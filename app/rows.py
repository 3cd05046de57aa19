"""Typed rows of the console's state: one frozen dataclass per kind of document a page lists,
built from the API's document by its `of` classmethod. A state var is then `list[ThreadRow]`
and a component reads `row.title` as a typed Var (Reflex serializes a dataclass to a dict of its
fields), so no `.to(str)` casts and no `setdefault` fillers for absent fields.

A row holds what its page shows of the document and nothing more: the state is sent to the
browser (see app/state.py PendingQueue and tests/test_console_attacks.py). Field names are the
document's (camelCase, `_id`), so a row reads as a cut of its document and the browser gets the
keys it got before; `<field>Iso` / `<field>Text` are the times as formatting.iso / when write
them."""

from __future__ import annotations

import dataclasses
from typing import Any, Self

from app.formatting import cut_utf8, duration, iso, when

# What the inbox shows of each request, cut to these many UTF-8 bytes (the row clamps both to a
# line or two anyway): the title, and inbox:pending's 240-character preview of the plan. So a
# change sends at most about 1 KB a request, whatever the plans' size or script.
QUEUE_TITLE_BYTES = 240
QUEUE_PREVIEW_BYTES = 480
# Who approved so far (the two-person rule), as one line: the detail page lists them in full.
QUEUE_NAMES_BYTES = 32


@dataclasses.dataclass(frozen=True)
class ThreadRow:
    """/threads: one thread (console:threads)."""

    _id: str
    title: str
    status: str
    phase: str
    userId: str
    updatedTimeIso: str

    @classmethod
    def of(cls, doc: dict[str, Any]) -> Self:
        return cls(
            _id=doc["_id"],
            title=doc.get("title") or "",
            status=doc.get("status") or "",
            phase=doc.get("phase") or "",
            userId=doc.get("userId") or "",
            updatedTimeIso=iso(doc.get("updatedTime")),
        )


@dataclasses.dataclass(frozen=True)
class ArtifactRow:
    """/artifacts: one artifact without its content (artifacts:list)."""

    _id: str
    title: str
    type: str
    status: str
    version: int
    threadId: str
    updatedTimeIso: str

    @classmethod
    def of(cls, doc: dict[str, Any]) -> Self:
        return cls(
            _id=doc["_id"],
            title=doc.get("title") or "",
            type=doc.get("type") or "",
            status=doc.get("status") or "",
            version=int(doc.get("version") or 0),
            threadId=doc.get("threadId") or "",
            updatedTimeIso=iso(doc.get("updatedTime")),
        )


@dataclasses.dataclass(frozen=True)
class QueueRow:
    """/approvals (pending): one pending request as the live inbox pushes it to every tab
    (inbox:pending), its texts cut to a bounded size."""

    _id: str
    threadId: str
    threadTitle: str
    artifactId: str
    planPreview: str
    createdIso: str
    # A live claim: who is reviewing it ("" for nobody).
    claimedBy: str
    claimedByName: str
    # The deadline for the browser's countdown (assets/countdown.js); 0: none.
    expires: int
    # The two-person rule: (approvals so far, approvals required) ("1 of 2 approvals").
    approvals: tuple[int, int]
    approvers: str

    @classmethod
    def of(cls, doc: dict[str, Any]) -> Self:
        return cls(
            _id=doc["_id"],
            threadId=doc.get("threadId") or "",
            threadTitle=cut_utf8(doc.get("threadTitle") or "", QUEUE_TITLE_BYTES),
            artifactId=doc.get("artifactId") or "",
            planPreview=cut_utf8(doc.get("planPreview") or "", QUEUE_PREVIEW_BYTES),
            createdIso=iso(doc.get("_creationTime")),
            claimedBy=doc.get("claimedBy") or "",
            claimedByName=cut_utf8(doc.get("claimedByName") or "", QUEUE_TITLE_BYTES),
            expires=int(doc.get("expiresTime") or 0),
            approvals=(int(doc.get("approvalCount") or 0), int(doc.get("requiredApprovals") or 1)),
            approvers=cut_utf8(", ".join(doc.get("approverNames") or []), QUEUE_NAMES_BYTES),
        )


@dataclasses.dataclass(frozen=True)
class DecidedRow:
    """/approvals?view=decided: who decided a request, when, after how long and why
    (inbox:decided)."""

    _id: str
    status: str
    threadTitle: str
    decidedByName: str
    decidedTimeIso: str
    decidedTimeText: str
    waited: str
    comment: str
    edited: bool

    @classmethod
    def of(cls, doc: dict[str, Any]) -> Self:
        return cls(
            _id=doc["_id"],
            status=doc.get("status") or "",
            threadTitle=doc.get("threadTitle") or "",
            decidedByName=doc.get("decidedByName") or doc.get("decidedBy") or "",
            decidedTimeIso=iso(doc["decidedTime"]),
            decidedTimeText=when(doc["decidedTime"]),
            waited=duration(doc["decidedTime"] - doc["_creationTime"]),
            comment=doc.get("comment") or "",
            edited="editedPlan" in doc,
        )
