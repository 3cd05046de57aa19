"""The sync socket's frames, checked raw (Starlette's test client): transition shapes and versions,
heartbeat-free happy path, and bad frames answered with a clear FatalError and close."""

from __future__ import annotations

import base64
import json
import struct

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from api.http import create_api
from api.sync import protocol

CONNECT = {
    "type": "Connect",
    "sessionId": "5b8e2f0e-2a1c-4c7e-9d1e-0d7c1b3f9a10",
    "connectionCount": 0,
    "lastCloseReason": "InitialConnect",
    "clientTs": 1796155361934,
}


def _ts(text: str) -> int:
    return struct.unpack("<Q", base64.b64decode(text, validate=True))[0]


@pytest.fixture
def client(database_url):
    with TestClient(create_api()) as test_client:
        yield test_client


def test_timestamps_are_padded_little_endian_base64():
    assert protocol.encode_ts(0) == "AAAAAAAAAAA="
    assert protocol.encode_ts(1) == "AQAAAAAAAAA="
    assert protocol.decode_ts(protocol.encode_ts(2**62 + 5)) == 2**62 + 5


def test_function_paths_are_canonicalized_as_convex_does():
    assert protocol.canonical_path("messages.js:list") == "messages:list"
    assert protocol.canonical_path("dir/messages:list") == "dir/messages:list"


def test_transitions_are_gapless_and_answer_each_change(client, api_key, thread_id):
    with client.websocket_connect("/api/1.48.0/sync") as ws:
        ws.send_text(json.dumps(CONNECT))
        ws.send_text(
            json.dumps(
                {"type": "Authenticate", "tokenType": "User", "value": api_key, "baseVersion": 0}
            )
        )
        add = {
            "type": "Add",
            "queryId": 0,
            "udfPath": "threads:get",
            "args": [{"threadId": thread_id}],
        }
        ws.send_text(
            json.dumps(
                {
                    "type": "ModifyQuerySet",
                    "baseVersion": 0,
                    "newVersion": 1,
                    "modifications": [add],
                }
            )
        )
        versions = {"querySet": 0, "identity": 0, "ts": "AAAAAAAAAAA="}
        values = []
        while versions["querySet"] < 1 or versions["identity"] < 1:
            frame = json.loads(ws.receive_text())
            assert frame["type"] == "Transition"
            assert frame["startVersion"] == versions
            assert isinstance(frame["clientClockSkew"], int)  # the Rust client refuses floats
            versions = frame["endVersion"]
            values += frame["modifications"]
        assert values[-1]["type"] == "QueryUpdated"
        assert values[-1]["value"]["_id"] == thread_id
        assert values[-1]["logLines"] == []
        remove = {"type": "Remove", "queryId": 0}
        ws.send_text(
            json.dumps(
                {
                    "type": "ModifyQuerySet",
                    "baseVersion": 1,
                    "newVersion": 2,
                    "modifications": [remove],
                }
            )
        )
        frame = json.loads(ws.receive_text())
        assert frame["startVersion"] == versions
        assert frame["endVersion"]["querySet"] == 2
        assert _ts(frame["endVersion"]["ts"]) >= _ts(versions["ts"])
        assert frame["modifications"] == [{"type": "QueryRemoved", "queryId": 0}]


def test_unknown_function_is_a_failed_query_not_a_fatal_error(client, api_key):
    with client.websocket_connect("/api/1.48.0/sync") as ws:
        ws.send_text(json.dumps(CONNECT))
        ws.send_text(
            json.dumps(
                {"type": "Authenticate", "tokenType": "Admin", "value": api_key, "baseVersion": 0}
            )
        )
        add = {"type": "Add", "queryId": 3, "udfPath": "nope:nothing", "args": [{}]}
        ws.send_text(
            json.dumps(
                {
                    "type": "ModifyQuerySet",
                    "baseVersion": 0,
                    "newVersion": 1,
                    "modifications": [add],
                }
            )
        )
        failed = []
        while not failed:
            frame = json.loads(ws.receive_text())
            failed = [m for m in frame["modifications"] if m["type"] == "QueryFailed"]
        assert "Could not find public function for 'nope:nothing'" in failed[0]["errorMessage"]


def test_bad_token_is_an_auth_error_not_a_fatal_error(client):
    with client.websocket_connect("/api/1.48.0/sync") as ws:
        ws.send_text(json.dumps(CONNECT))
        ws.send_text(
            json.dumps(
                {"type": "Authenticate", "tokenType": "User", "value": "tls_x", "baseVersion": 0}
            )
        )
        frame = json.loads(ws.receive_text())
        assert frame["type"] == "AuthError"
        assert frame["authUpdateAttempted"] is True
        assert frame["baseVersion"] == 0
        with pytest.raises(WebSocketDisconnect):
            ws.receive_text()


