"""Claims on approval requests ("I am reviewing this"): when one is live, and how documents show it.

approvalRequests:claim stores `claimed_by` / `claimed_time`; nothing ever clears a stale claim.
A claim lapses CLAIM_LAPSE_MS after it was made (or last renewed), and it means nothing once the
request is decided, so every read decides with its own clock (`Context.now`) whether to show it:
`show_claim` drops `claimedBy`/`claimedTime` from a document whose claim is not live. That keeps
the lapse exact without a background job, and a test moves the clock instead of waiting.
"""

from __future__ import annotations

from typing import Any

from api.vocabulary import PENDING

CLAIM_LAPSE_MS = 15 * 60 * 1000


def claim_is_live(
    status: str, claimed_by: str | None, claimed_time: float | None, now: float
) -> bool:
    """True while a pending request's claim is younger than CLAIM_LAPSE_MS."""
    return (
        status == PENDING
        and claimed_by is not None
        and claimed_time is not None
        and now < claimed_time + CLAIM_LAPSE_MS
    )


def show_claim(doc: dict[str, Any], now: float) -> dict[str, Any]:
    """`doc` (an approval request document, changed in place) without a claim that is not live."""
    if "claimedBy" in doc or "claimedTime" in doc:
        live = claim_is_live(
            doc.get("status", ""), doc.get("claimedBy"), doc.get("claimedTime"), now
        )
        if not live:
            for key in ("claimedBy", "claimedTime", "claimedByName"):
                doc.pop(key, None)
    return doc
