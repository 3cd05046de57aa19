"""The console's addresses: each page's route (what app.add_page gets) and the builders of links
to one thread, artifact or approval request, so no page puts a URL together itself.

The builders take a str or a Var (a row's id in rx.foreach): `thread_url(row["_id"])`."""

from __future__ import annotations

import reflex as rx

DASHBOARD = "/"
SIGNIN = "/signin"
SETUP = "/setup"
SET_PASSWORD = "/set-password"
ACCOUNT = "/account"
APPROVALS = "/approvals"
APPROVAL = "/approvals/[approval_request_id]"
THREADS = "/threads"
THREAD = "/threads/[thread_id_param]"
ARTIFACTS = "/artifacts"
ARTIFACT = "/artifacts/[artifact_id_param]"
ADMIN_USERS = "/admin/users"
ADMIN_KEYS = "/admin/keys"
ADMIN_WEBHOOKS = "/admin/webhooks"
ADMIN_AUDIT = "/admin/audit"


def _under(prefix: str, doc_id: rx.Var | str) -> rx.Var | str:
    if isinstance(doc_id, rx.Var):
        return prefix + "/" + doc_id.to(str)
    return f"{prefix}/{doc_id}"


def thread_url(thread_id: rx.Var | str) -> rx.Var | str:
    return _under(THREADS, thread_id)


def artifact_url(artifact_id: rx.Var | str) -> rx.Var | str:
    return _under(ARTIFACTS, artifact_id)


def approval_url(request_id: rx.Var | str) -> rx.Var | str:
    return _under(APPROVALS, request_id)
