"""A small open-loop HTTP load generator (for fixed request rates, which wrk cannot do).

Requests start on schedule whether or not earlier ones have finished; each latency counts from the
scheduled start, so a stall shows up in the figures instead of silently slowing the load
(no coordinated omission). Raw asyncio streams with keep-alive: cheap enough per request that the
generator is not what limits the figures at a few hundred requests a second.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from urllib.parse import urlsplit


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    body = await reader.readexactly(length) if length else b""
    return status, body


async def fixed_rate(
    url: str,
    rate: float,
    seconds: float,
    make_body: Callable[[int], bytes],
    headers: dict[str, str],
    path: str = "/api/mutation",
    connections: int = 64,
) -> dict[str, float]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    header_text = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    loop = asyncio.get_running_loop()
    total = int(rate * seconds)
    queue: asyncio.Queue[int] = asyncio.Queue()
    latencies: list[float] = []
    errors = 0
    start = loop.time() + 0.5

    async def connection() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while True:
                index = await queue.get()
                if index < 0:
                    return
                scheduled = start + index / rate
                body = make_body(index)
                request = (
                    f"POST {path} HTTP/1.1\r\nHost: {host}\r\n{header_text}"
                    f"Content-Length: {len(body)}\r\n\r\n"
                ).encode() + body
                writer.write(request)
                await writer.drain()
                status, payload = await _read_response(reader)
                if status != 200 or b'"status":"success"' not in payload.replace(b" ", b""):
                    errors += 1
                latencies.append(loop.time() - scheduled)
        finally:
            writer.close()

    workers = [asyncio.create_task(connection()) for _ in range(connections)]
    for index in range(total):
        delay = start + index / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait(index)
    for _ in workers:
        queue.put_nowait(-1)
    await asyncio.gather(*workers)
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000,
    }
