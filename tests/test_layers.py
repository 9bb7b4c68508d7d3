"""The import rules of ARCHITECTURE.md, checked by import-linter on every test run (CI included)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_imports_go_down_the_stack_only() -> None:
    """`[tool.importlinter]` in pyproject.toml: index never imports service or eval, nothing
    imports the CLI, the service and the index store keep their inner layers."""
    lint_imports = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:]
    assert "0 broken" in done.stdout
