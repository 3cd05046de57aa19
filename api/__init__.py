"""Threadline's persistence layer: settings, database, function registry and HTTP API.

`api` never imports `app` (the Reflex console); the console calls into `api.calls.call`.
"""

__version__ = "0.1.0"
