"""One module per contract module; importing this package registers every function."""

from api.functions import (  # noqa: F401
    accounts,
    approval_claims,
    approval_requests,
    artifacts,
    console,
    messages,
    sessions,
    threads,
    tool_calls,
    webhooks,
)