@pytest.mark.parametrize(
    ("frame", "problem"),
    [
        ("{not json", "message is not valid JSON"),
        ("[1, 2]", "message must be a JSON object"),
        ('{"type": "Shout"}', "unknown message type 'Shout'"),
        (
            '{"type": "ModifyQuerySet", "baseVersion": 4, "newVersion": 5, "modifications": []}',
            "base version 4 does not follow 0",
        ),
        ('{"type": "Mutation", "requestId": -1, "udfPath": "a:b", "args": [{}]}', "requestId"),
        ('{"type": "Mutation", "requestId": 0, "udfPath": "a:b", "args": {}}', "args"),
        ('{"type": "Authenticate", "tokenType": "Root", "baseVersion": 0}', "tokenType"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_bad_frames_get_a_fatal_error_naming_the_problem(client, frame, problem):
    with client.websocket_connect("/api/1.48.0/sync") as ws:
        ws.send_text(frame)
        answer = json.loads(ws.receive_text())
        assert answer["type"] == "FatalError"
        assert problem in answer["error"]
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
        assert closed.value.code == protocol.CLOSE_PROTOCOL
        assert problem in closed.value.reason


def test_binary_frames_are_refused(client):
    with client.websocket_connect("/api/1.48.0/sync") as ws:
        ws.send_bytes(b"\x00\x01")
        answer = json.loads(ws.receive_text())
        assert answer["type"] == "FatalError"
        assert "Binary frames" in answer["error"]


def test_frames_over_the_size_limit_are_closed_with_1009(client, monkeypatch):
    from api.settings import get_settings

    monkeypatch.setattr(get_settings(), "max_body_bytes", 1000)
    with client.websocket_connect("/api/1.48.0/sync") as ws:
        ws.send_text(json.dumps({"type": "Event", "eventType": "x", "event": "y" * 2000}))
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
        assert closed.value.code == protocol.CLOSE_TOO_BIG
        assert "larger than 1000 bytes" in closed.value.reason


def _mutation_frames(ws, request_id, thread_id, order):
    mutation = {
        "type": "Mutation",
        "requestId": request_id,
        "udfPath": "messages:create",
        "args": [
            {
                "threadId": thread_id,
                "role": "assistant",
                "content": "encoded",
                "order": {"$integer": base64.b64encode(struct.pack("<q", order)).decode()},
            }
        ],
    }
    ws.send_text(json.dumps(mutation))
    frames = []
    while True:
        frames.append(json.loads(ws.receive_text()))
        kinds = [frame["type"] for frame in frames]
        if "MutationResponse" in kinds and kinds[-1] == "Transition":
            response = frames[kinds.index("MutationResponse")]
            if response["success"] and _ts(frames[-1]["endVersion"]["ts"]) >= _ts(response["ts"]):
                return response


def test_mutation_answer_then_covering_transition_and_resend_not_applied_twice(
    client, api_key, thread_id
):
    auth = {"type": "Authenticate", "tokenType": "User", "value": api_key, "baseVersion": 0}
    first = None
    for _attempt in range(2):  # the second socket re-sends the same request, as on reconnect
        with client.websocket_connect("/api/1.48.0/sync") as ws:
            ws.send_text(json.dumps(CONNECT))
            ws.send_text(json.dumps(auth))
            response = _mutation_frames(ws, 7, thread_id, 5)
            assert response["success"] is True, response
            first = first or response["result"]
            assert response["result"] == first
    import asyncio

    from api.calls import call
    from api.cli import CLI_CALLER

    messages = asyncio.run(call("messages:list", {"threadId": thread_id}, CLI_CALLER))
    assert [(m["order"], m["_id"]) for m in messages] == [(5, first)]


def test_an_expiring_jwt_ends_with_an_auth_error_the_client_refreshes_on(
    client, people, monkeypatch
):
    import asyncio

    from api.sync import convex_auth

    async def sign_in():
        return await convex_auth.run_action(
            "auth:signIn",
            {
                "provider": "password",
                "params": {
                    "email": people["viewer"]["email"],
                    "password": people["viewer"]["password"],
                },
            },
            None,
            None,
        )

    monkeypatch.setattr(convex_auth, "JWT_SECONDS", 2)
    token = asyncio.run(sign_in())["tokens"]["token"]
    with client.websocket_connect("/api/1.48.0/sync") as ws:
        ws.send_text(json.dumps(CONNECT))
        ws.send_text(
            json.dumps(
                {"type": "Authenticate", "tokenType": "User", "value": token, "baseVersion": 0}
            )
        )
        confirmed = json.loads(ws.receive_text())
        assert confirmed["type"] == "Transition" and confirmed["endVersion"]["identity"] == 1
        expired = json.loads(ws.receive_text())  # the heartbeat notices the expiry
        assert expired == {
            "type": "AuthError",
            "error": "The token has expired",
            "baseVersion": 1,
            "authUpdateAttempted": False,
        }
