"""The console's addresses: each page's route (what app.add_page gets) and the builders of links
to one thread, artifact or approval request, so no page puts a URL together itself.

The builders take a str or a Var (a row's id in rx.foreach): `thread_url(row["_id"])`.

A detail page's id is its route's argument (APPROVAL_ARG, THREAD_ARG, ARTIFACT_ARG): Reflex adds
a var of that name to the root state (so every page state reads it: `self.thread_id_param`),
filled from the browser's router, never parsed out of the path here."""

from __future__ import annotations

import reflex as rx

DASHBOARD = "/"
SIGNIN = "/signin"
SETUP = "/setup"
SET_PASSWORD = "/set-password"
ACCOUNT = "/account"
APPROVALS = "/approvals"
APPROVAL_ARG = "approval_request_id"
APPROVAL = f"{APPROVALS}/[{APPROVAL_ARG}]"
THREADS = "/threads"
THREAD_ARG = "thread_id_param"
THREAD = f"{THREADS}/[{THREAD_ARG}]"
ARTIFACTS = "/artifacts"
ARTIFACT_ARG = "artifact_id_param"
ARTIFACT = f"{ARTIFACTS}/[{ARTIFACT_ARG}]"
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
