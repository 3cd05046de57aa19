"""All configuration in one place, read from the environment (and an optional `.env`)."""

from __future__ import annotations

import ipaddress
from functools import cached_property, lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_URL = f"sqlite:///{PROJECT_ROOT / 'data' / 'threadline.db'}"

MIB = 1024 * 1024


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = Field(
        default=DEFAULT_SQLITE_URL,
        description="SQLAlchemy URL. Default: a SQLite file under data/. "
        "PostgreSQL: postgresql+psycopg://user@host/db (postgresql:// is accepted too).",
    )
    redis_url: str | None = Field(
        default=None, description="Set to fan events out between several workers."
    )
    redis_channel: str = "threadline:events"
    max_body_bytes: int = 16 * MIB
    # Largest body the endpoints that need no credentials (sign-in) read, before parsing it.
    anonymous_body_bytes: int = Field(default=4096, ge=256, le=MIB)
    # The reverse proxies in front of Threadline (addresses or CIDR networks, comma-separated):
    # only requests from them have X-Forwarded-For read for the client's address (api/clients.py).
    trusted_proxies: str = ""
    # A person's console/API session: ends after this much inactivity, or this long after sign-in.
    session_idle_seconds: int = 12 * 3600
    session_absolute_seconds: int = 14 * 24 * 3600
    # How long a verified API key or session token is trusted without a database lookup; changes
    # made through the API or console take effect at once regardless (see api/credentials.py).
    auth_cache_seconds: float = Field(default=1.0, ge=0, le=60)
    bcrypt_rounds: int = Field(default=12, ge=4, le=16)
    # Most mutations a single group commit may carry; larger bursts are split.
    max_batch: int = Field(default=512, ge=1)
    # How long an Idempotency-Key is remembered.
    idempotency_ttl_seconds: int = 24 * 3600
    # Signs the JWTs of auth:signIn (api/sync/convex_auth.py). Unset: a key made on first use and
    # kept in the database, shared by every worker.
    jwt_secret: str | None = None
    port: int = 3000
    # Where people reach the console; used to print whole links (setup, password). Default:
    # http://localhost:PORT
    public_url: str | None = None
    # Webhooks (api/webhooks.py, docs/webhooks.md). The server calls the URLs admins register:
    # false refuses URLs whose host is or resolves to a private, loopback, link-local or other
    # non-public address, when the endpoint is added and again at every send (DNS rebinding).
    webhooks_allow_private_addresses: bool = True
    # The first retry waits this long; each next one twice as long, at most an hour, until the
    # delivery is this old: then it is marked failed.
    webhooks_retry_seconds: float = Field(default=5.0, gt=0, le=3600)
    webhooks_give_up_seconds: float = Field(default=24 * 3600, gt=0)
    # How often the sender looks for due retries (new deliveries wake it at once).
    webhooks_poll_seconds: float = Field(default=5.0, gt=0, le=300)
    # One attempt's time limit (connect, send, read the answer).
    webhooks_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # Delivered and failed deliveries are dropped from the log after this many days.
    webhooks_log_retention_days: float = Field(default=30.0, gt=0)

    @field_validator("trusted_proxies")
    @classmethod
    def _check_trusted_proxies(cls, value: str) -> str:
        _networks(value)
        return value

    @cached_property
    def trusted_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return _networks(self.trusted_proxies)

    @property
    def console_url(self) -> str:
        return (self.public_url or f"http://localhost:{self.port}").rstrip("/")

    @property
    def sqlalchemy_url(self) -> str:
        """The URL with the driver Threadline installs (psycopg 3) filled in for PostgreSQL."""
        url = self.database_url
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    @property
    def is_sqlite(self) -> bool:
        return self.sqlalchemy_url.startswith("sqlite")


def _networks(value: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    networks = []
    for item in value.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(
                f"TRUSTED_PROXIES: {item!r} is not an IP address or network (e.g. 10.0.0.0/8)"
            ) from None
    return tuple(networks)


@lru_cache
def get_settings() -> Settings:
    return Settings()
