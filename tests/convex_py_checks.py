"""The official Python client (PyPI convex 0.8.1, which wraps Convex's Rust client) against a
Threadline server. Run by tests/test_convex_sync.py in its own process (the Rust client's threads
cannot be stopped from pytest):  python tests/convex_py_checks.py URL KEY VIEWER_TOKEN THREAD
Prints one "ok <check>" / "FAIL <check>: <detail>" line per check, then "N passed, N failed"."""

from __future__ import annotations

import sys

import httpx
from convex import ConvexClient

url, key, viewer_token, thread = sys.argv[1:5]
results = {"passed": 0, "failed": 0}


def check(name: str, ok: bool, detail: object = "") -> None:
    results["passed" if ok else "failed"] += 1
    print(f"ok {name}" if ok else f"FAIL {name}: {detail}", flush=True)


def main() -> None:
    client = ConvexClient(url)
    client.set_auth(key)
    subscription = client.subscribe("messages:list", {"threadId": thread})
    first = next(subscription)
    check("subscribe: initial value", first == [], first)
    response = httpx.post(
        f"{url}/api/mutation",
        json={
            "path": "messages:create",
            "args": {"threadId": thread, "role": "assistant", "content": "from http"},
        },
        headers={"Authorization": f"Bearer {key}"},
    )
    check("http write", response.json()["status"] == "success", response.text)
    second = next(subscription)
    check(
        "live update after an HTTP write", [m["content"] for m in second] == ["from http"], second
    )
    created = client.mutation(
        "messages:create", {"threadId": thread, "role": "assistant", "content": "from python"}
    )
    check("mutation over the socket", isinstance(created, str), created)
    third = next(subscription)
    check(
        "order",
        [m["content"] for m in third] == ["from http", "from python"],
        [m["content"] for m in third],
    )
    subscription.unsubscribe()

    viewer = ConvexClient(url)
    viewer.set_auth(viewer_token)
    try:
        viewer.mutation("messages:create", {"threadId": thread, "role": "user", "content": "x"})
        check("forbidden mutation throws", False, "no error")
    except Exception as exc:  # the client raises its own error type with the server's message
        check("forbidden mutation throws", "Not allowed: a viewer may not" in str(exc), exc)
    got = viewer.query("threads:get", {"threadId": thread})
    check("viewer reads", got["_id"] == thread, got)

    anonymous = ConvexClient(url)
    try:
        anonymous.query("threads:get", {"threadId": thread})
        check("unauthenticated query fails", False, "no error")
    except Exception as exc:
        check("unauthenticated query fails", "Unauthenticated" in str(exc), exc)


try:
    main()
except Exception as exc:
    check("run", False, repr(exc))
print(f"{results['passed']} passed, {results['failed']} failed", flush=True)
sys.exit(1 if results["failed"] else 0)
