"""The console's session cookie: set and cleared by the server only, HttpOnly, SameSite=Strict,
Secure when PUBLIC_URL is https. Page script never sees the token.

    POST /api/auth/console-session {tab, code}   a sign-in's one-time code -> Set-Cookie
    POST /api/auth/console-signout               ends the cookie's session, clears the cookie

A sign-in (or first-run setup, or a set-password link) happens over the console's websocket;
the server keeps the new token in that tab's state with a one-time code (app.state
AuthState._signed_in) and the page trades the code for the cookie here. The code is good once,
for 30 s, and only for the tab (client token) it was made for, which must be connected.
Both endpoints refuse requests from pages of another origin (api.origins.origin_allowed).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import reflex as rx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.auth import SESSION_COOKIE, cookie_token
from api.errors import Unavailable
from api.http_bodies import HttpError, error_response, read_json_object
from api.origins import origin_allowed
from api.services import signin
from api.settings import get_settings
from app.state import AuthState

# A tab token and a 43-character code fit easily.
MAX_BODY = 1024


class Endpoints:
    def __init__(self) -> None:
        self.app: rx.App | None = None

    def attach(self, app: rx.App) -> None:
        self.app = app

    async def console_session(self, request: Request) -> Response:
        if not _same_origin(request):
            return _cross_origin()
        try:
            body = await read_json_object(request, MAX_BODY)
        except HttpError as error:
            return error_response(error)
        tab, code = body.get("tab"), body.get("code")
        if not isinstance(tab, str) or not isinstance(code, str) or not tab or not code:
            return error_response(
                HttpError(400, "BadRequest", 'Send {"tab": string, "code": string}')
            )
        token = await self._take_handoff(tab, code)
        if token is None:
            return error_response(
                HttpError(401, "Unauthenticated", "That sign-in code is unknown, used or expired")
            )
        response = JSONResponse({"status": "success"})
        set_session_cookie(response, token)
        return response

    async def _take_handoff(self, tab: str, code: str) -> str | None:
        app = self.app
        if app is None or app.event_namespace is None or len(tab) > 100 or len(code) > 100:
            return None
        # Only a connected tab: never make state for a token nobody holds.
        if not await app.event_namespace._token_manager.is_token_connected(tab):
            return None
        digest = hashlib.sha256(code.encode()).hexdigest()
        async with app.modify_state(rx.BaseStateToken(ident=tab, cls=AuthState)) as root:
            state = await root.get_state(AuthState)
            handoff: dict[str, Any] = state._handoff or {}
            if not handoff:
                return None
            state._handoff = {}  # once, right or wrong
            if not hmac.compare_digest(handoff.get("code", ""), digest):
                return None
            if handoff.get("until", 0) < time.time():
                return None
            return handoff.get("token")

    async def console_signout(self, request: Request) -> Response:
        if not _same_origin(request):
            return _cross_origin()
        token = cookie_token(request.headers.get("cookie"))
        if token:
            try:
                await signin.sign_out(token)
            except Unavailable as exc:
                return error_response(HttpError(503, "Unavailable", str(exc), {"Retry-After": "1"}))
        response = JSONResponse({"status": "success"})
        clear_session_cookie(response)
        return response


def _same_origin(request: Request) -> bool:
    return origin_allowed(request.headers.get("origin"), request.headers.get("host"))


def _cross_origin() -> Response:
    """A page of another origin (which may still be same-site, so the browser sent the cookie)
    may neither trade a sign-in code nor end a session."""
    return error_response(
        HttpError(403, "Forbidden", "Cross-origin requests to the console's session are refused")
    )


def _secure() -> bool:
    return (get_settings().public_url or "").lower().startswith("https://")


def set_session_cookie(response: Response, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=get_settings().session_absolute_seconds,
        path="/",
        httponly=True,
        samesite="strict",
        secure=_secure(),
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=_secure()
    )


endpoints = Endpoints()

ROUTES = [
    Route("/api/auth/console-session", endpoints.console_session, methods=["POST"]),
    Route("/api/auth/console-signout", endpoints.console_signout, methods=["POST"]),
]
