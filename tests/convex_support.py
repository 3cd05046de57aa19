"""Running the official Convex clients against a real Threadline server: the npm `convex` package
(1.48.0, pinned in tests/convex_js/package-lock.json) under Node, from pytest."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CONVEX_JS = Path(__file__).resolve().parent / "convex_js"


def ensure_node_client() -> None:
    """npm ci the pinned client once (the Makefile does it too; this covers a bare pytest)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("the Convex client tests need node and npm")
    marker = CONVEX_JS / "node_modules" / "convex" / "package.json"
    if not marker.exists():
        subprocess.run(
            ["npm", "ci", "--no-fund", "--no-audit", "--loglevel=error"],
            cwd=CONVEX_JS,
            check=True,
            timeout=300,
        )


def run_scenario(name: str, url: str, timeout: float = 90, **env: str) -> list[str]:
    """Runs one scenario of sync_checks.mjs; returns its output lines, failing on any FAIL."""
    ensure_node_client()
    completed = subprocess.run(
        ["node", "sync_checks.mjs", name, url],
        cwd=CONVEX_JS,
        env={**os.environ, **{f"TL_{key.upper()}": value for key, value in env.items()}},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = completed.stdout.splitlines()
    print("\n".join(lines))
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert lines and lines[-1].endswith(" 0 failed"), completed.stdout
    assert not [line for line in lines if line.startswith("client ")], completed.stdout
    return lines
