"""The yardstick for bench/ingest.py: a bare Starlette endpoint that reads and parses the same
JSON body as /api/mutation and answers Convex's success shape, doing nothing else."""

import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def mutation(request: Request) -> JSONResponse:
    body = json.loads(await request.body())
    assert isinstance(body, dict)
    return JSONResponse({"status": "success", "value": None})


def create_app() -> Starlette:
    return Starlette(routes=[Route("/api/mutation", mutation, methods=["POST"])])
