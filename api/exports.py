"""Downloads, served as real HTTP attachments (never through the console's websocket state):

    GET /api/export/threads/{threadId}.json        the thread, its session, messages, tool calls,
                                                   artifacts and approval requests, as JSON
    GET /api/export/threads/{threadId}.md          a readable transcript, inert in previewers
    GET /api/export/artifacts/{artifactId}/versions/{version}.md   one version's text, verbatim
    GET /api/export/approvalRequests/{approvalRequestId}/plan.md   a request's plan, verbatim

Who may download what is decided by the functions the console reads with (threads:get,
sessions:get, console:artifactVersionText, approvalRequests:get), called as the requester: an
end user gets only their own threads, and another person's thread answers 404 as if it did not
exist, exactly as threads:get answers null. Credentials: `Authorization: Bearer <key or session
token>`, or the console's HttpOnly session cookie (that is how the console's buttons download).

A cookie rides along with any request the browser makes, so a request that another site
started is refused before anything else (403): `Sec-Fetch-Site` must be `same-origin` or `none`
(a typed address) when the browser sends it (`same-site` too when the console's pages are served
from another port of this site than the API, as in development), and an `Origin`, when sent,
must be the console's (api.origins, the same rule as for the console's websocket). The cookie
is SameSite=Strict as well; these checks also shut out sibling subdomains, which count as the
same site.

A thread's export is streamed: its rows are read in keyset pages (each page in the query
threads, on a connection of its own, cut at PAGE_ROWS rows or PAGE_CHARS characters of text),
formatted and encoded there, and sent as they come. So a 200,000-message thread never sits in
memory at once, and the event loop only passes chunks along.
"""

from __future__ import annotations

import heapq
import json
import logging
import re
import time
import unicodedata
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import orjson
import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from api import auth, credentials
from api.calls import call, off_loop
from api.db import get_engine
from api.errors import FunctionError, NotAllowed, Unavailable
from api.functions._common import document
from api.headers import API_CSP, COMMON
from api.http_bodies import HttpError, error_response
from api.origins import origin_allowed
from api.registry import Caller
from models import ApprovalRequest, Artifact, Message, ToolCall

log = logging.getLogger(__name__)

JSON_TYPE = "application/json"
MARKDOWN_TYPE = "text/markdown; charset=utf-8"
# A page of rows read on one connection: at most this many rows, and it ends after the row that
# takes its text past PAGE_CHARS (a row's text is at most 8 MiB).
PAGE_ROWS = 500
PAGE_CHARS = 4 * 1024 * 1024
# Rows fetched from the database cursor at a time within a page.
FETCH_ROWS = 16
# Text gathered before it is encoded and sent as one chunk.
CHUNK_CHARS = 256 * 1024
MAX_FILENAME_STEM = 80
ALLOWED_FETCH_SITES = frozenset({"same-origin", "none"})


# ---- requests: who, from where ---------------------------------------------------------------


