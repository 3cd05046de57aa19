"""What the console's read models (inbox:*, timeline:*, console:*, dashboard:*) share: who may
read them (STAFF), the decisions (DECISIONS), a timeline's documents, and the queries of the
calls made outside an approved plan."""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa

from api.functions._common import document_model
from api.vocabulary import DECISIONS, STAFF, Decision, MessageRole, ToolStatus  # noqa: F401 (for the read models)
from models import Message, ToolCall

tool_calls = ToolCall.__table__

TimelineMessage = document_model(
    Message, "TimelineMessage", kind=Literal["message"], role=MessageRole, metadata=dict[str, Any]
)
TimelineToolCall = document_model(
    ToolCall, "TimelineToolCall", kind=Literal["toolCall"], status=ToolStatus
)


# Calls flagged outside an approved plan, through the partial indexes of flagged calls only
# (`outside_plan = true` is spelled as the index predicate: 1 on SQLite, true on PostgreSQL).
MAX_OUTSIDE_PLAN_SHOWN = 100
_flagged = tool_calls.c.outside_plan == sa.true()
OUTSIDE_PLAN_CALLS = (
    sa.select(tool_calls)
    .where(_flagged, tool_calls.c.approval_request_id == sa.bindparam("request_id"))
    .order_by(tool_calls.c.creation_time)
    .limit(MAX_OUTSIDE_PLAN_SHOWN)
)
OUTSIDE_PLAN_COUNT_FOR_REQUEST = sa.select(sa.func.count()).where(
    _flagged, tool_calls.c.approval_request_id == sa.bindparam("request_id")
)
OUTSIDE_PLAN_COUNT = sa.select(sa.func.count()).where(
    _flagged, tool_calls.c.creation_time >= sa.bindparam("since")
)
