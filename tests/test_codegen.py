"""What `threadline codegen` writes from the registry: docs/api.md's function reference (must be
up to date), and TypeScript references for npm `convex` that tsc accepts in a frontend's code —
and refuses when an argument has the wrong type."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from api.cli import main
from api.codegen import DOCS_COMMAND, render_docs, typescript_module
from api.registry import REGISTRY

ROOT = Path(__file__).resolve().parent.parent
TS_PROJECT = ROOT / "tests" / "ts_codegen"


def test_docs_api_md_is_what_codegen_docs_writes():
    current = (ROOT / "docs" / "api.md").read_text()
    assert render_docs(current) == current, (
        "docs/api.md's function reference is out of date with the function registry: run "
        f"`{DOCS_COMMAND}` and commit docs/api.md"
    )


def test_docs_list_every_function_and_the_readme_links_them():
    docs = (ROOT / "docs" / "api.md").read_text()
    for path, spec in REGISTRY.items():
        assert f"#### `{path}` ({spec.kind})" in docs
    assert "(docs/api.md)" in (ROOT / "README.md").read_text()


def test_codegen_typescript_writes_a_reference_per_function(tmp_path, capsys):
    assert main(["codegen", "typescript", str(tmp_path / "out")]) == 0
    written = (tmp_path / "out" / "api.ts").read_text()
    assert written == typescript_module()
    assert 'import { makeFunctionReference } from "convex/server";' in written
    for path, spec in REGISTRY.items():
        function = path.partition(":")[2]
        assert f'{function}: makeFunctionReference<"{spec.kind}", ' in written
        assert f'>("{path}"),' in written
    code = [line for line in written.splitlines() if not line.lstrip().startswith(("/*", "*"))]
    assert not [line for line in code if re.search(r"\bany\b", line)], "untyped: any"
    assert "wrote" in capsys.readouterr().out


def _npm_installed() -> Path:
    """tests/ts_codegen's packages (convex, typescript, react types), pinned by its lockfile;
    `make install` puts them there, and a bare `pytest` installs them on first use."""
    tsc = TS_PROJECT / "node_modules" / ".bin" / "tsc"
    if not tsc.exists():
        if shutil.which("npm") is None:
            pytest.fail("npm is needed to install tests/ts_codegen (see the Makefile)")
        subprocess.run(
            ["npm", "ci", "--no-fund", "--no-audit", "--loglevel=error"],
            cwd=TS_PROJECT,
            check=True,
            timeout=600,
        )
    return tsc


def _tsc(project: Path, config: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(_npm_installed()), "--noEmit", "-p", config],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def ts_project(tmp_path_factory) -> Path:
    """The example project with freshly generated references, in a scratch folder."""
    _npm_installed()
    project = tmp_path_factory.mktemp("ts_codegen")
    for name in ("good.tsx", "bad.ts", "tsconfig.json", "tsconfig.bad.json", "package.json"):
        shutil.copy(TS_PROJECT / name, project / name)
    (project / "node_modules").symlink_to(TS_PROJECT / "node_modules")
    assert main(["codegen", "typescript", str(project / "generated")]) == 0
    return project


def test_tsc_accepts_a_frontend_using_the_references(ts_project):
    result = _tsc(ts_project, "tsconfig.json")
    assert result.returncode == 0, result.stdout + result.stderr


def test_tsc_refuses_a_call_with_a_wrong_argument_type(ts_project):
    result = _tsc(ts_project, "tsconfig.bad.json")
    assert result.returncode != 0
    errors = [line for line in result.stdout.splitlines() if "error TS" in line]
    assert errors == [
        "bad.ts(7,60): error TS2322: Type 'string' is not assignable to type 'number'."
    ], result.stdout