def _origin(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def _console_origins() -> tuple[str | None, str | None]:
    """(pages, API) origins of the console as Reflex builds it: equal when one port serves both
    (`make run`), different in development and in the test harness."""
    try:
        from reflex_base.config import get_config
    except ImportError:  # pragma: no cover (Reflex is installed with the console)
        return None, None
    config = get_config()
    return _origin(config.deploy_url), _origin(config.api_url)


def refuse_cross_site(request: Request) -> HttpError | None:
    """403 for a request another site started (see the module docstring); None when fine."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ALLOWED_FETCH_SITES:
        pages, api = _console_origins()
        if not (site == "same-site" and pages and api and pages != api):
            return HttpError(
                403,
                "CrossSiteRequest",
                f"Downloads start from the console itself; this request came from {site!r}",
            )
    origin = request.headers.get("origin")
    if not origin_allowed(origin, request.headers.get("host")):
        return HttpError(
            403, "CrossSiteRequest", f"Downloads start from the console itself, not from {origin}"
        )
    return None


async def requester(request: Request) -> Caller:
    """The caller: the Authorization header if there is one, else the console's cookie."""
    header = request.headers.get("authorization")
    credential = (
        auth.parse_authorization(header)
        if header
        else auth.cookie_token(request.headers.get("cookie"))
    )
    caller = await credentials.caller_for(credential)
    if caller is None:
        message = (
            "Sign in to the console, or send 'Authorization: Bearer <API key or session token>'"
            if not credential
            else "The API key or session token is not valid (unknown, revoked or expired)"
        )
        raise HttpError(401, "Unauthenticated", message)
    return caller


# ---- file names ------------------------------------------------------------------------------

_UNSAFE = re.compile(r"[^\w.,()\[\]]+")
_UNSAFE_ASCII = re.compile(r"[^A-Za-z0-9_.,()\[\]]+")


def _stem(title: str, pattern: re.Pattern[str]) -> str:
    # Everything but letters, digits and a few marks becomes "-": no path separators, quotes,
    # control or bidirectional-override characters (which can make "x.md" look like "dm.x").
    stem = re.sub(r"-*\.{2,}-*|-{2,}", "-", pattern.sub("-", title)).strip("-._")
    return stem[:MAX_FILENAME_STEM].rstrip("-._")


def content_disposition(title: str, ident: str, extension: str) -> str:
    """`attachment` with an ASCII `filename` and the UTF-8 `filename*` (RFC 6266), both made of
    the title (agent text) reduced to safe characters, the id (unique) and the extension."""
    folded = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    ascii_name = "-".join(part for part in (_stem(folded, _UNSAFE_ASCII), ident) if part)
    full_name = "-".join(
        part for part in (_stem(unicodedata.normalize("NFC", title), _UNSAFE), ident) if part
    )
    return (
        f'attachment; filename="{ascii_name}.{extension}"; '
        f"filename*=UTF-8''{quote(full_name + '.' + extension, safe='')}"
    )


def attachment_headers(title: str, ident: str, extension: str) -> dict[str, str]:
    """What every download answers with: the attachment, the API's security headers, no caching
    (the content is private and changes)."""
    return {
        "Content-Disposition": content_disposition(title, ident, extension),
        "Content-Security-Policy": API_CSP,
        **COMMON,
        "Cache-Control": "no-store",
    }


# ---- reading a thread in pages ---------------------------------------------------------------


def _read_page(
    table: sa.Table,
    where: sa.ColumnElement,
    order: list[sa.Column],
    after: tuple | None,
    size: Callable[[Any], int],
) -> tuple[list[Any], bool]:
    """(rows, done): the next rows after `after` in `order`, read on a connection of its own
    (held only while reading), cut at PAGE_ROWS rows or PAGE_CHARS characters."""
    query = sa.select(table).where(where)
    if after is not None:
        query = query.where(sa.tuple_(*order) > sa.tuple_(*after))
    query = query.order_by(*order).limit(PAGE_ROWS)
    rows: list[Any] = []
    chars = 0
    with get_engine().connect() as conn:
        result = conn.execution_options(yield_per=FETCH_ROWS).execute(query)
        try:
            for row in result:
                rows.append(row)
                chars += size(row)
                if chars >= PAGE_CHARS:
                    return rows, False
        finally:
            result.close()
    return rows, len(rows) < PAGE_ROWS


def _text_size(*columns: str) -> Callable[[Any], int]:
    return lambda row: sum(len(getattr(row, name) or "") for name in columns)


def _json_size(row: Any) -> int:
    return len(str(row.input)) + len(str(row.output))


# model, key order, size of a row's text
_TABLES: dict[str, tuple[Any, tuple[str, ...], Callable[[Any], int]]] = {
    # By `order`, as messages:list answers (the unique (thread, order) index serves it).
    "messages": (Message, ("order",), _text_size("content")),
    "toolCalls": (ToolCall, ("creation_time", "id"), _json_size),
    "artifacts": (Artifact, ("creation_time", "id"), _text_size("content", "title")),
    "approvalRequests": (
        ApprovalRequest,
        ("creation_time", "id"),
        _text_size("plan_content", "edited_plan", "comment"),
    ),
}

# Called for each page read (tests count them).
page_reads: list[Callable[[str, int], None]] = []


def thread_documents(kind: str, thread_id: str) -> Iterator[dict[str, Any]]:
    """Every document of `kind` in the thread, in export order, read a page at a time."""
    model, keys, size = _TABLES[kind]
    table = model.__table__
    order = [table.c[key] for key in keys]
    after: tuple | None = None
    while True:
        rows, done = _read_page(table, table.c.thread_id == thread_id, order, after, size)
        for hook in page_reads:
            hook(kind, len(rows))
        for row in rows:
            yield document(model, row)
        if done or not rows:
            return
        after = tuple(getattr(rows[-1], key) for key in keys)


class _Chunks:
    """Gathers text, hands it out as UTF-8 chunks of about CHUNK_CHARS."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0

    def add(self, text: str) -> bytes | None:
        self.parts.append(text)
        self.size += len(text)
        return self.take() if self.size >= CHUNK_CHARS else None

    def take(self) -> bytes:
        chunk = "".join(self.parts).encode()
        self.parts, self.size = [], 0
        return chunk


def _chunked(pieces: Iterable[str]) -> Iterator[bytes]:
    chunks = _Chunks()
    for piece in pieces:
        chunk = chunks.add(piece)
        if chunk is not None:
            yield chunk
    last = chunks.take()
    if last:
        yield last


# ---- the JSON export -------------------------------------------------------------------------

LIST_KEYS = ("messages", "toolCalls", "artifacts", "approvalRequests")


def _indented(value: Any, indent: str) -> str:
    # orjson writes what json.dumps(indent=2, ensure_ascii=False) writes, 10 times faster (the
    # standard library's indenting encoder is pure Python). JSON text holds no raw newline inside
    # strings, so every newline starts a line.
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode().replace("\n", "\n" + indent)


def json_pieces(
    thread: dict[str, Any], session: dict[str, Any] | None, lists: dict[str, Iterable[dict]]
) -> Iterator[str]:
    """The same text as json.dumps({thread, session, messages, toolCalls, artifacts,
    approvalRequests}, indent=2, ensure_ascii=False), made one document at a time."""
    yield '{\n  "thread": ' + _indented(thread, "  ")
    yield ',\n  "session": ' + _indented(session, "  ")
    for key in LIST_KEYS:
        yield f',\n  "{key}": ['
        empty = True
        for doc in lists[key]:
            yield ("\n    " if empty else ",\n    ") + _indented(doc, "    ")
            empty = False
        yield "]" if empty else "\n  ]"
    yield "\n}"


# ---- the Markdown export ---------------------------------------------------------------------

_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def when(ms: float | None) -> str:
    """Absolute UTC time, as the console shows it: 2026-11-26 14:03 UTC."""
    if ms is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ms / 1000.0))


def inline_text(text: object) -> str:
    """Agent-written text for one line of Markdown, inert: on one line, every ASCII punctuation
    character backslash-escaped (CommonMark allows it for all of them), so no HTML, link,
    image, autolink, entity or emphasis can start in it."""
    flat = " ".join(str(text).split())
    return _PUNCTUATION.sub(r"\\\1", flat)


def fenced_text(text: str) -> list[str]:
    """Agent-written text as a fenced block: a previewer shows it literally (no HTML runs, no
    image loads). The fence is longer than any run of tildes in the text, so it cannot end
    early."""
    longest = max((len(run) for run in re.findall(r"~+", text)), default=0)
    fence = "~" * max(3, longest + 1)
    return [fence + "text", text, fence]


def _json_block(value: Any) -> list[str]:
    # A fence longer than any run of backticks in the JSON (strings may hold some).
    text = json.dumps(value, indent=2, ensure_ascii=False)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + "json", text, fence]


def _timeline_key(item: tuple[str, dict[str, Any]]) -> tuple[float, str]:
    return item[1]["_creationTime"], item[1]["_id"]


def markdown_lines(
    thread: dict[str, Any],
    session: dict[str, Any] | None,
    messages: Iterable[dict[str, Any]],
    tool_calls: Iterable[dict[str, Any]],
    approvals: Iterable[dict[str, Any]],
) -> Iterator[str]:
    """A readable transcript, line by line: header, session, then messages (in their order) with
    the tool calls placed among them by time, then the approval requests. Everything agents or
    people wrote is inert (inline_text, fenced_text): the file is opened in Markdown previewers,
    which run raw HTML and load remote images."""
    yield f"# {inline_text(thread.get('title') or '(untitled thread)')}"
    yield ""
    yield f"- id: `{thread['_id']}`"
    yield f"- status: {thread['status']}"
    if thread.get("userId"):
        yield f"- user: {inline_text(thread['userId'])}"
    yield f"- created: {when(thread['_creationTime'])}"
    if session:
        yield from ("", "## Session", "")
        for key in ("sdkSessionId", "phase"):
            if session.get(key):
                yield f"- {key}: {inline_text(session[key])}"
        if session.get("plan"):
            yield from ("", "### Plan", "", *fenced_text(session["plan"]))
    yield from ("", "## Timeline", "")
    entries = heapq.merge(
        (("message", doc) for doc in messages),
        (("toolCall", doc) for doc in tool_calls),
        key=_timeline_key,
    )
    for kind, doc in entries:
        stamp = when(doc["_creationTime"])
        if kind == "message":
            yield f"### {doc['role']} · #{doc['order']} · {stamp}"
            yield from ("", *fenced_text(doc["content"]), "")
            continue
        yield f"### tool {inline_text(doc['toolName'])} · {doc['status']} · {stamp}"
        yield from ("", *_json_block(doc.get("input")))
        if doc.get("output") is not None:
            yield from ("", *_json_block(doc["output"]))
        yield ""
    first = True
    for doc in approvals:
        if first:
            yield from ("## Approval requests", "")
            first = False
        detail = f" — {inline_text(doc['comment'])}" if doc.get("comment") else ""
        yield f"- `{doc['_id']}` {doc['status']}{detail}"


def thread_markdown(data: dict[str, Any]) -> str:
    """The whole transcript at once, from documents in memory (for small threads and tests)."""
    lines = markdown_lines(
        data["thread"],
        data.get("session"),
        sorted(data["messages"], key=lambda doc: doc.get("order", 0)),
        sorted(data["toolCalls"], key=lambda doc: (doc["_creationTime"], doc["_id"])),
        data["approvalRequests"],
    )
    return "".join(line + "\n" for line in lines)


# ---- streaming ---------------------------------------------------------------------------------


def thread_chunks(
    thread: dict[str, Any], session: dict[str, Any] | None, extension: str
) -> Iterator[bytes]:
    """The export's bytes, a chunk at a time, reading the thread's rows a page at a time."""
    thread_id = thread["_id"]
    if extension == "json":
        lists = {key: thread_documents(key, thread_id) for key in LIST_KEYS}
        return _chunked(json_pieces(thread, session, lists))
    lines = markdown_lines(
        thread,
        session,
        thread_documents("messages", thread_id),
        thread_documents("toolCalls", thread_id),
        thread_documents("approvalRequests", thread_id),
    )
    return _chunked(line + "\n" for line in lines)


async def off_loop_stream(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Each chunk made in the query threads (reading and formatting), sent from the loop. The
    iterator holds no connection between chunks, so a slow or vanished client holds nothing."""
    while True:
        try:
            chunk = await off_loop(next, chunks, None)
        except Exception:
            log.exception("an export failed while streaming; the download is cut off")
            raise
        if chunk is None:
            return
        yield chunk


# ---- endpoints -------------------------------------------------------------------------------


async def _checked(request: Request) -> Caller:
    refusal = refuse_cross_site(request)
    if refusal is not None:
        raise refusal
    return await requester(request)


async def _read(path: str, args: dict[str, Any], caller: Caller) -> Any:
    try:
        return await call(path, args, caller)
    except NotAllowed as exc:
        raise HttpError(403, "Forbidden", exc.message) from None
    except FunctionError as exc:
        raise HttpError(400, "BadRequest", exc.message) from None
    except Unavailable as exc:
        raise HttpError(503, "Unavailable", str(exc), {"Retry-After": "1"}) from None


def _not_found(what: str) -> HttpError:
    return HttpError(404, "NotFound", f"{what} not found")


async def thread_json(request: Request) -> Response:
    return await _thread_export(request, "json")


async def thread_markdown_file(request: Request) -> Response:
    return await _thread_export(request, "md")


async def _thread_export(request: Request, extension: str) -> Response:
    thread_id = request.path_params["thread_id"]
    try:
        caller = await _checked(request)
        # threads:get decides who may read the thread (end users: their own only).
        thread = await _read("threads:get", {"threadId": thread_id}, caller)
        if thread is None:
            raise _not_found(f"Thread {thread_id}")
        session = await _read("sessions:get", {"threadId": thread_id}, caller)
    except HttpError as error:
        return error_response(error)
    headers = attachment_headers(thread.get("title") or "thread", thread_id, extension)
    media_type = JSON_TYPE if extension == "json" else MARKDOWN_TYPE
    if request.method == "HEAD":
        return Response(b"", media_type=media_type, headers=headers)
    chunks = thread_chunks(thread, session, extension)
    return StreamingResponse(off_loop_stream(chunks), media_type=media_type, headers=headers)


async def _text_download(text: str, title: str, ident: str, request: Request) -> Response:
    headers = attachment_headers(title, ident, "md")
    if request.method == "HEAD":
        return Response(b"", media_type=MARKDOWN_TYPE, headers=headers)
    body = await off_loop(str.encode, text)
    return Response(body, media_type=MARKDOWN_TYPE, headers=headers)


async def artifact_version_download(request: Request) -> Response:
    artifact_id = request.path_params["artifact_id"]
    version = request.path_params["version"]
    try:
        caller = await _checked(request)
        artifact = await _read("artifacts:get", {"artifactId": artifact_id}, caller)
        found = None
        if artifact is not None:
            args = {"artifactId": artifact_id, "version": version}
            found = await _read("console:artifactVersionText", args, caller)
        if found is None:
            raise _not_found(f"Version {version} of artifact {artifact_id}")
    except HttpError as error:
        return error_response(error)
    title = f"{artifact.get('title') or artifact['type']}-v{version}"
    return await _text_download(found["content"], title, artifact_id, request)


async def plan_download(request: Request) -> Response:
    request_id = request.path_params["request_id"]
    try:
        caller = await _checked(request)
        found = await _read("approvalRequests:get", {"approvalRequestId": request_id}, caller)
        if found is None:
            raise _not_found(f"Approval request {request_id}")
    except HttpError as error:
        return error_response(error)
    return await _text_download(found["planContent"], "plan", request_id, request)


ROUTES = [
    Route("/api/export/threads/{thread_id}.json", thread_json, methods=["GET"]),
    Route("/api/export/threads/{thread_id}.md", thread_markdown_file, methods=["GET"]),
    Route(
        "/api/export/artifacts/{artifact_id}/versions/{version:int}.md",
        artifact_version_download,
        methods=["GET"],
    ),
    Route("/api/export/approvalRequests/{request_id}/plan.md", plan_download, methods=["GET"]),
]
