"""One module per contract module; importing this package registers every function."""

from api.functions import (  # noqa: F401
    api_keys,
    approval_claims,
    approval_requests,
    artifacts,
    audit_log,
    auth_sessions,
    console,
    dashboard,
    inbox,
    messages,
    sessions,
    threads,
    timeline,
    tool_calls,
    users,
    webhooks,
)
