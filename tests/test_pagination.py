"""Paging end to end through every paginated list: no gaps, no duplicates, newest first, isDone
only on the last page, and filters that hold across pages.

Documents are created concurrently (one group commit carries many), so that creation times are
as close together as the server makes them.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math

import pytest

COUNT = 57
SIZES = (1, 7, 50, 1000)
# Filters are checked with one small page size (each size walks the whole list).
FILTERED_SIZES = (7,)
# Argument validation happens before any database work: checked on SQLite only.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def walk(client, path: str, args: dict, size: int) -> list[dict]:
    """Every document of a paginated list, checking each page's shape on the way."""
    docs: list[dict] = []
    cursor = None
    pages = 0
    while True:
        result = await client.query(
            path, {**args, "paginationOpts": {"numItems": size, "cursor": cursor}}
        )
        pages += 1
        assert set(result) == {"page", "isDone", "continueCursor"}
        assert len(result["page"]) <= size
        docs.extend(result["page"])
        if result["isDone"]:
            break
        # Only the last page may be short, and only the last page says isDone.
        assert len(result["page"]) == size
        cursor = result["continueCursor"]
        assert isinstance(cursor, str) and cursor
        assert pages <= COUNT * 3, "paging does not end"
    assert pages == max(1, math.ceil(len(docs) / size))
    # The cursor of the last page still answers, with nothing more.
    after = await client.query(
        path, {**args, "paginationOpts": {"numItems": size, "cursor": result["continueCursor"]}}
    )
    assert (after["page"], after["isDone"]) == ([], True)
    return docs


def assert_newest_first(docs: list[dict], key: str = "_creationTime") -> None:
    order = [(doc[key], doc["_id"]) for doc in docs]
    assert order == sorted(order, reverse=True)


async def assert_walks(
    client, path: str, args: dict, expected_ids: set[str], key="_creationTime", sizes=SIZES
):
    """Every page size gives exactly the expected documents, once each, newest first."""
    for size in sizes:
        docs = await walk(client, path, args, size)
        ids = [doc["_id"] for doc in docs]
        assert len(ids) == len(set(ids)), f"duplicates with numItems={size}"
        assert set(ids) == expected_ids, f"gaps or strays with numItems={size}"
        assert_newest_first(docs, key)


async def many(count: int, make) -> list:
    return list(await asyncio.gather(*[make(i) for i in range(count)]))


async def test_threads_list_pages_through_every_thread(api):
    ids = await many(COUNT, lambda i: api.mutation("threads:create", {"title": f"t{i}"}))

    await assert_walks(api, "threads:list", {}, set(ids))


async def test_threads_created_one_after_another_come_back_in_reverse(api):
    ids = [await api.mutation("threads:create", {"title": f"t{i}"}) for i in range(9)]

    docs = await walk(api, "threads:list", {}, 2)

    assert [doc["_id"] for doc in docs] == ids[::-1]


async def test_threads_list_filters_by_status_and_user_across_pages(api):
    ids = await many(
        COUNT,
        lambda i: api.mutation(
            "threads:create", {"title": f"t{i}", "userId": "u-even" if i % 2 == 0 else "u-odd"}
        ),
    )
    archived = set(ids[::3])
    await asyncio.gather(
        *[
            api.mutation("threads:update", {"threadId": thread_id, "status": "archived"})
            for thread_id in archived
        ]
    )
    even = set(ids[::2])

    await assert_walks(api, "threads:list", {"status": "archived"}, archived, sizes=FILTERED_SIZES)
    await assert_walks(
        api, "threads:list", {"status": "active"}, set(ids) - archived, sizes=FILTERED_SIZES
    )
    await assert_walks(api, "threads:list", {"userId": "u-even"}, even, sizes=FILTERED_SIZES)
    await assert_walks(
        api,
        "threads:list",
        {"userId": "u-even", "status": "archived"},
        even & archived,
        sizes=FILTERED_SIZES,
    )
    await assert_walks(api, "threads:list", {"userId": "nobody"}, set(), sizes=FILTERED_SIZES)


