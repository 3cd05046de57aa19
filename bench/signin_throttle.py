"""Cost of the sign-in throttle's check (api/services/signin.py `throttle`) when the audit log
holds a day of password spraying: N failures over N/10 client addresses and N/4 emails. Prints
milliseconds per check, for a hot email from a new client and for a busy client, beside the
cost with an empty log (the ratio is what matters; the check runs off the event loop).

    .venv/bin/python bench/signin_throttle.py [--failures 200000] [--checks 200]

SQLite in a temporary directory. Reference (2 shared cores, Dec 2026), 200,000 failures: 4-8 ms
per check on a quiet machine, 13-17 ms with the test suite running beside it; about 1,070 ms
before the indexes of migration 0008.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def per_check_ms(email: str, ip: str, checks: int) -> float:
    from api.services import signin

    start = time.perf_counter()
    for _ in range(checks):
        try:
            signin.throttle(email, ip)
        except signin.TooManyAttempts:
            pass
    return (time.perf_counter() - start) / checks * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--failures", type=int, default=200_000)
    parser.add_argument("--checks", type=int, default=200)
    options = parser.parse_args()
    url = f"sqlite:///{tempfile.mkdtemp()}/throttle.db"
    os.environ["DATABASE_URL"] = url

    import sqlalchemy as sa

    from api import migrations
    from api.db import get_engine
    from api.registry import next_creation_time
    from models import AuditEntry
    from models.ids import new_id

    migrations.upgrade(url)
    cases = (
        ("hot email, new client", "p7@example.com", "192.0.2.1"),
        ("busy client, new email", "new@example.com", "10.0.7.1"),
    )
    empty = {label: per_check_ms(email, ip, options.checks) for label, email, ip in cases}
    clients, emails = max(1, options.failures // 10), max(1, options.failures // 4)
    rows = [
        {
            "id": new_id("audit_log"),
            "creation_time": next_creation_time(),
            "actor": "system:anonymous",
            "actor_label": f"10.{i % clients // 256 % 256}.{i % clients % 256}.1",
            "action": "signin.failure",
            "target": f"p{i % emails}@example.com",
            "details": {"reason": "wrong password"},
        }
        for i in range(options.failures)
    ]
    with get_engine().begin() as conn:
        conn.execute(sa.insert(AuditEntry.__table__), rows)
    print(f"audit log: {options.failures:,} sign-in failures in the last day")
    for label, email, ip in cases:
        full = per_check_ms(email, ip, options.checks)
        print(
            f"{label}: {full:.2f} ms per check ({empty[label]:.2f} ms on an empty log, "
            f"x{full / empty[label]:.1f})"
        )
    print(f"reproduce: .venv/bin/python bench/signin_throttle.py --failures {options.failures}")


if __name__ == "__main__":
    main()
