"""Which pages may use a person's console session: those of the console's own origin.

Browsers send the session cookie (SameSite=Strict) with requests from any page of the same
*site*: another port of this host, or a sibling subdomain. Such a page must not drive the
console as the signed-in person (the websocket, app/state.py), trade sign-in codes
(app/session_cookie.py) or download exports (api/exports.py). The console's own origins are
the address a request was sent to (its Host header), PUBLIC_URL and the frontend's address in
Reflex's config.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from api.settings import get_settings


def _deploy_url() -> str | None:
    try:
        from reflex_base.config import get_config
    except ImportError:  # pragma: no cover (Reflex is installed with the console)
        return None
    return get_config().deploy_url


def _netloc(value: str) -> str:
    """host[:port] in lower case, without the scheme's default port."""
    value = value.strip().lower()
    for default_port in (":80", ":443"):
        if value.endswith(default_port):
            return value[: -len(default_port)]
    return value


def allowed_origins(host: str | None) -> set[str]:
    """Where console pages come from, as host[:port]: the address this request was sent to
    (its Host header), PUBLIC_URL and the frontend's address in Reflex's config."""
    allowed = {_netloc(host)} if host else set()
    for url in (get_settings().public_url, _deploy_url()):
        if url:
            netloc = urlsplit(url).netloc
            if netloc:
                allowed.add(_netloc(netloc))
    return allowed


def origin_allowed(origin: str | None, host: str | None) -> bool:
    """False for a browser request made by a page of another origin. Browsers send the
    session cookie (SameSite=Strict) with requests from any page of the same *site*: another
    port of this host, or a sibling subdomain. Such a page must not drive the console as the
    signed-in person (cross-site websocket hijacking) nor trade sign-in codes. Requests without
    an Origin header come from programs, which hold no one else's cookie."""
    if origin is None or origin == "":
        return True
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False  # "null" (sandboxed frames, file:) and anything odd
    return _netloc(parts.netloc) in allowed_origins(host)