async def test_threads_search_treats_percent_and_underscore_literally(api):
    titles = {
        "percent": "Release 100% done",
        "percent_word": "Release 100 percent done",
        "underscore": "fix snake_case names",
        "no_underscore": "fix snakeXcase names",
        "backslash": "path C:\\temp",
        "plain": "Something else",
    }
    ids = {}
    for name, title in titles.items():
        ids[name] = await api.mutation("threads:create", {"title": title})
    for i in range(10):
        await api.mutation("threads:create", {"title": f"50%_off {i}"})

    async def found(search: str, **filters) -> set[str]:
        docs = await walk(api, "threads:list", {"search": search, **filters}, 3)
        return {doc["title"] for doc in docs}

    assert await found("0% d") == {titles["percent"]}
    assert await found("e_c") == {titles["underscore"]}
    assert await found("SNAKE") == {titles["underscore"], titles["no_underscore"]}
    assert await found("\\t") == {titles["backslash"]}
    assert await found("%_") == {f"50%_off {i}" for i in range(10)}
    assert await found("%") == {titles["percent"]} | {f"50%_off {i}" for i in range(10)}
    assert await found("zzz") == set()
    await api.mutation("threads:update", {"threadId": ids["underscore"], "status": "archived"})
    assert await found("snake", status="archived") == {titles["underscore"]}


async def test_threads_list_paging_is_stable_while_threads_are_added(api):
    ids = await many(20, lambda i: api.mutation("threads:create", {"title": f"old{i}"}))
    seen: list[str] = []
    cursor = None
    while True:
        result = await api.query(
            "threads:list", {"paginationOpts": {"numItems": 6, "cursor": cursor}}
        )
        seen.extend(doc["_id"] for doc in result["page"])
        if result["isDone"]:
            break
        cursor = result["continueCursor"]
        # Newer threads arrive between pages; a walk already under way does not see them.
        await api.mutation("threads:create", {"title": "new"})

    assert seen == sorted(seen, key=ids.index, reverse=True)
    assert set(seen) == set(ids)


async def test_messages_list_pages_through_a_thread_by_order_newest_first(api):
    thread_id = await api.mutation("threads:create", {"title": "long"})
    other = await api.mutation("threads:create", {"title": "other"})
    ids = await many(
        COUNT,
        lambda i: api.mutation(
            "messages:create", {"threadId": thread_id, "role": "assistant", "content": f"m{i}"}
        ),
    )
    await many(
        5,
        lambda i: api.mutation(
            "messages:create", {"threadId": other, "role": "user", "content": "x"}
        ),
    )

    await assert_walks(api, "messages:list", {"threadId": thread_id}, set(ids), key="order")
    docs = await walk(api, "messages:list", {"threadId": thread_id}, 7)
    assert [doc["order"] for doc in docs] == list(range(COUNT - 1, -1, -1))
    assert all(doc["threadId"] == thread_id for doc in docs)


async def test_artifacts_list_pages_with_thread_type_and_status_filters(api):
    first = await api.mutation("threads:create", {"title": "1"})
    second = await api.mutation("threads:create", {"title": "2"})

    def make(i: int):
        return api.mutation(
            "artifacts:create",
            {
                "threadId": first if i % 2 else second,
                "type": "plan" if i % 3 else "report",
                "status": "final" if i % 5 == 0 else "draft",
                "content": f"a{i}",
            },
        )

    ids = await many(COUNT, make)
    docs = {doc["_id"]: doc for doc in await api.query("artifacts:list", {})}
    assert set(docs) == set(ids)

    def where(**fields) -> set[str]:
        return {i for i, doc in docs.items() if all(doc[k] == v for k, v in fields.items())}

    await assert_walks(api, "artifacts:list", {}, set(ids))
    await assert_walks(
        api, "artifacts:list", {"threadId": first}, where(threadId=first), sizes=FILTERED_SIZES
    )
    await assert_walks(
        api, "artifacts:list", {"type": "report"}, where(type="report"), sizes=FILTERED_SIZES
    )
    await assert_walks(
        api,
        "artifacts:list",
        {"threadId": second, "type": "plan", "status": "draft"},
        where(threadId=second, type="plan", status="draft"),
        sizes=FILTERED_SIZES,
    )


