"""Serve an ASGI factory with granian exactly as `reflex run --env prod` serves Threadline
(same server, interface, loop and worker count), for the bare yardstick in bench/ingest.py.

    python bench/serve.py bench.bare_app:create_app PORT WORKERS
"""

import sys

from granian.constants import Interfaces
from granian.server import Server

if __name__ == "__main__":
    target, port, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    Server(
        target=target,
        factory=True,
        address="127.0.0.1",
        port=port,
        interface=Interfaces.ASGI,
        log_level="warning",
        workers=workers,
    ).serve()
