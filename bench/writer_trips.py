"""The PostgreSQL group-commit writer's cost per batch of messages:create: Python CPU (all
threads of this process) and the writer's round trips to the server, for batches of a few sizes.

    .venv/bin/python bench/writer_trips.py --postgres postgresql://... [--rounds 300]
    strace -f -e trace=sendto,recvfrom,write -o /tmp/trips.txt \\
        .venv/bin/python bench/writer_trips.py --postgres ... --strace /tmp/trips.txt

Round trips are counted from strace's output when --strace names it (on the writer's thread,
each change from sending to receiving, between this script's markers); without it only the CPU
is printed. Each round submits `size` calls together, which the writer takes as one batch
(checked by its counters). WRITER_TRIPS_SIZES="1 14" picks the batch sizes (default 1 2 5 14 50).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZES = tuple(int(s) for s in os.environ.get("WRITER_TRIPS_SIZES", "1 2 5 14 50").split())


def _mark(text: str) -> None:
    """A write strace shows, to cut its output into the runs."""
    with open(os.devnull, "w") as null:
        null.write(f"MARK {text}")
        null.flush()


def _count_trips(path: str) -> dict[str, int]:
    """Round trips between the markers: on each thread, every change from sending (sendto) to
    receiving (recvfrom); the thread with the most of them is the writer's."""
    per_size: dict[str, Counter] = {}
    last: dict[str, str] = {}
    current = None
    for line in Path(path).read_text().splitlines():
        if "MARK " in line:
            found = re.search(r"MARK (\w+)", line)
            current = found.group(1) if found else None
            if current is not None and current.startswith("end"):
                current = None
            continue
        thread = line.split(" ", 1)[0]
        call = "send" if "sendto(" in line else "recv" if "recvfrom(" in line else None
        if call is None:
            continue
        if current is not None and call == "recv" and last.get(thread) == "send":
            per_size.setdefault(current, Counter())[thread] += 1
        last[thread] = call
    return {name: max(counts.values()) for name, counts in per_size.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", required=True)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--strace", help="strace -o file of this run, read at the end")
    options = parser.parse_args()
    from bench.app_cost import _postgres_database

    os.environ["DATABASE_URL"], dropped = _postgres_database(options.postgres)
    from api import migrations
    from api.calls import call
    from api.cli import CLI_CALLER
    from api.db import get_engine
    from api.settings import get_settings
    from api.writer import get_writer

    migrations.upgrade(get_settings().sqlalchemy_url)
    content = ("Streaming assistant output, token by token. " * 12)[:500]
    cpu: dict[int, float] = {}

    async def run() -> None:
        threads = [await call("threads:create", {"title": "t"}, CLI_CALLER) for _ in range(50)]

        async def batch(size: int, offset: int) -> None:
            await asyncio.gather(
                *[
                    call(
                        "messages:create",
                        {
                            "threadId": threads[(offset + i) % 50],
                            "role": "tool",
                            "content": content,
                        },
                        CLI_CALLER,
                    )
                    for i in range(size)
                ]
            )

        writer = get_writer(get_engine(), get_settings().max_batch)
        for size in SIZES:
            for offset in range(20):  # warm-up
                await batch(size, offset)
            before = writer.batches
            _mark(f"size{size}")
            start = time.process_time()
            for offset in range(options.rounds):
                await batch(size, offset)
            cpu[size] = (time.process_time() - start) / options.rounds * 1e6
            _mark(f"end{size}")
            batches = writer.batches - before
            assert batches == options.rounds, (size, batches)

    asyncio.run(run())
    dropped()
    trips = _count_trips(options.strace) if options.strace else {}
    print("size  CPU µs/batch  µs/message  round trips/batch")
    for size in SIZES:
        sent = trips.get(f"size{size}")
        shown = "" if sent is None else f"{sent / options.rounds:.1f}"
        print(f"{size:4d}  {cpu[size]:12.0f}  {cpu[size] / size:10.1f}  {shown:>17}")
    print("command: .venv/bin/python bench/writer_trips.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