async def test_approval_requests_list_pages_with_status_and_thread_filters(api):
    first = await api.mutation("threads:create", {"title": "1"})
    second = await api.mutation("threads:create", {"title": "2"})
    ids = await many(
        COUNT,
        lambda i: api.mutation(
            "approvalRequests:create",
            {"threadId": first if i % 2 else second, "planContent": f"plan {i}"},
        ),
    )
    cancelled = set(ids[::4])
    for request_id in cancelled:
        await api.mutation("approvalRequests:cancel", {"approvalRequestId": request_id})
    in_first = {r["_id"] for r in await api.query("approvalRequests:list", {"threadId": first})}
    assert len(in_first) == COUNT // 2

    await assert_walks(api, "approvalRequests:list", {}, set(ids))
    await assert_walks(
        api, "approvalRequests:list", {"status": "cancelled"}, cancelled, sizes=FILTERED_SIZES
    )
    await assert_walks(
        api,
        "approvalRequests:list",
        {"status": "pending", "threadId": first},
        in_first - cancelled,
        sizes=FILTERED_SIZES,
    )


async def test_approval_requests_list_pages_oldest_first_when_asked(api, thread_id):
    ids = [
        await api.mutation(
            "approvalRequests:create", {"threadId": thread_id, "planContent": f"p{i}"}
        )
        for i in range(8)
    ]

    docs = await walk(api, "approvalRequests:list", {"order": "asc"}, 3)

    assert [doc["_id"] for doc in docs] == ids


async def test_tool_calls_list_pages_through_a_thread_newest_first(api):
    thread_id = await api.mutation("threads:create", {"title": "busy"})
    other = await api.mutation("threads:create", {"title": "quiet"})
    ids = await many(
        COUNT,
        lambda i: api.mutation(
            "toolCalls:record", {"threadId": thread_id, "toolName": f"tool{i}", "input": i}
        ),
    )
    await api.mutation("toolCalls:record", {"threadId": other, "toolName": "x", "input": 0})

    await assert_walks(api, "toolCalls:list", {"threadId": thread_id}, set(ids))
    in_arrival_order = await api.query("toolCalls:list", {"threadId": thread_id})
    paged = await walk(api, "toolCalls:list", {"threadId": thread_id}, 7)
    assert [doc["_id"] for doc in paged] == [doc["_id"] for doc in in_arrival_order][::-1]


async def test_users_list_pages_with_role_and_search_filters(as_role, people):
    admin = as_role("admin")
    ids = await many(
        COUNT,
        lambda i: admin.mutation(
            "users:create",
            {
                "email": f"person{i}@example.com",
                "name": f"Person_{i}" if i % 2 else f"Person{i}",
                "role": "viewer" if i % 3 else "reviewer",
            },
        ),
    )
    everyone = set(ids) | {p["id"] for p in people.values()}
    docs = {doc["_id"]: doc for doc in await walk(admin, "users:list", {}, 1000)}

    await assert_walks(admin, "users:list", {}, everyone)
    await assert_walks(
        admin,
        "users:list",
        {"role": "reviewer"},
        {i for i in docs if docs[i]["role"] == "reviewer"},
        sizes=FILTERED_SIZES,
    )
    underscored = {i for i in docs if "_" in docs[i]["name"]}
    assert len(underscored) == COUNT // 2
    await assert_walks(admin, "users:list", {"search": "n_"}, underscored, sizes=FILTERED_SIZES)
    await assert_walks(
        admin,
        "users:list",
        {"search": "_", "role": "viewer"},
        {i for i in underscored if docs[i]["role"] == "viewer"},
        sizes=FILTERED_SIZES,
    )


async def test_audit_log_pages_with_an_action_filter(as_role, people):
    admin = as_role("admin")
    ids = await many(
        COUNT,
        lambda i: admin.mutation(
            "users:create", {"email": f"a{i}@example.com", "name": f"A{i}", "role": "viewer"}
        ),
    )
    created = {
        e["_id"]: e for e in await walk(admin, "auditLog:list", {"action": "user.create"}, 1000)
    }
    assert {e["target"] for e in created.values()} == set(ids) | {p["id"] for p in people.values()}

    await assert_walks(admin, "auditLog:list", {"action": "user.create"}, set(created))
    everything = {e["_id"] for e in await walk(admin, "auditLog:list", {}, 1000)}
    assert everything > set(created)
    await assert_walks(admin, "auditLog:list", {}, everything, sizes=FILTERED_SIZES)


