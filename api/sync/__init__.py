"""Convex's WebSocket sync protocol, so that `ConvexClient` / `ConvexReactClient` (npm `convex`)
and the official Python client subscribe to Threadline's queries and run its functions.

    protocol.py       message shapes: parsing client frames, building server frames
    subscriptions.py  which committed writes may change which subscribed queries (the hub)
    server.py         one socket: versions, query set, identity, mutations, transitions
    convex_auth.py    @convex-dev/auth's Password sign-in: JWTs and rotating refresh tokens

The route is `GET /api/{clientVersion}/sync` (api/http.py). See docs/convex.md.
"""
