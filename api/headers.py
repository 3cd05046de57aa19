"""Security headers on every HTTP answer, the console's pages and the API alike.

- Pages (text/html): a Content-Security-Policy that the console's own build satisfies. Scripts
  come from this origin, plus the build's inline scripts (React Router's bootstrap, the color
  mode script) allowed by their SHA-256, read from the built pages on disk: an inline script
  that is not in the build never runs. 'unsafe-eval' stays because Reflex runs the scripts
  its server sends (toasts, downloads, the sign-in hand-off) with eval(); those are made on
  the server from escaped values, never from agent text. Styles allow 'unsafe-inline': Radix
  and Emotion set style attributes and insert style elements at run time (styles cannot run
  script). Sockets and fetches go to this origin and Reflex's backend address.
- Everything else (JSON, files): `default-src 'none'`.
- API answers (/api/...): Cache-Control: no-store unless the answer sets its own.
- Always: frame-ancestors 'none' and X-Frame-Options: DENY (no framing, no clickjacking),
  X-Content-Type-Options: nosniff, Referrer-Policy: no-referrer (setup and password links
  carry their token in the address).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
COMMON = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# The same headers, for an answer that is not a page, in ASGI's raw form (lowercase names, bytes):
# built once, for the ingest fast lane (api/ingest.py), which answers in front of this middleware.
API_RAW_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", API_CSP.encode()),
    *((name.lower().encode(), value.encode()) for name, value in COMMON.items()),
)
_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\ssrc=)[^>]*>(.*?)</script>", re.S | re.I)


def inline_script_hashes(html: str) -> set[str]:
    return {
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html)
        if body.strip()
    }


def _web_dir() -> Path | None:
    try:
        from reflex.utils import prerequisites
    except ImportError:  # pragma: no cover (Reflex is installed with the console)
        return None
    return prerequisites.get_web_dir()


def _static_dir() -> Path | None:
    from reflex_base import constants

    web = _web_dir()
    return None if web is None else web / constants.Dirs.STATIC


def _backend_sources() -> list[str]:
    """Where the built frontend opens its socket and sends its requests (the build's env.json),
    over http(s) and ws(s): another origin in development and tests, this one in production."""
    web = _web_dir()
    try:
        built = json.loads((web / "env.json").read_text()) if web is not None else {}
    except (OSError, ValueError):
        built = {}
    sources = []
    for key in ("EVENT", "PING"):
        match = re.match(r"^(wss?|https?)://([^/]+)", str(built.get(key, "")))
        if match:
            scheme, host = match.groups()
            secure = scheme in ("wss", "https")
            for source in (
                f"{'https' if secure else 'http'}://{host}",
                f"{'wss' if secure else 'ws'}://{host}",
            ):
                if source not in sources:
                    sources.append(source)
    return sources


class ConsolePolicy:
    """The pages' CSP, recomputed when the built pages change (a rebuild at start-up)."""

    def __init__(self, static_dir: Callable[[], Path | None] = _static_dir) -> None:
        self.static_dir = static_dir
        self._seen: tuple | None = None
        self._policy = ""

    def _pages(self) -> list[Path]:
        folder = self.static_dir()
        if folder is None or not folder.is_dir():
            return []
        return sorted(folder.rglob("*.html"))

    def policy(self) -> str:
        pages = self._pages()
        backend = _backend_sources()
        seen = (tuple(backend), tuple((str(p), p.stat().st_mtime_ns) for p in pages))
        if seen != self._seen:
            hashes: set[str] = set()
            for page in pages:
                hashes |= inline_script_hashes(page.read_text(errors="replace"))
            self._policy = self._build(sorted(hashes), backend)
            self._seen = seen
        return self._policy

    @staticmethod
    def _build(hashes: list[str], backend: list[str]) -> str:
        connect = " ".join(["'self'", *backend])
        return "; ".join(
            [
                "default-src 'self'",
                "script-src " + " ".join(["'self'", "'unsafe-eval'", *hashes]),
                "style-src 'self' 'unsafe-inline'",
                "img-src 'self' data: blob:",
                "font-src 'self' data:",
                f"connect-src {connect}",
                "object-src 'none'",
                "base-uri 'none'",
                "form-action 'self'",
                "frame-ancestors 'none'",
            ]
        )


class SecurityHeaders:
    """ASGI middleware adding the headers above to every HTTP response."""

    def __init__(self, app: ASGIApp, policy: ConsolePolicy | None = None) -> None:
        self.app = app
        self.console = policy or ConsolePolicy()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        is_api = scope.get("path", "").startswith("/api/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                is_page = headers.get("content-type", "").startswith("text/html")
                # A 304 carries no type; browsers would put its policy on the cached page.
                if message.get("status") != 304:
                    headers["Content-Security-Policy"] = (
                        self.console.policy() if is_page else API_CSP
                    )
                for name, value in COMMON.items():
                    headers[name] = value
                # API answers carry private data (threads, plans, tokens at sign-in): no
                # browser or proxy cache keeps them.
                if is_api and "cache-control" not in headers:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


def security_headers(app: ASGIApp) -> ASGIApp:
    """For rx.App(api_transformer=[..., security_headers]): wraps the API, the websocket's
    HTTP answers and, in production, the built frontend."""
    return SecurityHeaders(app)