def encoded(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


LISTS = [
    ("threads:list", {}),
    ("messages:list", {"threadId": "THREAD"}),
    ("artifacts:list", {}),
    ("approvalRequests:list", {}),
    ("toolCalls:list", {"threadId": "THREAD"}),
    ("users:list", {}),
    ("auditLog:list", {}),
]
GARBAGE_CURSORS = [
    "garbage",
    "not base64 at all!",
    "e30",  # {}
    encoded(["a", "b"]),
    encoded([1, 2]),
    encoded([1, "x", 3]),
    encoded({"a": 1, "b": 2}),
    encoded([10**30, "thr_x"]),
    encoded([2**63, "thr_x"]),
    "WzFlOTk5LCJ4Il0",  # [1e999, "x"]: an infinite number
    encoded("just a string"),
]


async def list_args(admin) -> list[tuple[str, dict]]:
    thread_id = await admin.mutation("threads:create", {"title": "t"})
    return [
        (path, {k: thread_id if v == "THREAD" else v for k, v in args.items()})
        for path, args in LISTS
    ]


async def test_a_garbage_cursor_is_a_clear_error_in_every_list(as_role):
    admin = as_role("admin")

    for path, args in await list_args(admin):
        for cursor in GARBAGE_CURSORS:
            response = await admin.raw(
                "/api/query", path, {**args, "paginationOpts": {"numItems": 5, "cursor": cursor}}
            )

            assert response.status_code == 200, (path, cursor)
            body = response.json()
            assert body["status"] == "error", (path, cursor)
            assert body["errorMessage"] == (
                "paginationOpts.cursor is not a cursor returned by this list; "
                "pass null to start from the beginning"
            ), (path, cursor)


NUM_ITEMS_PROBLEMS = {
    0: "paginationOpts.numItems: Input should be greater than or equal to 1",
    -5: "paginationOpts.numItems: Input should be greater than or equal to 1",
    1001: "paginationOpts.numItems: Input should be less than or equal to 1000",
    2.5: "paginationOpts.numItems: Input should be a valid integer",
    "10": "paginationOpts.numItems: Input should be a valid integer",
    None: "paginationOpts.numItems: Input should be a valid integer",
}
OPTS_PROBLEMS = [
    ({"cursor": None}, "paginationOpts.numItems: Field required"),
    ({"numItems": 5, "cursor": 5}, "paginationOpts.cursor: Input should be a valid string"),
    ({"numItems": 5, "size": 5}, "paginationOpts.size: unknown field"),
]


@sqlite_only
async def test_numItems_must_be_1_to_1000_in_every_list(as_role):
    admin = as_role("admin")

    for path, args in await list_args(admin):
        for num_items, problem in NUM_ITEMS_PROBLEMS.items():
            message = await admin.query_error(
                path, {**args, "paginationOpts": {"numItems": num_items, "cursor": None}}
            )
            assert problem in message, (path, num_items)
        for opts, problem in OPTS_PROBLEMS:
            message = await admin.query_error(path, {**args, "paginationOpts": opts})
            assert problem in message, (path, opts)
        for edge in (1, 1000):
            result = await admin.query(
                path, {**args, "paginationOpts": {"numItems": edge, "cursor": None}}
            )
            assert set(result) == {"page", "isDone", "continueCursor"}, path


@sqlite_only
async def test_convex_clients_extra_pagination_fields_are_accepted(api):
    ids = [await api.mutation("threads:create", {"title": f"t{i}"}) for i in range(3)]

    result = await api.query(
        "threads:list",
        {
            "paginationOpts": {
                "numItems": 2,
                "cursor": None,
                "id": 1,
                "maximumRowsRead": 100,
                "maximumBytesRead": 100000,
            }
        },
    )

    assert [doc["_id"] for doc in result["page"]] == ids[:0:-1]
