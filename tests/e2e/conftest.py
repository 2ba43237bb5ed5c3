from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def cli(tmp_path):
    """Run `python -m jobrunner` in tmp_path (with the repo's example jobs copied in)."""
    shutil.copytree(ROOT / "jobs.d", tmp_path / "jobs.d")
    env = {**os.environ, "TZ": "UTC", "PYTHONWARNINGS": "error"}

    def run(*args: str, timeout: float = 30) -> Result:
        proc = subprocess.run(
            [sys.executable, "-m", "jobrunner", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert "Traceback" not in proc.stderr, proc.stderr
        return Result(proc.returncode, proc.stdout, proc.stderr)

    run.dir = tmp_path  # type: ignore[attr-defined]
    return run


@pytest.fixture
def env(tmp_path):
    """A temporary jobrunner installation for runner and operator tests."""
    from tests.e2e.runner_env import Env

    env = Env(tmp_path)
    yield env
    for folder in env.cleanup:
        shutil.rmtree(folder, ignore_errors=True)
